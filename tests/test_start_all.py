"""start_all.sh as a supervisor, with every program it starts replaced by a stub
that records its arguments: where each service listens, what needs a password,
where the logs go, and that Reset (SIGUSR1) restarts only the desktop."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LONG_RUNNING = ["Xvfb", "mutter", "tint2", "x11vnc", "websockify"]
DISPLAY_NUM = "917"


@pytest.fixture
def stubs(tmp_path: Path) -> Iterator[Path]:
    """A bin folder of stubs: each records `name args` and stays up (or answers).

    Readable by everyone, and the record writable: run by root, start_all.sh
    starts the desktop's programs as the tools' account.
    """
    shared = Path(tempfile.mkdtemp(prefix="start-all-stubs-"))
    shared.chmod(0o755)
    folder = shared / "bin"
    folder.mkdir(mode=0o755)
    calls = shared / "calls.log"
    calls.touch()
    calls.chmod(0o666)
    (tmp_path / "calls.log").symlink_to(calls)
    for name in LONG_RUNNING:
        script = f'#!/bin/sh\necho "{name} $$ $*" >> {calls}\n'
        script += "exec sleep 300\n"
        (folder / name).write_text(script)
    for name in ["xdpyinfo", "nc"]:
        (folder / name).write_text("#!/bin/sh\nexit 0\n")
    (folder / "xprop").write_text("#!/bin/sh\necho window\n")
    (folder / "python").write_text(
        "#!/bin/sh\n"
        'case "$2" in *computer_use_demo.tool_output.private_files*) exec '
        + sys.executable
        + ' "$@";; esac\n'
        # The budget line the container log gets: said, then done.
        'case "$2" in computer_use_demo.startup_log) exit 0;; esac\n'
        f'echo "python $$ $*" >> {calls}\nexec sleep 300\n'
    )
    (folder / "python3").write_text(
        f'#!/bin/sh\necho "python $$ $*" >> {calls}\nexec sleep 300\n'
    )
    for path in folder.iterdir():
        path.chmod(0o755)
    yield folder
    shutil.rmtree(shared, ignore_errors=True)


def _env(tmp_path: Path, stubs: Path, **extra: str) -> dict[str, str]:
    shared_tmp = tmp_path / "tmp"
    shared_tmp.mkdir(exist_ok=True)
    shared_tmp.chmod(0o1777)
    novnc = tmp_path / "novnc"  # noVNC's web folder, as Debian lays it out
    (novnc / "core").mkdir(parents=True, exist_ok=True)
    (novnc / "core" / "rfb.js").write_text("export default class RFB {}\n")
    (novnc / "vnc.html").write_text("<title>noVNC</title>\n")
    env = {
        "PATH": f"{stubs}:{os.environ['PATH']}",
        "PYTHON": str(stubs / "python"),
        "NOVNC_WEB": str(novnc),
        "TMPDIR": str(shared_tmp),
        "DISPLAY_NUM": DISPLAY_NUM,
        "HOME": str(tmp_path),
        **extra,
    }
    return env


def _calls(tmp_path: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    log = tmp_path / "calls.log"
    for line in log.read_text().splitlines() if log.exists() else []:
        name, pid, *args = line.split(" ")
        found.setdefault(name, []).append(" ".join([pid, *args]))
    return found


def _launch(tmp_path: Path, stubs: Path, **extra: str) -> subprocess.Popen[str]:
    """start_all.sh in its own session, with the stubs; its output in a pipe."""
    return subprocess.Popen(
        [str(ROOT / "image" / "start_all.sh")],
        env=_env(tmp_path, stubs, **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _run_until_refused(
    tmp_path: Path, stubs: Path, **extra: str
) -> subprocess.CompletedProcess[str]:
    """start_all.sh where it must stop at once: its exit status and output."""
    return subprocess.run(
        [str(ROOT / "image" / "start_all.sh")],
        env=_env(tmp_path, stubs, **extra),
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.fixture
def stack(tmp_path: Path, stubs: Path) -> Iterator[subprocess.Popen[str]]:
    process = _launch(tmp_path, stubs)
    try:
        _wait_for(lambda: len(_calls(tmp_path).get("python", [])) == 2)
        time.sleep(0.5)
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)


def _wait_for(condition: Callable[[], bool], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_by_default_every_service_listens_on_loopback_only(
    tmp_path: Path, stack: subprocess.Popen[str]
) -> None:
    calls = _calls(tmp_path)
    vnc = calls["x11vnc"][0]
    assert "-localhost" in vnc and "-noipv6" in vnc and "-listen 0.0.0.0" not in vnc
    assert calls["websockify"][0].split()[3].startswith("127.0.0.1:")
    page = next(call for call in calls["python"] if "http_server.py" in call)
    app = next(call for call in calls["python"] if "streamlit" in call)
    assert "--bind 127.0.0.1" in page
    assert "--server.address 127.0.0.1" in app
    assert "--client.showErrorDetails type" in app


def test_novnc_is_served_with_the_desktop_view_beside_it(
    tmp_path: Path, stack: subprocess.Popen[str]
) -> None:
    _, web_option, web, *_ = _calls(tmp_path)["websockify"][0].split()
    assert web_option == "--web"
    served = Path(web)
    folder = served.parent.stat()
    assert folder.st_uid == os.getuid() and folder.st_mode & 0o022 == 0, (
        "in a folder of ours that nobody else can change (the desktop's account reads it)"
    )
    view = ROOT / "image" / "novnc" / "desktop.html"
    assert (served / "desktop.html").read_bytes() == view.read_bytes()
    rfb = (served / "core" / "rfb.js").read_text()
    assert rfb.startswith("export default class RFB")
    assert (served / "vnc.html").read_text() == "<title>noVNC</title>\n"
    index = (ROOT / "image" / "static" / "index.html").read_text()
    assert "/desktop.html`" in index and "vnc.html" not in index


def test_without_novnc_the_stack_stops_with_a_clear_error(
    tmp_path: Path, stubs: Path
) -> None:
    result = _run_until_refused(tmp_path, stubs, NOVNC_WEB=str(tmp_path / "absent"))
    assert result.returncode == 1
    assert f"no noVNC in {tmp_path / 'absent'} (Debian package novnc)" in result.stderr
    assert "websockify" not in _calls(tmp_path)


def test_exposing_without_a_vnc_password_is_refused(
    tmp_path: Path, stubs: Path
) -> None:
    result = _run_until_refused(tmp_path, stubs, BIND_ADDRESS="0.0.0.0")
    assert result.returncode == 1
    assert "set VNC_PASSWORD" in result.stderr
    assert "Xvfb" not in _calls(tmp_path), "nothing was started"


def test_exposed_with_a_password_vnc_asks_for_it(tmp_path: Path, stubs: Path) -> None:
    process = subprocess.Popen(
        [str(ROOT / "image" / "start_all.sh")],
        env=_env(tmp_path, stubs, BIND_ADDRESS="0.0.0.0", VNC_PASSWORD="pw-123456"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_for(lambda: len(_calls(tmp_path).get("python", [])) == 2)
        calls = _calls(tmp_path)
        vnc = calls["x11vnc"][0]
        assert "-passwdfile" in vnc and "-nopw" not in vnc
        assert "-listen 0.0.0.0" in vnc
        assert "pw-123456" not in " ".join(calls["python"] + [vnc])
        # x11vnc's `rm:` removes its copy once read (the stub does not read it).
        handed = vnc.split("-passwdfile ")[1].split()[0]
        assert handed.startswith("rm:")
        password_file = Path(handed.removeprefix("rm:"))
        assert password_file.read_text() == "pw-123456\n"
        assert stat.S_IMODE(password_file.stat().st_mode) == 0o400
        if os.geteuid() == 0:  # readable by the desktop's account alone
            assert password_file.stat().st_uid == pwd.getpwnam("computeruse").pw_uid
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)


def test_a_planted_log_folder_link_is_not_followed(tmp_path: Path, stubs: Path) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    shared_tmp = tmp_path / "tmp"
    shared_tmp.mkdir()
    shared_tmp.chmod(0o1777)
    planted = shared_tmp / f"computer-use-{os.getuid()}"
    planted.symlink_to(victim)
    if os.getuid() == 0:
        os.lchown(planted, 65534, 65534)
    process = _launch(tmp_path, stubs)
    try:
        _wait_for(lambda: len(_calls(tmp_path).get("python", [])) == 2)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        output = process.communicate(timeout=10)[0]
    assert list(victim.iterdir()) == [], "logs were written through the link"
    log_line = next(line for line in output.splitlines() if "started xvfb" in line)
    log_dir = Path(log_line.split("log ")[1].rstrip(")")).parent
    info = os.lstat(log_dir)
    assert stat.S_ISDIR(info.st_mode) and stat.S_IMODE(info.st_mode) & 0o077 == 0


def test_reset_restarts_only_the_desktop_by_pid(
    tmp_path: Path, stack: subprocess.Popen[str]
) -> None:
    before = _calls(tmp_path)
    stack.send_signal(signal.SIGUSR1)
    _wait_for(lambda: len(_calls(tmp_path).get("x11vnc", [])) == 2)
    time.sleep(1.5)
    after = _calls(tmp_path)
    assert stack.poll() is None, "the supervisor is still running"
    for name in ["Xvfb", "mutter", "tint2", "x11vnc"]:
        assert len(after[name]) == 2, f"{name} restarted once"
        old_pid = int(before[name][0].split()[0])
        assert not _alive(old_pid), f"the old {name} was stopped"
    for name in ["websockify", "python"]:
        assert after[name] == before[name], f"{name} was left alone"
        assert all(_alive(int(call.split()[0])) for call in after[name])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def test_a_crashed_window_manager_brings_the_desktop_back_not_down(
    tmp_path: Path, stack: subprocess.Popen[str]
) -> None:
    before = _calls(tmp_path)
    os.kill(int(before["mutter"][0].split()[0]), signal.SIGKILL)
    _wait_for(lambda: len(_calls(tmp_path).get("x11vnc", [])) == 2)
    time.sleep(1.5)
    after = _calls(tmp_path)
    assert stack.poll() is None and len(after["Xvfb"]) == 2
    assert after["python"] == before["python"], "the app was left alone"
    assert all(_alive(int(call.split()[0])) for call in after["python"])


def test_a_dead_app_still_stops_the_stack(
    tmp_path: Path, stack: subprocess.Popen[str]
) -> None:
    app = next(call for call in _calls(tmp_path)["python"] if "streamlit" in call)
    os.kill(int(app.split()[0]), signal.SIGKILL)
    assert stack.wait(timeout=15) == 1
