"""Files the app writes under a shared /tmp go to a private per-user folder,
never into a folder another user planted or can write to."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

import pytest

from computer_use_demo.tool_output import private_files
from computer_use_demo.tool_output.budget import save_private
from computer_use_demo.tool_output.private_files import (
    LEGACY_TOOL_OUTPUT_DIR,
    UnsafeDirectoryError,
    private_directory,
    secure_directory,
    user_root,
)

NOBODY = 65534


@pytest.fixture
def shared_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A /tmp of our own: world-writable and sticky, like the real one."""
    root = tmp_path / "tmp"
    root.mkdir()
    root.chmod(0o1777)
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    monkeypatch.setattr(private_files, "_fallback", None)
    return root


def _is_private(path: Path) -> bool:
    info = os.lstat(path)
    return (
        stat.S_ISDIR(info.st_mode)
        and info.st_uid == os.getuid()
        and stat.S_IMODE(info.st_mode) & 0o077 == 0
    )


def test_the_default_is_a_private_folder_of_this_user(shared_tmp: Path) -> None:
    folder = private_directory()
    assert folder == shared_tmp / f"computer-use-{os.getuid()}" / "tool_results"
    assert _is_private(folder) and _is_private(folder.parent)
    assert private_directory(LEGACY_TOOL_OUTPUT_DIR) == folder, "the old shared default"


def test_a_planted_link_is_never_followed(shared_tmp: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    user_root().symlink_to(victim)
    if os.getuid() == 0:
        os.lchown(user_root(), NOBODY, NOBODY)
    with pytest.raises(UnsafeDirectoryError):
        secure_directory(user_root() / "tool_results")
    folder = private_directory()
    assert victim not in folder.parents and folder.parent != victim
    assert _is_private(folder) and list(victim.iterdir()) == []


@pytest.mark.skipif(os.getuid() != 0, reason="planting as another user needs root")
def test_a_folder_another_user_owns_or_opened_is_refused(
    shared_tmp: Path, tmp_path: Path
) -> None:
    theirs = shared_tmp / "outputs"
    theirs.mkdir()
    os.chown(theirs, NOBODY, NOBODY)
    theirs.chmod(0o777)
    path = save_private("secret output", theirs / "tool_results", "tool-bash")
    assert theirs not in path.parents, "written into another user's folder"
    assert _is_private(path.parent) and path.read_text() == "secret output"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    open_folder = tmp_path / "open"
    open_folder.mkdir(mode=0o777)
    open_folder.chmod(0o777)
    assert private_directory(open_folder) != open_folder
    deep = tmp_path / "new" / "deeper" / "outputs"
    assert private_directory(deep) == deep and _is_private(tmp_path / "new")


def test_even_our_own_link_is_not_our_folder(shared_tmp: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    user_root().symlink_to(elsewhere)
    assert private_directory().parent != user_root()
    assert list(elsewhere.iterdir()) == []


def test_the_budget_saves_outside_a_planted_link(
    shared_tmp: Path, tmp_path: Path
) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    planted = shared_tmp / "outputs"
    planted.symlink_to(victim)
    if os.getuid() == 0:
        os.lchown(planted, NOBODY, NOBODY)
    path = save_private("text", planted / "tool_results", "tool-bash")
    assert list(victim.iterdir()) == [], "the link was followed"
    assert path.read_text() == "text" and _is_private(path.parent)


def test_the_desktop_script_can_ask_for_its_log_folder(shared_tmp: Path) -> None:
    import subprocess
    import sys

    shown = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from computer_use_demo.tool_output.private_files import main; "
            "sys.exit(main(sys.argv[1:]))",
            "logs",
        ],
        env={**os.environ, "TMPDIR": str(shared_tmp)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert shown == str(shared_tmp / f"computer-use-{os.getuid()}" / "logs")
    assert _is_private(Path(shown))
