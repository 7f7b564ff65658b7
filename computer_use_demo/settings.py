"""The app's, the CLI's and the tools' configuration: every environment variable
they read, read in this one place and handed down as typed values.

`Settings.from_env` is pure over the mapping it is given and never raises: each
variable is parsed once, through the settings layer both packages share
(`token_manager.env_reader`); a bad value falls back to its default and is one
line in `problems`, beside the limiter's own (`settings_problems`), which the
app and the CLI show before they start. Never logs a value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from token_manager.env_reader import (
    EnvReader,
    non_negative_seconds,
    path,
    positive_seconds,
    shown,
    whole_number,
)
from token_manager.settings import settings_problems

from .providers import APIProvider

DEFAULT_READ_TIMEOUT = 120.0
# The longest wait the loop sits out when the API asks for one (retry-after);
# a longer one ends the turn at once, saying how long the API asked for.
DEFAULT_MAX_RETRY_WAIT = 300.0


@dataclass(frozen=True, slots=True)
class Screen:
    """The virtual display the computer tool drives (WIDTH, HEIGHT, DISPLAY_NUM).

    A size of 0 means unset; `display_num` None means the tools use $DISPLAY as is.
    """

    width: int = 0
    height: int = 0
    display_num: int | None = None


@dataclass(frozen=True, slots=True)
class ScreenSettle:
    """How the computer tool waits for the screen after an action (COMPUTER_SETTLE_*),
    in seconds: at least `min_wait`; still once nothing larger than a caret moved
    for `quiet`; up to `first_change` for a click or key to show an effect; never
    past `max_wait` (at least 2, the quickstart's fixed wait)."""

    min_wait: float = 0.05
    quiet: float = 0.2
    first_change: float = 2.0
    max_wait: float = 3.0


MIN_SETTLE_MAX = 2.0


@dataclass(frozen=True, slots=True)
class Settings:
    """Every variable of the README's "Environment variables" table that the
    Python side reads (the TOKEN_MANAGER_* ones belong to token_manager.settings)."""

    anthropic_api_key: str = field(default="", repr=False)
    api_provider: APIProvider = APIProvider.ANTHROPIC
    screen: Screen = Screen()
    read_timeout: float = DEFAULT_READ_TIMEOUT  # COMPUTER_USE_READ_TIMEOUT, seconds
    max_retry_wait: float = DEFAULT_MAX_RETRY_WAIT  # COMPUTER_USE_MAX_RETRY_WAIT, s
    settle: ScreenSettle = ScreenSettle()
    # TOKEN_MANAGER_TOOL_RESULT_TOKENS and _TOOL_OUTPUT_DIR: the tool-result
    # budget (`tool_output.budget`); None: its defaults.
    tool_result_tokens: int | None = None
    tool_output_dir: Path | None = None
    config_dir: Path = field(default_factory=lambda: Path.home() / ".anthropic")
    hide_warning: bool = False
    cloud_ml_region: str | None = None
    problems: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """The settings `environ` gives; bad values are defaulted and listed in `problems`."""
        reader = EnvReader(environ)
        settings = cls(
            anthropic_api_key=environ.get("ANTHROPIC_API_KEY") or "",
            api_provider=reader.get("API_PROVIDER", _provider, APIProvider.ANTHROPIC),
            screen=_screen(reader, required=True),
            settle=_settle(reader),
            read_timeout=reader.get(
                "COMPUTER_USE_READ_TIMEOUT", positive_seconds, DEFAULT_READ_TIMEOUT
            ),
            max_retry_wait=reader.get(
                "COMPUTER_USE_MAX_RETRY_WAIT", positive_seconds, DEFAULT_MAX_RETRY_WAIT
            ),
            tool_result_tokens=reader.get(
                "TOKEN_MANAGER_TOOL_RESULT_TOKENS", whole_number, None
            ),
            tool_output_dir=reader.get("TOKEN_MANAGER_TOOL_OUTPUT_DIR", path, None),
            config_dir=reader.get(
                "ANTHROPIC_CONFIG_DIR", path, Path.home() / ".anthropic"
            ),
            # The quickstart shows the banner unless HIDE_WARNING is set at all.
            hide_warning=bool(environ.get("HIDE_WARNING")),
            cloud_ml_region=environ.get("CLOUD_ML_REGION") or None,
        )
        problems = [*settings_problems(environ), *reader.problems]
        return replace(settings, problems=tuple(problems))


def environment_problems(environ: Mapping[str, str]) -> list[str]:
    """Every problem of the environment that would stop the agent from starting."""
    return list(Settings.from_env(environ).problems)


def screen_from_env(environ: Mapping[str, str]) -> Screen:
    """Only the screen's variables: what a tool reads when it is constructed."""
    return _screen(EnvReader(environ), required=False)


def settle_from_env(environ: Mapping[str, str]) -> ScreenSettle:
    """Only the settle variables: what the computer tool reads when constructed."""
    return _settle(EnvReader(environ))


def _screen(reader: EnvReader, *, required: bool) -> Screen:
    hint = "set WIDTH and HEIGHT to the display's size in pixels (e.g. 1024 and 768)"

    def size(name: str) -> int:
        if required:
            return reader.require(name, _pixels, 0, hint)
        return reader.get(name, _pixels, 0)

    return Screen(
        width=size("WIDTH"),
        height=size("HEIGHT"),
        display_num=reader.get("DISPLAY_NUM", _display_number, None),
    )


def _settle(reader: EnvReader) -> ScreenSettle:
    default = ScreenSettle()

    def seconds(name: str, fallback: float) -> float:
        return reader.get(name, non_negative_seconds, fallback)

    return ScreenSettle(
        min_wait=seconds("COMPUTER_SETTLE_MIN_S", default.min_wait),
        quiet=seconds("COMPUTER_SETTLE_QUIET_S", default.quiet),
        first_change=seconds("COMPUTER_SETTLE_FIRST_CHANGE_S", default.first_change),
        max_wait=max(
            MIN_SETTLE_MAX, seconds("COMPUTER_SETTLE_MAX_S", default.max_wait)
        ),
    )


_current: Settings | None = None


def current() -> Settings:
    """The process's settings, read from os.environ on first use."""
    global _current
    if _current is None:
        _current = Settings.from_env(os.environ)
    return _current


def use(settings: Settings | None) -> None:
    """Replace the process's settings (the app and CLI at start; tests); None
    makes the next `current()` read os.environ again."""
    global _current
    _current = settings


def _provider(name: str, raw: str) -> APIProvider:
    try:
        return APIProvider(raw)
    except ValueError:
        raise ValueError(
            f"{name} must be one of {', '.join(PROVIDERS)}, not {shown(raw)}"
        ) from None


PROVIDERS = tuple(provider.value for provider in APIProvider)


def _pixels(name: str, raw: str) -> int:
    if not raw.isdigit() or not 0 < int(raw) <= 16384:
        raise ValueError(
            f"{name} must be a whole number of pixels between 1 and 16384, not {shown(raw)}"
        )
    return int(raw)


def _display_number(name: str, raw: str) -> int:
    if not raw.isdigit():
        raise ValueError(
            f"{name} must be the X display's number (e.g. 1), not {shown(raw)}"
        )
    return int(raw)


def tools_user_from_env(environ: Mapping[str, str]) -> str | None:
    """COMPUTER_USE_TOOLS_USER: the account the tools run as (read by the tools,
    like the screen, when they are created); None runs them as the app's user."""
    return (environ.get("COMPUTER_USE_TOOLS_USER") or "").strip() or None
