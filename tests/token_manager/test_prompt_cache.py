"""Cache prediction (pure) and cache-aware admission through the manager."""

from __future__ import annotations

from typing import Any

from tests.token_manager.fake_time import FakeTime
from token_manager import RateLimits, TokenManager
from token_manager.prompt_cache import Breakpoint, PromptCacheModel

SHORT = Breakpoint("short", 900, 300.0)
LONG = Breakpoint("long", 5_000, 300.0)
HOUR = Breakpoint("hour", 5_000, 3600.0)


def test_nothing_is_cached_until_a_response_wrote_it() -> None:
    model = PromptCacheModel()
    assert model.prediction("sonnet-4", "c", [LONG], 1024, 0.0)[0] == 0
    model.observe(
        "sonnet-4", "c", [LONG], 1024, 0, cache_read=0, cache_written=5_000, now=0.0
    )
    assert model.prediction("sonnet-4", "c", [LONG], 1024, 10.0)[0] == 5_000
    assert model.prediction("opus-4", "c", [LONG], 1024, 10.0)[0] == 0, (
        "pools keep apart"
    )


def test_a_prefix_counts_only_safely_inside_its_ttl_and_a_hit_refreshes_it() -> None:
    model = PromptCacheModel()
    model.observe("p", "c", [LONG], 1024, 0, cache_read=0, cache_written=5_000, now=0.0)
    assert model.prediction("p", "c", [LONG], 1024, 260.0)[0] == 5_000
    assert model.prediction("p", "c", [LONG], 1024, 275.0)[0] == 0, (
        "inside the safety margin"
    )
    model.observe(
        "p", "c", [LONG], 1024, 5_000, cache_read=5_000, cache_written=0, now=200.0
    )
    assert model.prediction("p", "c", [LONG], 1024, 400.0)[0] == 5_000, (
        "refreshed at 200"
    )
    assert model.prediction("p", "c", [LONG], 1024, 600.0)[0] == 0, "expired"


def test_an_hour_ttl_lasts_an_hour() -> None:
    model = PromptCacheModel()
    model.observe("p", "c", [HOUR], 1024, 0, cache_read=0, cache_written=5_000, now=0.0)
    assert model.prediction("p", "c", [HOUR], 1024, 3000.0)[0] == 5_000
    assert model.prediction("p", "c", [HOUR], 1024, 3500.0)[0] == 0


def test_a_prefix_below_the_minimum_length_is_never_cached() -> None:
    model = PromptCacheModel()
    model.observe(
        "p", "c", [SHORT, LONG], 1024, 0, cache_read=0, cache_written=5_000, now=0.0
    )
    assert model.prediction("p", "c", [SHORT], 1024, 1.0)[0] == 0
    assert model.prediction("p", "c", [SHORT, LONG], 1024, 1.0)[0] == 5_000
    assert model.prediction("p", "c", [SHORT, LONG], 8192, 1.0)[0] == 0


def test_a_predicted_hit_that_missed_predicts_nothing_until_a_real_hit() -> None:
    model = PromptCacheModel()
    model.observe("p", "c", [LONG], 1024, 0, cache_read=0, cache_written=5_000, now=0.0)
    # Predicted 5,000 cached, but the server wrote it again (evicted early).
    model.observe(
        "p", "c", [LONG], 1024, 5_000, cache_read=0, cache_written=5_000, now=10.0
    )
    assert model.prediction("p", "c", [LONG], 1024, 11.0)[0] == 0
    assert model.prediction("p", "other", [LONG], 1024, 11.0)[0] == 5_000, (
        "only that conversation"
    )
    model.observe(
        "p", "c", [LONG], 1024, 0, cache_read=5_000, cache_written=0, now=12.0
    )
    assert model.prediction("p", "c", [LONG], 1024, 13.0)[0] == 5_000


def test_a_cached_prefix_counts_what_the_server_measured_not_the_estimate() -> None:
    model = PromptCacheModel()
    model.observe(
        "p", "c", [SHORT, LONG], 512, 0, cache_read=0, cache_written=4_500, now=0.0
    )
    assert model.prediction("p", "c", [SHORT, LONG], 512, 1.0)[0] == 4_500
    assert model.prediction("p", "c", [SHORT], 512, 1.0)[0] == 810, (
        "scaled by 4,500/5,000"
    )


# ---- through the manager --------------------------------------------------

SYSTEM = [
    {
        "type": "text",
        "text": "You drive a desktop. " + "Follow the rules carefully. " * 400,
        "cache_control": {"type": "ephemeral"},
    }
]


def turn(number: int, marked: bool) -> list[dict[str, Any]]:
    block: dict[str, Any] = {"type": "text", "text": f"step {number}: " + "look " * 300}
    if marked:
        block["cache_control"] = {"type": "ephemeral"}
    return [
        {"role": "user", "content": [block]},
        {"role": "assistant", "content": [{"type": "text", "text": f"done {number}"}]},
    ]


def conversation(turns: int) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    for number in range(turns):
        messages += turn(number, marked=number >= turns - 2)
    messages.append({"role": "user", "content": [{"type": "text", "text": "next"}]})
    return messages


def manager(clock: FakeTime, **kwargs: Any) -> TokenManager:
    return TokenManager(
        RateLimits(None, 100_000, None, 60.0), clock=clock, waiting=clock, **kwargs
    )


class Server:
    """Answers like the API: reads the previous request's prefix when `cached`,
    writes the rest up to the last mark; 100 tokens after it stay uncached."""

    def __init__(self) -> None:
        self.last_prefix = 0

    async def serve(
        self, tm: TokenManager, turns: int, model: str, cached: bool
    ) -> tuple[Any, int]:
        estimate = tm.estimate_request(
            system=SYSTEM, messages=conversation(turns), model=model
        )
        reservation = await tm.acquire(estimate, 100)
        read = self.last_prefix if cached else 0
        prefix = estimate.total_tokens - 100
        self.last_prefix = prefix
        tm.reconcile(
            reservation,
            {
                "input_tokens": 100,
                "cache_creation_input_tokens": prefix - read,
                "cache_read_input_tokens": read,
                "output_tokens": 10,
            },
        )
        return estimate, reservation.input_tokens


async def test_admission_charges_only_the_predicted_uncached_part() -> None:
    clock = FakeTime()
    tm, server = manager(clock), Server()
    first, charged = await server.serve(tm, 3, "claude-sonnet-4-5", cached=False)
    assert first.cached_tokens == 0
    assert charged == first.total_tokens + first.margin(first.total_tokens)
    clock.advance(5.0)
    second, charged = await server.serve(tm, 4, "claude-sonnet-4-5", cached=True)
    assert second.cached_tokens > 0.8 * first.total_tokens
    assert charged == second.uncached_tokens + second.margin(second.uncached_tokens)
    assert charged < 0.3 * second.total_tokens
    assert second.uncached_tokens + second.cached_tokens == second.total_tokens
    # What the context budget asks before building a view: the same charge.
    assert tm.input_charge(second, model="claude-sonnet-4-5") == charged


async def test_without_cache_aware_admission_the_whole_request_is_charged() -> None:
    clock = FakeTime()
    tm, server = manager(clock, cache_aware_admission=False), Server()
    await server.serve(tm, 3, "claude-sonnet-4-5", cached=False)
    clock.advance(61.0)
    second, charged = await server.serve(tm, 4, "claude-sonnet-4-5", cached=True)
    assert second.cached_tokens > 0, "the prediction is still made"
    assert charged == second.total_tokens + second.margin(second.total_tokens)
    assert tm.input_charge(second) == charged, "the context budget is told so too"


async def test_an_older_class_that_counts_cache_reads_is_charged_in_full() -> None:
    clock = FakeTime()
    tm, server = manager(clock), Server()
    model = "claude-3-5-haiku-latest"
    await server.serve(tm, 3, model, cached=False)
    clock.advance(61.0)
    second, charged = await server.serve(tm, 4, model, cached=True)
    assert charged == second.total_tokens + second.margin(second.total_tokens)
    assert tm.input_charge(second, model=model) == charged
    assert (
        tm.snapshot(model=model).budgets["input_tokens"].used == second.total_tokens
    ), "reconcile counts the cache reads too (the first request expired)"


async def test_a_prefix_too_short_for_the_model_is_charged_in_full() -> None:
    clock = FakeTime()
    tm, server = manager(clock), Server()
    model = "claude-opus-4-5"  # caches from 4,096 tokens: this prefix is shorter
    first, _ = await server.serve(tm, 3, model, cached=False)
    assert first.total_tokens < 4_096
    second, charged = await server.serve(tm, 4, model, cached=False)
    assert second.cached_tokens == 0
    assert charged == second.total_tokens + second.margin(second.total_tokens)
