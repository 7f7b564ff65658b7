"""Closes what the app's own process exposes to the tools it starts.

A tool running as the same user could read `/proc/<our pid>/environ` (the API
key, the Redis password); a non-dumpable process refuses that. It never raises:
where the system does not allow it, redaction remains the guard.
"""

from __future__ import annotations

import ctypes
import logging
import sys

from .redaction import register_environment_secrets

logger = logging.getLogger(__name__)

PR_SET_DUMPABLE = 4
PR_GET_DUMPABLE = 3


def make_non_dumpable() -> bool:
    """`prctl(PR_SET_DUMPABLE, 0)` on Linux: no core dumps, no /proc reads of our
    memory or environment by other processes of the same (non-root) user.
    Children started with exec become dumpable again, with their own environment."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
            logger.warning("could not make the process non-dumpable")
            return False
    except (OSError, AttributeError):
        return False
    return True


def is_dumpable() -> bool | None:
    """Whether the process is dumpable (None where it cannot be told)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return bool(ctypes.CDLL(None).prctl(PR_GET_DUMPABLE, 0, 0, 0, 0))
    except (OSError, AttributeError):
        return None


def guard_process() -> None:
    """At the start of the app and the CLI: register the environment's secrets
    for redaction and make the process non-dumpable."""
    register_environment_secrets()
    make_non_dumpable()
