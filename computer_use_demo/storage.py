"""The user's config directory: the saved API key and saved conversations.

Every write is atomic (temp file + rename) and private (0600); nothing here
ever logs a file's contents.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

CONVERSATION_FORMAT = 1


def config_dir() -> Path:
    """`$ANTHROPIC_CONFIG_DIR`, else `~/.anthropic` (the quickstart's mounted folder)."""
    configured = os.environ.get("ANTHROPIC_CONFIG_DIR")
    return Path(configured).expanduser() if configured else Path.home() / ".anthropic"


def write_private(path: Path, text: str) -> None:
    """Replace `path` atomically with `text`, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as temp:
            temp.write(text)
            temp.flush()
            os.fsync(temp.fileno())
        os.chmod(temp_name, 0o600)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def load_text(name: str, directory: Path | None = None) -> str | None:
    """A stripped stored value, or None when absent, empty or unreadable."""
    path = (directory or config_dir()) / name
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except OSError as error:
        logger.warning("could not read %s: %s", path, error.strerror)
        return None
    return text or None


def save_text(name: str, text: str, directory: Path | None = None) -> Path:
    path = (directory or config_dir()) / name
    write_private(path, text)
    return path


@dataclass(frozen=True)
class SavedConversation:
    """One conversation on disk, shared by the app and the terminal front end."""

    conversation_id: str
    title: str
    updated_at: float
    messages: list[Any]
    settings: dict[str, Any]


def conversations_dir(directory: Path | None = None) -> Path:
    return (directory or config_dir()) / "conversations"


def new_conversation_id(now: float | None = None) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now or time.time()))
    return f"{stamp}-{os.urandom(3).hex()}"


_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,100}$")


def conversation_path(conversation_id: str, directory: Path | None = None) -> Path:
    if not _SAFE_ID.match(conversation_id):
        raise ValueError(f"not a conversation id: {conversation_id!r}")
    return conversations_dir(directory) / f"{conversation_id}.json"


def title_of(messages: list[Any]) -> str:
    """The first user text, shortened: what the user will recognise in a list."""
    for message in messages:
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content[:80]
        for block in content or []:
            if isinstance(block, dict) and block.get("type") == "text":
                return str(block.get("text", ""))[:80]
    return "(empty conversation)"


def save_conversation_file(
    path: Path, messages: list[Any], settings: dict[str, Any] | None = None
) -> None:
    """Write a conversation to any path (the CLI's --save), atomically and 0600."""
    document = {
        "format": CONVERSATION_FORMAT,
        "title": title_of(messages),
        "updated_at": time.time(),
        "settings": settings or {},
        "messages": messages,
    }
    write_private(path, json.dumps(document, default=_json_default))


def load_conversation_file(path: Path) -> SavedConversation:
    """Read a conversation saved by the app or the CLI; raises ValueError if it is not one."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not a saved conversation: {error}") from error
    if not isinstance(document, dict) or not isinstance(document.get("messages"), list):
        raise ValueError(f"{path} is not a saved conversation (no message list)")
    return SavedConversation(
        conversation_id=path.stem,
        title=str(document.get("title") or title_of(document["messages"])),
        updated_at=float(document.get("updated_at") or path.stat().st_mtime),
        messages=document["messages"],
        settings=dict(document.get("settings") or {}),
    )


def save_conversation(
    conversation_id: str,
    messages: list[Any],
    settings: dict[str, Any] | None = None,
    directory: Path | None = None,
) -> Path:
    path = conversation_path(conversation_id, directory)
    save_conversation_file(path, messages, settings)
    return path


def list_conversations(directory: Path | None = None) -> list[SavedConversation]:
    """Saved conversations, newest first; unreadable files are skipped with a warning."""
    found: list[SavedConversation] = []
    for path in conversations_dir(directory).glob("*.json"):
        try:
            found.append(load_conversation_file(path))
        except (OSError, ValueError) as error:
            logger.warning("skipping %s: %s", path.name, error)
    return sorted(found, key=lambda saved: saved.updated_at, reverse=True)


def _json_default(value: Any) -> Any:
    """Enums and SDK models that slipped into the history serialise as plain data."""
    if hasattr(value, "to_dict"):
        return value.to_dict(mode="json")
    if hasattr(value, "value"):
        return value.value
    raise TypeError(f"cannot save {type(value).__name__} in a conversation")
