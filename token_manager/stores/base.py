"""What every store of charges offers, and the values that cross its boundary.

A store only records and checks; waiting, fairness and estimates live above it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from ..window import Entry


class StorageUnavailable(Exception):
    """The shared store cannot be reached; the caller falls back to local limiting."""


@dataclass
class Handle:
    """What the stores need to find a reservation again."""

    reservation_id: str
    pool: str
    amounts: dict[str, int]
    entries: dict[str, Entry] = field(default_factory=dict)  # the local windows'
    shared: bool = False  # also charged in the shared store


@dataclass(frozen=True)
class Ticket:
    """A waiter's place in a shared pool's queue (stores without one ignore it).

    `delay`: seconds added to the arrival time: a batch caller stands behind
    interactive ones that arrive up to `delay` seconds later, never longer."""

    ticket_id: str
    delay: float = 0.0


@dataclass(frozen=True)
class Decision:
    """A store's answer to "may this go now?"."""

    handle: Handle | None
    wait: float = 0.0
    budget: str | None = None
    too_large: bool = False  # above the whole limit: refused, never granted
    behind: bool = False  # another ticket is ahead in the shared queue
    order: float | None = None  # this ticket's place in the shared queue


@dataclass(frozen=True)
class PoolReport:
    """One pool as a status command shows it."""

    pool: str
    usage: dict[str, int]
    limits: dict[str, int | None]
    waiters: int
    rate_limited: int


@dataclass(frozen=True)
class Ask:
    """One "may this go now?", as every store takes it: charge all `amounts`
    at once (in flight) if every budget admits them under `limits` (and, with a
    shared queue, if `ticket` is at its head)."""

    pool: str
    amounts: dict[str, int]
    limits: dict[str, int | None]
    window: float
    now: float
    ticket: Ticket | None = None


@dataclass(frozen=True)
class Ceiling:
    """The server counts `server_used` of `budget` for `expires_in` seconds."""

    pool: str
    budget: str
    server_used: int
    expires_in: float
    window: float
    now: float


@dataclass(frozen=True)
class Stats:
    """What a status command shows besides usage (None: unchanged)."""

    pool: str
    limits: dict[str, int | None] | None = None
    waiters: int | None = None
    rate_limited: int = 0


class Store(ABC):
    """What every store of charges offers. The callers' parameter lists live
    here once; a store implements the one-value hooks below them."""

    def try_reserve(
        self,
        pool: str,
        amounts: dict[str, int],
        limits: dict[str, int | None],
        window: float,
        now: float,
        *,
        ticket: Ticket | None = None,
    ) -> Decision:
        return self.decide(Ask(pool, amounts, limits, window, now, ticket))

    def set_ceiling(
        self,
        pool: str,
        budget: str,
        server_used: int,
        expires_in: float,
        window: float,
        now: float,
    ) -> int:
        return self.hold_ceiling(
            Ceiling(pool, budget, server_used, expires_in, window, now)
        )

    def record(
        self,
        pool: str,
        *,
        limits: dict[str, int | None] | None = None,
        waiters: int | None = None,
        rate_limited: int = 0,
    ) -> None:
        self.keep_stats(Stats(pool, limits, waiters, rate_limited))

    @abstractmethod
    def decide(self, ask: Ask) -> Decision:
        """See `Ask`."""

    @abstractmethod
    def hold_ceiling(self, ceiling: Ceiling) -> int:
        """Hold the part of the server's count the store does not know of as
        one phantom charge (replacing the previous one); return it."""

    @abstractmethod
    def keep_stats(self, stats: Stats) -> None:
        """Keep what a status command shows besides usage."""

    @abstractmethod
    def leave(self, pool: str, ticket: Ticket) -> None:
        """`ticket` gives up its place (granted tickets leave by themselves)."""

    @abstractmethod
    def settle(self, handle: Handle, amounts: dict[str, int], now: float) -> None:
        """The real amounts; their window starts now."""

    @abstractmethod
    def usage(self, pool: str, window: float, now: float) -> dict[str, int]:
        """Per budget, what the pool's current window holds."""

    @abstractmethod
    def learn_limits(
        self, pool: str, learned: dict[str, int], holds: float, now: float
    ) -> None:
        """Limits the server's headers said, kept for `holds` seconds: the
        lowest of them is what every user of the store admits against."""

    @abstractmethod
    def learned_limits(self, pool: str, now: float) -> dict[str, int]:
        """Per budget, the lowest limit learned that has not lapsed (no I/O)."""

    @abstractmethod
    def pools(self) -> list[str]:
        """Every pool the store has seen."""

    @abstractmethod
    def report(self, pool: str, window: float, now: float) -> PoolReport:
        """Usage, limits, waiters and 429s seen of one pool."""
