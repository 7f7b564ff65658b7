"""The one place that decides when a request may go, per rate-limit pool.

One `TokenManager` per process, shared by every session, thread and event
loop. Waiting never blocks an event loop, never busy-loops, and serves each
pool's callers first come, first served: in this process by its own queue, and
across processes sharing Redis by the shared queue of tickets. Interactive
callers may go before batch ones, by at most one window. Never over-admits: a
request that can never fit fails at once, also when a limit drops while it waits.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from .budgets import BUDGETS, RETRY_AFTER, Budget
from .estimator import RequestEstimate, RequestEstimator
from .limits import RateLimits, RequestTooLargeError, check_fits, lowest
from .meter import MeterMixin
from .pool_state import PRIORITIES, Held, PoolState, Waiter
from .pools import DEFAULT_POOL, cache_reads_count, rate_limit_pool
from .server_feedback import ServerFeedbackMixin
from .settings import read_settings
from .settlement import SettlementMixin
from .sizing import SizingMixin
from .snapshot import Reservation
from .stores import Ask, FallbackStore, MemoryStore, Store, Ticket
from .stores.fallback import SHARED_RECHECK_SECONDS
from .stores.redis import RedisStore, account_tag
from .waiting import (
    Attempt,
    RealWaiting,
    WaitCallback,
    Waiting,
    wait_async,
    wait_sync,
)


class TokenManager(SizingMixin, MeterMixin, SettlementMixin, ServerFeedbackMixin):
    """Paces requests under requests/min, input tokens/min and output tokens/min,
    one set of windows per rate-limit pool (model class).

    Admission (acquiring, the queues) is here; its other parts have modules of
    their own: sizing, the meter, settlement and the server's feedback."""

    def __init__(
        self,
        limits: RateLimits,
        *,
        clock: Callable[[], float] = time.monotonic,
        storage: Store | None = None,
        wall_clock: Callable[[], float] = time.time,
        waiting: Waiting | None = None,
        tool_result_tokens: int | None = None,
        tool_output_dir: Path | None = None,
        explicit_limits: Sequence[str] = BUDGETS,
        cache_aware_admission: bool = True,
        priority: str = "interactive",
    ) -> None:
        """`priority`: this process's callers' default, "interactive" (the app)
        or "batch" (scripted runs): a batch caller stands behind interactive
        callers that arrive up to one window after it, never longer."""
        self._configured = limits
        self.priority = _checked_priority(priority)
        self._clock, self._wall_clock = clock, wall_clock
        self._waiting: Waiting = waiting or RealWaiting()
        self._lock = threading.RLock()
        self._store = FallbackStore(MemoryStore(limits.window_seconds), storage, clock)
        if isinstance(storage, RedisStore):
            storage.on_head = self._head_moved  # a shared queue's new head asks now
            storage.on_recovered = self._recovered
        self._pools: dict[str, PoolState] = {}
        self._held: dict[str, Held] = {}
        self._estimator = RequestEstimator()
        self._explicit: dict[str, bool] = {
            name: name in explicit_limits for name in BUDGETS
        }
        self._tool_result_tokens = tool_result_tokens
        self._tool_output_dir = tool_output_dir or Path("/tmp/outputs/tool_results")
        self.cache_aware_admission = cache_aware_admission

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> TokenManager:
        """The process-wide manager as the environment configures it."""
        settings = read_settings(environ)
        storage: Store | None = None
        if settings.redis_url:
            storage = RedisStore(
                settings.redis_url,
                prefix=settings.redis_prefix,
                account=account_tag(settings.api_key),
                cluster=settings.redis_cluster,
                fair_queue=settings.fair_queue,
            )
        return cls(
            settings.limits,
            storage=storage,
            tool_result_tokens=settings.tool_result_tokens,
            tool_output_dir=settings.tool_output_dir,
            explicit_limits=settings.explicit,
            cache_aware_admission=settings.cache_aware_admission,
            priority=settings.priority,
        )

    # ---- pools and limits ------------------------------------------------

    def _pool(self, pool: str) -> PoolState:
        found = self._pools.get(pool)
        if found is None:
            found = self._pools[pool] = PoolState()
        return found

    def limits_for(self, *, model: str | None = None) -> RateLimits:
        """The limits in force for `model`'s pool: configured ones, corrected by
        what the server said about that pool (here, or to any process sharing
        the store: the lowest)."""
        return self._limits_of(rate_limit_pool(model))

    def _limits_of(self, pool: str) -> RateLimits:
        with self._lock:
            server = self._pool(pool).server
            shared = self._store.learned_limits(pool, self._clock())
            effective: dict[str, int | None] = {}
            for name, configured in self._configured.by_budget().items():
                learned = lowest(server[name].learned_limit, shared.get(name))
                if learned is None:
                    effective[name] = configured
                elif self._explicit[name] and configured is not None:
                    effective[name] = min(configured, learned)
                else:
                    effective[name] = learned
            return RateLimits.from_budgets(effective, self._configured.window_seconds)

    def set_limits(self, limits: RateLimits, *, model: str | None = None) -> None:
        """Replace the configured limits (the UI's editable fields). They apply to
        every pool (`model` is accepted for symmetry); every waiter re-checks."""
        with self._lock:
            self._configured = limits
            self._explicit = dict.fromkeys(BUDGETS, True)
            self._store.local.resize(limits.window_seconds)
            for pool in self._pools.values():
                pool.wake_all()

    # ---- acquiring -------------------------------------------------------

    def input_charge(
        self, request: RequestEstimate | int, *, model: str | None = None
    ) -> int:
        """What a request costs the input tokens/min budget: its predicted uncached
        part where cache reads are free and admission is cache-aware, else all of
        it, plus the estimate's margin (a bare int is taken as all of it)."""
        return self._input_charge(request, self._request_pool(request, model))

    def _input_charge(self, request: RequestEstimate | int, pool: str) -> int:
        """The charge held while the request is in flight: the estimate plus its
        margin, the margin never making a request that fits not fit."""
        if not isinstance(request, RequestEstimate):
            return max(0, int(request))
        if self.cache_aware_admission and not cache_reads_count(pool):
            charge = max(0, request.uncached_tokens)
        else:
            charge = max(0, request.total_tokens)
        limit = self._limits_of(pool).input_tokens_per_minute
        with_margin = charge + request.margin(charge)
        return with_margin if limit is None else max(charge, min(with_margin, limit))

    def _amounts(
        self, request: RequestEstimate | int, output_tokens: int, pool: str
    ) -> dict[str, int]:
        return {
            Budget.REQUESTS: 1,
            Budget.INPUT_TOKENS: self._input_charge(request, pool),
            Budget.OUTPUT_TOKENS: max(0, int(output_tokens)),
        }

    def _request_pool(self, request: RequestEstimate | int, model: str | None) -> str:
        if model is not None:
            return rate_limit_pool(model)
        if isinstance(request, RequestEstimate):
            return request.pool
        return DEFAULT_POOL

    async def acquire(
        self,
        request: RequestEstimate | int,
        output_tokens: int,
        *,
        model: str | None = None,
        on_wait: WaitCallback | None = None,
        priority: str | None = None,
    ) -> Reservation:
        """Wait (without blocking the event loop) until the request fits; reserve it.

        `request` is an estimate (its predicted uncached input is charged) or a
        number of input tokens (all charged). `priority`: "interactive" or
        "batch" (default: the manager's)."""
        pool = self._request_pool(request, model)
        amounts = self._amounts(request, output_tokens, pool)
        estimate = request if isinstance(request, RequestEstimate) else None
        check_fits(amounts, self._limits_of(pool).by_budget())
        loop = asyncio.get_running_loop()
        woken = asyncio.Event()

        def wake() -> None:
            loop.call_soon_threadsafe(woken.set)

        waiter = self._join(pool, wake, priority)
        started = self._clock()
        try:
            return await wait_async(
                lambda: self._bounded(
                    self._attempt(pool, waiter, amounts, started, estimate)
                ),
                woken,
                self._waiting,
                on_wait,
                in_thread=self._store.shared is not None,
                undo=self.release,
            )
        finally:
            self._leave_queue(pool, waiter)

    def acquire_sync(
        self,
        request: RequestEstimate | int,
        output_tokens: int,
        *,
        model: str | None = None,
        on_wait: WaitCallback | None = None,
        priority: str | None = None,
    ) -> Reservation:
        """The blocking twin of `acquire`, for threads without an event loop."""
        pool = self._request_pool(request, model)
        amounts = self._amounts(request, output_tokens, pool)
        estimate = request if isinstance(request, RequestEstimate) else None
        check_fits(amounts, self._limits_of(pool).by_budget())
        woken = threading.Event()
        waiter = self._join(pool, woken.set, priority)
        started = self._clock()
        try:
            return wait_sync(
                lambda: self._bounded(
                    self._attempt(pool, waiter, amounts, started, estimate)
                ),
                woken,
                self._waiting,
                on_wait,
            )
        finally:
            self._leave_queue(pool, waiter)

    def _join(
        self, pool: str, wake: Callable[[], None], priority: str | None
    ) -> Waiter:
        """A new waiter in `pool`'s queue; a batch one carries its delay."""
        chosen = _checked_priority(priority or self.priority)
        delay = self._configured.window_seconds if chosen == "batch" else 0.0
        with self._lock:
            waiter = Waiter(wake=wake, local_order=self._clock() + delay)
            waiter.ticket = Ticket(waiter.ticket.ticket_id, delay)
            self._pool(pool).join(waiter)
            self._count_waiters(pool)
        return waiter

    def _count_waiters(self, pool: str) -> None:
        """Without a shared queue, a status command counts waiters by what each
        process says (no I/O here: the shared store's writer sends it)."""
        if self._store.shared is not None and not self._store.fair():
            self._store.record(pool, waiters=len(self._pool(pool).queue))

    def _wake_next(self, pool: PoolState) -> None:
        """Someone left or budget came back: the next waiter re-checks. With a
        shared queue the local order may differ from the shared one, so every
        local waiter looks (only the first in the shared queue asks Redis)."""
        if self._store.fair():
            pool.wake_all()
        else:
            pool.wake_head()

    def _recovered(self) -> None:
        """Redis answers again and has every charge made without it: ask it now."""
        with self._lock:
            self._store.mark_up()
            for pool in self._pools.values():
                pool.wake_all()

    def _head_moved(self, pool_name: str) -> None:
        """One of our tickets became the head of the shared queue (any thread)."""
        with self._lock:
            pool = self._pools.get(pool_name)
            if pool is not None:
                pool.wake_all()

    def _attempt(
        self,
        pool_name: str,
        waiter: Waiter,
        amounts: dict[str, int],
        started: float,
        estimate: RequestEstimate | None,
    ) -> Attempt[Reservation]:
        """One decision. The shared store is asked without holding the lock, so
        nobody (an event loop least of all) waits on the lock for Redis."""
        with self._lock:
            if waiter.closed:
                return Attempt(sleep=None)  # its caller is gone: ask nobody
            early = self._precheck(pool_name, waiter, amounts)
            if early is not None:
                return early
            limits = self._limits_of(pool_name).by_budget()
            window, now = self._configured.window_seconds, self._clock()
            ticket = waiter.ticket if self._store.fair() else None
            waiter.ticketed = waiter.ticketed or ticket is not None
        ask = Ask(pool_name, amounts, limits, window, now, ticket)
        shared = self._store.try_reserve_shared(ask)
        with self._lock:
            pool = self._pool(pool_name)
            if shared is None and pool.head is not waiter:
                # The shared store is gone: this process's own queue decides.
                pool.wake_head()
                return Attempt(sleep=None)
            decision = self._store.complete(ask, shared)
            if decision.behind:
                waiter.order = decision.order
                if waiter.behind_local(pool.queue):
                    return Attempt(sleep=None)
                return Attempt(sleep=decision.wait)
            if decision.too_large and decision.budget is not None:
                budget = decision.budget
                now_known = self._limits_of(pool_name).by_budget()  # a learned one
                raise RequestTooLargeError(
                    budget, amounts[budget], now_known.get(budget) or 0
                )
            if decision.handle is None:
                waiter.waiting_for = decision.budget
                waiter.ready_at = now + decision.wait
                return Attempt(
                    sleep=decision.wait, reason=decision.budget, shown=decision.wait
                )
            waiter.granted = True
            pool.leave(waiter)  # and the next one re-checks
            if self._store.fair():
                pool.wake_all()
            reservation = Reservation(
                reservation_id=decision.handle.reservation_id,
                input_tokens=amounts[Budget.INPUT_TOKENS],
                output_tokens=amounts[Budget.OUTPUT_TOKENS],
                waited_seconds=now - started,
                waited_for=waiter.waiting_for,
                pool=pool_name,
            )
            self._held[reservation.reservation_id] = Held(
                reservation, decision.handle, estimate
            )
            return Attempt(granted=reservation)

    def _bounded(self, attempt: Attempt[Reservation]) -> Attempt[Reservation]:
        """With a shared store, nobody sleeps until woken alone: a wake can be
        lost with Redis (a restart drops the queue it was ordered by), so every
        sleep ends in a re-check at most a second (a twentieth of a window) on."""
        if (
            attempt.granted is not None
            or attempt.sleep is not None
            or self._store.shared is None
        ):
            return attempt
        recheck = min(SHARED_RECHECK_SECONDS, self._configured.window_seconds / 20)
        return Attempt(sleep=recheck, reason=attempt.reason, shown=attempt.shown)

    def _precheck(
        self, pool_name: str, waiter: Waiter, amounts: dict[str, int]
    ) -> Attempt[Reservation] | None:
        """Size, place in the queue and retry-after: the reasons not to ask the store."""
        pool = self._pool(pool_name)
        # Limits may have dropped while we waited: never wait for the impossible.
        check_fits(amounts, self._limits_of(pool_name).by_budget())
        now = self._clock()
        if self._store.fair():
            # The shared queue orders everyone; of this process's waiters, the
            # first in it asks for all (the others sleep until it goes).
            if waiter.behind_local(pool.queue):
                return Attempt(sleep=None)
        elif not pool.queue or pool.queue[0] is not waiter:
            # Behind someone: sleep until woken (the head wakes us when it goes).
            head = pool.queue[0] if pool.queue else None
            shown = (
                None
                if head is None or head.ready_at is None
                else max(0.0, head.ready_at - now)
            )
            return Attempt(
                sleep=None, reason=head.waiting_for if head else None, shown=shown
            )
        paused = pool.paused_until - now
        if paused > 0:
            waiter.waiting_for, waiter.ready_at = RETRY_AFTER, pool.paused_until
            return Attempt(sleep=paused, reason=RETRY_AFTER, shown=paused)
        return None

    def _leave_queue(self, pool_name: str, waiter: Waiter) -> None:
        """The waiter's one exit, whatever the path (granted by Redis or locally,
        cancelled, failed): out of the local queue, no attempt after this, and
        its ticket given up (no I/O: the shared store's writer sends it)."""
        with self._lock:
            waiter.closed = True
            pool = self._pool(pool_name)
            pool.leave(waiter)
            if self._store.fair():
                pool.wake_all()
            self._count_waiters(pool_name)
            ticketed = waiter.ticketed
        if ticketed:
            self._store.forget_ticket(pool_name, waiter.ticket)

    def reset(self) -> None:
        """Forget every charge and wait (tests, and the UI's reset)."""
        with self._lock:
            self._store.local = MemoryStore(self._configured.window_seconds)
            self._held.clear()
            for pool in self._pools.values():
                pool.paused_until = 0.0
                pool.wake_all()


def _checked_priority(priority: str) -> str:
    if priority not in PRIORITIES:
        raise ValueError(
            f"priority must be one of {', '.join(PRIORITIES)}, not {priority!r}"
        )
    return priority
