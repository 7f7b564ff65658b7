"""Reads the API's rate-limit response headers and `retry-after`: the one parser.

Pure: headers in, numbers out; never raises on a malformed value (it is ignored).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .budgets import Budget


@dataclass(frozen=True)
class BudgetHeaders:
    """What the server said about one budget (None where it said nothing usable)."""

    limit: int | None
    remaining: int | None
    reset_at: float | None  # wall-clock seconds (epoch)


def _header(headers: Any, name: str) -> str | None:
    value = headers.get(name) if hasattr(headers, "get") else None
    return None if value is None else str(value)


def _int_header(headers: Any, name: str) -> int | None:
    value = _header(headers, name)
    try:
        return None if value is None else int(value)
    except ValueError:
        return None


def _time_header(headers: Any, name: str) -> float | None:
    value = _header(headers, name)
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def budget_headers(headers: Any, budget: Budget) -> BudgetHeaders:
    """`anthropic-ratelimit-<budget>-{limit,remaining,reset}` of one response."""
    stem = f"anthropic-ratelimit-{budget.header}"
    return BudgetHeaders(
        limit=_int_header(headers, f"{stem}-limit"),
        remaining=_int_header(headers, f"{stem}-remaining"),
        reset_at=_time_header(headers, f"{stem}-reset"),
    )


def retry_after_seconds(headers: Any) -> float | None:
    """`retry-after-ms`, else `retry-after` (seconds); None if absent or malformed.

    Only a finite, non-negative number counts; an HTTP-date is not used by the API.
    """
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = _header(headers, name)
        if value is None:
            continue
        try:
            seconds = float(value) * scale
        except ValueError:
            continue
        if math.isfinite(seconds) and seconds >= 0:
            return seconds
    return None
