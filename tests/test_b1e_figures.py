"""B1e's figures are pure arithmetic over (asked, granted) times and outages:
each rule here is one the benchmark's README row relies on."""

from __future__ import annotations

from benchmarks.b1e_chaos import longest_span, longest_wait, stall

OUTAGES = [(10.0, 13.0), (60.0, 61.0)]
WINDOW = 10.0


def test_a_wait_under_way_when_redis_answers_counts_from_then() -> None:
    assert stall([(9.0, 20.0)], OUTAGES, WINDOW) == (7.0, 13.0)


def test_a_wait_begun_within_a_window_after_counts_whole() -> None:
    assert stall([(14.0, 30.0)], OUTAGES, WINDOW) == (16.0, 14.0)


def test_waits_far_from_an_outage_or_granted_during_one_do_not_count() -> None:
    assert stall([(25.0, 30.0), (11.0, 12.5)], OUTAGES, WINDOW) == (0.0, 0.0)


def test_a_wait_across_two_outages_counts_from_the_last() -> None:
    assert stall([(5.0, 65.0)], OUTAGES, WINDOW) == (4.0, 61.0)


def test_the_longest_wait_of_all_ignores_outages() -> None:
    assert longest_wait([(1.0, 2.0), (3.0, 10.0)]) == (7.0, 3.0)
    assert longest_wait([]) == (0, 0)


def test_the_busiest_span_is_one_window_long_and_open_at_its_start() -> None:
    accepted = [(0.0, 5), (5.0, 5), (10.0, 7), (12.0, 1)]
    # A span ending at 10.0 no longer holds 0.0 (exactly a window before); the
    # busiest ends at 12.0 and holds 5.0, 10.0 and 12.0.
    assert longest_span(accepted, WINDOW) == (13, 5.0)
