"""The limiter: paces every request under the organisation's rate limits, one
pool per model class, and budgets tool results.

The face of the package; `token_manager` is the process's one manager, built
from the environment when first used (not at import: the app and the CLI check
the environment first and say in one line what is wrong with it).
"""

import threading
from typing import Any

from .budgets import Budget, wait_label, wait_phrase
from .estimator import RequestEstimate
from .headers import retry_after_seconds
from .limits import RateLimits, RequestTooLargeError
from .manager import TokenManager
from .pools import rate_limit_pool
from .snapshot import BudgetSnapshot, LimiterSnapshot, Reservation
from .stores import PoolReport, account_tag

__all__ = [
    "Budget",
    "BudgetSnapshot",
    "LimiterSnapshot",
    "PoolReport",
    "RateLimits",
    "RequestEstimate",
    "RequestTooLargeError",
    "Reservation",
    "TokenManager",
    "account_tag",
    "rate_limit_pool",
    "retry_after_seconds",
    "token_manager",
    "wait_label",
    "wait_phrase",
]

token_manager: TokenManager  # built on first use, by __getattr__ below
_built: list[TokenManager] = []
_building = threading.Lock()


def __getattr__(name: str) -> Any:
    if name != "token_manager":
        raise AttributeError(f"module 'token_manager' has no attribute {name!r}")
    with _building:
        if not _built:
            _built.append(TokenManager.from_env())
    return _built[0]
