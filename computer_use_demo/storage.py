"""The user's config directory: the saved API key and saved conversations.

Every write is atomic (temp file + rename) and private (0600); nothing here
ever logs a file's contents.
"""

from __future__ import annotations

import json
import logging
import os
import re
import stat
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .conversation import (
    block_type,
    blocks,
    repair_loaded_conversation,
    shape_problem,
    validate_conversation,
)
from .redaction import redact_messages
from .settings import current as current_settings

logger = logging.getLogger(__name__)

CONVERSATION_FORMAT = 1


def config_dir() -> Path:
    """`$ANTHROPIC_CONFIG_DIR`, else `~/.anthropic` (the quickstart's mounted folder)."""
    return current_settings().config_dir


def save_target_problem(path: Path) -> str | None:
    """Why `path` cannot take a saved file, or None: only a regular file, or a
    new one in an existing folder (replacing a device, a pipe or a link with a
    file would break what was there; as root, `/dev/null` itself)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        if not path.parent.is_dir():
            return f"{path.parent} is not an existing folder"
        return None
    except OSError as error:
        return f"{path} cannot be checked ({error.strerror})"
    if stat.S_ISLNK(info.st_mode):
        return f"{path} is a symbolic link, not a regular file"
    if not stat.S_ISREG(info.st_mode):
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        return f"{path} is {kind}; give the path of a file"
    return None


class SaveTargetError(ValueError):
    """A path a conversation may not be saved to (the message says why)."""


def write_private(path: Path, text: str) -> None:
    """Replace `path` atomically with `text`, readable by its owner only.

    Only a regular file is replaced (SaveTargetError otherwise)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if problem := save_target_problem(path):
        raise SaveTargetError(problem)
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
        for block in blocks(message):
            if block_type(block) == "text":
                return str(block.get("text", ""))[:80]
    return "(empty conversation)"


def save_conversation_file(
    path: Path, messages: list[Any], settings: dict[str, Any] | None = None
) -> None:
    """Write a conversation to any path (the CLI's --save), atomically and 0600."""
    # What is saved has every known secret removed, the model's text included.
    messages = redact_messages(messages)
    document = {
        "format": CONVERSATION_FORMAT,
        "title": title_of(messages),
        "updated_at": time.time(),
        "settings": settings or {},
        "messages": messages,
    }
    write_private(path, json.dumps(document, default=_json_default))


class ConversationFileError(ValueError):
    """A file that is not a readable saved conversation (the message says why)."""


MAX_CONVERSATION_BYTES = 512 * 1024 * 1024
MAX_NESTING = 64  # deeper than any real block; deeper JSON is refused, not recursed
_ROLES = ("user", "assistant")


def _nesting_depth(value: Any) -> int:
    """How deeply lists and objects nest in `value` (iterative: never recurses)."""
    deepest = 0
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_NESTING:
            return deepest
        pending.extend((child, depth + 1) for child in children)
    return deepest


def conversation_problem(document: Any) -> str | None:
    """Why `document` is not a saved conversation, or None when it is one."""
    if not isinstance(document, dict):
        return "not a JSON object"
    messages = document.get("messages")
    if not isinstance(messages, list):
        return "no message list"
    for position, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in _ROLES:
            return f"message {position} is not a user or assistant message"
        content = message.get("content")
        if isinstance(content, str):
            continue
        if not isinstance(content, list) or not all(
            isinstance(block, dict) and isinstance(block.get("type"), str)
            for block in content
        ):
            return f"message {position} has content that is not a list of blocks"
    if not isinstance(document.get("title"), str | None):
        return "its title is not text"
    updated_at = document.get("updated_at")
    if updated_at is not None and (
        isinstance(updated_at, bool)
        or not isinstance(updated_at, int | float)
        or not 0 <= updated_at < 1e11  # also refuses NaN and infinities
    ):
        return "its updated_at is not a time"
    if not isinstance(document.get("settings"), dict | None):
        return "its settings are not an object"
    if _nesting_depth(document) > MAX_NESTING:
        return f"it nests deeper than {MAX_NESTING} levels"
    return shape_problem(messages)


def _unsendable(messages: list[Any]) -> str | None:
    """Why a conversation, repaired, still cannot be sent (None: it can).

    A conversation may end with the user's turn (it got no answer yet)."""
    if not messages:
        return None
    problems = validate_conversation(messages)
    return problems[0] if problems else None


def load_conversation_file(path: Path) -> SavedConversation:
    """Read a conversation saved by the app or the CLI, its shape checked.

    Raises ConversationFileError (a ValueError) for anything else: a directory,
    an unreadable or huge file, non-UTF-8, bad JSON, or a wrong shape.
    """
    path = Path(path)
    try:
        if not path.is_file():
            raise ConversationFileError(
                f"{path} is not a saved conversation (not a file)"
            )
        if path.stat().st_size > MAX_CONVERSATION_BYTES:
            raise ConversationFileError(
                f"{path} is too large to be a saved conversation"
            )
        document = json.loads(path.read_bytes().decode("utf-8"))
        stamp = path.stat().st_mtime
    except ConversationFileError:
        raise
    except OSError as error:
        raise ConversationFileError(
            f"{path} could not be read: {error.strerror or error}"
        ) from error
    except (ValueError, RecursionError) as error:  # bad UTF-8, bad JSON, too deep
        reason = str(error) if isinstance(error, ValueError) else "it nests too deeply"
        raise ConversationFileError(
            f"{path} is not a saved conversation: {reason}"
        ) from error
    if problem := conversation_problem(document):
        raise ConversationFileError(f"{path} is not a saved conversation ({problem})")
    messages = document["messages"]
    # Written by any version: made sendable (whitespace-only text, stale cache
    # marks, open tool calls); what cannot be repaired is refused.
    if repaired := repair_loaded_conversation(messages):
        logger.info("repaired %s: %s", path.name, ", ".join(repaired))
    if problem := _unsendable(messages):
        raise ConversationFileError(f"{path} is not a saved conversation ({problem})")
    return SavedConversation(
        conversation_id=path.stem,
        title=document.get("title") or title_of(messages),
        updated_at=float(document.get("updated_at") or stamp),
        messages=messages,
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


@dataclass(frozen=True)
class ConversationListing:
    """The conversations folder: the readable conversations, newest first, and
    the files that could not be read (name and why), shown, never fatal."""

    conversations: list[SavedConversation]
    unreadable: list[tuple[str, str]]


def scan_conversations(directory: Path | None = None) -> ConversationListing:
    found: list[SavedConversation] = []
    unreadable: list[tuple[str, str]] = []
    try:
        paths = sorted(conversations_dir(directory).glob("*.json"))
    except OSError as error:
        logger.warning("could not list the conversations: %s", error)
        paths = []
    for path in paths:
        try:
            found.append(load_conversation_file(path))
        except ConversationFileError as error:
            logger.warning("skipping %s: %s", path.name, error)
            unreadable.append((path.name, str(error).removeprefix(f"{path} ")))
    found.sort(key=lambda saved: saved.updated_at, reverse=True)
    return ConversationListing(found, unreadable)


def list_conversations(directory: Path | None = None) -> list[SavedConversation]:
    """Saved conversations, newest first; unreadable files are skipped with a warning."""
    return scan_conversations(directory).conversations


def _json_default(value: Any) -> Any:
    """Enums and SDK models that slipped into the history serialise as plain data."""
    if hasattr(value, "to_dict"):
        return value.to_dict(mode="json")
    if hasattr(value, "value"):
        return value.value
    raise TypeError(f"cannot save {type(value).__name__} in a conversation")
