"""A request's reservation is settled once: released when refused uncounted,
reconciled with what the server measured otherwise (the estimate when nothing was)."""

from __future__ import annotations

import asyncio
from typing import Any

import anthropic
import httpx2

from computer_use_demo.admission import admit, refused_uncounted
from computer_use_demo.request_assembly import AssembledRequest
from token_manager import RateLimits, TokenManager

MODEL = "claude-opus-4-8"
REQUEST = httpx2.Request("POST", "http://127.0.0.1/v1/messages")


def status_error(status: int) -> anthropic.APIStatusError:
    return anthropic.APIStatusError(
        "refused", response=httpx2.Response(status, request=REQUEST), body=None
    )


def used_input(manager: TokenManager) -> int:
    return manager.snapshot(model=MODEL).budgets["input_tokens"].used


async def admitted(manager: TokenManager) -> Any:
    history: Any = [{"role": "user", "content": "word " * 400}]
    estimate = manager.estimate_request(messages=history, model=MODEL)
    request = AssembledRequest({"max_tokens": 100}, estimate)
    return await admit(manager, request, model=MODEL, on_wait=lambda *_: None)


def fresh() -> TokenManager:
    return TokenManager(RateLimits(1_000, 1_000_000, 1_000_000))


async def test_a_request_refused_before_its_stream_costs_nothing() -> None:
    manager = fresh()
    held = await admitted(manager)
    assert used_input(manager) > 0
    held.settle_failed(status_error(529), measured_usage=None)
    assert used_input(manager) == 0


async def test_a_broken_stream_costs_what_the_server_had_measured() -> None:
    manager = fresh()
    held = await admitted(manager)
    measured = {"input_tokens": 77, "output_tokens": 3}
    held.settle_failed(status_error(200), measured_usage=measured)
    assert used_input(manager) == 77


async def test_a_cancelled_request_keeps_its_estimate_charged() -> None:
    manager = fresh()
    held = await admitted(manager)
    estimated = used_input(manager)
    held.settle_failed(asyncio.CancelledError(), measured_usage=None)
    assert used_input(manager) == estimated > 0


async def test_a_reservation_is_settled_once() -> None:
    manager = fresh()
    held = await admitted(manager)
    held.settle({"input_tokens": 50, "output_tokens": 5})
    held.settle_failed(status_error(529), measured_usage=None)
    assert used_input(manager) == 50


def test_only_a_status_error_before_the_stream_is_refused_uncounted() -> None:
    assert refused_uncounted(status_error(429))
    assert not refused_uncounted(status_error(200))  # an error event mid-stream
    assert not refused_uncounted(httpx2.RemoteProtocolError("peer closed"))
    assert not refused_uncounted(asyncio.CancelledError())
