"""The fake Messages API as an ASGI app: validation, rate limits, scripted answers, faults.

Everything it received is recorded (keys redacted) for tests to assert on.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .buckets import Bucket, OrganisationLimits
from .counting import TokenCounter
from .model_classes import (
    cache_reads_count_toward_itpm,
    min_cacheable_tokens,
    model_class,
)
from .prompt_cache import CacheUsage, PromptCache, prompt_blocks
from .scenario import Scenario, Turn
from .sse import Event, answer_events, message_json, resolve_blocks
from .validation import APIError, betas_of, check_body, check_headers, check_size
from .wires import ANTHROPIC, BEDROCK, VERTEX, ProviderConfig, Wire

SECRET_HEADERS = {"x-api-key", "authorization", "x-amz-security-token"}


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: Any
    status: int = 0
    at: float = 0.0
    first_token_sent: float | None = None  # wall clock, for latency measurements
    last_event_sent: float | None = None
    model_class: str | None = None  # the rate-limit bucket set that metered it
    # As answered: the input side, and output_tokens once the answer was sent
    # whole (None: refused).
    usage: dict[str, int] | None = None
    wire: str = "anthropic"  # which provider's wire carried it
    reply_headers: dict[str, str] = field(default_factory=dict)
    charged_input_tokens: int = 0  # what input tokens/min was charged


@dataclass
class ClassStats:
    """What one model class's buckets saw."""

    requests: int = 0
    rate_limited: int = 0
    input_tokens_accepted: int = 0
    accepted: list[tuple[float, int]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "rate_limited": self.rate_limited,
            "input_tokens_accepted": self.input_tokens_accepted,
            "accepted": self.accepted,
        }


@dataclass
class Stats:
    requests: int = 0
    rate_limited: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    input_tokens_accepted: int = 0  # charged to input tokens/min
    output_tokens_sent: int = 0
    accepted: list[tuple[float, int]] = field(
        default_factory=list
    )  # (when, input tokens/min charged)
    request_bytes: list[int] = field(default_factory=list)
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    uncached_input_tokens: int = 0
    by_class: dict[str, ClassStats] = field(default_factory=dict)

    def of_class(self, name: str) -> ClassStats:
        return self.by_class.setdefault(name, ClassStats())

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "rate_limited": self.rate_limited,
            "by_status": {
                str(status): count for status, count in self.by_status.items()
            },
            "input_tokens_accepted": self.input_tokens_accepted,
            "output_tokens_sent": self.output_tokens_sent,
            "accepted": self.accepted,
            "request_bytes": self.request_bytes,
            "cache_read_input_tokens": self.cache_read_input_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "uncached_input_tokens": self.uncached_input_tokens,
            "by_class": {
                name: stats.as_dict() for name, stats in self.by_class.items()
            },
        }


@dataclass
class FakeConfig:
    api_key: str = "sk-ant-test-fake-api-key-0000"
    rpm: int | None = None
    itpm: int | None = None
    otpm: int | None = None
    window_seconds: float = 60.0
    token_rate: float | None = None
    context_window: int = 200_000
    input_token_factor: float = 1.17
    block_overhead: int = 6
    words_per_delta: int = 3
    # Seconds between receiving (and counting) a request and starting its
    # response: the server meters at reception, the client sees it later.
    latency: float = 0.0
    # Per model class ("opus-4", "sonnet-4", "haiku-4", or an unknown id):
    # {"rpm": .., "itpm": .., "otpm": ..} replacing the limits above for it.
    class_limits: dict[str, dict[str, int | None]] = field(default_factory=dict)
    cache_max_entries: int = 4096
    # None: each model's own minimum cacheable prompt length.
    min_cacheable_tokens: int | None = None


class FakeState:
    """Shared by the app's handlers (which run on the server thread) and tests."""

    def __init__(
        self,
        config: FakeConfig,
        scenario: Scenario | None = None,
        clock: Callable[[], float] = time.monotonic,
        providers: ProviderConfig | None = None,
    ) -> None:
        self.config = config
        self.providers = providers or ProviderConfig()
        self.clock = clock  # buckets, cache TTLs and stats read this
        self.lock = threading.Lock()
        self.scenario = scenario or Scenario()
        self.counter = TokenCounter(
            factor=config.input_token_factor, block_overhead=config.block_overhead
        )
        self.cache = PromptCache(config.cache_max_entries)
        self.requests: list[RecordedRequest] = []
        self.stats = Stats()
        self.limits: dict[str, OrganisationLimits] = {}

    def limits_for(self, name: str) -> OrganisationLimits:
        """The bucket set of one model class, made full on its first request."""
        limits = self.limits.get(name)
        if limits is None:
            config = self.config
            override = config.class_limits.get(name, {})

            def bucket(key: str, default: int | None) -> Bucket | None:
                limit = override.get(key, default)
                return (
                    None
                    if limit is None
                    else Bucket(limit, config.window_seconds, updated=self.clock())
                )

            limits = OrganisationLimits(
                bucket("rpm", config.rpm),
                bucket("itpm", config.itpm),
                bucket("otpm", config.otpm),
            )
            self.limits[name] = limits
        return limits

    def min_cacheable(self, model: str) -> int:
        if self.config.min_cacheable_tokens is not None:
            return self.config.min_cacheable_tokens
        return min_cacheable_tokens(model)

    def reset(self, scenario: Scenario | None = None) -> None:
        with self.lock:
            self.scenario = scenario or Scenario()
            self.cache = PromptCache(self.config.cache_max_entries)
            self.requests.clear()
            self.stats = Stats()
            self.limits = {}

    def rate_headers(self, pool: str, now: float) -> dict[str, str]:
        """The `anthropic-ratelimit-*` headers of one model class's buckets."""
        headers: dict[str, str] = {}
        wall = time.time()
        for name, bucket in self.limits_for(pool).buckets().items():
            reset = datetime.fromtimestamp(wall + bucket.seconds_until_full(now), UTC)
            headers[f"anthropic-ratelimit-{name}-limit"] = str(bucket.capacity)
            headers[f"anthropic-ratelimit-{name}-remaining"] = str(
                bucket.remaining(now)
            )
            headers[f"anthropic-ratelimit-{name}-reset"] = reset.strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            )
        return headers


def _redacted(headers: Any) -> dict[str, str]:
    return {
        name: ("[REDACTED]" if name.lower() in SECRET_HEADERS else value)
        for name, value in headers.items()
    }


def build_app(state: FakeState) -> Starlette:
    async def messages(request: Request) -> Response:
        return await _handle(state, request, count_only=False)

    async def count_tokens(request: Request) -> Response:
        return await _handle(state, request, count_only=True)

    async def bedrock(request: Request) -> Response:
        params = dict(request.path_params)
        if params["action"] not in ("invoke", "invoke-with-response-stream"):
            return JSONResponse({"message": "Unknown operation"}, status_code=404)
        return await _handle(
            state, request, count_only=False, wire=BEDROCK, params=params
        )

    async def vertex(request: Request) -> Response:
        model, _, action = request.path_params["target"].rpartition(":")
        params = {**request.path_params, "model": model, "action": action}
        providers = state.providers
        known = (params["project"], params["region"]) == (
            providers.vertex_project,
            providers.vertex_region,
        )
        if action not in ("rawPredict", "streamRawPredict") or not known:
            return JSONResponse(
                {
                    "error": {
                        "code": 404,
                        "message": f"Publisher Model `{request.url.path}` not found.",
                        "status": "NOT_FOUND",
                    }
                },
                status_code=404,
            )
        return await _handle(
            state, request, count_only=False, wire=VERTEX, params=params
        )

    async def token(request: Request) -> Response:
        return await _issue_token(state, request)

    async def stats(request: Request) -> Response:
        with state.lock:
            return JSONResponse(state.stats.as_dict())

    return Starlette(
        routes=[
            Route("/v1/messages", messages, methods=["POST"]),
            Route("/v1/messages/count_tokens", count_tokens, methods=["POST"]),
            Route("/model/{model}/{action}", bedrock, methods=["POST"]),
            Route(
                "/v1/projects/{project}/locations/{region}/publishers/anthropic/models/{target}",
                vertex,
                methods=["POST"],
            ),
            Route("/token", token, methods=["POST"]),
            Route("/_stats", stats, methods=["GET"]),
        ]
    )


def _error_response(
    state: FakeState,
    record: RecordedRequest,
    error: APIError,
    headers: dict[str, str] | None = None,
    wire: Wire = ANTHROPIC,
) -> Response:
    with state.lock:
        record.status = error.status
        state.stats.by_status[error.status] = (
            state.stats.by_status.get(error.status, 0) + 1
        )
        if error.status == 429:
            state.stats.rate_limited += 1
    reply = wire.error(error)
    extra = {"request-id": f"req_{uuid.uuid4().hex[:20]}", **reply.headers}
    if wire.rate_limit_headers:
        extra.update(headers or {})
    record.reply_headers = extra
    return JSONResponse(reply.body, status_code=reply.status, headers=extra)


async def _handle(
    state: FakeState,
    request: Request,
    *,
    count_only: bool,
    wire: Wire = ANTHROPIC,
    params: dict[str, str] | None = None,
) -> Response:
    raw = await request.body()
    try:
        body = json.loads(raw)
    except json.JSONDecodeError:
        body = None
    record = RecordedRequest(
        path=request.url.path,
        headers=_redacted(request.headers),
        body=body,
        at=state.clock(),
        wire=wire.name,
    )
    with state.lock:
        state.requests.append(record)
        state.stats.requests += 1
        state.stats.request_bytes.append(len(raw))
    try:
        check_size(raw)
        if wire is ANTHROPIC:
            check_headers(request.headers, state.config.api_key)
        else:
            wire.authenticate(request, raw, state.providers)
        if body is None:
            raise APIError(
                400, "invalid_request_error", "The request body is not valid JSON"
            )
        body = wire.to_messages_body(body, params or {})
        check_body(body, count_only=count_only, betas=betas_of(request.headers))
        with state.lock:
            blocks = prompt_blocks(body, state.counter)
    except APIError as error:
        return _error_response(state, record, error, wire=wire)

    total = sum(block.tokens for block in blocks)
    if count_only:
        with state.lock:
            record.status = 200
            state.stats.by_status[200] = state.stats.by_status.get(200, 0) + 1
        return JSONResponse({"input_tokens": total})
    if total > state.config.context_window:
        return _error_response(
            state,
            record,
            APIError(
                400,
                "invalid_request_error",
                f"prompt is too long: {total} tokens > {state.config.context_window} maximum",
            ),
            wire=wire,
        )

    model = str(body["model"])
    pool = model_class(model)
    record.model_class = pool
    with state.lock:
        turn_index, turn = state.scenario.turn_for(body)
        fault = turn.pending_fault()
        if fault and "status" in fault:
            turn.faults_fired += 1
            status = int(fault["status"])
            error_type = {
                400: "invalid_request_error",
                401: "authentication_error",
                403: "permission_error",
                413: "request_too_large",
                429: "rate_limit_error",
                529: "overloaded_error",
            }.get(status, "api_error")
            headers = state.rate_headers(pool, state.clock())
            if fault.get("retry_after") is not None:
                headers["retry-after"] = str(fault["retry_after"])
            message = {
                429: "Number of request tokens has exceeded your per-minute rate limit",
                529: "Overloaded",
            }.get(status, "Internal server error")
            fault_error = APIError(status, error_type, message)
        else:
            fault_error = None
            headers = {}
    if fault_error is not None:
        return _error_response(state, record, fault_error, headers, wire)

    with state.lock:
        now = state.clock()
        # The cache answers before the buckets: what counts depends on it. A
        # request refused by the limits was never processed, so it leaves the
        # cache as it was.
        plan = state.cache.look(
            model, blocks, min_tokens=state.min_cacheable(model), now=now
        )
        cache_usage = plan.usage
        charged = _input_charge(model, cache_usage)
        wait = state.limits_for(pool).admit(charged, int(body["max_tokens"]), now)
        headers = state.rate_headers(pool, now)
        class_stats = state.stats.of_class(pool)
        class_stats.requests += 1
        if wait > 0:
            class_stats.rate_limited += 1
        else:
            state.cache.commit(plan, now)
            _count_accepted(state, record, cache_usage, charged, now)
    if wait > 0:
        headers["retry-after"] = str(max(1, math.ceil(wait)))
        return _error_response(
            state,
            record,
            APIError(
                429,
                "rate_limit_error",
                "This request would exceed your organization's rate limit. Please retry later.",
            ),
            headers,
            wire,
        )
    latency = turn.latency if turn.latency is not None else state.config.latency
    if latency > 0:  # counted at reception; the client hears back only now
        await asyncio.sleep(latency)
    if not wire.rate_limit_headers:
        headers = {}
    headers["request-id"] = f"req_{uuid.uuid4().hex[:20]}"
    record.reply_headers = headers
    usage = {
        "input_tokens": cache_usage.input_tokens,
        "cache_creation_input_tokens": cache_usage.cache_creation_input_tokens,
        "cache_read_input_tokens": cache_usage.cache_read_input_tokens,
    }
    message_id = f"msg_fake_{uuid.uuid4().hex[:16]}"
    if turn.raw_sse and wire is ANTHROPIC:
        _finish(state, record, turn_index, body, 0)
        return Response(
            Path(turn.raw_sse).read_bytes().rstrip(b"\n") + b"\n\n",
            media_type="text/event-stream",
            headers=headers,
        )
    blocks_out = resolve_blocks(turn.content, turn_index)
    events, output_tokens = answer_events(
        message_id=message_id,
        model=model,
        blocks=blocks_out,
        stop_reason=turn.resolved_stop_reason(),
        usage=usage,
        count_tokens=state.counter.text,
        words_per_delta=state.config.words_per_delta,
        seed=turn_index,
    )
    if not body.get("stream"):
        if state.config.token_rate:  # a whole answer takes as long to generate
            await asyncio.sleep(output_tokens / state.config.token_rate)
        _finish(state, record, turn_index, body, output_tokens)
        payload = message_json(
            message_id=message_id,
            model=model,
            blocks=blocks_out,
            stop_reason=turn.resolved_stop_reason(),
            usage={**usage, "output_tokens": output_tokens},
        )
        return JSONResponse(payload, headers=headers)
    return StreamingResponse(
        _stream(state, record, turn, turn_index, body, events, output_tokens, wire),
        media_type=wire.media_type,
        headers={**headers, "cache-control": "no-cache"},
    )


def _input_charge(model: str, usage: CacheUsage) -> int:
    """What input tokens/min counts: uncached input and cache writes; cache reads
    too on the older models the rate-limit page marks."""
    charged = usage.input_tokens + usage.cache_creation_input_tokens
    if cache_reads_count_toward_itpm(model):
        charged += usage.cache_read_input_tokens
    return charged


def _count_accepted(
    state: FakeState,
    record: RecordedRequest,
    usage: CacheUsage,
    charged: int,
    now: float,
) -> None:
    """Called with the lock held."""
    stats = state.stats
    record.usage = {
        "input_tokens": usage.input_tokens,
        "cache_creation_input_tokens": usage.cache_creation_input_tokens,
        "cache_read_input_tokens": usage.cache_read_input_tokens,
    }
    record.charged_input_tokens = charged
    stats.accepted.append((now, charged))
    stats.input_tokens_accepted += charged
    stats.uncached_input_tokens += usage.input_tokens
    stats.cache_creation_input_tokens += usage.cache_creation_input_tokens
    stats.cache_read_input_tokens += usage.cache_read_input_tokens
    class_stats = stats.of_class(record.model_class or "")
    class_stats.accepted.append((now, charged))
    class_stats.input_tokens_accepted += charged


def _finish(
    state: FakeState,
    record: RecordedRequest,
    turn_index: int,
    body: dict[str, Any],
    output_tokens: int,
) -> None:
    """The answer was sent whole: settle the output charge and use up the turn."""
    with state.lock:
        record.status = 200
        if record.usage is not None:
            record.usage["output_tokens"] = output_tokens
        state.stats.by_status[200] = state.stats.by_status.get(200, 0) + 1
        state.stats.output_tokens_sent += output_tokens
        state.limits_for(record.model_class or "").settle_output(
            int(body["max_tokens"]), output_tokens, state.clock()
        )
        state.scenario.consume(turn_index)


class _DroppedConnection(Exception):
    """Raised inside the body iterator: the server closes the socket mid-stream."""


async def _stream(
    state: FakeState,
    record: RecordedRequest,
    turn: Turn,
    turn_index: int,
    body: dict[str, Any],
    events: list[Event],
    output_tokens: int,
    wire: Wire = ANTHROPIC,
) -> AsyncIterator[bytes]:
    with state.lock:
        fault = turn.pending_fault()
        if fault is not None:
            turn.faults_fired += 1
    rate = state.config.token_rate
    debt = 0.0
    sent_tokens = 0
    for position, event in enumerate(events):
        if fault is not None:
            if position == fault.get("drop_after_events"):
                _settle_broken(state, record, body, sent_tokens, status=-1)
                raise _DroppedConnection("fault: connection dropped mid-stream")
            if position == fault.get("sse_error_after_events"):
                yield wire.stream_error(
                    fault.get("error_type", "overloaded_error"), "Overloaded"
                )
                _settle_broken(state, record, body, sent_tokens, status=200)
                return
            if position == fault.get("stall_after_events", -1):
                await asyncio.sleep(float(fault.get("stall_seconds", 0)))
        if rate and event.tokens:
            debt += event.tokens / rate
            if debt >= 0.005:
                await asyncio.sleep(debt)
                debt = 0.0
        sent_tokens += event.tokens
        if event.tokens and record.first_token_sent is None:
            record.first_token_sent = time.time()
        yield wire.frame(event)
    record.last_event_sent = time.time()
    _finish(state, record, turn_index, body, output_tokens)


def _settle_broken(
    state: FakeState,
    record: RecordedRequest,
    body: dict[str, Any],
    sent_tokens: int,
    status: int,
) -> None:
    """A stream that broke still cost what it generated; the turn stays unanswered."""
    with state.lock:
        record.status = status
        state.stats.output_tokens_sent += sent_tokens
        state.limits_for(record.model_class or "").settle_output(
            int(body["max_tokens"]), sent_tokens, state.clock()
        )


async def _issue_token(state: FakeState, request: Request) -> Response:
    """OAuth 2.0's JWT bearer grant (RFC 7523), as google-auth's service-account
    credentials use it: a bearer token for the Vertex wire."""
    form = dict(await request.form())
    record = RecordedRequest(
        path=request.url.path,
        headers=_redacted(request.headers),
        body=None,
        at=state.clock(),
    )
    with state.lock:
        state.requests.append(record)
    good = (
        form.get("grant_type") == "urn:ietf:params:oauth:grant-type:jwt-bearer"
        and state.providers.assertion_is_ours(
            str(form.get("assertion") or ""), time.time()
        )
    )
    if not good:
        record.status = 400
        return JSONResponse(
            {"error": "invalid_grant", "error_description": "Invalid JWT Signature."},
            status_code=400,
        )
    record.status = 200
    return JSONResponse(
        {
            "access_token": state.providers.issue_token(),
            "expires_in": 3599,
            "token_type": "Bearer",
        }
    )
