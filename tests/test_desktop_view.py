"""The combined page's desktop view (image/novnc/desktop.html) against a real
x11vnc behind a real websockify, in headless Chromium.

noVNC's own vnc.html gives up for good when its first connection fails or a
connection drops uncleanly; the view must keep trying, because the page can
open before x11vnc listens and the app's Reset restarts x11vnc under it.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fake_anthropic import free_port
from tests.plugins.stack_checks import stop_process, wait_for_port
from tests.plugins.streamlit_app import chromium_page
from tests.plugins.xvfb import XvfbDisplay

pytestmark = [pytest.mark.desktop, pytest.mark.browser, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "pw-4862-view"


class VncServer:
    """x11vnc on a fixed port, started and stopped at will (as Reset does)."""

    def __init__(self, display: XvfbDisplay, port: int, password_file: Path | None):
        self.display = display
        self.port = port
        self.password_file = password_file
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        auth = (
            ["-passwdfile", str(self.password_file)]
            if self.password_file
            else ["-nopw"]
        )
        self.process = subprocess.Popen(
            [
                "x11vnc",
                "-display",
                self.display.name,
                "-rfbport",
                str(self.port),
                "-localhost",
                "-noipv6",
                "-forever",
                "-shared",
                "-noxdamage",
                *auth,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, 30)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None


@pytest.fixture
def view(tmp_path: Path, xvfb_display: XvfbDisplay) -> Iterator[tuple[str, Any]]:
    """The view's address (websockify serving web_dir.sh's folder) and a
    factory for the x11vnc behind it, which is not started yet."""
    web = tmp_path / "web"
    subprocess.run([str(ROOT / "image" / "novnc" / "web_dir.sh"), str(web)], check=True)
    vnc_port, web_port = free_port(), free_port()
    proxy = subprocess.Popen(
        [
            "websockify",
            "--web",
            str(web),
            f"127.0.0.1:{web_port}",
            f"127.0.0.1:{vnc_port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    servers: list[VncServer] = []

    def vnc(password_file: Path | None = None) -> VncServer:
        server = VncServer(xvfb_display, vnc_port, password_file)
        servers.append(server)
        return server

    try:
        wait_for_port(web_port, 30)
        yield f"http://127.0.0.1:{web_port}/desktop.html", vnc
    finally:
        for server in servers:
            server.stop()
        stop_process(proxy)


def _state(page: Any) -> dict[str, str]:
    return page.evaluate(
        "() => ({state: document.body.dataset.state,"
        " attempts: document.body.dataset.attempts,"
        " message: document.getElementById('message').textContent})"
    )


def _wait_for_state(page: Any, state: str, timeout_ms: int = 30_000) -> dict[str, str]:
    page.wait_for_function(
        f"() => document.body.dataset.state === '{state}'", timeout=timeout_ms
    )
    return _state(page)


def test_the_view_connects_once_vnc_listens_and_again_after_a_restart(
    view: tuple[str, Any],
) -> None:
    url, vnc = view
    server = vnc()
    with chromium_page() as page:
        page.goto(url)
        waiting = _wait_for_state(page, "waiting")
        assert "not reachable" in waiting["message"]

        server.start()  # vnc.html would still say "Failed to connect to server"
        first = _wait_for_state(page, "connected")
        page.locator("#screen canvas").first.wait_for(timeout=10_000)
        assert page.locator("#status").is_hidden()

        server.stop()  # what Reset does to x11vnc
        dropped = _wait_for_state(page, "waiting")
        assert "Trying again" in dropped["message"]
        server.start()
        again = _wait_for_state(page, "connected")
        assert int(again["attempts"]) > int(first["attempts"])
        page.locator("#screen canvas").first.wait_for(timeout=10_000)


def test_with_a_password_the_view_asks_refuses_a_wrong_one_and_remembers_the_right_one(
    view: tuple[str, Any], tmp_path: Path
) -> None:
    password_file = tmp_path / "vnc.passwd"
    password_file.write_text(f"{PASSWORD}\n")
    password_file.chmod(0o600)
    url, vnc = view
    server = vnc(password_file)
    server.start()
    with chromium_page() as page:
        page.goto(url)
        asked = _wait_for_state(page, "password")
        assert "asks for its VNC password" in asked["message"]

        page.fill("#password", "not-the-password")
        page.click("#password-form button")
        page.wait_for_function(
            "() => document.body.dataset.state === 'password'"
            " && document.getElementById('message').textContent"
            ".includes('Enter it again')",
            timeout=30_000,
        )
        assert "refused that password" in _state(page)["message"]

        page.fill("#password", PASSWORD)
        page.click("#password-form button")
        _wait_for_state(page, "connected")
        assert page.input_value("#password") == ""

        # After a restart (Reset) it reconnects without asking again, and
        # the password was kept in the page's memory only.
        server.stop()
        _wait_for_state(page, "waiting")
        server.start()
        _wait_for_state(page, "connected")
        stored = page.evaluate(
            "() => JSON.stringify({...localStorage}) + JSON.stringify({...sessionStorage})"
            " + document.cookie + location.href"
        )
        assert PASSWORD not in stored
