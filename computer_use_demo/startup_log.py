"""The line each app and CLI process logs at start-up about its rate-limit budget:
the limits in force, the pool, and whether the budget is shared through Redis.

An operator reading a fleet's container logs sees at once which desktops share
one budget. It never shows a Redis password or user name.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from urllib.parse import parse_qsl, urlsplit

import token_manager as token_manager_package
from token_manager import RateLimits

from .models import DEFAULT_MODEL_BY_PROVIDER
from .redaction import register_secret

logger = logging.getLogger(__name__)

REDIS_URL_VARIABLE = "TOKEN_MANAGER_REDIS_URL"
_SECRET_QUERY_NAMES = ("password", "username", "user")

_logged = False
_lock = threading.Lock()


def redis_location(url: str) -> str:
    """Where the Redis URL points, without credentials: `redis://host:port/db`,
    followed by "(password hidden)" when the URL carried one."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return "a Redis URL that cannot be read"
    secret_query = any(
        name.lower() in _SECRET_QUERY_NAMES
        for name, _ in parse_qsl(parts.query, keep_blank_values=True)
    )
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    location = f"{parts.scheme or 'redis'}://{host}"
    if port is not None:
        location += f":{port}"
    location += parts.path
    if parts.password or secret_query:
        return f"{location} (password hidden)"
    if parts.username:
        return f"{location} (user name hidden)"
    return location


def _amount(value: int | None, unit: str) -> str:
    return f"{value:,} {unit}" if value is not None else f"no {unit} limit"


def describe_budget(
    limits: RateLimits, redis_url: str | None, pool: str | None = None
) -> str:
    """One readable line: the limits, the pool, and where the budget lives."""
    if limits.window_seconds == 60:
        units = ("rpm", "input tpm", "output tpm")
        suffix = ""
    else:
        units = ("requests", "input tokens", "output tokens")
        suffix = f" per {limits.window_seconds:g} s window"
    amounts = " / ".join(
        _amount(value, unit)
        for value, unit in zip(
            (
                limits.requests_per_minute,
                limits.input_tokens_per_minute,
                limits.output_tokens_per_minute,
            ),
            units,
            strict=True,
        )
    )
    line = f"token manager: limits {amounts}{suffix}"
    if pool:
        line += f", pool {pool}"
    if redis_url:
        return f"{line}, shared through Redis at {redis_location(redis_url)}"
    return f"{line}, this process only (set {REDIS_URL_VARIABLE} to share it)"


def _default_pool(environ: Mapping[str, str]) -> str | None:
    """The pool of the provider's default model, where the limiter has pools."""
    pool_of = getattr(token_manager_package, "rate_limit_pool", None)
    if pool_of is None:
        return None
    provider = environ.get("API_PROVIDER") or "anthropic"
    model = DEFAULT_MODEL_BY_PROVIDER.get(provider)
    return str(pool_of(model)) if model else None


def budget_line(environ: Mapping[str, str] | None = None) -> str:
    """The line for this process's token manager, as the environment configures it."""
    env = os.environ if environ is None else environ
    redis_url = env.get(REDIS_URL_VARIABLE) or None
    if redis_url:
        register_secret(urlsplit(redis_url).password)
    return describe_budget(
        token_manager_package.token_manager.limits, redis_url, _default_pool(env)
    )


def log_budget_once() -> None:
    """Log the line the first time a process asks (Streamlit reruns its script)."""
    global _logged
    with _lock:
        if _logged:
            return
        _logged = True
    try:
        logger.info("%s", budget_line())
    except Exception:  # a log line must never stop the app from starting
        logger.warning("token manager: could not describe the budget", exc_info=True)


if __name__ == "__main__":
    # image/start_all.sh prints the line into the container's own log.
    print(budget_line(), flush=True)
