"""The one place that reads and checks the environment for the limiter.

Every TOKEN_MANAGER_* variable is parsed once, here; a bad value (0 where a
positive number is needed, negative, nan, inf, garbage, an unknown word) is
one line naming the variable, never a traceback later. Values only; the
manager receives them. Never echoes the Redis URL or the API key.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar, cast
from urllib.parse import urlsplit

from .budgets import Budget
from .limits import DEFAULT_INPUT_TPM, DEFAULT_OUTPUT_TPM, DEFAULT_RPM, RateLimits

LIMIT_VARIABLES = {
    Budget.REQUESTS: "TOKEN_MANAGER_RPM",
    Budget.INPUT_TOKENS: "TOKEN_MANAGER_INPUT_TPM",
    Budget.OUTPUT_TOKENS: "TOKEN_MANAGER_OUTPUT_TPM",
}
REDIS_SCHEMES = ("redis", "rediss", "unix", "redis+cluster")
PRIORITIES = ("interactive", "batch")
_UNLIMITED = ("none", "unlimited")
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")

T = TypeVar("T")


class SettingsError(ValueError):
    """The environment has bad values: one line per variable, in `problems`."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Settings:
    limits: RateLimits
    explicit: tuple[Budget, ...]
    redis_url: str | None
    redis_prefix: str
    redis_cluster: bool
    api_key: str | None
    tool_result_tokens: int | None
    tool_output_dir: Path | None
    cache_aware_admission: bool
    fair_queue: bool
    priority: str


def redis_url_problem(url: str) -> str | None:
    """Why `url` is not a URL the Redis client accepts, or None."""
    try:
        parts = urlsplit(url)
        port = parts.port  # raises for a port that is not a number
    except ValueError as error:
        return f"TOKEN_MANAGER_REDIS_URL is not a valid URL ({str(error).split(' as ')[0]})"
    if parts.scheme not in REDIS_SCHEMES:
        return (
            "TOKEN_MANAGER_REDIS_URL must start with redis://, rediss://, unix:// or "
            "redis+cluster:// (for example redis://:PASSWORD@localhost:6379/0)"
        )
    if parts.scheme != "unix" and not parts.hostname:
        return "TOKEN_MANAGER_REDIS_URL has no host (redis://:PASSWORD@HOST:6379/0)"
    if port is not None and not 0 < port < 65536:
        return "TOKEN_MANAGER_REDIS_URL has a port outside 1-65535"
    database = parts.path.strip("/")
    if parts.scheme != "unix" and database and not database.isdigit():
        return "TOKEN_MANAGER_REDIS_URL's database (after the last /) must be a number"
    return None


def _shown(raw: str) -> str:
    return repr(raw[:20])


def _count(name: str, raw: str, *, unlimited: bool) -> int | None:
    """A whole number above 0 ("40,000" and "40_000" too), or None for 'none'."""
    if unlimited and raw.lower() in _UNLIMITED:
        return None
    digits = raw.replace(",", "").replace("_", "")
    if not digits.isdigit() or int(digits) <= 0:
        extra = " (or 'none' for no limit)" if unlimited else ""
        raise ValueError(
            f"{name} must be a whole number above 0{extra}, not {_shown(raw)}"
        )
    return int(digits)


def _seconds(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise ValueError(
            f"{name} must be a number of seconds above 0, not {_shown(raw)}"
        )
    return value


def _flag(name: str, raw: str) -> bool:
    word = raw.lower()
    if word in _TRUE or word in _FALSE:
        return word in _TRUE
    raise ValueError(f"{name} must be 1 or 0 (true/false, yes/no), not {_shown(raw)}")


def _priority(name: str, raw: str) -> str:
    word = raw.lower()
    if word not in PRIORITIES:
        raise ValueError(
            f"{name} must be one of {', '.join(PRIORITIES)}, not {_shown(raw)}"
        )
    return word


def _prefix(name: str, raw: str) -> str:
    if any(char in raw for char in "{} \t\n"):
        raise ValueError(f"{name} must not hold braces or spaces, not {_shown(raw)}")
    return raw


def _url(name: str, raw: str) -> str:
    problem = redis_url_problem(raw)
    if problem is not None:
        raise ValueError(problem)
    return raw


class _Reader:
    """Reads variables, collecting one line per bad one instead of raising."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    def get(self, name: str, parse: Callable[[str, str], T], default: T) -> T:
        raw = (self.env.get(name) or "").strip()
        if not raw:
            return default
        try:
            return parse(name, raw)
        except ValueError as error:
            self.problems.append(str(error))
            return default


def settings_problems(environ: Mapping[str, str]) -> list[str]:
    """Every bad TOKEN_MANAGER_* value, one line each (empty: all good)."""
    return _read(environ)[1]


def read_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """The limiter's settings; SettingsError names every bad variable."""
    settings, problems = _read(os.environ if environ is None else environ)
    if problems:
        raise SettingsError(problems)
    return settings


def _read(env: Mapping[str, str]) -> tuple[Settings, list[str]]:
    reader = _Reader(env)
    defaults = {
        Budget.REQUESTS: DEFAULT_RPM,
        Budget.INPUT_TOKENS: DEFAULT_INPUT_TPM,
        Budget.OUTPUT_TOKENS: DEFAULT_OUTPUT_TPM,
    }

    def limit(name: str, raw: str) -> int | None:
        return _count(name, raw, unlimited=True)

    def whole(name: str, raw: str) -> int | None:
        return _count(name, raw, unlimited=False)

    def path(name: str, raw: str) -> Path | None:
        return Path(raw)

    limits = RateLimits.from_budgets(
        {
            budget: reader.get(name, limit, cast(int | None, defaults[budget]))
            for budget, name in LIMIT_VARIABLES.items()
        },
        reader.get("TOKEN_MANAGER_WINDOW_SECONDS", _seconds, 60.0),
    )
    settings = Settings(
        limits=limits,
        explicit=tuple(
            budget
            for budget, name in LIMIT_VARIABLES.items()
            if (env.get(name) or "").strip()
        ),
        redis_url=reader.get("TOKEN_MANAGER_REDIS_URL", _url, None),
        redis_prefix=reader.get("TOKEN_MANAGER_REDIS_PREFIX", _prefix, "token-manager"),
        redis_cluster=reader.get("TOKEN_MANAGER_REDIS_CLUSTER", _flag, False),
        api_key=env.get("ANTHROPIC_API_KEY") or None,
        tool_result_tokens=reader.get("TOKEN_MANAGER_TOOL_RESULT_TOKENS", whole, None),
        tool_output_dir=reader.get("TOKEN_MANAGER_TOOL_OUTPUT_DIR", path, None),
        cache_aware_admission=reader.get("TOKEN_MANAGER_CACHE_AWARE", _flag, True),
        fair_queue=reader.get("TOKEN_MANAGER_FAIR_QUEUE", _flag, True),
        priority=reader.get("TOKEN_MANAGER_PRIORITY", _priority, "interactive"),
    )
    return settings, reader.problems
