"""Cache prediction held to the fake server's own prompt cache, one test per rule.

The server side is `fake_anthropic.prompt_cache` (its rules and sources are its
own, fake_anthropic/RULES.md), asked at the moment the request is admitted,
as the real server sees it when the request arrives. Each test has a case where
the server reads the cache and ours must predict it (so a predictor that never
predicts fails too), and one where it does not and ours must not: a predicted
hit the server does not make is an input charge too small, hence 429s.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fake_anthropic.counting import TokenCounter
from fake_anthropic.model_classes import min_cacheable_tokens
from fake_anthropic.prompt_cache import PromptCache, prompt_blocks
from tests.token_manager.fake_time import FakeTime, settle
from token_manager import RateLimits, RequestEstimate, TokenManager

SONNET_4 = "claude-sonnet-4-20250514"
SONNET_4_5 = "claude-sonnet-4-5-20250929"


def system(ttl: str | None = None) -> list[dict[str, Any]]:
    mark: dict[str, Any] = {"type": "ephemeral"}
    if ttl:
        mark["ttl"] = ttl
    return [
        {
            "type": "text",
            "text": "You drive a desktop. " + "Follow the rules carefully. " * 500,
            "cache_control": mark,
        }
    ]


def messages(turn: int) -> list[dict[str, Any]]:
    return [{"role": "user", "content": f"turn {turn}: what is on the screen?"}]


class Fleet:
    """One manager and the server's cache, on one clock."""

    def __init__(self) -> None:
        self.clock = FakeTime()
        self.manager = TokenManager(
            RateLimits(None, 1_000_000, None, 60.0),
            clock=self.clock,
            waiting=self.clock,
        )
        self.server = PromptCache()
        self.counter = TokenCounter()

    def estimate(
        self, turn: int, *, model: str = SONNET_4_5, ttl: str | None = None, account=""
    ) -> RequestEstimate:
        return self.manager.estimate_request(
            system=system(ttl), messages=messages(turn), model=model, account=account
        )

    async def send(
        self,
        turn: int,
        *,
        model: str = SONNET_4_5,
        ttl: str | None = None,
        account: str = "",
        response_seconds: float = 1.0,
    ) -> tuple[RequestEstimate, int]:
        """One request: estimated, admitted, seen by the server on admission,
        reconciled when its response ends. Returns the estimate and what the
        server read from its cache."""
        estimate = self.estimate(turn, model=model, ttl=ttl, account=account)
        reservation = await self.manager.acquire(estimate, 100, model=model)
        read = self.serve(turn, model=model, ttl=ttl)
        self.clock.advance(response_seconds)
        self.manager.reconcile(reservation, read[1])
        return estimate, read[0]

    def serve(
        self, turn: int, *, model: str, ttl: str | None
    ) -> tuple[int, dict[str, int]]:
        body = {"model": model, "system": system(ttl), "messages": messages(turn)}
        usage = self.server.use(
            model,
            prompt_blocks(body, self.counter),
            min_tokens=min_cacheable_tokens(model),
            now=self.clock(),
        )
        return usage.cache_read_input_tokens, {
            "input_tokens": usage.input_tokens,
            "cache_creation_input_tokens": usage.cache_creation_input_tokens,
            "cache_read_input_tokens": usage.cache_read_input_tokens,
            "output_tokens": 10,
        }


async def test_the_ttl_runs_from_admission_not_from_the_responses_end() -> None:
    fleet = Fleet()
    await fleet.send(1, response_seconds=100.0)
    fleet.clock.advance(150.0)  # 251 s after the server received the first
    estimate, read = await fleet.send(2)
    assert read > 0 and estimate.cached_tokens > 0, "inside the TTL: a hit"

    late = Fleet()
    await late.send(1, response_seconds=100.0)
    late.clock.advance(250.0)  # 351 s after it was received, 251 s after it ended
    estimate, read = await late.send(2)
    assert read == 0, "the server's entry expired 300 s after it received the request"
    assert estimate.cached_tokens == 0


async def test_a_cache_belongs_to_one_model() -> None:
    fleet = Fleet()
    await fleet.send(1, model=SONNET_4)
    estimate, read = await fleet.send(2, model=SONNET_4)
    assert read > 0 and estimate.cached_tokens > 0
    estimate, read = await fleet.send(3, model=SONNET_4_5)  # the same pool
    assert read == 0
    assert estimate.cached_tokens == 0


async def test_a_cache_belongs_to_one_api_key() -> None:
    fleet = Fleet()
    await fleet.send(1, account="team-a")
    estimate, read = await fleet.send(2, account="team-a")
    assert read > 0 and estimate.cached_tokens > 0
    # The fake keeps one organisation's cache: what another key would read is
    # nothing, so ours must predict nothing for it.
    other = fleet.estimate(3, account="team-b")
    assert other.cached_tokens == 0


async def test_a_breakpoint_keeps_the_ttl_it_asked_for() -> None:
    for ttl, later, hit in (("1h", 1_000.0, True), (None, 1_000.0, False)):
        fleet = Fleet()
        await fleet.send(1, ttl=ttl)
        fleet.clock.advance(later)
        estimate, read = await fleet.send(2, ttl=ttl)
        assert (read > 0) is hit, ttl
        assert (estimate.cached_tokens > 0) is hit, ttl


async def test_a_hit_refreshes_the_entry_from_its_admission() -> None:
    fleet = Fleet()
    await fleet.send(1)
    fleet.clock.advance(240.0)
    await fleet.send(2)  # a hit at 241 s: the entry now lives to 541 s
    fleet.clock.advance(240.0)
    estimate, read = await fleet.send(3)  # at 482 s
    assert read > 0 and estimate.cached_tokens > 0


async def test_a_request_that_waits_past_its_prefixs_lifetime_is_charged_in_full() -> (
    None
):
    fleet = Fleet()
    await fleet.send(1)
    fleet.clock.advance(200.0)
    estimate = fleet.estimate(2)
    assert estimate.cached_tokens > 0, "predicted at 201 s: still cached"
    fleet.manager.pause(120.0, model=SONNET_4_5)  # a retry-after: sent at 321 s
    task = asyncio.create_task(fleet.manager.acquire(estimate, 100))
    await settle()
    fleet.clock.advance(120.0)
    reservation = await task
    read, usage = fleet.serve(2, model=SONNET_4_5, ttl=None)
    assert read == 0, "the server's entry expired at 300 s"
    assert reservation.input_tokens >= estimate.total_tokens
    fleet.manager.reconcile(reservation, usage)
