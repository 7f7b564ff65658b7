"""What the UI, logs and a status command see of the limiter: frozen values."""

from __future__ import annotations

from dataclasses import dataclass

from .pools import DEFAULT_POOL


@dataclass(frozen=True)
class Reservation:
    """A request's place in the window, until reconciled with what it really cost."""

    reservation_id: str
    input_tokens: int
    output_tokens: int
    waited_seconds: float
    waited_for: str | None
    pool: str = DEFAULT_POOL


@dataclass(frozen=True)
class BudgetSnapshot:
    used: int
    limit: int | None
    limit_source: str  # "default" | "configured" | "server"
    server_remaining: int | None


@dataclass(frozen=True)
class LimiterSnapshot:
    """What the UI and logs show: each budget of one pool, who waits, and for how long."""

    budgets: dict[str, BudgetSnapshot]
    window_seconds: float
    waiters: int
    next_free_in: float | None
    waiting_for: str | None
    paused_for: float
    shared: bool
    shared_available: bool
    pool: str = DEFAULT_POOL
