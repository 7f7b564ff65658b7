"""Sliding-window arithmetic: tables of numbers and property tests, no sleeping."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from token_manager.window import SlidingWindow, seconds_until_fits


def test_a_charge_counts_for_exactly_one_window() -> None:
    window = SlidingWindow(60.0)
    window.charge(10.0, 100)
    assert window.used(69.9) == 100
    assert window.used(70.0) == 0


def test_wait_is_until_enough_old_charges_expire() -> None:
    window = SlidingWindow(60.0)
    window.charge(0.0, 30)
    window.charge(10.0, 30)
    window.charge(20.0, 30)
    assert window.wait_for(10, 100, 25.0) == 0.0
    assert window.wait_for(20, 100, 25.0) == pytest.approx(
        35.0
    )  # the first charge must go
    assert window.wait_for(45, 100, 25.0) == pytest.approx(
        45.0
    )  # the first two must go
    assert window.wait_for(1_000, None, 25.0) == 0.0


def test_adjusting_an_entry_frees_budget_at_once() -> None:
    window = SlidingWindow(60.0)
    entry = window.charge(0.0, 16_000)
    assert window.wait_for(4_000, 16_000, 1.0) == pytest.approx(59.0)
    window.adjust(entry, 120)
    assert window.used(1.0) == 120
    assert window.wait_for(4_000, 16_000, 1.0) == 0.0


def test_the_binding_budget_is_named() -> None:
    windows = {"requests": SlidingWindow(60), "input_tokens": SlidingWindow(60)}
    windows["requests"].charge(0, 1)
    windows["input_tokens"].charge(5, 900)
    wait, budget = seconds_until_fits(
        windows,
        {"requests": 1, "input_tokens": 200},
        {"requests": 5, "input_tokens": 1000},
        6,
    )
    assert wait == pytest.approx(59.0) and budget == "input_tokens"


@settings(max_examples=200, deadline=None)
@given(
    limit=st.integers(min_value=1, max_value=1_000),
    requests=st.lists(
        st.tuples(
            st.floats(min_value=0, max_value=5, allow_nan=False),
            st.integers(min_value=1, max_value=1_000),
        ),
        min_size=1,
        max_size=60,
    ),
)
def test_no_window_ever_holds_more_than_its_limit(
    limit: int, requests: list[tuple[float, int]]
) -> None:
    """Admit each request at the earliest moment the window says it fits."""
    window = SlidingWindow(10.0)
    now = 0.0
    admitted: list[tuple[float, int]] = []
    for gap, amount in requests:
        amount = min(amount, limit)
        now += gap
        now += window.wait_for(amount, limit, now)
        window.charge(now, amount)
        admitted.append((now, amount))
        # Check the invariant at every admission: the trailing window's sum.
        in_window = sum(size for at, size in admitted if now - at < 10.0)
        assert in_window <= limit
    assert window.used(now) == sum(size for at, size in admitted if now - at < 10.0)


def test_a_million_charges_stay_bounded_in_memory_and_time() -> None:
    window = SlidingWindow(1.0)
    for step in range(1_000_000):
        now = step * 0.001
        if window.wait_for(1, 2_000, now) == 0.0:
            window.charge(now, 1)
    assert len(window.entries) <= 1_001


def test_an_in_flight_charge_never_expires_until_settled() -> None:
    window = SlidingWindow(10.0, lease=600.0)
    entry = window.reserve(0.0, 100)
    assert window.used(500.0) == 100
    assert window.wait_for(1, 100, 500.0) == pytest.approx(110.0, abs=1e-3), (
        "only the lease's end frees it, unless settled sooner"
    )
    window.settle(entry, 80, 500.0)
    assert window.used(509.9) == 80
    assert window.used(510.0) == 0


def test_a_forgotten_in_flight_charge_still_goes_after_its_lease() -> None:
    window = SlidingWindow(10.0, lease=600.0)
    window.reserve(0.0, 100)
    assert window.used(609.9) == 100
    assert window.used(610.0) == 0


def test_a_new_ceiling_replaces_the_old_one() -> None:
    window = SlidingWindow(60.0)
    window.charge(0.0, 1_000)
    window.set_ceiling(5_000, 0.0, 1.0)
    window.set_ceiling(5_000, 0.0, 2.0)
    assert window.used(3.0) == 6_000
    assert window.used_without_ceiling(3.0) == 1_000
    window.set_ceiling(0, 0.0, 4.0)
    assert window.used(4.0) == 1_000
