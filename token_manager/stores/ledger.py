"""What this process holds in the shared store: its tickets and its charges.

The one owner of a waiter's ticket and a reservation's charge: they are made
and given up here on every exit path (granted by Redis or locally, cancelled,
failed, settled), and the heartbeat renews only what is here. No I/O, its own
lock: callers on an event loop or under the manager's lock only record; the
store's writer thread tells Redis (each charge by name, so a write repeated
after a lost reply or a restart counts once).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, replace

# Tickets and reservations given up are remembered this long (by count), so a
# late attempt cannot bring one back.
REMEMBERED_GONE = 10_000


@dataclass(frozen=True)
class Charge:
    """A reservation as Redis should hold it: in flight (`settled_at` None,
    member `<id>|<reserved>`), or settled at `settled_at` (this process's
    clock) for `amounts`."""

    reservation_id: str
    pool: str
    reserved: dict[str, int]
    amounts: dict[str, int]
    settled_at: float | None = None
    version: int = 0


class Ledger:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tickets: dict[str, str] = {}  # member -> pool, waiting
        self._leaving: dict[str, str] = {}  # member -> pool, LEAVE not yet sent
        self._gone: OrderedDict[str, None] = OrderedDict()
        self._charges: dict[str, Charge] = {}
        self._dirty: set[str] = set()

    # ---- tickets ---------------------------------------------------------

    def hold_ticket(self, pool: str, member: str) -> bool:
        """Keep `member` alive; False if it was already given up (a late attempt)."""
        with self._lock:
            if member in self._gone:
                return False
            self._tickets[member] = pool
            return True

    def ticket_granted(self, member: str) -> None:
        """The grant took the ticket out of the queue: nothing to send."""
        with self._lock:
            self._tickets.pop(member, None)
            self._bury(member)

    def drop_ticket(self, pool: str, member: str) -> None:
        """The waiter is gone without a Redis grant: stop renewing, send LEAVE."""
        with self._lock:
            self._tickets.pop(member, None)
            if member not in self._gone:
                self._leaving[member] = pool
            self._bury(member)

    def is_gone(self, member: str) -> bool:
        with self._lock:
            return member in self._gone

    def leave_again(self, pool: str, member: str) -> None:
        """An attempt that raced its cancellation may have put `member` back."""
        with self._lock:
            self._leaving[member] = pool

    def take_leaving(self) -> dict[str, str]:
        with self._lock:
            leaving, self._leaving = self._leaving, {}
            return leaving

    def return_leaving(self, leaving: dict[str, str]) -> None:
        with self._lock:
            self._leaving = {**leaving, **self._leaving}

    def tickets(self) -> dict[str, list[str]]:
        """Per pool, the tickets to renew."""
        with self._lock:
            found: dict[str, list[str]] = {}
            for member, pool in self._tickets.items():
                found.setdefault(pool, []).append(member)
            return found

    def _bury(self, name: str) -> None:
        self._gone[name] = None
        while len(self._gone) > REMEMBERED_GONE:
            self._gone.popitem(last=False)

    # ---- charges ---------------------------------------------------------

    def charge(
        self, reservation_id: str, pool: str, amounts: dict[str, int], *, written: bool
    ) -> None:
        """A grant: by Redis (`written`), or locally while Redis was away (to
        be written when it answers, before any new grant)."""
        with self._lock:
            self._charges[reservation_id] = Charge(
                reservation_id, pool, dict(amounts), dict(amounts)
            )
            if not written:
                self._dirty.add(reservation_id)

    def settle(
        self,
        reservation_id: str,
        pool: str,
        reserved: dict[str, int],
        amounts: dict[str, int],
        now: float,
    ) -> None:
        """The real amounts, their window from `now`; no longer renewed."""
        with self._lock:
            known = self._charges.get(reservation_id)
            base = known or Charge(reservation_id, pool, dict(reserved), {})
            self._charges[reservation_id] = replace(
                base,
                amounts={**base.reserved, **amounts},
                settled_at=now,
                version=base.version + 1,
            )
            self._dirty.add(reservation_id)

    def flights(self) -> dict[str, list[tuple[str, dict[str, int]]]]:
        """Per pool, the reservations in flight to renew."""
        with self._lock:
            found: dict[str, list[tuple[str, dict[str, int]]]] = {}
            for charge in self._charges.values():
                if charge.settled_at is None:
                    found.setdefault(charge.pool, []).append(
                        (charge.reservation_id, charge.reserved)
                    )
            return found

    def owes(self) -> bool:
        with self._lock:
            return bool(self._dirty or self._leaving)

    def unwritten(self) -> list[Charge]:
        with self._lock:
            return [self._charges[name] for name in self._dirty]

    def written(self, charges: list[Charge]) -> None:
        """These reached Redis (a charge changed meanwhile stays to be written)."""
        with self._lock:
            for charge in charges:
                current = self._charges.get(charge.reservation_id)
                if current is not None and current.version == charge.version:
                    self._dirty.discard(charge.reservation_id)

    def rewrite_all(self) -> None:
        """Redis lost what it held (a restart): every charge still counting again."""
        with self._lock:
            self._dirty = set(self._charges)

    def forget_expired(self, now: float, window_of: dict[str, float]) -> None:
        """Settled charges older than their window no longer count anywhere."""
        with self._lock:
            for name, charge in list(self._charges.items()):
                window = window_of.get(charge.pool, 60.0)
                if (
                    charge.settled_at is not None
                    and now - charge.settled_at > window
                    and name not in self._dirty
                ):
                    del self._charges[name]

    def pools(self) -> set[str]:
        with self._lock:
            return {c.pool for c in self._charges.values()} | set(
                self._tickets.values()
            )
