"""The process's one limiter: a small facade over its parts.

One `TokenManager` per process, shared by every session, thread and event
loop. Its parts share one `LimiterState` and none holds another:
- admission (`admission.py`): when a request may go, the queues, the tickets;
- settlement (`settlement.py`): the real cost after the response;
- server feedback (`server_feedback.py`): headers, 429s and their pauses;
- sizing (`sizing.py`): estimates and max_tokens;
- the meter (`meter.py`): snapshots and reports;
- spending (`spend_gate.py`, as `spending`): dollar caps, held and charged.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

from .admission import Admission, checked_priority
from .budgets import BUDGETS
from .estimator import RequestEstimate
from .limiter_state import LimiterState
from .limits import RateLimits
from .meter import Meter
from .model_table import PriceList
from .pools import rate_limit_pool
from .server_feedback import ServerFeedback
from .settings import read_settings
from .settlement import Settlement
from .sizing import Sizing
from .spend_gate import SpendGate
from .spending import SharedDay, SpendCaps, Spending
from .stores import FallbackStore, MemoryStore, Store
from .stores.redis import RedisStore, account_tag, is_cluster_url
from .stores.redis_link import connect
from .stores.spend_redis import RedisDaySpend
from .waiting import RealWaiting, Waiting


class TokenManager:
    """Paces requests under requests/min, input tokens/min and output tokens/min,
    one set of windows per rate-limit pool (model class).

    Its public methods are its parts' own (bound in `__init__`): `acquire`,
    `acquire_sync`, `input_charge` (admission); `reconcile`, `release`
    (settlement); `update_from_headers`, `pause`, `observe_response` (server
    feedback); `estimate_*`, `count_tokens_with_server`, `clamp_max_tokens`,
    `max_tokens_for_next_request` (sizing); `snapshot`, `pool_reports` (meter).
    """

    def __init__(
        self,
        limits: RateLimits,
        *,
        clock: Callable[[], float] = time.monotonic,
        storage: Store | None = None,
        wall_clock: Callable[[], float] = time.time,
        waiting: Waiting | None = None,
        explicit_limits: Sequence[str] = BUDGETS,
        cache_aware_admission: bool = True,
        priority: str = "interactive",
        spend_caps: SpendCaps | None = None,
        prices: PriceList | None = None,
        shared_spend: SharedDay | None = None,
    ) -> None:
        """`priority`: this process's callers' default, "interactive" (the app)
        or "batch" (scripted runs). `shared_spend`: where the daily spend of
        every process sharing the budget lives (Redis)."""
        store = FallbackStore(MemoryStore(limits.window_seconds), storage, clock)
        self._state = state = LimiterState(
            limits,
            store,
            clock=clock,
            wall_clock=wall_clock,
            explicit_limits=explicit_limits,
            cache_aware_admission=cache_aware_admission,
        )
        settlement = Settlement(state)
        self._admission = admission = Admission(
            state, waiting or RealWaiting(), settlement.release, priority
        )
        if isinstance(storage, RedisStore):
            storage.on_head = admission.head_moved  # a new head asks now
            storage.on_recovered = admission.recovered
        feedback, sizing, meter = ServerFeedback(state), Sizing(state), Meter(state)
        self.acquire = admission.acquire
        self.acquire_sync = admission.acquire_sync
        self.reconcile = settlement.reconcile
        self.release = settlement.release
        self.update_from_headers = feedback.update_from_headers
        self.pause = feedback.pause
        self.observe_response = feedback.observe_response
        self.estimate_request = sizing.estimate_request
        self.estimate_input_tokens = sizing.estimate_input_tokens
        self.estimate_message_tokens = sizing.estimate_message_tokens
        self.estimate_frame_tokens = sizing.estimate_frame_tokens
        self.count_tokens_with_server = sizing.count_tokens_with_server
        self.clamp_max_tokens = sizing.clamp_max_tokens
        self.max_tokens_for_next_request = sizing.max_tokens_for_next_request
        self.snapshot = meter.snapshot
        self.pool_reports = meter.pool_reports
        self.spending = SpendGate(
            Spending(spend_caps or SpendCaps(), wall_clock, shared_spend),
            prices or PriceList(),
            shared=shared_spend is not None,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> TokenManager:
        """The process-wide manager as the environment configures it."""
        settings = read_settings(environ)
        storage: Store | None = None
        shared_spend: SharedDay | None = None
        if settings.redis_url:
            storage = RedisStore(
                settings.redis_url,
                prefix=settings.redis_prefix,
                account=account_tag(settings.api_key),
                cluster=settings.redis_cluster,
                fair_queue=settings.fair_queue,
            )
            url = settings.redis_url
            cluster = is_cluster_url(url, settings.redis_cluster)
            shared_spend = RedisDaySpend(
                lambda: connect(url, cluster), settings.redis_prefix
            )
        return cls(
            settings.limits,
            storage=storage,
            explicit_limits=settings.explicit,
            cache_aware_admission=settings.cache_aware_admission,
            priority=settings.priority,
            spend_caps=settings.spend_caps,
            prices=settings.prices,
            shared_spend=shared_spend,
        )

    @property
    def priority(self) -> str:
        return self._admission.priority

    @priority.setter
    def priority(self, priority: str) -> None:
        self._admission.priority = checked_priority(priority)

    @property
    def cache_aware_admission(self) -> bool:
        return self._state.cache_aware_admission

    @cache_aware_admission.setter
    def cache_aware_admission(self, aware: bool) -> None:
        self._state.cache_aware_admission = aware

    @property
    def calibration_ratio(self) -> float:
        return self._state.estimator.calibration.ratio

    def limits_for(self, *, model: str | None = None) -> RateLimits:
        """The limits in force for `model`'s pool: configured ones, corrected by
        what the server said about that pool."""
        return self._state.limits_of(rate_limit_pool(model))

    @property
    def limits(self) -> RateLimits:
        return self.limits_for()

    def input_charge(
        self, request: RequestEstimate | int, *, model: str | None = None
    ) -> int:
        """What a request costs the input tokens/min budget (`LimiterState.input_charge`)."""
        state = self._state
        return state.input_charge(request, state.request_pool(request, model))

    def set_limits(self, limits: RateLimits, *, model: str | None = None) -> None:
        """Replace the configured limits (the UI's editable fields). They apply to
        every pool (`model` is accepted for symmetry); every waiter re-checks."""
        state = self._state
        with state.lock:
            state.configured = limits
            state.explicit = dict.fromkeys(BUDGETS, True)
            state.store.local.resize(limits.window_seconds)
        state.wake_everyone()

    def reset(self) -> None:
        """Forget every charge and wait (tests, and the UI's reset)."""
        state = self._state
        with state.lock:
            state.store.local = MemoryStore(state.window)
            state.held.clear()
            for pool in state.pools.values():
                pool.paused_until = 0.0
                pool.wake_all()
