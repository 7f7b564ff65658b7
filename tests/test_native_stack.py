"""The whole desktop stack started natively by the same scripts the image uses."""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from fake_anthropic import free_port
from tests.plugins.stack_checks import (
    StackPorts,
    check_combined_page,
    check_computer_tool_screenshot,
    check_novnc_and_app,
    check_vnc_handshake,
    check_x_display,
    desktop_view_state,
    stop_process,
    wait_for_desktop_view,
    wait_for_port,
)
from tests.plugins.streamlit_app import chromium_page
from tests.plugins.xvfb import _free_display_number

pytestmark = [pytest.mark.desktop, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def running_stack(
    tmp_path: Path, **extra_env: str
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
    env.update(extra_env)
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


@pytest.fixture
def native_stack(
    tmp_path: Path,
) -> Iterator[tuple[StackPorts, subprocess.Popen[bytes]]]:
    with running_stack(tmp_path) as stack:
        yield stack


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


def _stack_processes(supervisor: int) -> list[psutil.Process]:
    root = psutil.Process(supervisor)
    return [root, *root.children(recursive=True)]


def _non_loopback_addresses() -> list[str]:
    return [
        address.address
        for addresses in psutil.net_if_addrs().values()
        for address in addresses
        if address.family == socket.AF_INET and not address.address.startswith("127.")
    ]


def _describe(process: psutil.Process) -> tuple[str, str] | None:
    """Name and command line; None for a process that just ended (the
    supervisor's `sleep 1` and port probes come and go)."""
    try:
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        return process.name(), " ".join(process.cmdline())
    except psutil.Error:
        return None


def _children_named(supervisor: int, name: str) -> list[int]:
    return [
        process.pid
        for process in _stack_processes(supervisor)
        if (described := _describe(process)) and described[0] == name
    ]


def test_the_default_native_run_listens_on_loopback_only_and_reset_keeps_the_app(
    native_stack: tuple[StackPorts, subprocess.Popen[bytes]],
) -> None:
    ports, process = native_stack
    pids = {p.pid for p in _stack_processes(process.pid)}
    listening: list[tuple[str, int]] = [
        (str(connection.laddr[0]), int(connection.laddr[1]))
        for connection in psutil.net_connections(kind="inet")
        if connection.status == psutil.CONN_LISTEN
        and connection.pid in pids
        and connection.laddr
    ]
    ours = {port for _, port in listening}
    assert {ports.vnc, ports.novnc, ports.page, ports.app} <= ours
    exposed = [
        f"{ip}:{port}" for ip, port in listening if ip not in ("127.0.0.1", "::1")
    ]
    reachable = []
    for address in _non_loopback_addresses():
        for port in (ports.vnc, ports.novnc, ports.page, ports.app):
            with socket.socket() as probe:
                probe.settimeout(1)
                if probe.connect_ex((address, port)) == 0:
                    reachable.append(f"{address}:{port}")
    _record_figures(
        services_listening=len(ours),
        services_reachable_non_loopback=len(set(exposed) | set(reachable)),
        non_loopback_addresses_probed=len(_non_loopback_addresses()),
    )
    assert exposed == [] and reachable == []

    # Reset in the browser: only the desktop comes back, with new pids.
    xvfb_before = _children_named(process.pid, "Xvfb")
    app_before = [
        p.pid
        for p in _stack_processes(process.pid)
        if (described := _describe(p)) and "streamlit" in described[1]
    ]
    assert len(xvfb_before) == 1 and app_before
    # The combined page stays open through it: its desktop view reconnects.
    # (Wide enough that the app's 40% keeps its sidebar, and so Reset, open.)
    with chromium_page(width=2400) as page:
        page.goto(f"http://127.0.0.1:{ports.page}")
        wait_for_desktop_view(page)
        attempts_before = int(desktop_view_state(page)["attempts"])
        app = page.frame_locator("#app")
        app.get_by_role("button", name="Reset").click(timeout=60_000)
        app.get_by_text("The desktop was restarted.").wait_for(timeout=60_000)
        assert app.get_by_text("Claude Computer Use Demo").is_visible()
        wait_for_desktop_view(page, after=attempts_before)
    xvfb_after = _children_named(process.pid, "Xvfb")
    assert len(xvfb_after) == 1 and xvfb_after != xvfb_before
    assert process.poll() is None, "the supervisor kept running"
    assert all(psutil.pid_exists(pid) for pid in app_before), "the app kept running"
    check_x_display(ports)
    check_vnc_handshake(ports)
    check_novnc_and_app(ports)


def _record_figures(**figures: int) -> None:
    path = ROOT / "artifacts" / "reliability-figures.json"
    path.parent.mkdir(exist_ok=True)
    existing = json.loads(path.read_text()) if path.exists() else {}
    path.write_text(json.dumps({**existing, **figures}, indent=1))


def test_with_a_vnc_password_the_handshake_asks_for_it(
    tmp_path: Path, xvfb_display: object
) -> None:
    """The real x11vnc with start_all.sh's password flags: VNC authentication
    (type 2) is offered and "none" (type 1) is not; the password is not in argv."""
    password_file = tmp_path / "vnc.passwd"
    password_file.write_text("pw-7531-secret\n")
    password_file.chmod(0o600)
    port = free_port()
    server = subprocess.Popen(
        [
            "x11vnc",
            "-display",
            os.environ["DISPLAY"],
            "-rfbport",
            str(port),
            "-localhost",
            "-noipv6",
            "-passwdfile",
            str(password_file),
            "-forever",
            "-shared",
            "-noxdamage",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, 30)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
            assert connection.recv(12).startswith(b"RFB 003.")
            connection.sendall(b"RFB 003.008\n")
            count = connection.recv(1)[0]
            offered = set(connection.recv(count))
        assert 2 in offered and 1 not in offered, offered
        assert "pw-7531" not in " ".join(psutil.Process(server.pid).cmdline())
    finally:
        stop_process(server)


API_KEY = "sk-ant-api03-NATIVESTACKCANARY-0123456789"
REDIS_PASSWORD = "NativeStackRedisCanary-42"
DESKTOP_PROCESSES = {"Xvfb", "mutter", "tint2", "x11vnc", "websockify"}


@pytest.mark.skipif(
    os.geteuid() != 0, reason="the stack separates users when run by root"
)
def test_run_by_root_the_desktop_runs_as_the_tools_account_without_credentials(
    tmp_path: Path,
) -> None:
    """Every desktop process (and so every app started from the panel) runs as
    the tools' account with a short environment; only the app keeps root and
    the credentials, where that account cannot read them."""
    secrets = {
        "ANTHROPIC_API_KEY": API_KEY,
        "TOKEN_MANAGER_REDIS_URL": f"redis://:{REDIS_PASSWORD}@127.0.0.1:9/0",
    }
    tools_uid = pwd.getpwnam(
        os.environ.get("COMPUTER_USE_TOOLS_USER", "computeruse")
    ).pw_uid
    with running_stack(tmp_path, **secrets) as (ports, process):
        check_x_display(ports)
        seen: dict[str, tuple[int, str]] = {}
        for child in _stack_processes(process.pid):
            try:
                name = child.name()
                command = " ".join(child.cmdline())
                uid = child.uids().real
                environment = "\n".join(f"{k}={v}" for k, v in child.environ().items())
            except psutil.Error:
                continue
            label = "page" if "http_server.py" in command else name
            label = "streamlit" if "streamlit" in command else label
            seen[label] = (uid, environment)
        for name in (*DESKTOP_PROCESSES, "page"):
            assert name in seen, f"{name} is running"
            uid, environment = seen[name]
            assert uid == tools_uid, f"{name} runs as the tools' account"
            assert API_KEY not in environment and REDIS_PASSWORD not in environment, (
                name
            )
            assert "TOKEN_MANAGER_REDIS_URL" not in environment, name
        app_uid, app_environment = seen["streamlit"]
        assert app_uid == 0 and API_KEY in app_environment
        assert "COMPUTER_USE_TOOLS_USER=" in app_environment
