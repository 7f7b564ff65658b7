"""A real X display for desktop tests: Xvfb started per session, stopped after.

Tests that drive the desktop take `xvfb_display`; it never touches the
developer's own display.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

WIDTH, HEIGHT = 1024, 768


@dataclass(frozen=True)
class XvfbDisplay:
    number: int
    width: int
    height: int

    @property
    def name(self) -> str:
        return f":{self.number}"

    @property
    def env(self) -> dict[str, str]:
        """Variables the tools and X clients need to use this display."""
        return {
            "DISPLAY": self.name,
            "DISPLAY_NUM": str(self.number),
            "WIDTH": str(self.width),
            "HEIGHT": str(self.height),
        }


def _free_display_number() -> int:
    for number in range(90, 200):
        if (
            not Path(f"/tmp/.X{number}-lock").exists()
            and not Path(f"/tmp/.X11-unix/X{number}").exists()
        ):
            return number
    raise RuntimeError("no free X display number between :90 and :199")


class _Desktop:
    """Xvfb plus the clients of a desktop. xdotool cannot move the pointer of an
    Xvfb that no client watches (seen here with Debian's xvfb and xdotool), and
    every real desktop, ours included, runs a panel that does; a root-window
    mouse listener (xev) makes that deterministic."""

    def __init__(
        self, server: subprocess.Popen[bytes], clients: list[subprocess.Popen[bytes]]
    ):
        self.server = server
        self.clients = clients

    def terminate(self) -> None:
        for process in (*self.clients, self.server):
            if process.poll() is None:
                process.terminate()

    def wait(self, timeout: float) -> None:
        for process in (*self.clients, self.server):
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=timeout)


def start_xvfb(
    width: int = WIDTH, height: int = HEIGHT
) -> tuple[XvfbDisplay, _Desktop]:
    """Start Xvfb, a tint2 panel and a pointer listener; wait until the pointer moves."""
    display, server = _start_server(width, height)
    env = {**os.environ, **display.env}
    clients = [
        subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for command in (["tint2"], ["xev", "-root", "-event", "mouse"])
        if shutil.which(command[0])
    ]
    desktop = _Desktop(server, clients)
    try:
        _wait_until_pointer_moves(display)
    except RuntimeError:
        desktop.terminate()
        desktop.wait(5)
        raise
    return display, desktop


def _wait_until_pointer_moves(display: XvfbDisplay) -> None:
    env = {**os.environ, **display.env}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        subprocess.run(["xdotool", "mousemove", "1", "1"], env=env, check=False)
        where = subprocess.run(
            ["xdotool", "getmouselocation", "--shell"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        if "X=1\n" in where:
            subprocess.run(["xdotool", "mousemove", "0", "0"], env=env, check=False)
            return
        time.sleep(0.1)
    raise RuntimeError(
        f"the pointer of {display.name} never moved: are tint2 and xev installed?"
    )


def _start_server(
    width: int, height: int
) -> tuple[XvfbDisplay, subprocess.Popen[bytes]]:
    if shutil.which("Xvfb") is None:
        raise RuntimeError(
            "Xvfb is not installed (apt-get install xvfb); ./test.sh installs it"
        )
    number = _free_display_number()
    process = subprocess.Popen(
        [
            "Xvfb",
            f":{number}",
            "-screen",
            "0",
            f"{width}x{height}x24",
            "-nolisten",
            "tcp",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Xvfb :{number} exited with {process.returncode}")
        ready = subprocess.run(
            ["xdpyinfo", "-display", f":{number}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        if ready.returncode == 0:
            return XvfbDisplay(number, width, height), process
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"Xvfb :{number} did not answer within 15 s")


@pytest.fixture(scope="session")
def xvfb_server() -> Iterator[XvfbDisplay]:
    display, process = start_xvfb()
    try:
        yield display
    finally:
        process.terminate()
        process.wait(timeout=5)


@pytest.fixture
def xvfb_display(
    xvfb_server: XvfbDisplay, monkeypatch: pytest.MonkeyPatch
) -> XvfbDisplay:
    """The session's display, with DISPLAY/DISPLAY_NUM/WIDTH/HEIGHT set for this test."""
    for name, value in xvfb_server.env.items():
        monkeypatch.setenv(name, value)
    return xvfb_server


def run_on_display(display: XvfbDisplay, *command: str) -> str:
    """Run an X client on the display and return its stdout."""
    env = {**os.environ, **display.env}
    return subprocess.run(
        command, env=env, capture_output=True, text=True, check=True
    ).stdout
