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
