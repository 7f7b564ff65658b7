"""The request view under a budget: what goes first, what never goes, and that
any valid conversation stays valid (conversation/request_view.py)."""

from __future__ import annotations

import copy
import itertools
import time
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from computer_use_demo.conversation import (
    SCREENSHOT_PLACEHOLDER,
    ContextBudget,
    drop_before_last_compaction,
    fit_request_view,
    inject_cache_breakpoints,
    validate_conversation,
)
from tests.conversation.conversations import (
    IMAGE_TOKENS,
    Message,
    build,
    compacted_session,
    compaction,
    count,
    image,
    screenshots_in,
    session,
    total_tokens,
    turn,
    without_marks,
)

# ---- the request view ---------------------------------------------------------------


def test_history_within_budget_is_sent_as_is() -> None:
    history = session(5, screenshot=True)
    view, report = build(history, ContextBudget(max_input_tokens=100_000), count)
    assert view == history
    assert all(sent is kept for sent, kept in zip(view, history, strict=True))
    assert report.fits and not report.pruned_for_budget and report.images_removed == 0
    assert report.tokens_before == report.tokens_after == total_tokens(history)


def test_fixed_tokens_of_system_and_tools_count_toward_the_budget() -> None:
    history = session(20, output="x" * 400)
    size = total_tokens(history)
    budget = ContextBudget(max_input_tokens=size + 10)
    _, alone = build(history, budget, count)
    _, framed = build(history, budget, count, fixed_tokens=500)
    assert not alone.pruned_for_budget
    assert framed.pruned_for_budget and framed.fits
    assert framed.tokens_before == size + 500


def test_history_is_never_changed_by_pruning_or_cache_breakpoints() -> None:
    history = session(40, output="y" * 5_000, screenshot=True, thinking=True)
    history[2]["content"][0]["cache_control"] = {"type": "ephemeral"}
    before = copy.deepcopy(history)
    view, report = build(
        history, ContextBudget(max_input_tokens=3_000, images_to_keep=2), count
    )
    inject_cache_breakpoints(view)
    assert report.turns_dropped and report.images_removed
    assert history == before


@pytest.mark.parametrize("keep", [0, 1, 3, 5])
def test_images_to_keep_never_sends_more_than_n_screenshots(keep: int) -> None:
    for turns in range(0, 16):
        history = session(turns, screenshot=True)
        view, report = build(
            history, ContextBudget(max_input_tokens=10**9, images_to_keep=keep), count
        )
        sent = screenshots_in(view)
        assert sent <= keep
        assert sent == turns - report.images_removed
        if turns >= keep:
            # Removed in whole chunks of `keep` (the quickstart's chunk), never below N-chunk+1.
            assert sent >= min(1, keep)
        assert validate_conversation(view) == []


def test_removed_screenshots_change_only_once_per_chunk() -> None:
    budget = ContextBudget(
        max_input_tokens=10**9, images_to_keep=3, image_removal_chunk=3
    )
    removed_counts = []
    for turns in range(1, 22):
        _, report = build(session(turns, screenshot=True), budget, count)
        removed_counts.append(report.images_removed)
    changes = [
        turns
        for turns, (a, b) in enumerate(itertools.pairwise(removed_counts), 2)
        if a != b
    ]
    assert removed_counts[:3] == [0, 0, 0]
    assert changes == [4, 7, 10, 13, 16, 19]
    assert all(count % 3 == 0 for count in removed_counts)


def test_a_chunk_of_one_keeps_exactly_n_screenshots() -> None:
    budget = ContextBudget(
        max_input_tokens=10**9, images_to_keep=4, image_removal_chunk=1
    )
    for turns in range(4, 12):
        view, _ = build(session(turns, screenshot=True), budget, count)
        assert screenshots_in(view) == 4


def test_the_image_setting_alone_is_not_reported_as_budget_pruning() -> None:
    history = session(10, screenshot=True)
    _, setting_only = build(
        history, ContextBudget(max_input_tokens=10**9, images_to_keep=2), count
    )
    assert setting_only.images_removed == 8
    assert not setting_only.pruned_for_budget
    tight = ContextBudget(
        max_input_tokens=total_tokens(history) - 300,
        keep_recent_turns=2,
        prune_step_turns=4,
    )
    _, for_budget = build(history, tight, count)
    assert for_budget.pruned_for_budget
    assert for_budget.images_removed_for_budget == 8
    assert "8 old screenshot(s)" in for_budget.describe()


def test_removed_screenshots_leave_a_placeholder_the_model_can_read() -> None:
    view, _ = build(
        session(3, screenshot=True),
        ContextBudget(max_input_tokens=10**9, images_to_keep=1, image_removal_chunk=1),
        count,
    )
    first_result = view[2]["content"][0]["content"]
    assert {"type": "text", "text": SCREENSHOT_PLACEHOLDER} in first_result
    assert view[-1]["content"][0]["content"][-1]["type"] == "image"


def test_over_budget_old_screenshots_go_before_any_text() -> None:
    history = session(40, screenshot=True)
    text_only = total_tokens(history) - 40 * IMAGE_TOKENS
    budget = ContextBudget(
        max_input_tokens=text_only + 15 * IMAGE_TOKENS,
        keep_recent_turns=6,
        prune_step_turns=8,
    )
    view, report = build(history, budget, count)
    assert report.fits
    assert report.images_removed_for_budget > 0
    assert report.turns_dropped == 0 and report.tool_outputs_shortened == 0
    assert screenshots_in(view[-12:]) == 6  # the six newest turns keep theirs
    assert report.tokens_after == total_tokens(view)


def test_long_old_tool_outputs_keep_head_and_tail_when_screenshots_are_not_enough() -> (
    None
):
    outputs = [f"HEAD{n} " + "log line\n" * 2_000 + f" TAIL{n}" for n in range(30)]
    history: list[Message] = [
        {"role": "user", "content": "Find the error in the logs."}
    ]
    for number, output in enumerate(outputs):
        history.extend(turn(number, output=output))
    budget = ContextBudget(
        max_input_tokens=total_tokens(history) // 2,
        old_tool_output_tokens=200,
        keep_recent_turns=6,
        prune_step_turns=8,
    )
    view, report = build(history, budget, count)
    assert report.fits and report.turns_dropped == 0
    assert report.tool_outputs_shortened == 24  # three whole steps of eight
    old_text = view[2]["content"][0]["content"][0]["text"]
    assert old_text.startswith("HEAD0") and old_text.endswith("TAIL0")
    assert "characters omitted." in old_text and len(old_text) < 700
    newest_text = view[-1]["content"][0]["content"][0]["text"]
    assert newest_text == outputs[-1]
    assert report.tokens_after == total_tokens(view)


def test_oldest_whole_turns_go_with_a_note_in_the_first_user_message() -> None:
    history = session(60, output="z" * 800)
    budget = ContextBudget(max_input_tokens=total_tokens(history) // 3)
    view, report = build(history, budget, count)
    assert report.fits and report.turns_dropped > 0
    # Dropped in slices: never much more than a slice beyond what had to go.
    slack = budget.max_input_tokens * budget.drop_step_fraction + total_tokens(
        history[1:3]
    )
    assert report.tokens_after >= budget.max_input_tokens - slack
    assert validate_conversation(view) == []
    first = view[0]
    assert first["role"] == "user"
    assert first["content"][0] == {
        "type": "text",
        "text": "Book me a flight to Lisbon.",
    }
    assert (
        first["content"][-1]["text"]
        == f"[{report.turns_dropped} earlier turns omitted to fit the context budget]"
    )
    assert view[1] is history[1 + 2 * report.turns_dropped]
    assert view[-1] is history[-1]
    assert report.tokens_after == total_tokens(view) <= budget.max_input_tokens


def test_when_nothing_fits_only_the_opening_message_and_newest_turn_are_sent() -> None:
    history = session(12)
    history[-1]["content"][0]["content"][0]["text"] = "huge " * 4_000
    view, report = build(history, ContextBudget(max_input_tokens=500), count)
    assert not report.fits
    assert report.turns_dropped == 11
    assert [m["role"] for m in view] == ["user", "assistant", "user"]
    assert view[-2:] == history[-2:]
    assert validate_conversation(view) == []
    assert "still over budget" in report.describe()


def test_thinking_of_the_last_assistant_turn_is_sent_unchanged() -> None:
    history = session(30, output="w" * 2_000, thinking=True, screenshot=True)
    view, report = build(history, ContextBudget(max_input_tokens=2_000), count)
    assert report.turns_dropped
    assert view[-2] is history[-2]
    assert view[-2]["content"][0] == {
        "type": "thinking",
        "thinking": "plan 29",
        "signature": "sig29",
    }


def test_a_split_assistant_turn_is_never_cut_between_its_messages() -> None:
    history: list[Message] = [{"role": "user", "content": "go"}]
    for number in range(20):
        steps = turn(number, output="v" * 600, thinking=True)
        thinking, rest = steps[0]["content"][:1], steps[0]["content"][1:]
        history.extend(
            [
                {"role": "assistant", "content": thinking},
                {"role": "assistant", "content": rest},
                steps[1],
            ]
        )
    for limit in range(300, total_tokens(history), 7):
        view, _ = build(
            history, ContextBudget(max_input_tokens=limit, prune_step_turns=1), count
        )
        assert validate_conversation(view) == []
        assert view[1]["content"][0]["type"] == "thinking"


def test_a_smaller_budget_never_sends_more() -> None:
    history = session(80, output="u" * 1_500, screenshot=True)
    sizes = []
    for fraction in (0.8, 0.8 * 0.7, 0.8 * 0.49, 0.8 * 0.343):
        budget = ContextBudget(max_input_tokens=int(total_tokens(history) * fraction))
        _, report = build(history, budget, count)
        assert report.fits
        sizes.append(report.tokens_after)
    assert sizes == sorted(sizes, reverse=True)


def test_pruned_request_prefix_changes_only_once_per_step() -> None:
    """Between steps, each request extends the previous one, so the prompt cache keeps hitting."""

    def prefix_breaks(step: int, fraction: float) -> int:
        budget = ContextBudget(
            max_input_tokens=12_000,
            prune_step_turns=step,
            drop_step_fraction=fraction,
        )
        history = session(1, output="t" * 300, screenshot=True)
        previous: list[Any] | None = None
        breaks = 0
        for number in range(1, 200):
            history.extend(turn(number, output="t" * 300, screenshot=True))
            view, report = build(history, budget, count)
            assert report.fits
            if previous is not None and view[: len(previous)] != previous:
                breaks += 1
            previous = view
        return breaks

    stepped = prefix_breaks(step=8, fraction=0.25)
    every_turn = prefix_breaks(step=1, fraction=0.001)
    # About 250 tokens a turn: a 3,000-token slice lasts a dozen turns, a
    # group of old turns eight.
    assert stepped <= 199 // 12 + 199 // 8 + 4
    assert every_turn > 100


def test_a_kept_cut_holds_the_prefix_until_the_budget_forces_a_larger_one() -> None:
    """After a deep cut (a request the cache could not carry had to fit the small
    uncached budget), later requests keep that cut while the window has room, so
    each one extends the previous and the cache keeps hitting."""
    budget = ContextBudget(max_input_tokens=20_000, max_uncached_tokens=4_000)
    history = session(40, output="w" * 800)
    view, report = build(history, budget.without_cache(), count)
    assert report.fits and report.turns_dropped > 0
    cut = report.first_kept_message
    assert cut is history[1 + 2 * report.turns_dropped], "the history's own message"
    previous, breaks, deeper_cuts = view, 0, 0
    number = 40
    while total_tokens(previous) < budget.max_input_tokens - 600:
        number += 1
        history.extend(turn(number, output="w" * 800))
        view, next_report = build(history, budget, count, keep_from=cut)
        assert next_report.fits
        assert next_report.turns_dropped == report.turns_dropped
        breaks += view[: len(previous)] != previous
        previous = view
    assert breaks == 0, "each request extends the previous one"
    assert total_tokens(previous) > 4 * report.tokens_after, "it grew far past the cut"
    # The window's budget finally forces a new cut, deeper than the kept one.
    for _ in range(6):
        number += 1
        history.extend(turn(number, output="w" * 800))
        view, next_report = build(history, budget, count, keep_from=cut)
        deeper_cuts += next_report.turns_dropped > report.turns_dropped
        assert next_report.fits
    assert deeper_cuts
    assert validate_conversation(view) == []


def test_fit_request_view_grows_with_the_cache_and_collapses_only_when_it_must() -> (
    None
):
    """A simulated prompt cache serves what a request shares with the previous
    one: requests grow far past the uncached limit while only the new turn is
    uncached, and every request keeps what the cache cannot carry in budget."""
    limit = 6_000
    budget = ContextBudget(max_input_tokens=30_000, max_uncached_tokens=limit)
    history = session(1, output="u" * 1_600)
    previous: list[Any] = []
    keep: object | None = None
    sizes, uncached_sizes, collapses = [], [], 0

    def uncached(view: list[Any]) -> int:
        same = 0
        for old, new in zip(previous, view, strict=False):
            if old is not new and old != new:
                break
            same += 1
        return total_tokens(view[same:])

    for number in range(1, 200):
        history.extend(turn(number, output="u" * 1_600))
        view, report = fit_request_view(
            cast(Any, history), budget, count, uncached, keep_from=keep
        )
        keep = report.first_kept_message
        sizes.append(report.tokens_after)
        uncached_sizes.append(uncached(cast(Any, view)))
        collapses += bool(previous) and uncached_sizes[-1] > 3_000
        assert validate_conversation(cast(Any, view)) == []
        previous = cast(Any, view)
    assert max(uncached_sizes) <= limit
    assert max(sizes) <= budget.max_input_tokens
    assert max(sizes) > 4 * limit, "far past one minute of input"
    assert sorted(sizes)[len(sizes) // 2] > 2 * limit
    assert collapses <= 199 // 20, "the prefix is kept for many turns at a time"


def test_a_kept_cut_that_is_gone_from_the_history_is_ignored() -> None:
    history = session(30, output="w" * 800)
    budget = ContextBudget(max_input_tokens=10**9)
    stranger = {"role": "assistant", "content": [{"type": "text", "text": "?"}]}
    view, report = build(history, budget, count, keep_from=stranger)
    assert report.turns_dropped == 0 and view == history
    # The newest turn is never dropped, even when it is the kept cut itself.
    view, report = build(history, budget, count, keep_from=history[-2])
    assert report.turns_dropped == 0


def test_each_message_is_counted_about_once_and_long_sessions_stay_fast() -> None:
    history = session(1_000, output="s" * 300, screenshot=True)
    calls = 0

    def counting(message: Any) -> int:
        nonlocal calls
        calls += 1
        return count(message)

    budget = ContextBudget(max_input_tokens=20_000, images_to_keep=5)
    started = time.perf_counter()
    view, report = build(history, budget, counting)
    elapsed = time.perf_counter() - started
    assert report.fits and validate_conversation(view) == []
    assert calls <= 2 * len(history) + 2
    assert elapsed < 0.5


# ---- compaction -----------------------------------------------------------------------


def test_turns_before_the_last_compaction_are_left_out_of_the_request() -> None:
    history = compacted_session()
    view = cast(list[Any], drop_before_last_compaction(history))
    assert view[0] is history[0]
    assert view[1]["content"][0]["type"] == "compaction"
    assert view[1:] == history[21:]
    assert validate_conversation(view) == []
    sent, report = build(history, ContextBudget(max_input_tokens=10**6), count)
    assert sent == view and report.tokens_before == total_tokens(view)


def test_a_failed_compaction_is_ignored() -> None:
    history = compacted_session()
    history[21]["content"][0] = compaction(None)
    assert drop_before_last_compaction(history) == history


def test_the_compaction_turn_is_never_dropped_by_the_budget() -> None:
    history = compacted_session()
    view, report = build(
        history, ContextBudget(max_input_tokens=300, prune_step_turns=1), count
    )
    assert report.turns_dropped == 3
    assert view[1]["content"][0]["type"] == "compaction"
    assert view[-2:] == history[-2:]
    assert validate_conversation(view) == []


# ---- any valid conversation stays valid ------------------------------------------------


@st.composite
def conversations(draw: st.DrawFn) -> list[Message]:
    opening: list[Message] = [
        {"type": "text", "text": draw(st.text(min_size=1, max_size=60))}
    ]
    if draw(st.booleans()):
        opening.append(image())
    history: list[Message] = [{"role": "user", "content": opening}]
    turns = draw(st.integers(min_value=0, max_value=40))
    for number in range(turns):
        assistant: list[Message] = []
        if draw(st.booleans()):
            assistant.append(
                {
                    "type": "thinking",
                    "thinking": "hmm " * draw(st.integers(0, 50)),
                    "signature": "s",
                }
            )
        assistant.append({"type": "text", "text": "ok " * draw(st.integers(1, 40))})
        calls = draw(st.integers(min_value=0, max_value=3))
        ids = [f"toolu_{number}_{call}" for call in range(calls)]
        assistant.extend(
            {"type": "tool_use", "id": i, "name": "bash", "input": {"command": "ls"}}
            for i in ids
        )
        if draw(st.booleans()) and len(assistant) > 1:
            history.append({"role": "assistant", "content": assistant[:1]})
            history.append({"role": "assistant", "content": assistant[1:]})
        else:
            history.append({"role": "assistant", "content": assistant})
        last = number == turns - 1
        if not ids and last and draw(st.booleans()):
            break  # the conversation may end with the model's answer
        answer: list[Message] = []
        for tool_id in ids:
            content: list[Message] | str
            if draw(st.booleans()):
                content = "out " * draw(st.integers(0, 1_500))
            else:
                content = [
                    {"type": "text", "text": "out " * draw(st.integers(0, 1_500))}
                ]
                if draw(st.booleans()):
                    content.append(image())
            answer.append(
                {"type": "tool_result", "tool_use_id": tool_id, "content": content}
            )
        if not ids or draw(st.booleans()):
            answer.append({"type": "text", "text": "next? " * draw(st.integers(1, 20))})
        history.append({"role": "user", "content": answer})
    return history


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    history=conversations(),
    limit=st.integers(min_value=50, max_value=20_000),
    images_to_keep=st.one_of(st.none(), st.integers(0, 4)),
    step=st.integers(1, 10),
    keep_recent=st.integers(0, 8),
)
def test_any_valid_conversation_stays_valid_and_fits_when_it_can(
    history: list[Message],
    limit: int,
    images_to_keep: int | None,
    step: int,
    keep_recent: int,
) -> None:
    assert validate_conversation(history) == []
    before = copy.deepcopy(history)
    budget = ContextBudget(
        max_input_tokens=limit,
        images_to_keep=images_to_keep,
        prune_step_turns=step,
        keep_recent_turns=keep_recent,
        old_tool_output_tokens=100,
    )
    view, report = build(history, budget, count, fixed_tokens=40)
    inject_cache_breakpoints(view)

    assert history == before
    assert validate_conversation(view) == []
    opening = without_marks(view[0])["content"]
    assert opening[: len(history[0]["content"])] == history[0]["content"]
    assert report.tokens_after == total_tokens(view) + 40
    assert report.fits == (report.tokens_after <= limit)
    turns = sum(
        1
        for i in range(1, len(history))
        if history[i]["role"] == "assistant" and history[i - 1]["role"] == "user"
    )
    if not report.fits and turns > 1:
        # Everything droppable went: the opening turn and the newest turn remain.
        assert report.turns_dropped == turns - 1
        newest_start = max(
            i
            for i in range(1, len(history))
            if history[i]["role"] == "assistant" and history[i - 1]["role"] == "user"
        )
        assistants = [m for m in view if m["role"] == "assistant"]
        assert assistants == [
            m for m in history[newest_start:] if m["role"] == "assistant"
        ]
    if images_to_keep is not None:
        assert screenshots_in(view) <= images_to_keep
