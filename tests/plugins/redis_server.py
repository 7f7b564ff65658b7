"""A real redis-server on a free loopback port, for the shared-budget tests."""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fake_anthropic import free_port


class RedisProcess:
    """A redis-server; faults made for real: `pause` (CLIENT PAUSE), `freeze`
    and `thaw` (SIGSTOP, SIGCONT), `restart` empty or with its data."""

    def __init__(
        self,
        directory: Path,
        *extra: str,
        port: int | None = None,
        password: str | None = None,
    ) -> None:
        if shutil.which("redis-server") is None:
            raise RuntimeError(
                "redis-server is not installed (apt-get install redis-server); ./test.sh installs it"
            )
        self.port = port or free_port()
        self.password = password
        self.directory = directory
        self.extra = extra if password is None else (*extra, "--requirepass", password)
        directory.mkdir(parents=True, exist_ok=True)
        self._start()

    def _start(self) -> None:
        directory, extra = self.directory, self.extra
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

        client = redis.Redis(port=self.port, password=self.password)
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
        secret = "" if self.password is None else f":{self.password}@"
        return f"redis://{secret}127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)  # a frozen server hears SIGTERM
            self.process.terminate()
            self.process.wait(timeout=5)

    def client(self) -> Any:
        import redis

        return redis.Redis(port=self.port, password=self.password, socket_timeout=5)

    def save(self) -> None:
        """A snapshot on disk (SAVE), what a later restart may come back with."""
        self.client().save()

    def pause(self, seconds: float) -> None:
        """Every client's commands wait `seconds` (CLIENT PAUSE ... ALL)."""
        self.client().execute_command("CLIENT", "PAUSE", int(seconds * 1000), "ALL")

    def freeze(self) -> None:
        """The server stops answering (SIGSTOP); connections stay open."""
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def restart(
        self, *, keep_data: bool, down_seconds: float = 0.0, save: bool = True
    ) -> None:
        """Stop and start again on the same port, with its keys or empty,
        after `down_seconds` without a server. `save` False: with the keys of
        the last `save()` (what a crash loses since then is lost)."""
        dump = self.directory / "dump.rdb"
        if keep_data and save:
            self.client().save()
        self.stop()
        if not keep_data:
            dump.unlink(missing_ok=True)
        time.sleep(down_seconds)
        self._start()


class TcpProxy:
    """A loopback proxy in front of a server, to cut a process off from it for
    real: `cut` drops every connection and refuses new ones, `mend` lets them in;
    `stall` keeps every connection open but passes nothing on, `flow` again."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._cut = threading.Event()
        self._flowing = threading.Event()
        self._flowing.set()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._cut.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), 2)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets |= {client, upstream}
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(
                    target=self._pipe, args=(source, sink), daemon=True
                ).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                self._flowing.wait()
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.close()
            with self._lock:
                self._sockets -= {source, sink}

    def cut(self) -> None:
        self._cut.set()
        with self._lock:
            ends = list(self._sockets)
        for end in ends:
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                end.close()

    def mend(self) -> None:
        self._cut.clear()

    def stall(self) -> None:
        self._flowing.clear()

    def flow(self) -> None:
        self._flowing.set()

    def close(self) -> None:
        self._closed.set()
        self._flowing.set()
        self.cut()
        self._listener.close()


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
