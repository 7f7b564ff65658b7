"""The Lua scripts that make the shared store atomic (one script = one
decision), by name: the store runs `getattr(redis_scripts, name)`."""

from __future__ import annotations

from .redis_lua_leases import DEPART, REFRESH, SYNC
from .redis_lua_queue import LEAVE, QUEUE_LENGTH, RESERVE
from .redis_lua_window import CEILING, LEARN, USAGE

__all__ = [
    "CEILING",
    "DEPART",
    "LEARN",
    "LEAVE",
    "QUEUE_LENGTH",
    "REFRESH",
    "RESERVE",
    "SYNC",
    "USAGE",
]
