"""The sizes the manager decides: request estimates, tool-result budgets and
max_tokens under the output budget (a part of `TokenManager`).

Never waits; holds the manager's lock only for in-memory work.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from .budgets import Budget
from .estimator import RequestEstimate, RequestEstimator
from .limits import RateLimits
from .pools import rate_limit_pool
from .stores import FallbackStore
from .tool_budget import budget_text

logger = logging.getLogger("token_manager")


class ToolResultLike(Protocol):
    @property
    def output(self) -> str | None: ...
    @property
    def error(self) -> str | None: ...
    def replace(self, **changes: Any) -> Any: ...


class SizingMixin:
    """Estimates and budgets; `TokenManager` provides the state below."""

    _lock: threading.RLock
    _clock: Callable[[], float]
    _estimator: RequestEstimator
    _store: FallbackStore
    _configured: RateLimits
    _tool_result_tokens: int | None
    _tool_output_dir: Path

    def limits_for(self, *, model: str | None = None) -> RateLimits:
        raise NotImplementedError

    @property
    def limits(self) -> RateLimits:
        return self.limits_for()

    def estimate_request(
        self,
        *,
        system: Any = None,
        messages: Sequence[Any] = (),
        tools: Sequence[Any] | None = None,
        model: str | None = None,
    ) -> RequestEstimate:
        """Input tokens of a request (the prefix the server measured, exactly, plus
        a calibrated count of what is new) and how many the cache should serve."""
        with self._lock:
            return self._estimator.estimate(
                system=system,
                messages=messages,
                tools=tools,
                model=model,
                now=self._clock(),
            )

    def estimate_input_tokens(
        self,
        *,
        system: Any = None,
        messages: Sequence[Any] = (),
        tools: Sequence[Any] | None = None,
    ) -> int:
        """All input tokens of a request (older callers: charged in full)."""
        return self.estimate_request(
            system=system, messages=messages, tools=tools
        ).total_tokens

    def estimate_message_tokens(self, message: Any) -> int:
        """One message's calibrated estimate (the context budget counts message by message)."""
        with self._lock:
            return self._estimator.message_tokens(message)

    def estimate_frame_tokens(
        self, *, system: Any = None, tools: Sequence[Any] | None = None
    ) -> int:
        """The system prompt and tool definitions: the part of a request that never changes."""
        with self._lock:
            return self._estimator.frame_tokens(system, tools)

    @property
    def calibration_ratio(self) -> float:
        return self._estimator.calibration.ratio

    async def count_tokens_with_server(self, client: Any, **request: Any) -> int:
        """The server's own count (`count_tokens` endpoint), for when exactness matters."""
        result = await client.beta.messages.count_tokens(**request)
        return int(result.input_tokens)

    @property
    def tool_result_budget(self) -> int:
        """Tokens one tool result may bring in: a quarter of a window's input budget, at most 20k."""
        if self._tool_result_tokens:
            return self._tool_result_tokens
        input_limit = self.limits.input_tokens_per_minute
        return (
            20_000 if input_limit is None else max(500, min(20_000, input_limit // 4))
        )

    def budget_tool_result(
        self, result: ToolResultLike, owner: tuple[int, int] | None = None
    ) -> Any:
        """The result itself if it fits the budget; else head + tail and where the
        rest is (saved for `owner`, the uid and gid the tools run as, to read)."""
        budget = self.tool_result_budget
        changes: dict[str, str] = {}
        for name in ("output", "error"):
            text = getattr(result, name)
            if not text:
                continue
            budgeted = budget_text(
                text, budget, self._tool_output_dir, f"tool-{name}", owner
            )
            if budgeted.saved_to is not None:
                changes[name] = budgeted.text
                logger.info(
                    "tool %s of %d tokens shortened; whole text in %s",
                    name,
                    budgeted.original_tokens,
                    budgeted.saved_to,
                )
        return result.replace(**changes) if changes else result

    def clamp_max_tokens(self, max_tokens: int, *, model: str | None = None) -> int:
        """max_tokens the output budget can ever admit (the server pre-charges all of it)."""
        limit = self.limits_for(model=model).output_tokens_per_minute
        return max_tokens if limit is None else max(1, min(max_tokens, limit))

    def _spendable_output(self, model: str | None) -> int | None:
        """The output budget one request may ask of now: its share while the
        shared store is away (a larger request would wait for it)."""
        limits = self.limits_for(model=model).by_budget()
        spendable = self._store.spendable(rate_limit_pool(model), limits)
        return spendable[Budget.OUTPUT_TOKENS]

    def max_tokens_for_next_request(
        self, max_tokens: int, minimum: int = 4096, *, model: str | None = None
    ) -> int:
        """max_tokens lowered to the output budget free right now (never below
        `minimum`): a request pre-charged with the whole budget would wait for
        the window to empty completely before every call."""
        ceiling = self.clamp_max_tokens(max_tokens, model=model)
        limit = self._spendable_output(model)
        if limit is None:
            return ceiling
        pool = rate_limit_pool(model)
        with self._lock:
            window = self._configured.window_seconds
            used = self._store.local.usage(pool, window, self._clock())
        free = limit - used[Budget.OUTPUT_TOKENS]
        return max(min(ceiling, minimum), min(ceiling, free))
