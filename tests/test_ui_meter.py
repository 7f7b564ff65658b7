"""The meter's text: use/limit per budget, learned limits marked, waits counted down."""

from __future__ import annotations

from computer_use_demo.ui.meter import meter_lines, wait_line
from token_manager import BudgetSnapshot, LimiterSnapshot


def snapshot(**changes: object) -> LimiterSnapshot:
    values: dict[str, object] = {
        "budgets": {
            "requests": BudgetSnapshot(3, 50, "configured", None),
            "input_tokens": BudgetSnapshot(12_345, 40_000, "server", 27_000),
            "output_tokens": BudgetSnapshot(800, None, "default", None),
        },
        "window_seconds": 60.0,
        "waiters": 0,
        "next_free_in": None,
        "waiting_for": None,
        "paused_for": 0.0,
        "shared": False,
        "shared_available": False,
    }
    values.update(changes)
    return LimiterSnapshot(**values)  # type: ignore[arg-type]


def test_each_budget_shows_use_over_limit_and_learned_limits_say_so() -> None:
    lines = meter_lines(snapshot())
    assert lines[0] == "**Rate limits** (last 60 s)"
    assert lines[1] == "- requests/min: 3 / 50"
    assert (
        lines[2] == "- input tokens/min: 12,345 / 40,000 · *learned from API headers*"
    )
    assert lines[3] == "- output tokens/min: 800 / ∞"


def test_no_countdown_when_nobody_waits() -> None:
    assert wait_line(snapshot()) is None


def test_a_waiting_request_says_which_limit_and_how_long() -> None:
    line = wait_line(snapshot(waiters=2, waiting_for="input_tokens", next_free_in=12.4))
    assert line == "⏳ 2 request(s) waiting for input tokens/min: 12 s left"


def test_a_retry_after_pause_is_shown_first() -> None:
    line = wait_line(snapshot(waiters=1, waiting_for="retry_after", paused_for=7.0))
    assert line == "⏳ Paused by the API (429): 7 s left"


def test_a_shared_budget_says_whether_redis_answers() -> None:
    assert (
        "shared with other processes"
        in meter_lines(snapshot(shared=True, shared_available=True))[-1]
    )
    assert (
        "Redis unreachable"
        in meter_lines(snapshot(shared=True, shared_available=False))[-1]
    )


def test_the_meter_names_the_model_class_it_shows() -> None:
    assert meter_lines(snapshot(pool="sonnet-4"))[0] == (
        "**Rate limits** · sonnet-4 (last 60 s)"
    )


def test_a_wait_for_output_tokens_uses_the_budget_label() -> None:
    line = wait_line(snapshot(waiters=1, waiting_for="output_tokens", next_free_in=3.0))
    assert line == "⏳ 1 request(s) waiting for output tokens/min: 3 s left"


def test_spending_shows_each_figure_against_its_cap() -> None:
    from computer_use_demo.ui.meter import spend_lines
    from token_manager.spend import NANO
    from token_manager.spending import SpendCaps, SpendReport

    report = SpendReport(
        conversation_spent=NANO // 4,
        day_spent=3 * NANO,
        caps=SpendCaps(conversation=NANO, day=None),
    )
    assert spend_lines(report) == [
        "**Spending**",
        "- this conversation: $0.2500 of $1.00 ($0.7500 left)",
        "- today (UTC): $3.00 (no cap)",
    ]
