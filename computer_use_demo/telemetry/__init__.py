"""Traces and metrics of the agent, exported over OTLP when the standard OTEL_*
variables ask for it; otherwise a no-op that never imports the OpenTelemetry SDK.

The face: `current()` is what the loop records into, `configure()` is called
once by the app and the CLI at start, `shutdown()` flushes before the process
ends, `set_cost_source()` lets the pricing feed the cost metric. Data flows
one way: the loop tells telemetry; telemetry never calls the loop.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from typing import Any

from .config import ExportConfig
from .interface import CostSource, OnWait, RequestTrace, Telemetry, ToolTrace, TurnTrace
from .noop import NO_TELEMETRY, NO_TRACE

__all__ = [
    "NO_TELEMETRY",
    "NO_TRACE",
    "CostSource",
    "ExportConfig",
    "OnWait",
    "RequestTrace",
    "Telemetry",
    "ToolTrace",
    "TurnTrace",
    "configure",
    "current",
    "set_cost_source",
    "shutdown",
    "use",
]

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_current: Telemetry = NO_TELEMETRY
_configured = False


def priced_by_the_limiter(model: str, usage: Any) -> float | None:
    """The cost metric's default: what the limiter's spending charged, by the
    model table's prices (or the price file's)."""
    from token_manager import token_manager
    from token_manager.spend import dollars

    return dollars(token_manager.spending.cost_of(usage, model=model))


_cost_source: CostSource | None = priced_by_the_limiter


def current() -> Telemetry:
    """The process's telemetry: the no-op one until `configure` turned it on."""
    return _current


def configure(environ: Mapping[str, str] | None = None) -> Telemetry:
    """Turns telemetry on when `environ` (os.environ) asks for it; idempotent,
    so the app may call it on every rerun. Never raises: a broken exporter
    setup is logged and the process goes on without telemetry."""
    global _current, _configured
    with _lock:
        if _configured:
            return _current
        _configured = True
        config = ExportConfig.from_env(os.environ if environ is None else environ)
        for problem in config.problems:
            logger.warning("telemetry: %s", problem)
        if not config.enabled:
            return _current
        try:
            from .export import start  # the SDK is imported here, and only here

            started = start(config)
        except Exception:
            logger.warning(
                "telemetry could not start; going on without it", exc_info=True
            )
            return _current
        started.set_cost_source(_cost_source)
        _current = started
        return _current


def use(telemetry: Telemetry | None) -> None:
    """Replace the process's telemetry (tests); None: the no-op one, and the
    next `configure` reads the environment again."""
    global _current, _configured
    with _lock:
        _current = NO_TELEMETRY if telemetry is None else telemetry
        _configured = telemetry is not None


def set_cost_source(source: CostSource | None) -> None:
    """Prices each response for the cost metric: `source(model, usage)` gives
    dollars (None: not known). Kept for telemetry configured later too."""
    global _cost_source
    _cost_source = source
    _current.set_cost_source(source)


def shutdown() -> None:
    """Flushes what is buffered (bounded by the exporters' timeouts)."""
    _current.shutdown()
