"""Checks of a running desktop stack from outside: X, VNC, noVNC, app, combined page.

Shared by the native-stack and the image tests, which start the stack differently.
"""

from __future__ import annotations

import asyncio
import base64
import io
import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from PIL import Image
from playwright.sync_api import Error as PlaywrightError

from tests.plugins.streamlit_app import chromium_page

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


@dataclass(frozen=True)
class StackPorts:
    display: int
    vnc: int
    novnc: int
    page: int
    app: int


def wait_for_port(port: int, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.3)
    raise AssertionError(f"nothing listens on port {port} after {seconds:.0f} s")


def stop_process(process: subprocess.Popen[bytes], seconds: float = 10) -> None:
    """SIGTERM, then SIGKILL after `seconds` (x11vnc can be slow to hear SIGTERM)."""
    process.terminate()
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=seconds)


def check_x_display(ports: StackPorts) -> None:
    result = subprocess.run(
        ["xdpyinfo", "-display", f":{ports.display}"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"the X display :{ports.display} does not answer"
    assert "dimensions:" in result.stdout


def check_vnc_handshake(ports: StackPorts) -> None:
    with socket.create_connection(("127.0.0.1", ports.vnc), timeout=10) as connection:
        greeting = connection.recv(12)
    assert greeting.startswith(b"RFB 003."), greeting


def check_novnc_and_app(ports: StackPorts) -> None:
    assert (
        "noVNC"
        in httpx.get(f"http://127.0.0.1:{ports.novnc}/vnc.html", timeout=10).text
    )
    health = httpx.get(f"http://127.0.0.1:{ports.app}/_stcore/health", timeout=10)
    assert health.status_code == 200


def desktop_view_state(page: Any) -> dict[str, str]:
    """What the combined page's desktop view says: its state, its message and
    how many times it has connected or tried to (image/novnc/desktop.html)."""
    frame = page.frame_locator("#desktop")
    body = frame.locator("body")
    return {
        "state": body.get_attribute("data-state", timeout=5_000) or "",
        "attempts": body.get_attribute("data-attempts", timeout=5_000) or "0",
        "message": frame.locator("#message").inner_text(timeout=5_000),
    }


def wait_for_desktop_view(page: Any, seconds: float = 60, after: int = 0) -> None:
    """Until the desktop view is connected (on an attempt later than `after`)
    and shows the screen; fails with what the view says."""
    deadline = time.monotonic() + seconds
    state: dict[str, str] = {}
    while time.monotonic() < deadline:
        try:
            state = desktop_view_state(page)
        except PlaywrightError:  # the frame is still loading
            state = {}
        if state.get("state") == "connected" and int(state["attempts"]) > after:
            page.frame_locator("#desktop").locator("#screen canvas").first.wait_for(
                timeout=10_000
            )
            return
        page.wait_for_timeout(250)
    raise AssertionError(
        f"the desktop view did not connect in {seconds:.0f} s: {state}"
    )


def check_combined_page(ports: StackPorts, name: str) -> None:
    """The page loads in Chromium with both frames: the chat and the desktop."""
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium_page() as page:
        page.goto(f"http://127.0.0.1:{ports.page}")
        app = page.frame_locator("#app")
        app.get_by_text("Claude Computer Use Demo").wait_for(timeout=60_000)
        screenshot = ARTIFACTS / f"{name}-combined-page.png"
        try:
            wait_for_desktop_view(page)
        except AssertionError:
            page.screenshot(path=str(screenshot))  # what the view showed instead
            raise
        page.wait_for_timeout(1_500)
        page.screenshot(path=str(screenshot))


def check_computer_tool_screenshot(
    ports: StackPorts, name: str, width: int = 1024, height: int = 768
) -> None:
    """A screenshot taken by the computer tool shows the desktop (not a black frame)."""
    from computer_use_demo.tools import ComputerTool20250124

    env = {
        "DISPLAY_NUM": str(ports.display),
        "WIDTH": str(width),
        "HEIGHT": str(height),
    }
    previous = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        result = asyncio.run(ComputerTool20250124()(action="screenshot"))
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    assert result.base64_image
    data = base64.b64decode(result.base64_image)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"{name}-desktop.png").write_bytes(data)
    with Image.open(io.BytesIO(data)) as image:
        assert image.size == (width, height)
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000) or []
    assert len(colours) > 20, (
        "the desktop has a background and a panel, not one flat colour"
    )
