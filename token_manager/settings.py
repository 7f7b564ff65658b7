"""The one place that reads the environment for the limiter.

Values only; the manager receives them. Never logs the Redis URL or the API key.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .budgets import Budget
from .limits import DEFAULT_INPUT_TPM, DEFAULT_OUTPUT_TPM, DEFAULT_RPM, RateLimits

LIMIT_VARIABLES = {
    Budget.REQUESTS: "TOKEN_MANAGER_RPM",
    Budget.INPUT_TOKENS: "TOKEN_MANAGER_INPUT_TPM",
    Budget.OUTPUT_TOKENS: "TOKEN_MANAGER_OUTPUT_TPM",
}


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


def _number(env: Mapping[str, str], name: str, default: int | None) -> int | None:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if raw.lower() in ("none", "unlimited", "0"):
        return None
    return int(raw.replace(",", "").replace("_", ""))


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    return default if not raw else raw in ("1", "true", "yes", "on")


def read_settings(environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    defaults = {
        Budget.REQUESTS: DEFAULT_RPM,
        Budget.INPUT_TOKENS: DEFAULT_INPUT_TPM,
        Budget.OUTPUT_TOKENS: DEFAULT_OUTPUT_TPM,
    }
    limits = RateLimits.from_budgets(
        {
            budget: _number(env, name, defaults[budget])
            for budget, name in LIMIT_VARIABLES.items()
        },
        float(env.get("TOKEN_MANAGER_WINDOW_SECONDS") or 60.0),
    )
    directory = env.get("TOKEN_MANAGER_TOOL_OUTPUT_DIR")
    return Settings(
        limits=limits,
        explicit=tuple(b for b, name in LIMIT_VARIABLES.items() if env.get(name)),
        redis_url=env.get("TOKEN_MANAGER_REDIS_URL") or None,
        redis_prefix=env.get("TOKEN_MANAGER_REDIS_PREFIX", "token-manager"),
        redis_cluster=_flag(env, "TOKEN_MANAGER_REDIS_CLUSTER", False),
        api_key=env.get("ANTHROPIC_API_KEY") or None,
        tool_result_tokens=_number(env, "TOKEN_MANAGER_TOOL_RESULT_TOKENS", None),
        tool_output_dir=Path(directory) if directory else None,
        cache_aware_admission=_flag(env, "TOKEN_MANAGER_CACHE_AWARE", True),
        fair_queue=_flag(env, "TOKEN_MANAGER_FAIR_QUEUE", True),
        priority=(env.get("TOKEN_MANAGER_PRIORITY") or "interactive").strip().lower(),
    )
