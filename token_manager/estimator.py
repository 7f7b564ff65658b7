"""Request estimates: the measured prefix exactly, what is new by calibrated
count, and how much of it the prompt cache will serve.

Replaces the old dict keyed by the estimate's integer value (two requests that
estimated the same swapped details): each `RequestEstimate` carries its own.
Not locked: the manager holds its lock around calls; `now` comes in.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .estimate import (
    Calibration,
    MessageCounter,
    fingerprint,
    raw_breakpoints,
    system_tokens,
    tools_tokens,
)
from .pools import DEFAULT_POOL, min_cacheable_tokens, rate_limit_pool
from .prompt_cache import Breakpoint, PromptCacheModel, cache_scope, ttl_seconds

MAX_CONVERSATIONS_TRACKED = 32
FRAMING_SLACK_TOKENS = 32


@dataclass(frozen=True)
class EstimateDetail:
    """What reconcile needs to learn from the real usage of this very request."""

    conversation: str
    message_keys: tuple[str, ...]
    frame_key: str
    raw_total: int
    raw_new: int
    prefix_real: int | None
    breakpoints: tuple[Breakpoint, ...]
    min_cacheable: int
    cache_scope: str = ""


@dataclass(frozen=True)
class RequestEstimate:
    """A request's input tokens, and the part the prompt cache should serve."""

    total_tokens: int
    cached_tokens: int  # predicted cache reads
    uncached_tokens: int  # predicted new tokens + cache writes
    pool: str = DEFAULT_POOL
    model: str | None = None
    detail: EstimateDetail | None = field(default=None, repr=False, compare=False)
    # Of total_tokens, the part counted here (not yet measured by the server),
    # and how much more than counted it may really be (`Calibration.spread`).
    estimated_tokens: int = 0
    count_spread: float = 0.0
    # Until when the predicted cache reads hold, if the server receives the
    # request by then (inf: nothing is predicted).
    cached_until: float = math.inf

    def without_cache(self) -> RequestEstimate:
        """The same request, predicted to read nothing from the cache: what it
        costs when it reaches the server after its prefix may have expired."""
        return replace(
            self,
            cached_tokens=0,
            uncached_tokens=self.total_tokens,
            cached_until=math.inf,
        )

    def margin(self, charge: int) -> int:
        """What `charge` tokens of this request may be short by: held on top
        while the request is in flight. Only the estimated part is uncertain;
        a few tokens more cover the server's framing of small parts, whose
        ratio runs above that of the larger ones the spread was learnt on."""
        part = max(0, min(charge, self.estimated_tokens))
        return math.ceil(part * self.count_spread) + min(part, FRAMING_SLACK_TOKENS)


@dataclass
class _PrefixRecord:
    frame_key: str
    message_keys: tuple[str, ...]
    real_total: int


class RequestEstimator:
    def __init__(self) -> None:
        self.counter = MessageCounter()
        self.calibration = Calibration()
        self.cache = PromptCacheModel()
        self._prefixes: OrderedDict[str, _PrefixRecord] = OrderedDict()

    def estimate(
        self,
        *,
        system: Any,
        messages: Sequence[Any],
        tools: Sequence[Any] | None,
        model: str | None,
        now: float,
        account: str = "",
    ) -> RequestEstimate:
        message_keys = tuple(fingerprint(message) for message in messages)
        raw_messages = [
            self.counter.count(message, key)
            for message, key in zip(messages, message_keys, strict=True)
        ]
        raw_total = system_tokens(system) + tools_tokens(tools) + sum(raw_messages)
        frame_key = fingerprint({"system": system, "tools": tools})
        conversation = message_keys[0] if message_keys else ""
        record = self._prefixes.get(conversation)
        prefix_real: int | None = None
        raw_new = raw_total
        if (
            record is not None
            and record.frame_key == frame_key
            and len(record.message_keys) <= len(message_keys)
            and message_keys[: len(record.message_keys)] == record.message_keys
        ):
            prefix_real = record.real_total
            raw_new = sum(raw_messages[len(record.message_keys) :])
        total = (
            prefix_real + self.calibration.apply(raw_new)
            if prefix_real is not None
            else self.calibration.apply(raw_total)
        )
        pool = rate_limit_pool(model)
        minimum = min_cacheable_tokens(model)
        breakpoints = tuple(
            Breakpoint(key, self.calibration.apply(raw), ttl_seconds(mark))
            for key, raw, mark in raw_breakpoints(
                system, messages, tools, message_keys, raw_messages
            )
        )
        scope = cache_scope(model, account)
        predicted, until = self.cache.prediction(
            scope, conversation, breakpoints, minimum, now
        )
        cached = min(total, predicted)
        detail = EstimateDetail(
            conversation,
            message_keys,
            frame_key,
            raw_total,
            raw_new,
            prefix_real,
            breakpoints,
            minimum,
            scope,
        )
        return RequestEstimate(
            total,
            cached,
            total - cached,
            pool,
            model,
            detail,
            estimated_tokens=total - (prefix_real or 0),
            count_spread=self.calibration.spread(),
            cached_until=until if cached > 0 else math.inf,
        )

    def learn(
        self,
        estimate: RequestEstimate,
        *,
        input_tokens: int,
        cache_written: int,
        cache_read: int,
        admitted_at: float,
    ) -> None:
        """Learn the real count, and what the server's cache now holds from
        `admitted_at`, when the server received the request."""
        detail = estimate.detail
        if detail is None:
            return
        real_total = input_tokens + cache_written + cache_read
        if detail.prefix_real is not None:
            self.calibration.learn(detail.raw_new, real_total - detail.prefix_real)
        else:
            self.calibration.learn(detail.raw_total, real_total)
        self._prefixes[detail.conversation] = _PrefixRecord(
            detail.frame_key, detail.message_keys, real_total
        )
        self._prefixes.move_to_end(detail.conversation)
        while len(self._prefixes) > MAX_CONVERSATIONS_TRACKED:
            self._prefixes.popitem(last=False)
        self.cache.observe(
            detail.cache_scope,
            detail.conversation,
            detail.breakpoints,
            detail.min_cacheable,
            estimate.cached_tokens,
            cache_read,
            cache_written,
            admitted_at,
        )

    def message_tokens(self, message: Any) -> int:
        return self.calibration.apply(self.counter.count(message))

    def frame_tokens(self, system: Any, tools: Sequence[Any] | None) -> int:
        return self.calibration.apply(system_tokens(system) + tools_tokens(tools))
