"""Saved keys and conversations: atomic, private, shared by the app and the CLI."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from computer_use_demo import storage


def test_saved_text_is_private_and_round_trips(tmp_path: Path) -> None:
    path = storage.save_text("api_key", "sk-ant-secret-value\n", tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert storage.load_text("api_key", tmp_path) == "sk-ant-secret-value"
    assert storage.load_text("missing", tmp_path) is None


def test_config_dir_follows_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_CONFIG_DIR", str(tmp_path / "cfg"))
    assert storage.config_dir() == tmp_path / "cfg"


def test_conversations_round_trip_newest_first(tmp_path: Path) -> None:
    first = [{"role": "user", "content": [{"type": "text", "text": "open firefox"}]}]
    second = [{"role": "user", "content": "list files"}]
    storage.save_conversation("20260101-000000-aaaaaa", first, {"model": "m"}, tmp_path)
    path = storage.save_conversation("20260101-000001-bbbbbb", second, None, tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    saved = storage.list_conversations(tmp_path)
    assert [item.title for item in saved] == ["list files", "open firefox"]
    assert saved[1].messages == first and saved[1].settings == {"model": "m"}


def test_a_corrupt_file_is_skipped_not_fatal(tmp_path: Path) -> None:
    directory = storage.conversations_dir(tmp_path)
    directory.mkdir(parents=True)
    (directory / "broken.json").write_text("{not json")
    assert storage.list_conversations(tmp_path) == []
    with pytest.raises(ValueError, match="not a saved conversation"):
        storage.load_conversation_file(directory / "broken.json")


def test_conversation_ids_cannot_escape_the_folder(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        storage.conversation_path("../../etc/passwd", tmp_path)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b'{"settings": 5, "messages": []}', "settings"),
        (b'{"updated_at": [1], "messages": []}', "updated_at"),
        (b'{"updated_at": 1e300, "messages": []}', "updated_at"),
        (b'{"messages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "deep"),
        (b'{"messages": [[[[' + b"{}" + b"]]]]}", "not a user or assistant"),
        (b'{"messages": [{"role": "user", "content": [{"a": 1}]}]}', "content"),
        (
            b'{"messages": [{"role": "user", "content": "x", "z": '
            + b"[" * 80
            + b"]" * 80
            + b"}]}",
            "nests deeper",
        ),
        (b'{"messages": ["hello"]}', "not a user or assistant"),
        (b'{"messages": [{"role": "user", "content": [5]}]}', "not a list of blocks"),
        (b'{"messages": [], "title": "\xe9"}', "utf-8"),
        (b'{"messages": [], "title": 5}', "title"),
        (b"", "not a saved conversation"),
    ],
)
def test_a_badly_shaped_conversation_is_refused_with_a_reason(
    tmp_path: Path, data: bytes, why: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(data)
    with pytest.raises(storage.ConversationFileError, match=f"(?i){why}"):
        storage.load_conversation_file(path)
    listing = storage.scan_conversations(tmp_path.parent / "none")
    assert listing.conversations == []


def test_the_listing_names_unreadable_files_and_keeps_the_good_ones(
    tmp_path: Path,
) -> None:
    folder = storage.conversations_dir(tmp_path)
    folder.mkdir(parents=True)
    (folder / "settings.json").write_text('{"settings": 5, "messages": []}')
    (folder / "folder.json").mkdir()
    storage.save_conversation(
        "good", [{"role": "user", "content": "hi"}], None, tmp_path
    )
    listing = storage.scan_conversations(tmp_path)
    assert [saved.title for saved in listing.conversations] == ["hi"]
    assert sorted(name for name, _ in listing.unreadable) == [
        "folder.json",
        "settings.json",
    ]
    with pytest.raises(storage.ConversationFileError, match="not a file"):
        storage.load_conversation_file(folder / "folder.json")
