"""The sizes the manager decides: request estimates and max_tokens under the
output budget (a part of `TokenManager`).

Never waits; holds the manager's lock only for in-memory work.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from .budgets import Budget
from .estimator import RequestEstimate, RequestEstimator
from .limits import RateLimits
from .pools import rate_limit_pool
from .stores import FallbackStore

logger = logging.getLogger("token_manager")


class SizingMixin:
    """Estimates and budgets; `TokenManager` provides the state below."""

    _lock: threading.RLock
    _clock: Callable[[], float]
    _estimator: RequestEstimator
    _store: FallbackStore
    _configured: RateLimits

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
        account: str = "",
    ) -> RequestEstimate:
        """Input tokens of a request (the prefix the server measured, exactly, plus
        a calibrated count of what is new) and how many the cache should serve.

        `account`: the tag of the API key the request is sent with
        (`account_tag`): the server keeps a cache per organisation."""
        with self._lock:
            return self._estimator.estimate(
                system=system,
                messages=messages,
                tools=tools,
                model=model,
                now=self._clock(),
                account=account,
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

    def clamp_max_tokens(self, max_tokens: int, *, model: str | None = None) -> int:
        """max_tokens the output budget can ever admit (the server pre-charges all of it)."""
        limit = self.limits_for(model=model).output_tokens_per_minute
        return max_tokens if limit is None else max(1, min(max_tokens, limit))

    def max_tokens_for_next_request(
        self, max_tokens: int, minimum: int = 4096, *, model: str | None = None
    ) -> int:
        """max_tokens lowered to the output budget free right now (never below
        `minimum`): a request pre-charged with the whole budget would wait for
        the window to empty completely before every call."""
        ceiling = self.clamp_max_tokens(max_tokens, model=model)
        limit = self.limits_for(model=model).output_tokens_per_minute
        if limit is None:
            return ceiling
        pool = rate_limit_pool(model)
        with self._lock:
            window = self._configured.window_seconds
            used = self._store.local.usage(pool, window, self._clock())
        free = limit - used[Budget.OUTPUT_TOKENS]
        return max(min(ceiling, minimum), min(ceiling, free))
