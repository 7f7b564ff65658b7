"""Where charges live: this process's memory, Redis shared by many processes,
and the fallback between them."""

from .base import (
    Decision,
    Handle,
    PoolReport,
    StorageUnavailable,
    Store,
    Ticket,
)
from .fallback import FallbackStore
from .memory import MemoryStore
from .redis import RedisStore, account_tag

__all__ = [
    "Decision",
    "FallbackStore",
    "Handle",
    "MemoryStore",
    "PoolReport",
    "RedisStore",
    "StorageUnavailable",
    "Store",
    "Ticket",
    "account_tag",
]
