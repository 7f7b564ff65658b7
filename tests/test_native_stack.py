"""The whole desktop stack started natively by the same scripts the image uses."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fake_api import free_port
from tests.plugins.stack_checks import (
    StackPorts,
    check_combined_page,
    check_computer_tool_screenshot,
    check_novnc_and_app,
    check_vnc_handshake,
    check_x_display,
    wait_for_port,
)
from tests.plugins.xvfb import _free_display_number

pytestmark = [pytest.mark.desktop, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def native_stack(
    tmp_path: Path,
) -> Iterator[tuple[StackPorts, subprocess.Popen[bytes]]]:
    ports = StackPorts(
        _free_display_number(), free_port(), free_port(), free_port(), free_port()
    )
    env = {
        **os.environ,
        "DISPLAY_NUM": str(ports.display),
        "VNC_PORT": str(ports.vnc),
        "NOVNC_PORT": str(ports.novnc),
        "PAGE_PORT": str(ports.page),
        "STREAMLIT_PORT": str(ports.app),
        "LOG_DIR": str(tmp_path / "logs"),
        "ANTHROPIC_CONFIG_DIR": str(tmp_path / "config"),
        "PYTHON": str(ROOT / ".venv" / "bin" / "python"),
    }
    env.pop("ANTHROPIC_API_KEY", None)
    process = subprocess.Popen(
        [str(ROOT / "image" / "start_all.sh")], env=env, start_new_session=True
    )
    try:
        wait_for_port(ports.app, 120)
        yield ports, process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)


def test_the_native_stack_serves_every_part(
    native_stack: tuple[StackPorts, subprocess.Popen[bytes]],
) -> None:
    ports, process = native_stack
    check_x_display(ports)
    check_vnc_handshake(ports)
    check_novnc_and_app(ports)
    check_combined_page(ports, "native")
    check_computer_tool_screenshot(ports, "native")
    os.killpg(process.pid, signal.SIGTERM)
    assert process.wait(timeout=30) in (0, 143, -15), "the stack stops cleanly"


def test_a_busy_display_is_refused_with_a_clear_error(
    tmp_path: Path, xvfb_display: object
) -> None:
    env = {
        **os.environ,
        "DISPLAY_NUM": os.environ["DISPLAY_NUM"],
        "LOG_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [str(ROOT / "image" / "start_all.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "already in use" in result.stderr
