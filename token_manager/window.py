"""Sliding-window arithmetic for one budget (requests, input or output tokens).

Pure: no clock, no locks, no I/O. Every function takes `now`, so tests are
tables of numbers and never sleep. A charge in flight (reserved, response not
yet arrived) does not expire: its window starts when it is settled, because the
server's window starts when it receives the request, which may be later.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

EXPIRY_MARGIN = 1e-6
# An in-flight charge nobody settles (a crashed caller) still goes eventually.
DEFAULT_LEASE_SECONDS = 600.0


@dataclass(slots=True, eq=False)
class Entry:
    """An amount that stops counting at `at + window` (in flight: `at` is its lease end)."""

    at: float
    amount: int
    in_flight: bool = False
    expired: bool = False


def _insert_ordered(entries: deque[Entry], entry: Entry) -> deque[Entry]:
    if entries and entry.at < entries[-1].at:
        return deque(sorted([*entries, entry], key=lambda item: item.at))
    entries.append(entry)
    return entries


@dataclass
class SlidingWindow:
    """Everything charged within the last `window` seconds, plus what is in flight.

    Memory stays bounded: expired entries are dropped on every call, and a
    window can hold at most as many entries as requests fit in it.
    """

    window: float
    lease: float = DEFAULT_LEASE_SECONDS
    entries: deque[Entry] = field(default_factory=deque)  # settled, by expiry
    in_flight: deque[Entry] = field(default_factory=deque)  # by lease end
    ceiling: Entry | None = None
    _total: int = 0

    def expire(self, now: float) -> None:
        for queue in (self.entries, self.in_flight):
            while queue and now - queue[0].at >= self.window:
                gone = queue.popleft()
                gone.expired = True
                self._total -= gone.amount
        if self.ceiling is not None and self.ceiling.expired:
            self.ceiling = None

    def used(self, now: float) -> int:
        self.expire(now)
        return self._total

    def charge(self, now: float, amount: int, at: float | None = None) -> Entry:
        """Record a settled `amount` whose window starts at `now` (or at `at`)."""
        self.expire(now)
        entry = Entry(at=now if at is None else at, amount=amount)
        self.entries = _insert_ordered(self.entries, entry)
        self._total += amount
        return entry

    def reserve(self, now: float, amount: int) -> Entry:
        """Record an in-flight `amount`: it counts until settled, then one window more."""
        self.expire(now)
        entry = Entry(at=now + self.lease, amount=amount, in_flight=True)
        self.in_flight = _insert_ordered(self.in_flight, entry)
        self._total += amount
        return entry

    def settle(self, entry: Entry, amount: int, now: float) -> None:
        """The response arrived (or the request failed): the real amount, expiring
        one window from `now`."""
        self.expire(now)
        if entry.expired:
            return
        if entry.in_flight:
            self.in_flight.remove(entry)
            entry.in_flight = False
            self._total += amount - entry.amount
            entry.amount, entry.at = amount, now
            self.entries = _insert_ordered(self.entries, entry)
        else:
            self.adjust(entry, amount)

    def adjust(self, entry: Entry, amount: int) -> None:
        """Replace an entry's amount (an estimate corrected by real usage)."""
        if not entry.expired:
            self._total += amount - entry.amount
        entry.amount = amount

    def set_ceiling(self, amount: int, at: float, now: float) -> None:
        """The server says less remains than we count: one phantom charge that
        replaces the previous one (repeated headers never add up)."""
        self.expire(now)
        if self.ceiling is not None and not self.ceiling.expired:
            self.entries.remove(self.ceiling)
            self._total -= self.ceiling.amount
            self.ceiling.expired = True
        self.ceiling = None
        if amount > 0:
            self.ceiling = self.charge(now, amount, at=at)

    def used_without_ceiling(self, now: float) -> int:
        self.expire(now)
        return self._total - (self.ceiling.amount if self.ceiling else 0)

    def wait_for(self, amount: int, limit: int | None, now: float) -> float:
        """Seconds until `amount` more fits under `limit` (0 if it fits now).

        Exact: the answer is the moment enough old entries expire, not a guess.
        Charges in flight free only at their lease end: a settle wakes callers
        sooner. Callers must first check `amount <= limit`.
        """
        if limit is None:
            return 0.0
        self.expire(now)
        excess = self._total + amount - limit
        if excess <= 0:
            return 0.0
        freed = 0
        for queue in (self.entries, self.in_flight):
            for entry in queue:
                freed += entry.amount
                if freed >= excess:
                    # A microsecond more, so that after exactly this wait the entry
                    # has expired under float rounding too.
                    return max(0.0, entry.at + self.window - now) + EXPIRY_MARGIN
        return self.window + self.lease  # unreachable when amount <= limit

    def next_expiry(self, now: float) -> float | None:
        """Seconds until the oldest charge stops counting."""
        self.expire(now)
        times = [
            queue[0].at + self.window - now
            for queue in (self.entries, self.in_flight)
            if queue
        ]
        return max(0.0, min(times)) if times else None


def seconds_until_fits(
    windows: dict[str, SlidingWindow],
    amounts: dict[str, int],
    limits: dict[str, int | None],
    now: float,
) -> tuple[float, str | None]:
    """The wait before every budget admits its amount, and the budget that binds."""
    longest, binding = 0.0, None
    for name, amount in amounts.items():
        wait = windows[name].wait_for(amount, limits.get(name), now)
        if wait > longest:
            longest, binding = wait, name
    return longest, binding
