"""The validator names every reason the API would refuse a conversation
(conversation/validation.py)."""

from __future__ import annotations

from typing import Any

import pytest

from computer_use_demo.conversation import (
    validate_conversation,
)
from tests.conversation.conversations import (
    session,
)

# ---- the validator ----------------------------------------------------------------------


def test_validator_accepts_a_well_formed_conversation() -> None:
    assert validate_conversation(session(4, screenshot=True, thinking=True)) == []


@pytest.mark.parametrize(
    ("conversation", "problem"),
    [
        ([], "empty"),
        ([{"role": "assistant", "content": "hi"}], "first message"),
        (
            [{"role": "user", "content": []}, {"role": "assistant", "content": "x"}],
            "empty content",
        ),
        ([{"role": "system", "content": "x"}], "role"),
        (session(1)[:2], "never gets a tool_result"),
        (
            [
                *session(1)[:2],
                {"role": "user", "content": [{"type": "text", "text": "?"}]},
            ],
            "no tool_result",
        ),
        (
            [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": "toolu_9",
                            "content": "x",
                        }
                    ],
                }
            ],
            "answers no tool_use",
        ),
        (
            [
                *session(1)[:2],
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "also"},
                        *session(1)[2]["content"],
                    ],
                },
            ],
            "must come before",
        ),
        ([*session(1), *session(1)[1:]], "used twice"),
        (
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_use", "id": "a", "name": "x", "input": {}}
                    ],
                }
            ],
            "holds a tool_use",
        ),
    ],
)
def test_validator_names_what_the_api_would_refuse(
    conversation: list[Any], problem: str
) -> None:
    problems = validate_conversation(conversation)
    assert any(problem in found for found in problems), problems


def test_validator_counts_cache_breakpoints() -> None:
    history = session(5)
    for message in history[2::2]:
        message["content"][0]["cache_control"] = {"type": "ephemeral"}
    assert any("cache_control" in problem for problem in validate_conversation(history))
