"""Reads environment variables once, each with its parser, collecting one line
per bad value (naming the variable) instead of raising deep inside a start.

The one settings layer of both packages: the limiter's settings and the app's
are read through it. A parser takes the variable's name and its stripped raw
text and raises ValueError with the line to show; a blank value is unset.
Never echoes more than the first 20 characters of a value.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
Parser = Callable[[str, str], T]

UNLIMITED_WORDS = ("none", "unlimited")
TRUE_WORDS, FALSE_WORDS = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


class EnvReader:
    """One reading of an environment; `problems` lists every bad value seen."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    def raw(self, name: str) -> str:
        return (self.env.get(name) or "").strip()

    def get(self, name: str, parse: Parser[T], default: T) -> T:
        raw = self.raw(name)
        if not raw:
            return default
        try:
            return parse(name, raw)
        except ValueError as error:
            self.problems.append(str(error))
            return default

    def require(self, name: str, parse: Parser[T], default: T, hint: str) -> T:
        """A variable that must be set: unset is a problem too (`hint` says how)."""
        if not self.raw(name):
            self.problems.append(f"{name} is not set: {hint}")
            return default
        return self.get(name, parse, default)


def unlimited_words() -> tuple[str, ...]:
    return UNLIMITED_WORDS


def shown(raw: str) -> str:
    return repr(raw[:20])


def whole_number(name: str, raw: str) -> int:
    """A whole number above 0 ("40,000" and "40_000" too)."""
    digits = raw.replace(",", "").replace("_", "")
    if not digits.isdigit() or int(digits) <= 0:
        raise ValueError(f"{name} must be a whole number above 0, not {shown(raw)}")
    return int(digits)


def limit_or_none(name: str, raw: str) -> int | None:
    """A whole number above 0, or 'none' for no limit."""
    if raw.lower() in UNLIMITED_WORDS:
        return None
    try:
        return whole_number(name, raw)
    except ValueError:
        raise ValueError(
            f"{name} must be a whole number above 0 (or 'none' for no limit), "
            f"not {shown(raw)}"
        ) from None


def _finite(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        return math.nan
    return value if math.isfinite(value) else math.nan


def positive_seconds(name: str, raw: str) -> float:
    value = _finite(raw)
    if not value > 0:  # nan fails too
        raise ValueError(
            f"{name} must be a number of seconds above 0, not {shown(raw)}"
        )
    return value


def non_negative_seconds(name: str, raw: str) -> float:
    value = _finite(raw)
    if not value >= 0:
        raise ValueError(
            f"{name} must be a number of seconds, 0 or more, not {shown(raw)}"
        )
    return value


def flag(name: str, raw: str) -> bool:
    word = raw.lower()
    if word in TRUE_WORDS or word in FALSE_WORDS:
        return word in TRUE_WORDS
    raise ValueError(f"{name} must be 1 or 0 (true/false, yes/no), not {shown(raw)}")


def one_of(words: tuple[str, ...]) -> Parser[str]:
    def parse(name: str, raw: str) -> str:
        word = raw.lower()
        if word not in words:
            raise ValueError(
                f"{name} must be one of {', '.join(words)}, not {shown(raw)}"
            )
        return word

    return parse


def path(name: str, raw: str) -> Path:
    if "\0" in raw:
        raise ValueError(f"{name} must be a path, not {shown(raw)}")
    return Path(raw).expanduser()


def text(name: str, raw: str) -> str:
    return raw
