"""The editor on real files in a temporary directory, with its error cases."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path
from typing import Any

import pytest

from computer_use_demo.tools import EditTool20250728
from computer_use_demo.tools.base import ToolError


@pytest.fixture
def editor() -> EditTool20250728:
    return EditTool20250728()


async def test_create_view_replace_insert_undo(
    editor: EditTool20250728, tmp_path: Path
) -> None:
    target = tmp_path / "notes.txt"
    created = await editor(
        command="create", path=str(target), file_text="alpha\nbeta\ngamma"
    )
    assert "File created successfully" in (created.output or "")
    viewed = await editor(command="view", path=str(target), view_range=[2, 3])
    assert "     2\tbeta\n     3\tgamma\n" in (viewed.output or "")

    await editor(
        command="str_replace", path=str(target), old_str="beta", new_str="BETA"
    )
    assert target.read_text() == "alpha\nBETA\ngamma"
    await editor(
        command="insert", path=str(target), insert_line=1, insert_text="inserted"
    )
    assert target.read_text() == "alpha\ninserted\nBETA\ngamma"

    await editor(command="undo_edit", path=str(target))
    assert target.read_text() == "alpha\nBETA\ngamma"
    await editor(command="undo_edit", path=str(target))
    assert target.read_text() == "alpha\nbeta\ngamma"


async def test_directory_listing_skips_hidden_files(
    editor: EditTool20250728, tmp_path: Path
) -> None:
    (tmp_path / "visible.txt").write_text("x")
    (tmp_path / ".hidden").write_text("x")
    listing = await editor(command="view", path=str(tmp_path))
    assert "visible.txt" in (listing.output or "") and ".hidden" not in (
        listing.output or ""
    )


async def test_non_utf8_files_can_be_viewed(
    editor: EditTool20250728, tmp_path: Path
) -> None:
    target = tmp_path / "latin1.txt"
    target.write_bytes(b"caf\xe9\n")
    viewed = await editor(command="view", path=str(target))
    assert "caf\ufffd" in (viewed.output or "")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"command": "view", "path": "relative.txt"}, "not an absolute path"),
        ({"command": "view", "path": "/no/such/file"}, "does not exist"),
        ({"command": "str_replace", "path": "{dir}", "old_str": "a"}, "is a directory"),
        (
            {"command": "create", "path": "{file}", "file_text": "x"},
            "File already exists",
        ),
        (
            {"command": "str_replace", "path": "{file}", "old_str": "o"},
            "Multiple occurrences",
        ),
        (
            {"command": "str_replace", "path": "{file}", "old_str": "zzz"},
            "did not appear verbatim",
        ),
        (
            {
                "command": "insert",
                "path": "{file}",
                "insert_line": 99,
                "insert_text": "x",
            },
            "Invalid `insert_line`",
        ),
        (
            {"command": "view", "path": "{file}", "view_range": [3, 1]},
            "Invalid `view_range`",
        ),
        ({"command": "undo_edit", "path": "{file}"}, "No edit history"),
        ({"command": "shred", "path": "{file}"}, "Unrecognized command"),
    ],
)
async def test_errors_say_what_to_fix(
    editor: EditTool20250728, tmp_path: Path, arguments: dict[str, object], message: str
) -> None:
    existing = tmp_path / "two-os.txt"
    existing.write_text("foo\nboo\nline3")
    concrete = {
        key: value.format(dir=tmp_path, file=existing)
        if isinstance(value, str)
        else value
        for key, value in arguments.items()
    }
    with pytest.raises(ToolError, match=message):
        await editor(**concrete)  # type: ignore[arg-type]


async def test_a_directory_name_is_never_run_as_a_command(
    editor: EditTool20250728, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    hostile = tmp_path / "q'$(touch pwned)'"
    hostile.mkdir()
    (hostile / "inside.txt").write_text("x")
    listing = await editor(command="view", path=str(hostile))
    assert not (tmp_path / "pwned").exists(), "the name ran as a command"
    assert "inside.txt" in (listing.output or "")


@pytest.mark.parametrize("target", ["fifo", "/dev/zero", "/dev/null", "socket"])
async def test_pipes_and_devices_are_refused_without_blocking_the_loop(
    editor: EditTool20250728, tmp_path: Path, target: str
) -> None:
    import os
    import socket

    if target == "fifo":
        path = tmp_path / "pipe"
        os.mkfifo(path)
    elif target == "socket":
        path = tmp_path / "sock"
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(path))
    else:
        path = Path(target)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    try:
        calls: list[tuple[Any, dict[str, Any]]] = [
            ("view", {}),
            ("str_replace", {"old_str": "a", "new_str": "b"}),
            ("insert", {"insert_line": 0, "insert_text": "x"}),
        ]
        for command, extra in calls:
            async with asyncio.timeout(5):
                with pytest.raises(ToolError, match="not a regular file"):
                    await editor(command=command, path=str(path), **extra)
    finally:
        ticker.cancel()
    if target == "fifo":
        assert stat.S_ISFIFO(path.stat().st_mode), "the pipe is left as it was"


async def test_a_huge_file_is_refused_with_what_to_do_instead(
    editor: EditTool20250728, tmp_path: Path
) -> None:
    from computer_use_demo.tools import edit

    big = tmp_path / "big.log"
    with big.open("wb") as handle:
        handle.truncate(edit.MAX_FILE_BYTES + 1)
    with pytest.raises(ToolError, match=r"more than the .*grep -n"):
        await editor(command="view", path=str(big))


async def test_a_slow_filesystem_read_does_not_hold_the_event_loop(
    editor: EditTool20250728, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from computer_use_demo.tools import edit

    target = tmp_path / "slow.txt"
    target.write_text("content")
    real = edit.EditTool20250728.read_file

    def slow_read(self: EditTool20250728, path: Path) -> str:
        time.sleep(0.5)  # a stalled network filesystem
        return real(self, path)

    monkeypatch.setattr(edit.EditTool20250728, "read_file", slow_read)
    started = time.monotonic()
    viewing = asyncio.create_task(editor(command="view", path=str(target)))
    await asyncio.sleep(0.05)
    assert time.monotonic() - started < 0.3, "the loop was held by the read"
    assert "content" in ((await viewing).output or "")


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"caf\xe9 = 1\nother = 2\n", id="latin-1"),
        pytest.param(bytes(range(256)) + b"other = 2\n\x00\xff", id="binary"),
    ],
)
@pytest.mark.parametrize(
    "edit",
    [
        {"command": "str_replace", "old_str": "other = 2", "new_str": "other = 3"},
        {"command": "insert", "insert_line": 1, "insert_text": "added"},
    ],
)
async def test_a_file_that_is_not_utf8_is_refused_for_editing_and_left_byte_exact(
    editor: EditTool20250728, tmp_path: Path, content: bytes, edit: dict[str, Any]
) -> None:
    target = tmp_path / "data.bin"
    target.write_bytes(content)
    with pytest.raises(ToolError, match=r"is not UTF-8 text .*leaves it unchanged"):
        await editor(path=str(target), **edit)
    assert target.read_bytes() == content
    viewed = await editor(command="view", path=str(target))
    assert "other = 2" in (viewed.output or "")


MAKEFILE = b"all: build\n\nbuild:\n\tcc -o app main.c\n\tstrip app\n\n# caf\xc3\xa9\r\n"


async def test_str_replace_keeps_every_tab_and_byte_it_was_not_asked_to_change(
    editor: EditTool20250728, tmp_path: Path
) -> None:
    target = tmp_path / "Makefile"
    target.write_bytes(MAKEFILE)
    await editor(
        command="str_replace",
        path=str(target),
        old_str="all: build",
        new_str="all: app",
    )
    assert target.read_bytes() == MAKEFILE.replace(b"all: build", b"all: app")
    await editor(command="insert", path=str(target), insert_line=5, insert_text="\tls")
    assert target.read_bytes() == MAKEFILE.replace(b"all: build", b"all: app").replace(
        b"\tstrip app\n", b"\tstrip app\n\tls\n"
    )
    await editor(command="undo_edit", path=str(target))
    await editor(command="undo_edit", path=str(target))
    assert target.read_bytes() == MAKEFILE


async def test_old_str_written_with_spaces_for_a_tab_still_matches_and_only_that_span_changes(
    editor: EditTool20250728, tmp_path: Path
) -> None:
    target = tmp_path / "Makefile"
    target.write_bytes(MAKEFILE)
    await editor(
        command="str_replace",
        path=str(target),
        old_str="        strip app",  # the tab as a view with expanded tabs shows it
        new_str="\tstrip -s app",
    )
    assert target.read_bytes() == MAKEFILE.replace(b"\tstrip app", b"\tstrip -s app")


async def test_the_view_shows_tabs_as_the_file_holds_them(
    editor: EditTool20250728, tmp_path: Path
) -> None:
    target = tmp_path / "Makefile"
    target.write_bytes(MAKEFILE)
    viewed = await editor(command="view", path=str(target), view_range=[4, 4])
    assert "     4\t\tcc -o app main.c\n" in (viewed.output or "")
