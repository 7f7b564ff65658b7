"""The one place that reads and checks the environment for the limiter.

Every TOKEN_MANAGER_* variable is parsed once, here; a bad value (0 where a
positive number is needed, negative, nan, inf, garbage, an unknown word) is
one line naming the variable, never a traceback later. Values only; the
manager receives them. Never echoes the Redis URL or the API key.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

from .budgets import Budget
from .env_reader import (
    EnvReader,
    flag,
    limit_or_none,
    one_of,
    positive_seconds,
    shown,
    unlimited_words,
)
from .limits import DEFAULT_INPUT_TPM, DEFAULT_OUTPUT_TPM, DEFAULT_RPM, RateLimits
from .model_table import PriceList, price_list_from_json
from .spend import NANO
from .spending import SpendCaps

LIMIT_VARIABLES = {
    Budget.REQUESTS: "TOKEN_MANAGER_RPM",
    Budget.INPUT_TOKENS: "TOKEN_MANAGER_INPUT_TPM",
    Budget.OUTPUT_TOKENS: "TOKEN_MANAGER_OUTPUT_TPM",
}
REDIS_SCHEMES = ("redis", "rediss", "unix", "redis+cluster")
PRIORITIES = ("interactive", "batch")


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
    cache_aware_admission: bool
    fair_queue: bool
    priority: str
    spend_caps: SpendCaps
    prices: PriceList


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


def _prefix(name: str, raw: str) -> str:
    if any(char in raw for char in "{} \t\n"):
        raise ValueError(f"{name} must not hold braces or spaces, not {shown(raw)}")
    return raw


def dollars(name: str, raw: str) -> int | None:
    """A cap in US dollars ("5", "0.50"), or 'none'; as nano-dollars."""
    if raw.lower() in unlimited_words():
        return None
    try:
        value = float(raw.removeprefix("$").replace(",", ""))
    except ValueError:
        value = -1.0
    if not 0 < value < 1e9:
        raise ValueError(
            f"{name} must be an amount of US dollars above 0 (or 'none'), not {shown(raw)}"
        )
    return round(value * NANO)


def _prices_file(name: str, raw: str) -> PriceList:
    try:
        with open(raw, encoding="utf-8") as handle:
            document = json.load(handle)
        return price_list_from_json(document)
    except OSError as error:
        raise ValueError(f"{name} cannot be read ({error.strerror})") from None
    except ValueError as error:
        raise ValueError(f"{name} is not a valid price list: {error}") from None


def _url(name: str, raw: str) -> str:
    problem = redis_url_problem(raw)
    if problem is not None:
        raise ValueError(problem)
    return raw


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
    reader = EnvReader(env)
    defaults = {
        Budget.REQUESTS: DEFAULT_RPM,
        Budget.INPUT_TOKENS: DEFAULT_INPUT_TPM,
        Budget.OUTPUT_TOKENS: DEFAULT_OUTPUT_TPM,
    }
    limits = RateLimits.from_budgets(
        {
            budget: reader.get(name, limit_or_none, cast(int | None, defaults[budget]))
            for budget, name in LIMIT_VARIABLES.items()
        },
        reader.get("TOKEN_MANAGER_WINDOW_SECONDS", positive_seconds, 60.0),
    )
    settings = Settings(
        limits=limits,
        explicit=tuple(
            budget for budget, name in LIMIT_VARIABLES.items() if reader.raw(name)
        ),
        redis_url=reader.get("TOKEN_MANAGER_REDIS_URL", _url, None),
        redis_prefix=reader.get("TOKEN_MANAGER_REDIS_PREFIX", _prefix, "token-manager"),
        redis_cluster=reader.get("TOKEN_MANAGER_REDIS_CLUSTER", flag, False),
        api_key=env.get("ANTHROPIC_API_KEY") or None,
        cache_aware_admission=reader.get("TOKEN_MANAGER_CACHE_AWARE", flag, True),
        fair_queue=reader.get("TOKEN_MANAGER_FAIR_QUEUE", flag, True),
        priority=reader.get(
            "TOKEN_MANAGER_PRIORITY", one_of(PRIORITIES), "interactive"
        ),
        spend_caps=SpendCaps(
            conversation=reader.get(
                "TOKEN_MANAGER_MAX_COST_PER_CONVERSATION", dollars, None
            ),
            day=reader.get("TOKEN_MANAGER_MAX_COST_PER_DAY", dollars, None),
        ),
        prices=reader.get("TOKEN_MANAGER_PRICES_FILE", _prices_file, PriceList()),
    )
    return settings, reader.problems
