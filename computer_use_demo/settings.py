"""The app's, the CLI's and the tools' configuration: every environment variable
they read, read in this one place and handed down as typed values.

`Settings.from_env` is pure over the mapping it is given and never raises: a bad
value falls back to its default and is named in `problems` (environment_check's
messages), which the app and the CLI show before they start. Never logs a value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .environment_check import environment_problems
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
    config_dir: Path = field(default_factory=lambda: Path.home() / ".anthropic")
    hide_warning: bool = False
    cloud_ml_region: str | None = None
    problems: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """The settings `environ` gives; bad values are defaulted and listed in `problems`."""
        configured_dir = environ.get("ANTHROPIC_CONFIG_DIR")
        return cls(
            anthropic_api_key=environ.get("ANTHROPIC_API_KEY") or "",
            api_provider=_provider(environ.get("API_PROVIDER")),
            screen=screen_from_env(environ),
            settle=settle_from_env(environ),
            read_timeout=_positive_float(
                environ.get("COMPUTER_USE_READ_TIMEOUT"), DEFAULT_READ_TIMEOUT
            ),
            max_retry_wait=_positive_float(
                environ.get("COMPUTER_USE_MAX_RETRY_WAIT"), DEFAULT_MAX_RETRY_WAIT
            ),
            config_dir=Path(configured_dir).expanduser()
            if configured_dir
            else Path.home() / ".anthropic",
            # The quickstart shows the banner unless HIDE_WARNING is set at all.
            hide_warning=bool(environ.get("HIDE_WARNING")),
            cloud_ml_region=environ.get("CLOUD_ML_REGION") or None,
            problems=tuple(environment_problems(environ)),
        )


def screen_from_env(environ: Mapping[str, str]) -> Screen:
    """Only the screen's variables: what a tool reads when it is constructed."""
    display = (environ.get("DISPLAY_NUM") or "").strip()
    return Screen(
        width=_whole(environ.get("WIDTH")),
        height=_whole(environ.get("HEIGHT")),
        display_num=int(display) if display.isdigit() else None,
    )


def settle_from_env(environ: Mapping[str, str]) -> ScreenSettle:
    """Only the settle variables: what the computer tool reads when constructed."""
    default = ScreenSettle()

    def seconds(name: str, fallback: float) -> float:
        return _non_negative_float(environ.get(name), fallback)

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


def _provider(raw: str | None) -> APIProvider:
    try:
        return APIProvider((raw or "").strip() or APIProvider.ANTHROPIC)
    except ValueError:
        return APIProvider.ANTHROPIC


def _whole(raw: str | None) -> int:
    text = (raw or "").strip()
    return int(text) if text.isdigit() else 0


def _non_negative_float(raw: str | None, default: float) -> float:
    try:
        value = float((raw or "").strip())
    except ValueError:
        return default
    return value if 0 <= value < float("inf") else default


def _positive_float(raw: str | None, default: float) -> float:
    try:
        value = float((raw or "").strip())
    except ValueError:
        return default
    return value if 0 < value < float("inf") else default


def tools_user_from_env(environ: Mapping[str, str]) -> str | None:
    """COMPUTER_USE_TOOLS_USER: the account the tools run as (read by the tools,
    like the screen, when they are created); None runs them as the app's user."""
    return (environ.get("COMPUTER_USE_TOOLS_USER") or "").strip() or None
