"""What the manager keeps per rate-limit pool besides its windows: the queue
of waiters, what the server said, the retry-after pause, 429s seen.

Not locked: the manager holds its lock around every use.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .budgets import BUDGETS
from .estimator import RequestEstimate
from .snapshot import Reservation
from .stores import Handle, Ticket

PRIORITIES = ("interactive", "batch")


@dataclass
class Waiter:
    """One caller in a pool's queue; `wake` makes it re-check at once.

    `local_order` places it in this process's queue (arrival, plus a batch
    caller's delay); `order` is its place in the shared queue once known."""

    wake: Callable[[], None]
    ticket: Ticket = field(default_factory=lambda: Ticket(uuid.uuid4().hex))
    local_order: float = 0.0
    waiting_for: str | None = None
    ready_at: float | None = None
    order: float | None = None
    ticketed: bool = False  # may hold a ticket in the shared queue
    granted: bool = False
    closed: bool = False  # left for good: no attempt runs after this

    def behind_local(self, others: Iterable[Waiter]) -> bool:
        """Whether another waiter of this process is ahead in the shared queue
        (it does the asking; this one sleeps until woken)."""
        if self.order is None:
            return False
        return any(
            other is not self and other.order is not None and other.order < self.order
            for other in others
        )


@dataclass
class ServerState:
    learned_limit: int | None = None
    remaining: int | None = None


@dataclass
class PoolState:
    queue: deque[Waiter] = field(default_factory=deque)
    server: dict[str, ServerState] = field(
        default_factory=lambda: {name: ServerState() for name in BUDGETS}
    )
    paused_until: float = 0.0
    rate_limited: int = 0

    @property
    def head(self) -> Waiter | None:
        return self.queue[0] if self.queue else None

    def wake_head(self) -> None:
        if self.queue:
            self.queue[0].wake()

    def join(self, waiter: Waiter) -> None:
        """Queue `waiter` by its local order (first come, first served; a batch
        caller's delay puts it behind interactive callers that come soon after)."""
        index = len(self.queue)
        while index > 0 and self.queue[index - 1].local_order > waiter.local_order:
            index -= 1
        self.queue.insert(index, waiter)

    def wake_all(self) -> None:
        for waiter in self.queue:
            waiter.wake()

    def leave(self, waiter: Waiter) -> None:
        """Take `waiter` out of the queue (granted, failed or cancelled); if it
        was the head, the next one re-checks."""
        was_head = self.head is waiter
        try:
            self.queue.remove(waiter)
        except ValueError:
            return
        if was_head:
            self.wake_head()

    def pause(self, seconds: float, now: float) -> bool:
        """Hold the pool until `now + seconds`; whether that extended the pause."""
        until = now + max(0.0, seconds)
        if until <= self.paused_until:
            return False
        self.paused_until = until
        return True


@dataclass
class Held:
    """A granted reservation until it is settled."""

    reservation: Reservation
    handle: Handle
    estimate: RequestEstimate | None
    admitted_at: float = 0.0  # when the server may first have received it
