"""What every store of charges offers, and the values that cross its boundary.

A store only records and checks; waiting, fairness and estimates live above it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

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


class Store(Protocol):
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
        """Charge all amounts at once (in flight) if every budget admits them
        (and, with a shared queue, if `ticket` is at its head)."""

    def leave(self, pool: str, ticket: Ticket) -> None:
        """`ticket` gives up its place (granted tickets leave by themselves)."""

    def settle(self, handle: Handle, amounts: dict[str, int], now: float) -> None:
        """The real amounts; their window starts now."""

    def usage(self, pool: str, window: float, now: float) -> dict[str, int]:
        """Per budget, what the pool's current window holds."""

    def set_ceiling(
        self,
        pool: str,
        budget: str,
        server_used: int,
        expires_in: float,
        window: float,
        now: float,
    ) -> int:
        """The server counts `server_used`: hold the part the store does not know
        of as one phantom charge (replacing the previous one); return it."""

    def learn_limits(
        self, pool: str, learned: dict[str, int], holds: float, now: float
    ) -> None:
        """Limits the server's headers said, kept for `holds` seconds: the
        lowest of them is what every user of the store admits against."""

    def learned_limits(self, pool: str, now: float) -> dict[str, int]:
        """Per budget, the lowest limit learned that has not lapsed (no I/O)."""

    def pools(self) -> list[str]:
        """Every pool the store has seen."""

    def record(
        self,
        pool: str,
        *,
        limits: dict[str, int | None] | None = None,
        waiters: int | None = None,
        rate_limited: int = 0,
    ) -> None:
        """Keep what a status command shows besides usage."""

    def report(self, pool: str, window: float, now: float) -> PoolReport:
        """Usage, limits, waiters and 429s seen of one pool."""
