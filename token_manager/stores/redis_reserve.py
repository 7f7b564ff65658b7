"""One RESERVE as the script takes and answers it (see redis_lua_queue).

Values only: no I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..budgets import BUDGETS
from .base import Ask
from .redis_leases import short_lease
from .redis_link import text

GRANTED, WAIT, BEHIND, TOO_LARGE, LOST = 1, 0, 2, -1, 3


def reserve_args(
    ask: Ask,
    reservation_id: str,
    flight_lease: float,
    member: str,
    channel: str,
    lease_args: list[Any],
) -> list[Any]:
    """The script's ARGV: window, id, lease, (amount, limit) per budget, then
    the ticket, its delay and lease, the channel, and the lease arguments."""
    args: list[Any] = [ask.window, reservation_id, flight_lease]
    for name in BUDGETS:
        limit = ask.limits.get(name)
        args += [ask.amounts.get(name, 0), -1 if limit is None else limit]
    delay = ask.ticket.delay if ask.ticket else 0.0
    args += [member, delay, short_lease(ask.window), channel, *lease_args]
    return args


@dataclass(frozen=True)
class Answer:
    code: int
    value: str  # the wait, the refused limit, or Redis's time
    budget: str | None  # the binding budget
    order: str  # this ticket's place in the queue (behind)
    live: int
    learned: Any  # the learned limits (see redis_learned)


def read_answer(reply: Any) -> Answer:
    code, value, key, order, live, learned = reply
    return Answer(
        int(code),
        text(value),
        text(key).rsplit(":", 1)[-1] or None,
        text(order),
        int(live),
        learned,
    )
