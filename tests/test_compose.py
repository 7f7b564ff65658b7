"""The fleet in compose.yaml: two desktops and one Redis on one budget.

The file's rules are checked as data; then the images are built locally
(image/ci-build.sh, cached layers) and the fleet is brought up for real on free
ports with podman-compose, and with docker-compose speaking the Docker API
(served here by podman), checked, and always torn down. Skipped where no
container runtime or compose client exists, except in CI (CI_REQUIRE_IMAGE=1).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from fake_anthropic import free_port
from tests.plugins.stack_checks import ARTIFACTS, StackPorts, check_combined_page

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "compose.yaml"
DESKTOPS = ("desktop-1", "desktop-2")
PORT_VARIABLES = {  # the container's variable -> the compose file's host variable
    "VNC_PORT": "VNC_PORT",
    "NOVNC_PORT": "NOVNC_PORT",
    "PAGE_PORT": "PAGE_PORT",
    "STREAMLIT_PORT": "APP_PORT",
}
# The fleet's budget for the sharing check: small, and a window longer than the test.
FLEET_RPM = 3
FLEET_WINDOW_SECONDS = 900


def _resolve(value: Any, environ: Mapping[str, str]) -> Any:
    """Compose's `${NAME:-default}` as the engines resolve it from `environ`."""
    if isinstance(value, str):
        while "${" in value:
            start = value.index("${")
            end = value.index("}", start)
            name, _, default = value[start + 2 : end].partition(":-")
            value = value[:start] + (environ.get(name) or default) + value[end + 1 :]
        return value
    if isinstance(value, list):
        return [_resolve(item, environ) for item in value]
    if isinstance(value, dict):
        return {key: _resolve(item, environ) for key, item in value.items()}
    return value


def _services(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The services as a host with `environ` (default: nothing set) sees them."""
    document = yaml.safe_load(COMPOSE.read_text())
    return dict(_resolve(document["services"], environ or {}))


# ---- the file's rules, as data (fast) -------------------------------------------


def test_every_port_is_published_on_loopback_only_and_once() -> None:
    services = _services()
    published: list[str] = []
    for name, service in services.items():
        for port in service.get("ports", []):
            address, host, container = str(port).split(":")
            assert address == "127.0.0.1", f"{name} publishes {port} beyond this host"
            assert host == container, f"{name}: {port} differs inside and out"
            published.append(host)
    assert "ports" not in services["redis"], "Redis is never published"
    assert len(published) == len(set(published)) == 4 * len(DESKTOPS)


def test_each_desktop_listens_inside_on_the_ports_it_publishes() -> None:
    """The combined page sends the browser to the app's and noVNC's ports as the
    container knows them, so they must be the host's ports too."""
    for name in DESKTOPS:
        service = _services()[name]
        environment = service["environment"]
        published = {str(port).split(":")[1] for port in service["ports"]}
        inside = {str(environment[variable]) for variable in PORT_VARIABLES}
        assert inside == published, name
        assert str(environment["STREAMLIT_PORT"]) in service["healthcheck"]["test"][1]


def test_host_variables_move_each_desktop_to_other_ports() -> None:
    numbers = iter(range(20_001, 20_100))
    environ = {
        f"DESKTOP{index}_{suffix}": str(next(numbers))
        for index in (1, 2)
        for suffix in PORT_VARIABLES.values()
    }
    services = _services(environ)
    for index, name in enumerate(DESKTOPS, start=1):
        environment = services[name]["environment"]
        for variable, suffix in PORT_VARIABLES.items():
            assert str(environment[variable]) == environ[f"DESKTOP{index}_{suffix}"]


def test_desktops_share_redis_keep_their_own_conversations_and_check_health() -> None:
    services = _services()
    volumes = set()
    for name in DESKTOPS:
        service = services[name]
        environment = service["environment"]
        assert environment["TOKEN_MANAGER_REDIS_URL"] == "redis://redis:6379/0"
        for limit in ("TOKEN_MANAGER_RPM", "TOKEN_MANAGER_INPUT_TPM"):
            assert limit in environment, f"{name} does not take {limit} from the host"
        (volume,) = service["volumes"]
        source, target = volume.split(":")
        assert target == "/home/computeruse/.anthropic"
        volumes.add(source)
        health = service["healthcheck"]["test"][1]
        ports = {
            suffix: environment[variable] for variable, suffix in PORT_VARIABLES.items()
        }
        assert f"127.0.0.1:{ports['APP_PORT']}/_stcore/health" in health
        assert f"127.0.0.1:{ports['NOVNC_PORT']}/desktop.html" in health
        assert f"nc -z 127.0.0.1 {ports['VNC_PORT']}" in health
        assert "redis" in service["depends_on"]
    assert len(volumes) == len(DESKTOPS), "one volume per desktop"
    assert "redis-cli ping" in services["redis"]["healthcheck"]["test"][1]


def test_the_api_key_is_passed_on_never_written_out() -> None:
    """A name without a value: podman-compose prints every command it runs."""
    for name in DESKTOPS:
        environment = _services({"ANTHROPIC_API_KEY": "sk-ant-test-key"})[name][
            "environment"
        ]
        assert environment["ANTHROPIC_API_KEY"] is None


def test_telemetry_variables_are_passed_on_and_each_desktop_names_itself() -> None:
    """The collector's endpoint and headers (they may hold its token) come from
    the host, unwritten; each desktop's spans say which desktop they are."""
    for name in DESKTOPS:
        environment = _services()[name]["environment"]
        for variable in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_HEADERS"):
            assert environment[variable] is None
        assert environment["OTEL_RESOURCE_ATTRIBUTES"] == f"service.instance.id={name}"


# ---- the fleet, for real ---------------------------------------------------------


CLIENTS = ("podman-compose", "docker-compose")
PROJECT_LABEL = "com.docker.compose.project"  # set by both clients


@dataclass
class Fleet:
    client: str
    project: str
    ports: dict[str, StackPorts]
    containers: dict[str, str]  # service -> container name


SERVICE_LOGS = (
    'for log in /tmp/computer-use-*/logs/*.log; do [ -f "$log" ] || continue;'
    ' echo "=== $log"; tail -n 200 "$log"; done'
)


def _fail_or_skip(message: str) -> None:
    if os.environ.get("CI_REQUIRE_IMAGE") == "1":
        pytest.fail(message)
    pytest.skip(message)


def _run(
    command: list[str], timeout: float, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _containers(project: str) -> dict[str, str]:
    listed = _run(
        [
            "podman",
            "ps",
            "-a",
            "--filter",
            f"label={PROJECT_LABEL}={project}",
            "--format",
            "json",
        ],
        60,
    )
    found: dict[str, str] = {}
    for entry in json.loads(listed.stdout or "[]"):
        service = (entry.get("Labels") or {}).get("com.docker.compose.service")
        if service:
            found[service] = entry["Names"][0]
    return found


class _HealthChecks(threading.Thread):
    """podman runs health checks from systemd timers; without systemd nothing
    runs them. This runs every container's compose health check every 2 s, as
    the engine would (docker-compose waits for Redis to be healthy)."""

    def __init__(self, project: str) -> None:
        super().__init__(daemon=True)
        self.project = project
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(2):
            for name in _containers(self.project).values():
                _run(["podman", "healthcheck", "run", name], 60)


def _wait_healthy(project: str, seconds: float) -> dict[str, str]:
    deadline = time.monotonic() + seconds
    while True:
        containers = _containers(project)
        status = {
            service: _run(
                ["podman", "inspect", "--format", "{{.State.Health.Status}}", name], 60
            ).stdout.strip()
            for service, name in containers.items()
        }
        if set(status) == {"redis", *DESKTOPS} and set(status.values()) == {"healthy"}:
            return containers
        assert time.monotonic() < deadline, (
            f"not healthy after {seconds:.0f} s: {status}"
        )
        time.sleep(2)


@contextmanager
def _docker_api(directory: Path) -> Iterator[str]:
    """podman's Docker-compatible API on a private socket, for docker-compose."""
    socket = directory / "podman.sock"
    service = subprocess.Popen(
        ["podman", "system", "service", "--time=0", f"unix://{socket}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not socket.exists():
            assert service.poll() is None, "podman system service exited"
            assert time.monotonic() < deadline, "podman's API socket did not appear"
            time.sleep(0.2)
        yield f"unix://{socket}"
    finally:
        service.terminate()
        try:
            service.wait(30)
        except subprocess.TimeoutExpired:
            service.kill()
            service.wait(10)


def _tear_down(client: str, project: str, env: dict[str, str]) -> str:
    down = _run([client, "-p", project, "down", "-v"], 180, env)
    # What podman-compose 1.0.3 leaves behind (the network), or a failed `up` left.
    for name in _containers(project).values():
        _run(["podman", "rm", "-f", name], 60)
    volumes = _run(
        [
            "podman",
            "volume",
            "ls",
            "-q",
            "--filter",
            f"label={PROJECT_LABEL}={project}",
        ],
        60,
    )
    for volume in volumes.stdout.split():
        _run(["podman", "volume", "rm", "-f", volume], 60)
    _run(["podman", "network", "rm", "-f", f"{project}_default"], 60)
    return down.stdout + down.stderr


@pytest.fixture(scope="module")
def images() -> None:
    """Both images, built locally from this tree (cached layers: seconds)."""
    if not shutil.which("podman"):
        _fail_or_skip("no container runtime (podman): image/ci-build.sh installs it")
    ARTIFACTS.mkdir(exist_ok=True)
    build = _run(["bash", "image/ci-build.sh"], 1500)
    (ARTIFACTS / "compose-build.log").write_text(build.stdout + build.stderr)
    assert build.returncode == 0, build.stderr[-3000:]


@pytest.fixture(params=CLIENTS)
def fleet(
    request: pytest.FixtureRequest, images: None, tmp_path: Path
) -> Iterator[Fleet]:
    client: str = request.param
    if not shutil.which(client):
        _fail_or_skip(f"{client} is not installed (Debian package {client})")
    project = f"cudfleet{uuid.uuid4().hex[:8]}"
    ports = {
        name: StackPorts(1, free_port(), free_port(), free_port(), free_port())
        for name in DESKTOPS
    }
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("ANTHROPIC_", "TOKEN_MANAGER_", "DESKTOP", "DOCKER_"))
    }
    env.update(
        TOKEN_MANAGER_RPM=str(FLEET_RPM),
        TOKEN_MANAGER_WINDOW_SECONDS=str(FLEET_WINDOW_SECONDS),
    )
    for index, name in enumerate(DESKTOPS, start=1):
        env[f"DESKTOP{index}_VNC_PORT"] = str(ports[name].vnc)
        env[f"DESKTOP{index}_NOVNC_PORT"] = str(ports[name].novnc)
        env[f"DESKTOP{index}_PAGE_PORT"] = str(ports[name].page)
        env[f"DESKTOP{index}_APP_PORT"] = str(ports[name].app)
    with ExitStack() as stack:
        if client == "docker-compose":
            env["DOCKER_HOST"] = stack.enter_context(_docker_api(tmp_path))
        health = _HealthChecks(project)
        health.start()
        try:
            up = _run([client, "-p", project, "up", "-d"], 300, env)
            (ARTIFACTS / f"{client}-up.log").write_text(up.stdout + up.stderr)
            assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
            containers = _wait_healthy(project, 240)
            yield Fleet(client, project, ports, containers)
        finally:
            health.stopped.set()
            health.join(90)
            for service, name in _containers(project).items():
                logs = _run(["podman", "logs", name], 60)
                # Each service's own log inside a desktop (x11vnc, noVNC, ...).
                inside = _run(["podman", "exec", name, "sh", "-c", SERVICE_LOGS], 60)
                (ARTIFACTS / f"{client}-{service}.log").write_text(
                    logs.stdout + logs.stderr + inside.stdout
                )
            down = _tear_down(client, project, env)
            (ARTIFACTS / f"{client}-down.log").write_text(down)


def _python_in(fleet: Fleet, service: str, code: str) -> Any:
    """Run `code` with the app's Python in a desktop; it prints one JSON line."""
    result = _run(
        [
            "podman",
            "exec",
            fleet.containers[service],
            "/opt/venv/bin/python",
            "-c",
            code,
        ],
        120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


ACQUIRE = f"""
import json
from token_manager import token_manager
for _ in range({FLEET_RPM}):
    token_manager.acquire_sync(1000, 200)
snapshot = token_manager.snapshot()
print(json.dumps({{name: budget.used for name, budget in snapshot.budgets.items()}}))
"""

OBSERVE = """
import json
from token_manager import token_manager
snapshot = token_manager.snapshot(fresh=True)  # one look: it may ask Redis
waits = []

class Refused(Exception):
    pass

def on_wait(budget, seconds):
    waits.append([budget, seconds])
    raise Refused

try:
    token_manager.acquire_sync(10, 10, on_wait=on_wait)
    granted = True
except Refused:
    granted = False
print(json.dumps({
    "shared": snapshot.shared_available,
    "used": {name: budget.used for name, budget in snapshot.budgets.items()},
    "granted": granted,
    "waits": waits,
}))
"""


@pytest.mark.image
@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_two_desktops_answer_and_share_one_budget(fleet: Fleet) -> None:
    for name in DESKTOPS:
        ports = fleet.ports[name]
        health = httpx.get(f"http://127.0.0.1:{ports.app}/_stcore/health", timeout=10)
        assert health.status_code == 200 and health.text == "ok", name
        ports_js = httpx.get(f"http://127.0.0.1:{ports.page}/ports.js", timeout=10)
        assert json.dumps({"app": ports.app, "vnc": ports.novnc}) in ports_js.text
        check_combined_page(ports, f"{fleet.client}-{name}")

    # Each container's own log states its budget and that it is shared.
    for name in DESKTOPS:
        log = _run(["podman", "logs", fleet.containers[name]], 60)
        text = log.stdout + log.stderr
        assert f"token manager: limits {FLEET_RPM} requests /" in text, name
        assert "shared through Redis at redis://redis:6379/0" in text, name

    # What desktop-1 takes, desktop-2 sees, and may not take again.
    taken = _python_in(fleet, "desktop-1", ACQUIRE)
    assert taken["requests"] == FLEET_RPM
    seen = _python_in(fleet, "desktop-2", OBSERVE)
    assert seen["shared"] is True
    assert seen["used"]["requests"] == FLEET_RPM
    assert seen["used"]["input_tokens"] == taken["input_tokens"] >= FLEET_RPM * 1000
    assert seen["granted"] is False
    assert seen["waits"] and seen["waits"][0][0] == "requests"
    keys = _run(
        ["podman", "exec", fleet.containers["redis"], "redis-cli", "dbsize"], 60
    )
    assert int(keys.stdout.strip()) > 0, "the budget lives in the fleet's Redis"

    # Each desktop keeps its own conversations, writable by the app's user.
    marker = f"saved-{uuid.uuid4().hex[:6]}"
    for name in DESKTOPS:
        written = _run(
            [
                "podman",
                "exec",
                fleet.containers[name],
                "sh",
                "-c",
                f"mkdir -p ~/.anthropic/conversations && touch ~/.anthropic/{marker}-{name}"
                " && ls ~/.anthropic",
            ],
            60,
        )
        assert written.returncode == 0, written.stderr
        others = [other for other in DESKTOPS if other != name]
        assert f"{marker}-{name}" in written.stdout
        assert all(f"{marker}-{other}" not in written.stdout for other in others)
