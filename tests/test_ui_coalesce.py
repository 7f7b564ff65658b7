"""Live-render bookkeeping: bounded redraws, nothing lost, code fences kept whole."""

from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st

from computer_use_demo.ui.coalesce import FREEZE_AFTER_CHARS, GrowingText, RedrawClock


def test_redraws_are_coalesced_to_the_interval() -> None:
    clock = RedrawClock(interval=1 / 16)  # binary fractions: exact arithmetic
    due = [clock.due(step / 64) for step in range(64)]  # one second of deltas
    assert sum(due) == 16


def test_a_long_answer_without_paragraphs_keeps_the_tail_short() -> None:
    text = GrowingText()
    for _ in range(30_000):
        text.add("word ")
    assert text.text == "word " * 30_000
    assert len(text.tail) < 2 * FREEZE_AFTER_CHARS + 10


def test_a_hundred_thousand_deltas_take_linear_time() -> None:
    def run(count: int) -> float:
        text = GrowingText()
        started = time.perf_counter()
        for index in range(count):
            text.add(f"token{index} ")
            if index % 50 == 0:
                _ = text.tail  # a redraw
        return time.perf_counter() - started

    small, large = run(20_000), run(100_000)
    assert large < small * 5 * 2, "five times the deltas cost about five times the time"


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.text(alphabet="ab \n`", min_size=1, max_size=400), min_size=1, max_size=60
    )
)
def test_nothing_is_lost_and_fences_are_never_split(deltas: list[str]) -> None:
    text = GrowingText()
    for delta in deltas:
        text.add(delta)
    assert text.text == "".join(deltas)
    boundary = 0
    for part in text.frozen:
        boundary += part.count("```")
        assert boundary % 2 == 0, "a frozen part ends outside any code fence"
