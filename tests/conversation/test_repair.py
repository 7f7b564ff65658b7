"""History repair: every tool_use of the last turn gets its tool_result, results
already there are kept (computer_use_demo/conversation/repair.py)."""

from __future__ import annotations

from typing import Any

from computer_use_demo.conversation import (
    INTERRUPTED_TOOL_ERROR,
    answer_unanswered_tool_calls,
    answered_ids,
)


def tool_use(tool_use_id: str) -> dict[str, Any]:
    return {"type": "tool_use", "id": tool_use_id, "name": "bash", "input": {}}


def test_open_calls_get_error_results_in_a_new_user_turn() -> None:
    messages: list[Any] = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [tool_use("a"), tool_use("b")]},
    ]
    assert answer_unanswered_tool_calls(messages) == ["a", "b"]
    assert messages[2]["role"] == "user"
    assert [block["tool_use_id"] for block in messages[2]["content"]] == ["a", "b"]
    assert all(block["is_error"] for block in messages[2]["content"])
    assert messages[2]["content"][0]["content"] == INTERRUPTED_TOOL_ERROR


def test_partial_results_are_kept_and_completed_before_other_content() -> None:
    done = {"type": "tool_result", "tool_use_id": "a", "content": "ok"}
    messages: list[Any] = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [tool_use("a"), tool_use("b")]},
        {"role": "user", "content": [done, {"type": "text", "text": "new prompt"}]},
    ]
    assert answer_unanswered_tool_calls(messages) == ["b"]
    content = messages[2]["content"]
    assert [block["type"] for block in content] == [
        "tool_result",
        "tool_result",
        "text",
    ]
    assert content[0] is done
    assert answered_ids(messages) == {"a", "b"}


def test_a_valid_history_is_left_alone() -> None:
    messages: list[Any] = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [{"type": "text", "text": "hello"}]},
    ]
    assert answer_unanswered_tool_calls(messages) == []
    assert len(messages) == 2
