"""The tools as an unprivileged account: what a steered model reaches, really.

A real account (useradd), a real bash and real files: the shell, the helper
processes and the editor's reads and writes all happen as that account, so the
app's key file, its process's environment, memory and descriptors are out of
their reach, whatever the command.
"""

from __future__ import annotations

import os
import pwd
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from computer_use_demo.tools import BashTool20250124, EditTool20250728, ToolResult
from computer_use_demo.tools.base import ToolError
from computer_use_demo.tools.identity import tools_account
from computer_use_demo.tools.run import run, run_argv
from tests.plugins.xvfb import XvfbDisplay

SECRET = "sk-ant-api03-only-the-app-may-read-this-0123456789"


@pytest.fixture
async def bash() -> AsyncIterator[BashTool20250124]:
    tool = BashTool20250124()
    yield tool
    await tool.close()


@pytest.fixture
def app_secret_file(tmp_path: Path) -> Iterator[Path]:
    """A key file as the app keeps it: 0600 in a 0700 folder of the app's user."""
    folder = tmp_path / "config"
    folder.mkdir(mode=0o700)
    key_file = folder / "api_key"
    key_file.write_text(SECRET)
    key_file.chmod(0o600)
    yield key_file


async def test_the_shell_runs_as_the_account_in_its_home(
    tools_as_account: pwd.struct_passwd, bash: BashTool20250124
) -> None:
    result = await bash(command='id -un; echo "$HOME"; pwd; id -G')
    lines = (result.output or "").split("\n")
    assert lines[0] == tools_as_account.pw_name
    assert lines[1] == lines[2] == tools_as_account.pw_dir
    assert "0" not in lines[3].split(), "no group of root's"


@pytest.mark.parametrize(
    "route",
    [
        "cat {key}",
        "base64 -w0 {key}",
        "ls {folder}",
        "cat /proc/{pid}/environ",
        "tr '\\0' '\\n' < /proc/{pid}/environ",
        "head -c 64 /proc/{pid}/mem",
        "ls -l /proc/{pid}/fd",
        "cat /proc/{pid}/cmdline /proc/{pid}/maps",
        "find {folder} -name api_key -exec cat {{}} +",
    ],
)
async def test_no_route_from_the_shell_reaches_the_apps_secrets(
    tools_as_account: pwd.struct_passwd,
    app_secret_file: Path,
    route: str,
    monkeypatch: pytest.MonkeyPatch,
    bash: BashTool20250124,
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)  # in the app's own environment
    command = route.format(
        key=app_secret_file, folder=app_secret_file.parent, pid=os.getpid()
    )
    result = await bash(command=command)
    everything = f"{result.output}\n{result.error}"
    assert SECRET not in everything
    assert "Permission denied" in everything or "Operation not permitted" in everything


async def test_helper_processes_run_as_the_account_too(
    tools_as_account: pwd.struct_passwd,
) -> None:
    _, shell_output, _ = await run("id -u")
    _, argv_output, _ = await run_argv(["id", "-u"])
    assert shell_output.strip() == argv_output.strip() == str(tools_as_account.pw_uid)


async def test_the_editor_reads_and_writes_only_what_the_account_may(
    tools_as_account: pwd.struct_passwd, app_secret_file: Path
) -> None:
    editor = EditTool20250728()
    with pytest.raises(ToolError, match="Permission denied"):
        await editor(command="view", path=str(app_secret_file))
    with pytest.raises(ToolError, match="Permission denied"):
        await editor(
            command="create",
            path=str(app_secret_file.parent / "planted"),
            file_text="x",
        )
    assert not (app_secret_file.parent / "planted").exists()

    home = Path(tools_as_account.pw_dir)
    notes = home / "notes.txt"
    await editor(command="create", path=str(notes), file_text="alpha\n\tbeta\n")
    assert notes.stat().st_uid == tools_as_account.pw_uid
    await editor(
        command="str_replace", path=str(notes), old_str="alpha", new_str="ALPHA"
    )
    assert notes.read_bytes() == b"ALPHA\n\tbeta\n"
    assert notes.stat().st_uid == tools_as_account.pw_uid
    viewed = await editor(command="view", path=str(notes))
    assert "\tbeta" in (viewed.output or "")
    await editor(command="undo_edit", path=str(notes))
    assert notes.read_bytes() == b"alpha\n\tbeta\n"
    listing = await editor(command="view", path=str(home))
    assert "notes.txt" in (listing.output or "")


def test_an_account_that_cannot_be_used_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COMPUTER_USE_TOOLS_USER", "no-such-account-here")
    with pytest.raises(ToolError, match="names no account"):
        tools_account()
    root = pwd.getpwuid(0).pw_name
    monkeypatch.setenv("COMPUTER_USE_TOOLS_USER", root)
    if os.geteuid() == 0:
        assert tools_account() is None  # the app's own account: nothing to switch
    else:
        with pytest.raises(ToolError, match="not root"):
            tools_account()


async def test_the_accounts_path_leaves_out_folders_it_cannot_search(
    tools_as_account: pwd.struct_passwd,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    bash: BashTool20250124,
) -> None:
    private_bin = tmp_path / "bin"  # under pytest's 0700 folder of root's
    private_bin.mkdir()
    (private_bin / "python3").write_text("#!/bin/sh\necho root's own\n")
    (private_bin / "python3").chmod(0o755)
    monkeypatch.setenv("PATH", f"{private_bin}:/usr/bin:/bin")
    result = await bash(command='echo "$PATH"; command -v python3')
    path, found = (result.output or "").split("\n")
    assert str(private_bin) not in path and found == "/usr/bin/python3"


async def test_a_shortened_output_is_saved_where_the_account_can_page_through_it(
    tools_as_account: pwd.struct_passwd, bash: BashTool20250124
) -> None:
    from computer_use_demo.tool_output.budget import ToolResultBudget

    owner = (tools_as_account.pw_uid, tools_as_account.pw_gid)
    long_output = "\n".join(f"line {number}" for number in range(5000))
    shortened = ToolResultBudget(tokens=200).apply(
        ToolResult(output=long_output), 40_000, owner=owner
    )
    saved = next(
        word for word in (shortened.output or "").split() if "/tool-output-" in word
    )
    saved = saved.strip("`'\".,;:()")
    assert Path(saved).stat().st_uid == tools_as_account.pw_uid
    paged = await bash(
        command=f"sed -n '4000,4001p' {saved}; stat -c %a {Path(saved).parent}"
    )
    assert (paged.output or "").split("\n") == ["line 3999", "line 4000", "700"]


def test_a_planted_link_never_receives_the_saved_output(
    tools_as_account: pwd.struct_passwd, tmp_path: Path
) -> None:
    """The account owns its folder and may swap what is in it: a write goes to
    the folder that was checked, or not at all, never through a link."""
    import tempfile

    from computer_use_demo.tool_output.private_files import (
        UnsafeDirectoryError,
        open_directory_of,
    )

    uid, gid = tools_as_account.pw_uid, tools_as_account.pw_gid
    folder, path = open_directory_of(uid, gid, name="link-test")
    os.close(folder)
    os.rmdir(path)
    target = tmp_path / "elsewhere"
    target.mkdir()
    os.symlink(target, path)
    os.lchown(path, uid, gid)
    try:
        with pytest.raises(OSError):
            open_directory_of(uid, gid, name="link-test")
    finally:
        os.unlink(path)
    assert list(target.iterdir()) == []
    assert issubclass(UnsafeDirectoryError, OSError) and tempfile.gettempdir()


@pytest.mark.desktop
async def test_the_computer_tool_drives_the_display_as_the_account(
    tools_as_account: pwd.struct_passwd, xvfb_display: XvfbDisplay
) -> None:
    """xdotool runs as the account (the display is the desktop's, which runs as
    it too); the screenshot still comes back."""
    from dataclasses import replace

    from computer_use_demo.tools import ComputerTool20250124

    tool = ComputerTool20250124()
    tool.settle_policy = replace(tool.settle_policy, first_change=0.5)
    result = await tool(action="mouse_move", coordinate=[201, 102])
    assert result.base64_image
    position = await tool(action="cursor_position")
    assert position.output == "X=201,Y=102"
    _, owner, _ = await run("ps -o user= -p $$")
    assert owner.strip() == tools_as_account.pw_name
