"""The editor on real files in a temporary directory, with its error cases."""

from __future__ import annotations

from pathlib import Path

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
