"""The one place that decides when a request may go and how much a tool result may cost.

One `TokenManager` per process (the module attribute `token_manager`), shared by
every session, thread and event loop. Waiting never blocks an event loop, never
busy-loops, and serves callers first come, first served.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from ratelimit.estimate import (
    Calibration,
    MessageCounter,
    fingerprint,
    system_tokens,
    tools_tokens,
)
from ratelimit.storage import (
    BUDGETS,
    Handle,
    MemoryStorage,
    RedisStorage,
    Storage,
    StorageUnavailable,
)
from ratelimit.tool_budget import budget_text

logger = logging.getLogger("token_manager")

DEFAULT_RPM = 50
DEFAULT_INPUT_TPM = 40_000
DEFAULT_OUTPUT_TPM = 16_000
SHARED_RECHECK_SECONDS = 1.0  # other processes free budget without telling us
REDIS_RETRY_SECONDS = 5.0
# Each remembered estimate holds a key per message of its request: keep few.
MAX_PENDING_ESTIMATES = 32
MAX_CONVERSATIONS_TRACKED = 32
BUDGET_LABELS = {
    "requests": "requests/min",
    "input_tokens": "input tokens/min",
    "output_tokens": "output tokens/min",
}
_HEADER_NAMES = {
    "requests": "requests",
    "input_tokens": "input-tokens",
    "output_tokens": "output-tokens",
}


class ToolResultLike(Protocol):
    @property
    def output(self) -> str | None: ...
    @property
    def error(self) -> str | None: ...
    def replace(self, **changes: Any) -> Any: ...


@dataclass(frozen=True)
class RateLimits:
    """The organisation's limits per window; None means unlimited."""

    requests_per_minute: int | None
    input_tokens_per_minute: int | None
    output_tokens_per_minute: int | None
    window_seconds: float = 60.0

    def by_budget(self) -> dict[str, int | None]:
        return {
            "requests": self.requests_per_minute,
            "input_tokens": self.input_tokens_per_minute,
            "output_tokens": self.output_tokens_per_minute,
        }

    @classmethod
    def from_budgets(
        cls, budgets: Mapping[str, int | None], window_seconds: float
    ) -> RateLimits:
        return cls(
            budgets.get("requests"),
            budgets.get("input_tokens"),
            budgets.get("output_tokens"),
            window_seconds,
        )


class RequestTooLargeError(Exception):
    """One request is larger than a whole window of some budget: it can never go."""

    def __init__(self, budget: str, requested: int, limit: int) -> None:
        self.budget, self.requested, self.limit = budget, requested, limit
        advice = {
            "input_tokens": "lower 'images to keep', start a new conversation, or raise the limit",
            "output_tokens": "lower 'max output tokens' or raise the limit",
            "requests": "raise the limit",
        }[budget]
        super().__init__(
            f"{BUDGET_LABELS[budget]} limit {limit:,} is smaller than this request's "
            f"{requested:,}: {advice}"
        )


@dataclass(frozen=True)
class Reservation:
    """A request's place in the window, until reconciled with what it really cost."""

    reservation_id: str
    input_tokens: int
    output_tokens: int
    waited_seconds: float
    waited_for: str | None


@dataclass(frozen=True)
class BudgetSnapshot:
    used: int
    limit: int | None
    limit_source: str  # "default" | "configured" | "server"
    server_remaining: int | None


@dataclass(frozen=True)
class LimiterSnapshot:
    """What the UI and logs show: each budget, who waits, and for how long."""

    budgets: dict[str, BudgetSnapshot]
    window_seconds: float
    waiters: int
    next_free_in: float | None
    waiting_for: str | None
    paused_for: float
    shared: bool
    shared_available: bool


@dataclass
class _EstimateDetail:
    conversation: str
    message_keys: list[str]
    frame_key: str
    raw_total: int
    raw_new: int
    prefix_real: int | None


@dataclass
class _PrefixRecord:
    frame_key: str
    message_keys: list[str]
    real_total: int


@dataclass
class _Waiter:
    wake: Callable[[], None]
    waiting_for: str | None = None
    ready_at: float | None = None


@dataclass
class _Held:
    reservation: Reservation
    local: Handle
    shared: Handle | None
    estimate: _EstimateDetail | None = None


@dataclass
class _ServerState:
    learned_limit: int | None = None
    remaining: int | None = None


@dataclass
class _Attempt:
    reservation: Reservation | None = None
    wait: float | None = None
    budget: str | None = None


WaitCallback = Callable[[str, float], None]


@dataclass
class _Config:
    tool_result_tokens: int | None
    tool_output_dir: Path
    explicit: dict[str, bool] = field(default_factory=dict)


class TokenManager:
    """Paces requests under requests/min, input tokens/min and output tokens/min."""

    def __init__(
        self,
        limits: RateLimits,
        *,
        clock: Callable[[], float] = time.monotonic,
        storage: Storage | None = None,
        wall_clock: Callable[[], float] = time.time,
        tool_result_tokens: int | None = None,
        tool_output_dir: Path | None = None,
        explicit_limits: Sequence[str] = BUDGETS,
    ) -> None:
        self._configured = limits
        self._clock = clock
        self._wall_clock = wall_clock
        self._lock = threading.RLock()
        self._local = MemoryStorage(limits.window_seconds)
        self._shared = storage
        self._shared_down_until = 0.0
        self._queue: deque[_Waiter] = deque()
        self._held: dict[str, _Held] = {}
        self._paused_until = 0.0
        self._server = {name: _ServerState() for name in BUDGETS}
        self._counter = MessageCounter()
        self._calibration = Calibration()
        self._estimates: OrderedDict[int, _EstimateDetail] = OrderedDict()
        self._prefixes: OrderedDict[str, _PrefixRecord] = OrderedDict()
        self._config = _Config(
            tool_result_tokens=tool_result_tokens,
            tool_output_dir=tool_output_dir or Path("/tmp/outputs/tool_results"),
            explicit={name: name in explicit_limits for name in BUDGETS},
        )

    # ---- configuration ---------------------------------------------------

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> TokenManager:
        """The process-wide manager as the environment configures it."""
        env = os.environ if environ is None else environ

        def number(name: str, default: int | None) -> int | None:
            raw = env.get(name, "").strip()
            if not raw:
                return default
            if raw.lower() in ("none", "unlimited", "0"):
                return None
            return int(raw.replace(",", "").replace("_", ""))

        names = {
            "requests": "TOKEN_MANAGER_RPM",
            "input_tokens": "TOKEN_MANAGER_INPUT_TPM",
            "output_tokens": "TOKEN_MANAGER_OUTPUT_TPM",
        }
        limits = RateLimits(
            number(names["requests"], DEFAULT_RPM),
            number(names["input_tokens"], DEFAULT_INPUT_TPM),
            number(names["output_tokens"], DEFAULT_OUTPUT_TPM),
            float(env.get("TOKEN_MANAGER_WINDOW_SECONDS") or 60.0),
        )
        storage: Storage | None = None
        if url := env.get("TOKEN_MANAGER_REDIS_URL"):
            storage = RedisStorage(
                url, prefix=env.get("TOKEN_MANAGER_REDIS_PREFIX", "token-manager")
            )
        directory = env.get("TOKEN_MANAGER_TOOL_OUTPUT_DIR")
        return cls(
            limits,
            storage=storage,
            tool_result_tokens=number("TOKEN_MANAGER_TOOL_RESULT_TOKENS", None),
            tool_output_dir=Path(directory) if directory else None,
            explicit_limits=[budget for budget, name in names.items() if env.get(name)],
        )

    @property
    def limits(self) -> RateLimits:
        """The limits in force: configured ones, corrected by what the server said."""
        with self._lock:
            effective: dict[str, int | None] = {}
            for name, configured in self._configured.by_budget().items():
                learned = self._server[name].learned_limit
                if learned is None:
                    effective[name] = configured
                elif self._config.explicit[name] and configured is not None:
                    effective[name] = min(configured, learned)
                else:
                    effective[name] = learned
            return RateLimits.from_budgets(effective, self._configured.window_seconds)

    def set_limits(self, limits: RateLimits) -> None:
        """Replace the configured limits (the UI's editable fields); waiters re-check."""
        with self._lock:
            self._configured = limits
            self._config.explicit = {name: True for name in BUDGETS}
            self._local.resize(limits.window_seconds)
            self._wake_all()

    # ---- acquiring -------------------------------------------------------

    def _amounts(self, input_tokens: int, output_tokens: int) -> dict[str, int]:
        amounts = {
            "requests": 1,
            "input_tokens": max(0, int(input_tokens)),
            "output_tokens": max(0, int(output_tokens)),
        }
        for name, limit in self.limits.by_budget().items():
            if limit is not None and amounts[name] > limit:
                raise RequestTooLargeError(name, amounts[name], limit)
        return amounts

    async def acquire(
        self,
        input_tokens: int,
        output_tokens: int,
        *,
        on_wait: WaitCallback | None = None,
    ) -> Reservation:
        """Wait (without blocking the event loop) until the request fits; reserve it."""
        amounts = self._amounts(input_tokens, output_tokens)
        loop = asyncio.get_running_loop()
        event = asyncio.Event()

        def wake() -> None:
            loop.call_soon_threadsafe(event.set)

        waiter = _Waiter(wake=wake)
        started = self._clock()
        with self._lock:
            self._queue.append(waiter)
        try:
            reported: tuple[str | None, int] | None = None
            while True:
                event.clear()
                if self._shared is not None:
                    attempt = await asyncio.to_thread(
                        self._attempt, waiter, amounts, started, input_tokens
                    )
                else:
                    attempt = self._attempt(waiter, amounts, started, input_tokens)
                if attempt.reservation is not None:
                    return attempt.reservation
                reported = self._report_wait(on_wait, attempt, reported)
                try:
                    async with asyncio.timeout(attempt.wait):
                        await event.wait()
                except TimeoutError:
                    pass
        except BaseException:
            self._leave_queue(waiter)
            raise

    def acquire_sync(
        self,
        input_tokens: int,
        output_tokens: int,
        *,
        on_wait: WaitCallback | None = None,
    ) -> Reservation:
        """The blocking twin of `acquire`, for threads without an event loop."""
        amounts = self._amounts(input_tokens, output_tokens)
        event = threading.Event()
        waiter = _Waiter(wake=event.set)
        started = self._clock()
        with self._lock:
            self._queue.append(waiter)
        try:
            reported: tuple[str | None, int] | None = None
            while True:
                event.clear()
                attempt = self._attempt(waiter, amounts, started, input_tokens)
                if attempt.reservation is not None:
                    return attempt.reservation
                reported = self._report_wait(on_wait, attempt, reported)
                event.wait(attempt.wait)
        except BaseException:
            self._leave_queue(waiter)
            raise

    @staticmethod
    def _report_wait(
        on_wait: WaitCallback | None,
        attempt: _Attempt,
        reported: tuple[str | None, int] | None,
    ) -> tuple[str | None, int] | None:
        """Tell the caller once per distinct wait, not on every wake-up."""
        if on_wait is None or attempt.wait is None or attempt.budget is None:
            return reported
        key = (attempt.budget, round(attempt.wait))
        if key != reported:
            on_wait(attempt.budget, attempt.wait)
        return key

    def _attempt(
        self,
        waiter: _Waiter,
        amounts: dict[str, int],
        started: float,
        estimate_key: int,
    ) -> _Attempt:
        with self._lock:
            if not self._queue or self._queue[0] is not waiter:
                head = self._queue[0] if self._queue else None
                # Behind someone: wait for them, and tell the user what they wait for.
                return _Attempt(
                    wait=None
                    if head is None or head.ready_at is None
                    else max(0.0, head.ready_at - self._clock()),
                    budget=head.waiting_for if head else None,
                )
            now = self._clock()
            paused = self._paused_until - now
            if paused > 0:
                waiter.waiting_for, waiter.ready_at = "retry_after", self._paused_until
                return _Attempt(wait=paused, budget="retry_after")
            limits = self.limits.by_budget()
            granted = self._try_reserve(amounts, limits, now)
            if isinstance(granted, _Attempt):
                waiter.waiting_for = granted.budget
                waiter.ready_at = now + (granted.wait or 0.0)
                return granted
            local, shared = granted
            self._queue.popleft()
            self._wake_head()
            waited = now - started
            reservation = Reservation(
                reservation_id=local.reservation_id,
                input_tokens=amounts["input_tokens"],
                output_tokens=amounts["output_tokens"],
                waited_seconds=waited,
                waited_for=waiter.waiting_for,
            )
            self._held[local.reservation_id] = _Held(
                reservation, local, shared, self._estimates.pop(estimate_key, None)
            )
            return _Attempt(reservation=reservation)

    def _try_reserve(
        self, amounts: dict[str, int], limits: dict[str, int | None], now: float
    ) -> tuple[Handle, Handle | None] | _Attempt:
        if self._shared is not None and now >= self._shared_down_until:
            try:
                handle, wait, budget = self._shared.try_reserve(
                    amounts, limits, self._configured.window_seconds, now
                )
            except StorageUnavailable as error:
                self._shared_down_until = now + REDIS_RETRY_SECONDS
                logger.warning("%s; limiting locally until it is back", error)
            else:
                if handle is None:
                    return _Attempt(
                        wait=min(wait, SHARED_RECHECK_SECONDS), budget=budget
                    )
                # Mirror our own charges, so a Redis outage loses no track of them.
                return self._local.record(amounts, now, handle.reservation_id), handle
        local, wait, budget = self._local.try_reserve(
            amounts, limits, self._configured.window_seconds, now
        )
        if local is None:
            return _Attempt(wait=wait, budget=budget)
        return local, None

    def _leave_queue(self, waiter: _Waiter) -> None:
        with self._lock:
            was_head = bool(self._queue) and self._queue[0] is waiter
            try:
                self._queue.remove(waiter)
            except ValueError:
                return
            if was_head:
                self._wake_head()

    def _wake_head(self) -> None:
        if self._queue:
            self._queue[0].wake()

    def _wake_all(self) -> None:
        for waiter in self._queue:
            waiter.wake()

    # ---- after the response ----------------------------------------------

    def reconcile(self, reservation: Reservation, usage: Any) -> None:
        """Replace the estimate with real usage (None: the server counted it, usage unknown).

        Cache reads do not count toward input tokens/min; cache writes do.
        """
        with self._lock:
            held = self._held.pop(reservation.reservation_id, None)
            if held is None or usage is None:
                return
            uncached = _usage_value(usage, "input_tokens") + _usage_value(
                usage, "cache_creation_input_tokens"
            )
            real_total = uncached + _usage_value(usage, "cache_read_input_tokens")
            amounts = {
                "input_tokens": uncached,
                "output_tokens": _usage_value(usage, "output_tokens"),
            }
            self._adjust(held, amounts)
            if held.estimate is not None:
                self._learn(held.estimate, real_total)
            self._wake_head()

    def release(self, reservation: Reservation) -> None:
        """Give back a reservation the server never counted (refused before it started)."""
        with self._lock:
            held = self._held.pop(reservation.reservation_id, None)
            if held is None:
                return
            self._adjust(held, {name: 0 for name in BUDGETS})
            self._wake_head()

    def _adjust(self, held: _Held, amounts: dict[str, int]) -> None:
        now = self._clock()
        self._local.adjust(held.local, amounts, now)
        if held.shared is not None and self._shared is not None:
            try:
                self._shared.adjust(held.shared, amounts, now)
            except StorageUnavailable as error:
                self._shared_down_until = now + REDIS_RETRY_SECONDS
                logger.warning("%s; limiting locally until it is back", error)

    # ---- what the server says ------------------------------------------------

    def update_from_headers(self, headers: Mapping[str, str] | Any) -> None:
        """Learn limits and remaining budget from `anthropic-ratelimit-*` headers."""
        with self._lock:
            now, wall = self._clock(), self._wall_clock()
            window = self._configured.window_seconds
            for budget, header in _HEADER_NAMES.items():
                limit = _int_header(headers, f"anthropic-ratelimit-{header}-limit")
                remaining = _int_header(
                    headers, f"anthropic-ratelimit-{header}-remaining"
                )
                reset = _time_header(headers, f"anthropic-ratelimit-{header}-reset")
                state = self._server[budget]
                if limit is not None:
                    state.learned_limit = limit
                if remaining is None:
                    continue
                state.remaining = remaining
                effective = self.limits.by_budget()[budget]
                if effective is None:
                    continue
                available = effective - self._local.usage(window, now)[budget]
                if remaining < available:
                    expires_in = min(
                        window, max(0.0, (reset - wall) if reset else window)
                    )
                    self._local.add_ceiling(
                        budget, available - remaining, expires_in, window, now
                    )
                    if self._shared is not None and now >= self._shared_down_until:
                        try:
                            self._shared.add_ceiling(
                                budget, available - remaining, expires_in, window, now
                            )
                        except StorageUnavailable as error:
                            self._shared_down_until = now + REDIS_RETRY_SECONDS
                            logger.warning(
                                "%s; limiting locally until it is back", error
                            )
            # retry-after comes with 429s (and overloads): everyone waits it out.
            retry_after = _retry_after_seconds(headers)
            if retry_after is not None:
                self.pause(retry_after)

    def pause(self, seconds: float) -> None:
        """Hold every caller for `seconds` (the server's retry-after on a 429)."""
        with self._lock:
            until = self._clock() + max(0.0, seconds)
            if until > self._paused_until:
                self._paused_until = until
                logger.info(
                    "rate limited by the API: every request waits %.1f s", seconds
                )
            self._wake_all()

    def observe_response(self, response: Any) -> None:
        """An httpx response hook: every response, the SDK's retries included."""
        headers = response.headers
        self.update_from_headers(headers)
        if (
            getattr(response, "status_code", None) == 429
            and _retry_after_seconds(headers) is None
        ):
            self.pause(1.0)

    # ---- estimates -----------------------------------------------------------

    def estimate_input_tokens(
        self,
        *,
        system: Any = None,
        messages: Sequence[Any] = (),
        tools: Sequence[Any] | None = None,
    ) -> int:
        """Input tokens of a request: the prefix the server already measured, exactly,
        plus a calibrated local count of what is new."""
        message_keys = [fingerprint(message) for message in messages]
        raw_messages = [
            self._counter.count(message, key)
            for message, key in zip(messages, message_keys, strict=True)
        ]
        raw_frame = system_tokens(system) + tools_tokens(tools)
        raw_total = raw_frame + sum(raw_messages)
        frame_key = fingerprint({"system": system, "tools": tools})
        conversation = message_keys[0] if message_keys else ""
        with self._lock:
            ratio_total = self._calibration.apply(raw_total)
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
            estimate = (
                (prefix_real + self._calibration.apply(raw_new))
                if prefix_real is not None
                else ratio_total
            )
            if system is not None or tools is not None:
                self._estimates[estimate] = _EstimateDetail(
                    conversation,
                    message_keys,
                    frame_key,
                    raw_total,
                    raw_new,
                    prefix_real,
                )
                while len(self._estimates) > MAX_PENDING_ESTIMATES:
                    self._estimates.popitem(last=False)
            return estimate

    def estimate_message_tokens(self, message: Any) -> int:
        """One message's calibrated estimate (the context budget counts message by message)."""
        raw = self._counter.count(message)
        with self._lock:
            return self._calibration.apply(raw)

    def estimate_frame_tokens(
        self, *, system: Any = None, tools: Sequence[Any] | None = None
    ) -> int:
        """The system prompt and tool definitions: the part of a request that never changes."""
        raw = system_tokens(system) + tools_tokens(tools)
        with self._lock:
            return self._calibration.apply(raw)

    def _learn(self, detail: _EstimateDetail, real_total: int) -> None:
        if detail.prefix_real is not None:
            self._calibration.learn(detail.raw_new, real_total - detail.prefix_real)
        else:
            self._calibration.learn(detail.raw_total, real_total)
        self._prefixes[detail.conversation] = _PrefixRecord(
            detail.frame_key, detail.message_keys, real_total
        )
        self._prefixes.move_to_end(detail.conversation)
        while len(self._prefixes) > MAX_CONVERSATIONS_TRACKED:
            self._prefixes.popitem(last=False)

    @property
    def calibration_ratio(self) -> float:
        return self._calibration.ratio

    async def count_tokens_with_server(self, client: Any, **request: Any) -> int:
        """The server's own count (`count_tokens` endpoint), for when exactness matters."""
        result = await client.beta.messages.count_tokens(**request)
        return int(result.input_tokens)

    # ---- tool results and max_tokens ------------------------------------------

    @property
    def tool_result_budget(self) -> int:
        """Tokens one tool result may bring in: a quarter of a window's input budget, at most 20k."""
        if self._config.tool_result_tokens:
            return self._config.tool_result_tokens
        input_limit = self.limits.input_tokens_per_minute
        return (
            20_000 if input_limit is None else max(500, min(20_000, input_limit // 4))
        )

    def budget_tool_result(self, result: ToolResultLike) -> Any:
        """The result itself if it fits the budget; else head + tail and where the rest is."""
        budget = self.tool_result_budget
        changes: dict[str, str] = {}
        for name in ("output", "error"):
            text = getattr(result, name)
            if not text:
                continue
            budgeted = budget_text(
                text, budget, self._config.tool_output_dir, f"tool-{name}"
            )
            if budgeted.saved_to is not None:
                changes[name] = budgeted.text
                logger.info(
                    "tool %s of %d tokens shortened; whole text in %s",
                    name,
                    budgeted.original_tokens,
                    budgeted.saved_to,
                )
        return result.replace(**changes) if changes else result

    def clamp_max_tokens(self, max_tokens: int) -> int:
        """max_tokens the output budget can ever admit (the server pre-charges all of it)."""
        limit = self.limits.output_tokens_per_minute
        return max_tokens if limit is None else max(1, min(max_tokens, limit))

    def max_tokens_for_next_request(self, max_tokens: int, minimum: int = 4096) -> int:
        """max_tokens lowered to the output budget free right now (never below
        `minimum`): a request pre-charged with the whole budget would wait for
        the window to empty completely before every call."""
        ceiling = self.clamp_max_tokens(max_tokens)
        limit = self.limits.output_tokens_per_minute
        if limit is None:
            return ceiling
        with self._lock:
            now = self._clock()
            free = (
                limit
                - self._local.usage(self._configured.window_seconds, now)[
                    "output_tokens"
                ]
            )
        return max(min(ceiling, minimum), min(ceiling, free))

    # ---- the meter -------------------------------------------------------------

    def snapshot(self) -> LimiterSnapshot:
        with self._lock:
            now = self._clock()
            window = self._configured.window_seconds
            usage = self._local.usage(window, now)
            shared_ok = self._shared is not None and now >= self._shared_down_until
            if shared_ok and self._shared is not None:
                try:
                    usage = self._shared.usage(window, now)
                except StorageUnavailable:
                    shared_ok = False
            limits = self.limits.by_budget()
            budgets = {
                name: BudgetSnapshot(
                    used=usage[name],
                    limit=limits[name],
                    limit_source=self._limit_source(name),
                    server_remaining=self._server[name].remaining,
                )
                for name in BUDGETS
            }
            head = self._queue[0] if self._queue else None
            return LimiterSnapshot(
                budgets=budgets,
                window_seconds=window,
                waiters=len(self._queue),
                next_free_in=None
                if head is None or head.ready_at is None
                else max(0.0, head.ready_at - now),
                waiting_for=head.waiting_for if head else None,
                paused_for=max(0.0, self._paused_until - now),
                shared=self._shared is not None,
                shared_available=shared_ok,
            )

    def _limit_source(self, budget: str) -> str:
        if self._server[budget].learned_limit is not None:
            return "server"
        return "configured" if self._config.explicit[budget] else "default"

    def reset(self) -> None:
        """Forget every charge and wait (tests, and the UI's reset)."""
        with self._lock:
            self._local = MemoryStorage(self._configured.window_seconds)
            self._held.clear()
            self._paused_until = 0.0
            self._wake_all()


def _usage_value(usage: Any, name: str) -> int:
    value = usage.get(name) if isinstance(usage, Mapping) else getattr(usage, name, 0)
    return int(value or 0)


def _header(headers: Any, name: str) -> str | None:
    value = headers.get(name) if hasattr(headers, "get") else None
    return None if value is None else str(value)


def _int_header(headers: Any, name: str) -> int | None:
    value = _header(headers, name)
    try:
        return None if value is None else int(value)
    except ValueError:
        return None


def _time_header(headers: Any, name: str) -> float | None:
    value = _header(headers, name)
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _retry_after_seconds(headers: Any) -> float | None:
    milliseconds = _header(headers, "retry-after-ms")
    seconds = _header(headers, "retry-after")
    try:
        if milliseconds is not None:
            return max(0.0, float(milliseconds) / 1000)
        if seconds is not None:
            return max(0.0, float(seconds))
    except ValueError:
        return None
    return None


token_manager = TokenManager.from_env()
