"""Checks the environment variables that would otherwise fail deep inside an
import, so the app and the CLI can say in one line what to fix.

Pure: reads only the mapping it is given; never echoes a value (a Redis URL
holds a password).
"""

from __future__ import annotations

from collections.abc import Mapping

from token_manager.settings import redis_url_problem, settings_problems

from .providers import APIProvider

__all__ = ["environment_problems", "redis_url_problem"]


def display_size_problem(environ: Mapping[str, str]) -> str | None:
    """Why WIDTH and HEIGHT do not give the display's size, or None."""
    for name in ("WIDTH", "HEIGHT"):
        raw = (environ.get(name) or "").strip()
        if not raw:
            return f"{name} is not set: set WIDTH and HEIGHT to the display's size in pixels (e.g. 1024 and 768)"
        if not raw.isdigit() or not 0 < int(raw) <= 16384:
            return f"{name} must be a whole number of pixels between 1 and 16384, not {raw[:20]!r}"
    return None


def environment_problems(environ: Mapping[str, str]) -> list[str]:
    """Every problem of the environment that would stop the agent from starting."""
    problems = settings_problems(environ)  # every TOKEN_MANAGER_* variable
    if problem := display_size_problem(environ):
        problems.append(problem)
    problems.extend(app_variable_problems(environ))
    return problems


def app_variable_problems(environ: Mapping[str, str]) -> list[str]:
    """Why API_PROVIDER, DISPLAY_NUM, COMPUTER_USE_READ_TIMEOUT or
    COMPUTER_USE_MAX_RETRY_WAIT cannot be used."""
    problems: list[str] = []
    provider = (environ.get("API_PROVIDER") or "").strip()
    if provider and provider not in PROVIDERS:
        problems.append(
            f"API_PROVIDER must be one of {', '.join(PROVIDERS)}, not {provider[:20]!r}"
        )
    display = (environ.get("DISPLAY_NUM") or "").strip()
    if display and not display.isdigit():
        problems.append(
            f"DISPLAY_NUM must be the X display's number (e.g. 1), not {display[:20]!r}"
        )
    timeout = (environ.get("COMPUTER_USE_READ_TIMEOUT") or "").strip()
    if timeout and not _is_positive_number(timeout):
        problems.append(
            "COMPUTER_USE_READ_TIMEOUT must be a number of seconds above 0, "
            f"not {timeout[:20]!r}"
        )
    max_wait = (environ.get("COMPUTER_USE_MAX_RETRY_WAIT") or "").strip()
    if max_wait and not _is_positive_number(max_wait):
        problems.append(
            "COMPUTER_USE_MAX_RETRY_WAIT must be a number of seconds above 0, "
            f"not {max_wait[:20]!r}"
        )
    return problems


PROVIDERS = tuple(provider.value for provider in APIProvider)


def _is_positive_number(raw: str) -> bool:
    try:
        value = float(raw)
    except ValueError:
        return False
    return 0 < value < float("inf")
