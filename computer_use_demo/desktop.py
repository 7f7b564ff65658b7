"""Restarts the desktop (Xvfb, window manager, panel, x11vnc) for the app's Reset.

It asks the supervisor (`image/start_all.sh`, by the pid it exported) to do it,
so only the desktop's own processes are restarted, by their pids: never a
`pkill` by name, never the app or the other services.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ResetOutcome:
    restarted: bool
    message: str


def _read_pid(path: Path) -> int | None:
    """The number in a pid (or generation) file, None when absent or garbled."""
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _is_supervisor(pid: int) -> bool:
    """The pid is still our start_all.sh (not a reused pid)."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"start_all.sh" in command


def _display_answers(display: str) -> bool:
    try:
        return (
            subprocess.run(
                ["xdpyinfo", "-display", display],
                capture_output=True,
                timeout=5,
                check=False,
            ).returncode
            == 0
        )
    except (OSError, subprocess.TimeoutExpired):
        return False


def restart_desktop(
    environ: Mapping[str, str] | None = None,
    timeout: float = 60.0,
    sleep: Callable[[float], None] = time.sleep,
) -> ResetOutcome:
    """Ask the supervisor to restart the desktop and wait until it says the
    desktop is up again (X, window manager, panel, VNC) and the display answers."""
    env = os.environ if environ is None else environ
    run_dir = env.get("COMPUTER_USE_RUN_DIR")
    supervisor = env.get("COMPUTER_USE_SUPERVISOR_PID", "")
    if not run_dir or not supervisor.isdigit() or not _is_supervisor(int(supervisor)):
        return ResetOutcome(
            False,
            "The desktop is not run by start_all.sh here: only the conversation "
            "was reset.",
        )
    # start_all.sh counts each time the whole desktop (X to VNC) is up again.
    ready_file = Path(run_dir) / "desktop.ready"
    before = _read_pid(ready_file)
    os.kill(int(supervisor), signal.SIGUSR1)
    display = env.get("DISPLAY") or f":{env.get('DISPLAY_NUM', '1')}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = _read_pid(ready_file)
        if now is not None and now != before and _display_answers(display):
            return ResetOutcome(True, "The desktop was restarted.")
        sleep(0.25)
    return ResetOutcome(
        False, f"The desktop did not come back within {timeout:.0f} s: see the logs."
    )
