"""Admission: when a request may go, per rate-limit pool.

Waiting never blocks an event loop, never busy-loops, and serves each pool's
callers first come, first served: in this process by its own queue, and across
processes sharing Redis by the shared queue of tickets. Interactive callers may
go before batch ones, by at most one window. Never over-admits: a request that
can never fit fails at once, also when a limit drops while it waits.

A waiter's ticket, reservation and charge are made and given up here: granted
(by Redis or locally), cancelled at any point, errored or timed out, it leaves
through `_leave_queue`; a grant that lands after its caller was cancelled is
handed to `undo` (settlement's release).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from .budgets import RETRY_AFTER, Budget
from .estimator import RequestEstimate
from .limiter_state import LimiterState
from .limits import RequestTooLargeError, check_fits
from .pool_state import PRIORITIES, Held, Waiter
from .snapshot import Reservation
from .stores import Ask, Ticket
from .stores.fallback import SHARED_RECHECK_SECONDS
from .waiting import Attempt, WaitCallback, Waiting, wait_async, wait_sync


class Admission:
    def __init__(
        self,
        state: LimiterState,
        waiting: Waiting,
        undo: Callable[[Reservation], None],
        priority: str = "interactive",
    ) -> None:
        """`priority`: this process's callers' default, "interactive" (the app)
        or "batch" (scripted runs): a batch caller stands behind interactive
        callers that arrive up to one window after it, never longer."""
        self._state = state
        self._waiting = waiting
        self._undo = undo
        self.priority = checked_priority(priority)

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
        loop = asyncio.get_running_loop()
        woken = asyncio.Event()

        def wake() -> None:
            loop.call_soon_threadsafe(woken.set)

        pool, waiter, attempt = self._enter(
            request, output_tokens, model, wake, priority
        )
        try:
            return await wait_async(
                attempt,
                woken,
                self._waiting,
                on_wait,
                in_thread=self._state.store.shared is not None,
                undo=self._undo,
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
        woken = threading.Event()
        pool, waiter, attempt = self._enter(
            request, output_tokens, model, woken.set, priority
        )
        try:
            return wait_sync(attempt, woken, self._waiting, on_wait)
        finally:
            self._leave_queue(pool, waiter)

    def _enter(
        self,
        request: RequestEstimate | int,
        output_tokens: int,
        model: str | None,
        wake: Callable[[], None],
        priority: str | None,
    ) -> tuple[str, Waiter, Callable[[], Attempt[Reservation]]]:
        """A new waiter for `request` (refused at once if it can never fit), and
        its attempt, each bounded for a shared store."""
        state = self._state
        pool = state.request_pool(request, model)
        amounts = state.amounts(request, output_tokens, pool)
        estimate = request if isinstance(request, RequestEstimate) else None
        check_fits(amounts, state.limits_of(pool).by_budget())
        waiter = self._join(pool, wake, priority)
        started = state.clock()
        return (
            pool,
            waiter,
            lambda: self._bounded(
                self._attempt(pool, waiter, amounts, started, estimate)
            ),
        )

    def _join(
        self, pool: str, wake: Callable[[], None], priority: str | None
    ) -> Waiter:
        """A new waiter in `pool`'s queue; a batch one carries its delay."""
        chosen = checked_priority(priority or self.priority)
        delay = self._state.window if chosen == "batch" else 0.0
        with self._state.lock:
            waiter = Waiter(wake=wake, local_order=self._state.clock() + delay)
            waiter.ticket = Ticket(waiter.ticket.ticket_id, delay)
            self._state.pool(pool).join(waiter)
            self._count_waiters(pool)
        return waiter

    def _count_waiters(self, pool: str) -> None:
        """Without a shared queue, a status command counts waiters by what each
        process says (no I/O here: the shared store's writer sends it)."""
        if self._state.store.shared is not None and not self._state.store.fair():
            self._state.store.record(pool, waiters=len(self._state.pool(pool).queue))

    def recovered(self) -> None:
        """Redis answers again and has every charge made without it: ask it now."""
        with self._state.lock:
            self._state.store.mark_up()
            for pool in self._state.pools.values():
                pool.wake_all()

    def head_moved(self, pool_name: str) -> None:
        """One of our tickets became the head of the shared queue (any thread)."""
        with self._state.lock:
            pool = self._state.pools.get(pool_name)
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
        with self._state.lock:
            if waiter.closed:
                return Attempt(sleep=None)  # its caller is gone: ask nobody
            limits = self._state.limits_of(pool_name).by_budget()
            early = self._precheck(pool_name, waiter, amounts, limits)
            if early is not None:
                return early
            window, now = self._state.window, self._state.clock()
            estimate = self._still_cached(estimate, amounts, pool_name, now)
            ticket = waiter.ticket if self._state.store.fair() else None
            waiter.ticketed = waiter.ticketed or ticket is not None
        ask = Ask(pool_name, amounts, limits, window, now, ticket)
        shared = self._state.store.try_reserve_shared(ask)
        with self._state.lock:
            pool = self._state.pool(pool_name)
            if shared is None and pool.head is not waiter:
                # The shared store is gone: this process's own queue decides.
                pool.wake_head()
                return Attempt(sleep=None)
            decision = self._state.store.complete(ask, shared)
            if decision.behind:
                waiter.order = decision.order
                if waiter.behind_local(pool.queue):
                    return Attempt(sleep=None)
                return Attempt(sleep=decision.wait)
            if decision.too_large and decision.budget is not None:
                budget = decision.budget
                now_known = self._state.limits_of(pool_name).by_budget()  # learned
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
            if self._state.store.fair():
                pool.wake_all()
            reservation = Reservation(
                reservation_id=decision.handle.reservation_id,
                input_tokens=amounts[Budget.INPUT_TOKENS],
                output_tokens=amounts[Budget.OUTPUT_TOKENS],
                waited_seconds=now - started,
                waited_for=waiter.waiting_for,
                pool=pool_name,
            )
            self._state.held[reservation.reservation_id] = Held(
                reservation, decision.handle, estimate, admitted_at=now
            )
            return Attempt(granted=reservation)

    def _still_cached(
        self,
        estimate: RequestEstimate | None,
        amounts: dict[str, int],
        pool_name: str,
        now: float,
    ) -> RequestEstimate | None:
        """A request that waited past its prefix's predicted lifetime reaches the
        server uncached: it is charged in full from then on (`amounts` in place)."""
        if estimate is None or now < estimate.cached_until:
            return estimate
        uncached = estimate.without_cache()
        amounts[Budget.INPUT_TOKENS] = self._state.input_charge(uncached, pool_name)
        check_fits(amounts, self._state.limits_of(pool_name).by_budget())
        return uncached

    def _bounded(self, attempt: Attempt[Reservation]) -> Attempt[Reservation]:
        """With a shared store, nobody sleeps until woken alone: a wake can be
        lost with Redis (a restart drops the queue it was ordered by), so every
        sleep ends in a re-check at most a second (a twentieth of a window) on."""
        if (
            attempt.granted is not None
            or attempt.sleep is not None
            or self._state.store.shared is None
        ):
            return attempt
        recheck = min(SHARED_RECHECK_SECONDS, self._state.window / 20)
        return Attempt(sleep=recheck, reason=attempt.reason, shown=attempt.shown)

    def _precheck(
        self,
        pool_name: str,
        waiter: Waiter,
        amounts: dict[str, int],
        limits: dict[str, int | None],
    ) -> Attempt[Reservation] | None:
        """Size, place in the queue and retry-after: the reasons not to ask the store."""
        pool = self._state.pool(pool_name)
        # Limits may have dropped while we waited: never wait for the impossible.
        check_fits(amounts, limits)
        now = self._state.clock()
        if self._state.store.fair():
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
        with self._state.lock:
            waiter.closed = True
            pool = self._state.pool(pool_name)
            pool.leave(waiter)
            if self._state.store.fair():
                pool.wake_all()
            self._count_waiters(pool_name)
            ticketed = waiter.ticketed
        if ticketed:
            self._state.store.forget_ticket(pool_name, waiter.ticket)


def checked_priority(priority: str) -> str:
    if priority not in PRIORITIES:
        raise ValueError(
            f"priority must be one of {', '.join(PRIORITIES)}, not {priority!r}"
        )
    return priority
