"""The request view of a conversation, kept under a token budget before each request.

Pure: never mutates the history it is given, never splits a tool_use from its
tool_result, and never drops the first user message.

Before each request the loop calls `build_request_messages(history, budget,
count_message)`; the history (what the UI shows and stores) keeps everything,
the request gets a view of it that fits. Budget steps, each taken only while
the request is still too large: (1) screenshots of old turns go, (2) long
texts in old tool results keep their head and tail, (3) the oldest whole turns
go, with a note in the first user message saying how many. Old content is
trimmed and dropped in steps (whole groups of turns, whole slices of tokens),
so the request prefix, and with it the prompt cache, stays identical between
steps instead of changing every turn.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, cast

from anthropic.types.beta import BetaMessageParam

from ..tool_output.shortening import keep_head_and_tail
from .blocks import block_type, blocks
from .budget import ContextBudget, CountMessage, PruneReport

SCREENSHOT_PLACEHOLDER = "[screenshot removed to save context]"
# Characters kept per token when shortening: low on purpose, logs and code
# tokenise densely.
CHARS_PER_TOKEN = 3

# ---- reading messages ----------------------------------------------------------


def _role(message: Any) -> Any:
    return message.get("role")


def _leading_user_end(messages: Sequence[Any]) -> int:
    """Index just past the opening user turn (the first message(s), never dropped)."""
    index = 0
    while index < len(messages) and _role(messages[index]) == "user":
        index += 1
    return index


def _last_compaction(messages: Sequence[Any]) -> int | None:
    """Index of the newest assistant message holding a compaction that took effect
    (a block with `content` None is a failed compaction the API ignores)."""
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if _role(message) == "assistant" and any(
            block_type(block) == "compaction" and block.get("content") is not None
            for block in blocks(message)
        ):
            return index
    return None


def drop_before_last_compaction(
    messages: Sequence[BetaMessageParam],
) -> list[BetaMessageParam]:
    """A new list without the turns the API ignores: those before the newest
    effective `compaction` block (the API drops what precedes it).

    The opening user turn stays so the request still starts with the user;
    the API ignores it too. Without a compaction block: a copy of the list.
    """
    anchor = _last_compaction(messages)
    if anchor is None:
        return list(messages)
    head_end = _leading_user_end(messages)
    return [*messages[:head_end], *messages[anchor:]]


def _turn_starts(messages: Sequence[Any], start: int) -> list[int]:
    """Where each assistant turn begins from `start` on: an assistant message not
    preceded by another (consecutive assistant messages are one turn to the API).
    A turn runs to the next one's start, so it holds its own tool_results."""
    return [
        index
        for index in range(start, len(messages))
        if _role(messages[index]) == "assistant"
        and (index == 0 or _role(messages[index - 1]) != "assistant")
    ]


# ---- editing the view ------------------------------------------------------------


class _Draft:
    """The request view being built: a message is copied the first time it changes,
    so dicts shared with the history are never written."""

    def __init__(self, messages: list[Any]) -> None:
        self.messages = messages
        self._owned: set[int] = set()

    def blocks_to_edit(self, index: int) -> list[Any]:
        if index not in self._owned:
            message = self.messages[index]
            self.messages[index] = {**message, "content": blocks(message)}
            self._owned.add(index)
        return cast(list[Any], self.messages[index]["content"])

    def replace_in_tool_result(
        self, index: int, block_index: int, inner_index: int, new_inner: Any
    ) -> None:
        blocks = self.blocks_to_edit(index)
        block = blocks[block_index]
        inner = list(block["content"])
        inner[inner_index] = new_inner
        blocks[block_index] = {**block, "content": inner}


def _screenshots(
    messages: Sequence[Any], start: int, stop: int
) -> list[tuple[int, int, int]]:
    """(message, block, inner) positions of tool-result images in messages[start:stop]."""
    found: list[tuple[int, int, int]] = []
    for index in range(start, stop):
        message = messages[index]
        if _role(message) != "user":
            continue
        for block_index, block in enumerate(blocks(message)):
            if block_type(block) == "tool_result" and isinstance(
                block.get("content"), list
            ):
                found.extend(
                    (index, block_index, inner_index)
                    for inner_index, inner in enumerate(block["content"])
                    if block_type(inner) == "image"
                )
    return found


def _remove_screenshots(
    draft: _Draft, positions: Iterable[tuple[int, int, int]]
) -> set[int]:
    changed = set()
    for index, block_index, inner_index in positions:
        placeholder = {"type": "text", "text": SCREENSHOT_PLACEHOLDER}
        draft.replace_in_tool_result(index, block_index, inner_index, placeholder)
        changed.add(index)
    return changed


def _shorten_tool_outputs(
    draft: _Draft, start: int, stop: int, max_chars: int
) -> tuple[int, set[int]]:
    """Shorten long texts of tool results in messages[start:stop]: (results shortened,
    messages changed)."""
    shortened = 0
    changed: set[int] = set()
    for index in range(start, stop):
        message = draft.messages[index]
        if _role(message) != "user":
            continue
        for block_index, block in enumerate(blocks(message)):
            if block_type(block) != "tool_result":
                continue
            content = block.get("content")
            if isinstance(content, str):
                if len(content) <= max_chars:
                    continue
                new_block = {**block, "content": keep_head_and_tail(content, max_chars)}
            elif isinstance(content, list) and any(
                block_type(item) == "text"
                and len(str(item.get("text", ""))) > max_chars
                for item in content
            ):
                new_block = {
                    **block,
                    "content": [
                        {
                            **item,
                            "text": keep_head_and_tail(
                                str(item.get("text", "")), max_chars
                            ),
                        }
                        if block_type(item) == "text"
                        else item
                        for item in content
                    ],
                }
            else:
                continue
            draft.blocks_to_edit(index)[block_index] = new_block
            shortened += 1
            changed.add(index)
    return shortened, changed


def _omission_note(turns: int) -> dict[str, str]:
    plural = "s" if turns != 1 else ""
    return {
        "type": "text",
        "text": f"[{turns} earlier turn{plural} omitted to fit the context budget]",
    }


def _with_note(message: Any, note: dict[str, str]) -> Any:
    return {**message, "content": [*blocks(message), note]}


# ---- the budget ---------------------------------------------------------------------


def _sticky_cut(
    view: Sequence[Any], starts: list[int], keep_from: object | None
) -> int:
    """How many oldest turns stay dropped: those before the message `keep_from`
    (found by identity; 0 when it is gone or was never given)."""
    if keep_from is None:
        return 0
    for turn, start in enumerate(starts[:-1]):  # the newest turn is always sent
        if view[start] is keep_from:
            return turn
    return 0


def _cut_candidates(turn_tokens: list[int], quantum: int) -> list[int]:
    """How many oldest turns may be dropped, smallest first.

    A cut sits where the dropped turns first add up to another whole `quantum`
    of tokens: those turns never change once old, so the cut (and the request
    prefix) stays put until a whole quantum more must go. When no such cut is
    left, any count short of the newest turn.
    """
    candidates = []
    dropped = 0
    for cut in range(1, len(turn_tokens)):
        before = dropped
        dropped += turn_tokens[cut - 1]
        if dropped // quantum > before // quantum:
            candidates.append(cut)
    last = candidates[-1] if candidates else 0
    return [*candidates, *range(last + 1, len(turn_tokens))]


def build_request_messages(
    history: Sequence[BetaMessageParam],
    budget: ContextBudget,
    count_message: CountMessage,
    fixed_tokens: int = 0,
    *,
    keep_from: object | None = None,
) -> tuple[list[BetaMessageParam], PruneReport]:
    """The messages to send for `history`, within `budget` where possible.

    `keep_from` is the report's `first_kept_message` of the previous request:
    the turns before it stay dropped, so the request prefix (and the prompt
    cache) stays the same until the budget forces another, larger cut.

    `history` and every dict in it stay untouched: the view is a new list that
    shares unchanged messages with the history and holds copies of changed ones
    (treat it as read-only; `inject_cache_breakpoints` copies before writing).
    `fixed_tokens` is the rest of the request (system prompt, tools). Each
    message is counted once, plus once more for each one a step changes.
    """
    view = cast(list[Any], drop_before_last_compaction(history))
    head_end = _leading_user_end(view)
    starts = _turn_starts(view, head_end)
    if _last_compaction(view) is not None and starts:
        # The compaction turn carries the summary: it stays with the opening turn.
        head_end = starts[1] if len(starts) > 1 else len(view)
        starts = starts[1:]
    kept_dropped = _sticky_cut(view, starts, keep_from)
    if kept_dropped:
        view = [*view[:head_end], *view[starts[kept_dropped] :]]
        starts = _turn_starts(view, head_end)
    originals = list(
        view
    )  # the history's own dicts: the draft replaces copies in `view`
    draft = _Draft(view)

    screenshots = _screenshots(view, 0, len(view))
    by_setting = budget.images_to_remove(len(screenshots))
    _remove_screenshots(draft, screenshots[:by_setting])

    sizes = [count_message(message) for message in draft.messages]
    tokens_before = fixed_tokens + sum(sizes)
    total = tokens_before

    def recount(indexes: Iterable[int]) -> None:
        nonlocal total
        for index in indexes:
            new_size = count_message(draft.messages[index])
            total += new_size - sizes[index]
            sizes[index] = new_size

    # Steps 1 and 2 touch only the old turns, bounded at a whole step.
    recent = len(starts) - max(1, budget.keep_recent_turns)
    old_turns = (recent // budget.prune_step_turns) * budget.prune_step_turns
    old_start, old_stop = (starts[0], starts[old_turns]) if old_turns > 0 else (0, 0)
    for_budget = 0
    if total > budget.max_input_tokens and old_turns:
        old_shots = _screenshots(draft.messages, old_start, old_stop)
        recount(_remove_screenshots(draft, old_shots))
        for_budget = len(old_shots)
    shortened = 0
    if total > budget.max_input_tokens and old_turns:
        shortened, changed = _shorten_tool_outputs(
            draft, old_start, old_stop, budget.old_tool_output_tokens * CHARS_PER_TOKEN
        )
        recount(changed)

    messages: list[Any] = draft.messages
    dropped = 0
    if head_end > 0 and (
        kept_dropped or (total > budget.max_input_tokens and len(starts) > 1)
    ):
        messages, dropped, total = _drop_oldest_turns(
            draft.messages,
            sizes,
            total,
            head_end,
            starts,
            budget,
            count_message,
            already_dropped=kept_dropped,
        )
    first_kept = originals[starts[dropped]] if kept_dropped + dropped else None

    report = PruneReport(
        images_removed=by_setting + for_budget,
        images_removed_for_budget=for_budget,
        tool_outputs_shortened=shortened,
        turns_dropped=kept_dropped + dropped,
        tokens_before=tokens_before,
        tokens_after=total,
        fits=total <= budget.max_input_tokens,
        first_kept_message=first_kept,
    )
    return cast(list[BetaMessageParam], messages), report


def fit_request_view(
    history: Sequence[BetaMessageParam],
    budget: ContextBudget,
    count_message: CountMessage,
    uncached_tokens: Callable[[list[BetaMessageParam]], int],
    fixed_tokens: int = 0,
    *,
    keep_from: object | None = None,
) -> tuple[list[BetaMessageParam], PruneReport]:
    """The view as large as the window allows while the prompt cache carries it;
    when the cache cannot (the first request, an expired cache, a new cut), one
    small enough that all of it fits `max_uncached_tokens`.

    `uncached_tokens(view)` predicts what of a view the cache will not carry.
    Give the report's `first_kept_message` back as `keep_from` next time: the
    cut holds, so the following requests extend this one and hit the cache.
    """
    view, report = build_request_messages(
        history, budget, count_message, fixed_tokens, keep_from=keep_from
    )
    limit = budget.max_uncached_tokens
    if limit is not None and uncached_tokens(view) > limit:
        view, report = build_request_messages(
            history,
            budget.without_cache(),
            count_message,
            fixed_tokens,
            keep_from=keep_from,
        )
    return view, report


def _drop_oldest_turns(
    messages: list[Any],
    sizes: list[int],
    total: int,
    head_end: int,
    starts: list[int],
    budget: ContextBudget,
    count_message: CountMessage,
    *,
    already_dropped: int = 0,
) -> tuple[list[Any], int, int]:
    """Drop the fewest oldest turns (from the allowed cuts) that make the request fit,
    or all but the newest turn; note it, with the `already_dropped` turns, in the
    opening turn. (messages, turns dropped here, total)."""
    head = messages[:head_end]
    note_at = (
        max(i for i in range(head_end) if _role(head[i]) == "user")
        if any(_role(m) == "user" for m in head)
        else None
    )
    # The note's cost, measured once at its longest wording.
    note_cost = 0
    if note_at is not None:
        widest = _with_note(
            head[note_at], _omission_note(already_dropped + len(starts))
        )
        note_cost = max(0, count_message(widest) - sizes[note_at])
    turn_tokens = [
        sum(sizes[start:stop])
        for start, stop in zip(starts, [*starts[1:], len(messages)], strict=True)
    ]
    droppable_tokens = 0
    cut = 0
    quantum = max(1, int(budget.max_input_tokens * budget.drop_step_fraction))
    for candidate in _cut_candidates(turn_tokens, quantum):
        if total - droppable_tokens + note_cost <= budget.max_input_tokens:
            break
        droppable_tokens += sum(turn_tokens[cut:candidate])
        cut = candidate
    total -= droppable_tokens
    if note_at is not None:
        noted = _with_note(head[note_at], _omission_note(already_dropped + cut))
        total += count_message(noted) - sizes[note_at]
        head = [*head[:note_at], noted, *head[note_at + 1 :]]
    return [*head, *messages[starts[cut] :]], cut, total
