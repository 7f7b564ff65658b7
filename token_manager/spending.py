"""Dollar budgets in the admission path: per conversation, and per day for the
API key (shared by every process on the same Redis when one is configured).

Admission holds a request's worst-case cost (`spend.worst_case_cost`) before it
is sent; a request whose worst case could pass a cap is refused with what is
left and what it could cost. Reconcile replaces the hold by the real cost, a
request the server never counted gives it back. So what is charged never
passes a cap: a cap is checked against money spent plus every hold in flight.

The shared daily total lives in Redis (`SharedDaySpend`); when Redis does not
answer, a request that the daily cap must approve is refused (money fails
closed), the conversation cap keeps working.
"""

from __future__ import annotations

import datetime
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from .spend import shown


class SpendCapReached(Exception):
    """A request's worst case would pass a spending cap: it is not sent."""

    def __init__(self, which: str, cap: int, spent: int, next_cost: int) -> None:
        self.which, self.cap, self.spent, self.next_cost = which, cap, spent, next_cost
        left = max(0, cap - spent)
        super().__init__(
            f"The {which} spending cap of {shown(cap)} would be passed: "
            f"{shown(spent)} spent, {shown(left)} left, and the next request "
            f"could cost up to {shown(next_cost)}."
        )


class SpendUnknown(SpendCapReached):
    """The shared daily total cannot be read (Redis does not answer)."""

    def __init__(self, cap: int, next_cost: int) -> None:
        Exception.__init__(
            self,
            f"The daily spending cap of {shown(cap)} cannot be checked: Redis does "
            "not answer, so no request is sent until it does.",
        )
        self.which, self.cap, self.spent, self.next_cost = "daily", cap, 0, next_cost


@dataclass(frozen=True)
class SpendCaps:
    """Caps in nano-dollars; None: no cap."""

    conversation: int | None = None
    day: int | None = None


@dataclass(frozen=True)
class SpendHold:
    hold_id: str
    conversation: str
    day_key: str
    pool: str
    amount: int  # the worst case held
    shared: bool  # held in Redis's daily total too


@dataclass(frozen=True)
class SpendReport:
    """What the UI, the CLI and status show (nano-dollars)."""

    conversation_spent: int
    day_spent: int
    caps: SpendCaps
    day_by_pool: dict[str, int] = field(default_factory=dict)


class SharedDay(Protocol):
    """Where the daily total lives across processes (`RedisDaySpend`)."""

    def reserve(
        self, key: str, cap: int, amount: int, hold_id: str
    ) -> tuple[bool, int]: ...
    def settle(self, key: str, hold_id: str, pool: str, real: int) -> None: ...
    def cancel(self, key: str, hold_id: str) -> None: ...
    def record(self, key: str, pool: str, real: int) -> None: ...
    def read(self, key: str) -> tuple[int, dict[str, int]]: ...


CANCEL_RETRY_SECONDS = 1.0
CANCEL_GIVE_UP_SECONDS = 600.0


class Spending:
    def __init__(
        self,
        caps: SpendCaps,
        wall_clock: Callable[[], float],
        shared: SharedDay | None = None,
    ) -> None:
        self.caps = caps
        self._wall_clock = wall_clock
        self._shared = shared
        self._lock = threading.Lock()
        self._conversations: dict[str, int] = {}  # spent + held
        self._days: dict[str, int] = {}  # this process's spent + held, per day key
        self._day_pools: dict[str, dict[str, int]] = {}  # spent per pool, per day key
        self._seen_day: dict[str, int] = {}  # the fleet's total Redis last told

    def day_key(self, account: str) -> str:
        day = datetime.datetime.fromtimestamp(self._wall_clock(), datetime.UTC).date()
        return f"{account}:{day.isoformat()}"

    def reserve(
        self, *, conversation: str, account: str, pool: str, worst: int
    ) -> SpendHold:
        """Hold `worst` against every cap, or raise `SpendCapReached` (nothing held).

        May ask Redis: call it off the event loop."""
        key = self.day_key(account)
        caps = self.caps
        with self._lock:
            spent = self._conversations.get(conversation, 0)
            if caps.conversation is not None and spent + worst > caps.conversation:
                raise SpendCapReached("conversation", caps.conversation, spent, worst)
            local_day = self._days.get(key, 0)
            alone = self._shared is None and caps.day is not None
            if alone and caps.day is not None and local_day + worst > caps.day:
                raise SpendCapReached("daily", caps.day, local_day, worst)
            self._conversations[conversation] = spent + worst
            self._days[key] = local_day + worst
        hold_id = uuid.uuid4().hex
        shared = self._shared is not None and caps.day is not None
        if shared:
            assert self._shared is not None and caps.day is not None
            try:
                granted, day_total = self._shared.reserve(key, caps.day, worst, hold_id)
            except Exception as error:
                self._undo(conversation, key, worst)
                self._cancel_later(key, hold_id)  # it may land when Redis answers
                raise SpendUnknown(caps.day, worst) from error
            self._seen_day[key] = day_total
            if not granted:
                self._undo(conversation, key, worst)
                raise SpendCapReached("daily", caps.day, day_total, worst)
        return SpendHold(hold_id, conversation, key, pool, worst, shared)

    def settle(self, hold: SpendHold, real: int) -> None:
        """The response's real cost replaces the hold. May ask Redis."""
        delta = max(0, real) - hold.amount
        with self._lock:
            self._conversations[hold.conversation] = (
                self._conversations.get(hold.conversation, 0) + delta
            )
            self._days[hold.day_key] = self._days.get(hold.day_key, 0) + delta
            pools = self._day_pools.setdefault(hold.day_key, {})
            pools[hold.pool] = pools.get(hold.pool, 0) + max(0, real)
        if self._shared is None:
            return
        # The fleet's total moves only for a held cap; what each pool spent is
        # recorded either way, for the status command.
        if hold.shared:
            self._shared.settle(hold.day_key, hold.hold_id, hold.pool, max(0, real))
        else:
            self._shared.record(hold.day_key, hold.pool, max(0, real))

    def release(self, hold: SpendHold) -> None:
        """The server never counted the request: its hold is given back."""
        self._undo(hold.conversation, hold.day_key, hold.amount)
        if hold.shared and self._shared is not None:
            self._shared.settle(hold.day_key, hold.hold_id, hold.pool, -1)

    def report(
        self, *, conversation: str, account: str, fresh: bool = False
    ) -> SpendReport:
        """Spent (and held) so far. Without `fresh` it never waits: the daily
        figure is the fleet's as Redis last told it, or this process's own; with
        `fresh` (the status command) it asks Redis."""
        key = self.day_key(account)
        with self._lock:
            spent = self._conversations.get(conversation, 0)
            day = max(self._days.get(key, 0), self._seen_day.get(key, 0))
            pools = dict(self._day_pools.get(key, {}))
        if fresh and self._shared is not None:
            try:
                total, shared_pools = self._shared.read(key)
            except Exception:
                pass  # this process's own figures
            else:
                day = max(total, sum(shared_pools.values()))
                pools = shared_pools
        return SpendReport(spent, day, self.caps, pools)

    def _cancel_later(self, key: str, hold_id: str) -> None:
        """Until Redis answers (for at most ten minutes), ask it to take back a
        hold whose reserve timed out: taken back if it landed, a no-op if not."""
        shared, clock = self._shared, self._wall_clock
        if shared is None:
            return

        def cancel() -> None:
            deadline = clock() + CANCEL_GIVE_UP_SECONDS
            while True:
                try:
                    shared.cancel(key, hold_id)
                    return
                except Exception:
                    if clock() > deadline:
                        return  # the key expires with the day
                    time.sleep(CANCEL_RETRY_SECONDS)

        threading.Thread(target=cancel, name="spend-cancel", daemon=True).start()

    def _undo(self, conversation: str, key: str, amount: int) -> None:
        with self._lock:
            self._conversations[conversation] = (
                self._conversations.get(conversation, 0) - amount
            )
            self._days[key] = self._days.get(key, 0) - amount
