"""The desktop image, built by image/ci-build.sh and run for real with podman.

Skipped when no image was built (a developer without containers), except in CI,
where CI_REQUIRE_IMAGE=1 makes a missing image a failure.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest
from PIL import Image

from fake_anthropic import free_port
from tests.plugins.stack_checks import (
    ARTIFACTS,
    StackPorts,
    check_combined_page,
    check_novnc_and_app,
    check_vnc_handshake,
    check_x_display,
    wait_for_port,
)
from tests.plugins.xvfb import _free_display_number

pytestmark = [pytest.mark.image, pytest.mark.slow]
IMAGE = os.environ.get("COMPUTER_USE_IMAGE", "computer-use-demo:local")
PODMAN = ["podman", "--runtime", "runc", "--cgroup-manager=cgroupfs"]
LIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096"]


def image_available() -> bool:
    if shutil.which("podman") is None:
        return False
    return (
        subprocess.run([*PODMAN, "image", "exists", IMAGE], check=False).returncode == 0
    )


def _start(name: str, command: list[str]) -> None:
    """`podman run`, once more after its own error (exit 125: the engine, busy
    removing another test's container, say); a failure shows podman's words,
    never the command (its variables may hold the tests' secrets)."""
    for attempt in (1, 2):
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode == 0:
            return
        subprocess.run([*PODMAN, "rm", "-f", name], capture_output=True, check=False)
        if attempt == 2 or result.returncode != 125:
            pytest.fail(
                f"podman run exited {result.returncode}: {result.stderr.strip()[-2000:]}"
            )
        time.sleep(2)


@contextlib.contextmanager
def running_container(*extra_env: str) -> Iterator[tuple[str, StackPorts]]:
    """The image running on the host's network (loopback only), its name and
    ports; `extra_env` adds `NAME=value` variables as `docker run -e` would."""
    if not image_available():
        message = f"image {IMAGE} is not built: run image/ci-build.sh"
        if os.environ.get("CI_REQUIRE_IMAGE") == "1":
            pytest.fail(message)
        pytest.skip(message)
    ports = StackPorts(
        _free_display_number(), free_port(), free_port(), free_port(), free_port()
    )
    name = f"cud-test-{uuid.uuid4().hex[:8]}"
    variables = [
        f"DISPLAY_NUM={ports.display}",
        # The host's network: listen on its loopback only, as tests must.
        "BIND_ADDRESS=127.0.0.1",
        f"VNC_PORT={ports.vnc}",
        f"NOVNC_PORT={ports.novnc}",
        f"PAGE_PORT={ports.page}",
        f"STREAMLIT_PORT={ports.app}",
        *extra_env,
    ]
    _start(
        name,
        [
            *PODMAN,
            "run",
            "-d",
            "--name",
            name,
            "--network",
            "host",
            *LIMITS,
            "-v",
            "/tmp/.X11-unix:/tmp/.X11-unix",
            *(argument for variable in variables for argument in ("-e", variable)),
            IMAGE,
        ],
    )
    try:
        wait_for_port(ports.app, 180)
        yield name, ports
    finally:
        logs = subprocess.run(
            [*PODMAN, "logs", name], capture_output=True, text=True, check=False
        )
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / f"image-container-{name}.log").write_text(
            logs.stdout + logs.stderr
        )
        subprocess.run([*PODMAN, "rm", "-f", name], capture_output=True, check=False)


@pytest.fixture
def container() -> Iterator[tuple[str, StackPorts]]:
    with running_container() as running:
        yield running


SCREENSHOT = (
    "import asyncio, sys; from computer_use_demo.tools import ComputerTool20250124 as T; "
    "sys.stdout.write(asyncio.run(T()(action='screenshot')).base64_image)"
)


def test_the_image_runs_the_whole_stack(container: tuple[str, StackPorts]) -> None:
    name, ports = container
    check_x_display(ports)
    check_vnc_handshake(ports)
    check_novnc_and_app(ports)
    check_combined_page(ports, "image")

    shot = subprocess.run(
        [
            *PODMAN,
            "exec",
            "-e",
            f"DISPLAY_NUM={ports.display}",
            name,
            "/opt/venv/bin/python",
            "-c",
            SCREENSHOT,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    data = base64.b64decode(shot.stdout)
    (ARTIFACTS / "image-desktop.png").write_bytes(data)
    with Image.open(io.BytesIO(data)) as picture:
        assert picture.size == (1024, 768)
        assert len(picture.convert("RGB").getcolors(maxcolors=1_000_000) or []) > 20

    environment = subprocess.run(
        [*PODMAN, "exec", name, "printenv"], capture_output=True, text=True, check=True
    ).stdout
    assert (
        "ANTHROPIC_API_KEY" not in environment or "ANTHROPIC_API_KEY=\n" in environment
    )

    subprocess.run([*PODMAN, "stop", "-t", "30", name], capture_output=True, check=True)
    state = json.loads(
        subprocess.run(
            [*PODMAN, "inspect", name], capture_output=True, text=True, check=True
        ).stdout
    )
    assert state[0]["State"]["ExitCode"] == 0, "the container stops cleanly"
