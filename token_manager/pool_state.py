"""What the manager keeps per rate-limit pool besides its windows: the queue
of waiters, what the server said, the retry-after pause, 429s seen.

Not locked: the manager holds its lock around every use.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from .budgets import BUDGETS
from .estimator import RequestEstimate
from .snapshot import Reservation
from .stores import Handle


@dataclass
class Waiter:
    """One caller in a pool's queue; `wake` makes it re-check at once."""

    wake: Callable[[], None]
    waiting_for: str | None = None
    ready_at: float | None = None


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
