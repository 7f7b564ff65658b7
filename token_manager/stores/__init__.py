"""Where charges live: this process's memory, Redis shared by many processes,
and the fallback between them."""

from .base import (
    Ask,
    Ceiling,
    Decision,
    Handle,
    PoolReport,
    Stats,
    StorageUnavailable,
    Store,
    Ticket,
)
from .fallback import FallbackStore
from .memory import MemoryStore
from .redis import RedisStore, account_tag

__all__ = [
    "Ask",
    "Ceiling",
    "Decision",
    "FallbackStore",
    "Handle",
    "MemoryStore",
    "PoolReport",
    "RedisStore",
    "Stats",
    "StorageUnavailable",
    "Store",
    "Ticket",
    "account_tag",
]
