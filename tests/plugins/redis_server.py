"""A real redis-server on a free loopback port, for the shared-budget tests."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fake_anthropic import free_port


class RedisProcess:
    def __init__(self, directory: Path, *extra: str, port: int | None = None) -> None:
        if shutil.which("redis-server") is None:
            raise RuntimeError(
                "redis-server is not installed (apt-get install redis-server); ./test.sh installs it"
            )
        self.port = port or free_port()
        directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(directory),
                *extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("redis-server did not start")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=5)


@contextlib.contextmanager
def local_redis() -> Iterator[str]:
    """A throwaway redis-server on a free loopback port (the tests' own); its URL."""
    with tempfile.TemporaryDirectory() as directory:
        try:
            server = RedisProcess(Path(directory))
        except RuntimeError as error:
            raise SystemExit(str(error)) from None
        try:
            yield server.url
        finally:
            server.stop()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisProcess]:
    server = RedisProcess(tmp_path)
    try:
        yield server
    finally:
        server.stop()


class RedisClusterProcesses:
    """A real 3-node Redis Cluster (no replicas) on loopback, made by redis-cli."""

    def __init__(self, directory: Path) -> None:
        self.nodes: list[RedisProcess] = []
        try:
            for index in range(3):
                self.nodes.append(
                    RedisProcess(
                        directory / f"node-{index}",
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        str(directory / f"node-{index}" / "nodes.conf"),
                        port=_cluster_port(),
                    )
                )
            subprocess.run(
                [
                    "redis-cli",
                    "--cluster",
                    "create",
                    *(f"127.0.0.1:{node.port}" for node in self.nodes),
                    "--cluster-replicas",
                    "0",
                    "--cluster-yes",
                ],
                check=True,
                capture_output=True,
                timeout=30,
            )
            self._wait_until_ok()
        except BaseException:
            self.stop()
            raise

    def _wait_until_ok(self) -> None:
        import redis

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            states = [
                redis.Redis(port=node.port).execute_command("CLUSTER INFO")
                for node in self.nodes
            ]
            if all(b"cluster_state:ok" in _bytes(state) for state in states):
                return
            time.sleep(0.1)
        raise RuntimeError("the Redis Cluster never became ok")

    @property
    def url(self) -> str:
        return f"redis+cluster://127.0.0.1:{self.nodes[0].port}"

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def _cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) exists too."""
    while True:
        port = free_port()
        if port + 10_000 <= 65_535:
            return port


def _bytes(value: object) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, dict):
        return "\n".join(f"{key}:{item}" for key, item in value.items()).encode()
    return str(value).encode()


@pytest.fixture
def redis_cluster(tmp_path: Path) -> Iterator[RedisClusterProcesses]:
    cluster = RedisClusterProcesses(tmp_path / "cluster")
    try:
        yield cluster
    finally:
        cluster.stop()
