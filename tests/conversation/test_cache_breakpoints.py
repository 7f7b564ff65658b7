"""Prompt-cache breakpoints on the newest user messages only
(conversation/cache_breakpoints.py)."""

from __future__ import annotations

import copy
from typing import Any

from computer_use_demo.conversation import (
    inject_cache_breakpoints,
    validate_conversation,
)
from tests.conversation.conversations import (
    marks,
    session,
)

# ---- prompt caching -------------------------------------------------------------------


def test_cache_breakpoints_sit_on_the_three_newest_user_messages_only() -> None:
    history = session(6)
    history[2]["content"][0]["cache_control"] = {"type": "ephemeral"}
    history[3]["content"][0]["cache_control"] = {
        "type": "ephemeral"
    }  # stale, on an assistant block
    history[4]["content"][0]["content"][0]["cache_control"] = {
        "type": "ephemeral"
    }  # nested
    before = copy.deepcopy(history)
    view = list(history)
    inject_cache_breakpoints(view)
    assert marks(view) == [8, 10, 12]
    assert all(
        view[i]["content"][-1]["cache_control"] == {"type": "ephemeral"}
        for i in (8, 10, 12)
    )
    assert history == before
    assert validate_conversation(view) == []
    inject_cache_breakpoints(view)  # again, next turn: still three
    assert marks(view) == [8, 10, 12]


def test_string_content_gets_a_breakpoint_and_empty_text_never_does() -> None:
    view: list[Any] = [
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": [{"type": "text", "text": "hi"}]},
        {
            "role": "user",
            "content": [{"type": "text", "text": "look"}, {"type": "text", "text": ""}],
        },
    ]
    inject_cache_breakpoints(view)
    assert view[0]["content"] == [
        {"type": "text", "text": "hello", "cache_control": {"type": "ephemeral"}}
    ]
    assert view[2]["content"][0]["cache_control"] == {"type": "ephemeral"}
    assert "cache_control" not in view[2]["content"][1]
