"""The agent loop: stream a response, run its tools, send the results, repeat.

Every exit path (answer, error, cancellation) leaves `messages` valid to send
again: each tool_use answered, nothing half-streamed appended, no tool run twice.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import anthropic
import httpx2
from anthropic.types.beta import (
    BetaContentBlockParam,
    BetaMessage,
    BetaMessageParam,
    BetaToolResultBlockParam,
)

import token_manager as token_manager_module
from token_manager import (
    RequestEstimate,
    RequestTooLargeError,
    Reservation,
    TokenManager,
    wait_phrase,
)

from .api_client import AnyAsyncClient, ClientTimeouts, make_client
from .conversation import (
    ContextBudget,
    PruneReport,
    answer_unanswered_tool_calls,
    answered_ids,
    fit_request_view,
    inject_cache_breakpoints,
    is_tool_use,
    server_context_management,
)
from .failures import (
    Failure,
    StreamBroken,
    backoff_seconds,
    classify,
    prompt_limit,
)
from .models import ThinkingEffort, ThinkingMode
from .providers import APIProvider  # re-exported: the quickstart imports it from here
from .redaction import redact, register_secret
from .request import RequestOptions, system_block, system_prompt, thinking_body
from .status import LoopStatus, StatusCallback
from .streaming import (
    TOOL_INPUT_BLOCKS,
    StreamCallback,
    StreamEvent,
    StreamInterrupted,
    StreamRouter,
    block_to_param,
    message_to_params,
    tool_input_problem,
)
from .tool_calls import run_tool_safely, tool_result_param
from .tools import TOOL_GROUPS_BY_VERSION, ToolCollection, ToolResult, ToolVersion

__all__ = [
    "SYSTEM_PROMPT",
    "APIProvider",
    "ThinkingEffort",
    "ThinkingMode",
    "sampling_loop",
]

logger = logging.getLogger(__name__)

SYSTEM_PROMPT = system_prompt()
ContextManagement = Literal["client", "clear_tool_uses", "compact"]

DEFAULT_MAX_ATTEMPTS = 4  # per request, after the SDK's own retries
DEFAULT_TOOL_TIMEOUT = 300.0  # seconds; bash has its own, shorter one
MAX_CONTEXT_SHRINKS = 3  # "prompt is too long" / context window exceeded
CONTEXT_SHRINK_FACTOR = 0.7
# The request's estimate (exact server counts of its prefix, calibrated counts
# of the rest) and the sum of its messages' estimates differ by a few percent.
UNCACHED_HEADROOM = 0.95

ApiResponseCallback = Callable[
    [httpx2.Request, httpx2.Response | object | None, Exception | None], None
]


async def sampling_loop(
    *,
    model: str,
    provider: APIProvider,
    system_prompt_suffix: str,
    messages: list[BetaMessageParam],
    output_callback: Callable[[BetaContentBlockParam], None],
    tool_output_callback: Callable[[ToolResult, str], None],
    api_response_callback: ApiResponseCallback,
    api_key: str,
    only_n_most_recent_images: int | None = None,
    max_tokens: int = 4096,
    tool_version: ToolVersion,
    thinking_mode: ThinkingMode = "off",
    thinking_effort: ThinkingEffort = "medium",
    thinking_budget: int | None = None,
    token_efficient_tools_beta: bool = False,
    stream_callback: StreamCallback | None = None,
    status_callback: StatusCallback | None = None,
    token_manager: TokenManager | None = None,
    context_management: ContextManagement = "client",
    context_budget_fraction: float = 0.8,
    tool_timeout: float | None = DEFAULT_TOOL_TIMEOUT,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> list[BetaMessageParam]:
    """Run the agent until the model stops asking for tools; return `messages`.

    Same parameters and callbacks as the quickstart's loop. The keyword-only
    extras: `stream_callback` gets every delta as it streams, `status_callback`
    every wait, retry and error; `token_manager` defaults to the process's one.
    API errors never raise: they reach `api_response_callback` and
    `status_callback`. Cancellation raises, after answering open tool calls.
    """
    register_secret(api_key)
    tool_group = TOOL_GROUPS_BY_VERSION[tool_version]
    tools = ToolCollection(*(tool_class() for tool_class in tool_group.tools))
    manager = token_manager or token_manager_module.token_manager
    timeouts = ClientTimeouts.from_env()
    # The API's own context management, for the first-party API only; it acts
    # just below the client budget, which stays as the fallback.
    client_budget = ContextBudget.for_model(
        model,
        fraction=context_budget_fraction,
        input_tokens_per_minute=manager.limits_for(model=model).input_tokens_per_minute,
    )
    server_edits, edit_betas = server_context_management(
        context_management
        if APIProvider(provider) == APIProvider.ANTHROPIC
        else "client",
        model,
        trigger_tokens=int(client_budget.max_input_tokens * 0.9),
    )
    agent = _AgentLoop(
        model=model,
        provider=APIProvider(provider),
        messages=messages,
        tools=tools,
        manager=manager,
        options=RequestOptions(
            model=model,
            beta_flag=tool_group.beta_flag,
            prompt_caching=APIProvider(provider) == APIProvider.ANTHROPIC,
            token_efficient_tools=token_efficient_tools_beta,
            extra_betas=edit_betas,
        ),
        system_suffix=system_prompt_suffix,
        images_to_keep=only_n_most_recent_images,
        max_tokens=max_tokens,
        thinking=(thinking_mode, thinking_effort, thinking_budget),
        server_edits=server_edits,
        context_fraction=context_budget_fraction,
        tool_timeout=tool_timeout,
        stall_seconds=timeouts.read,
        max_attempts=max(1, max_attempts),
        on_block=output_callback,
        on_tool_result=tool_output_callback,
        on_api_response=api_response_callback,
        on_stream_event=stream_callback,
        on_status=status_callback,
    )
    client = make_client(
        provider,
        api_key,
        observe_response=functools.partial(manager.observe_response, model=model),
        timeouts=timeouts,
    )
    try:
        await agent.run(client)
    finally:
        answer_unanswered_tool_calls(messages)
        await _close_quietly(client)
    return messages


@dataclass
class _Sampled:
    """A response that finished streaming (or broke on malformed tool JSON)."""

    content: list[BetaContentBlockParam]
    stop_reason: str | None
    tool_input_errors: dict[str, str]
    cut_off_tool_ids: set[str]


@dataclass
class _AgentLoop:
    model: str
    provider: APIProvider
    messages: list[BetaMessageParam]
    tools: ToolCollection
    manager: TokenManager
    options: RequestOptions
    system_suffix: str
    images_to_keep: int | None
    max_tokens: int
    thinking: tuple[ThinkingMode, ThinkingEffort, int | None]
    server_edits: dict[str, Any] | None
    context_fraction: float
    tool_timeout: float | None
    stall_seconds: (
        float  # no stream progress this long: stalled (pings are no progress)
    )
    max_attempts: int
    on_block: Callable[[BetaContentBlockParam], None]
    on_tool_result: Callable[[ToolResult, str], None]
    on_api_response: ApiResponseCallback
    on_stream_event: StreamCallback | None
    on_status: StatusCallback | None
    executed_tool_ids: set[str] = field(default_factory=set)
    clamp_announced: bool = False
    partial_usage: Any = None
    context_window: int | None = None  # learned from a "prompt is too long" error
    # The oldest turn the last request kept (the cut holds the cached prefix).
    kept_cut: object | None = None
    announced_left_out: tuple[int, int, int] = (0, 0, 0)

    # ---- the turn cycle -------------------------------------------------

    async def run(self, client: AnyAsyncClient) -> None:
        # A history cut off earlier (a crash, a closed tab) may end in open calls.
        answer_unanswered_tool_calls(self.messages)
        self.executed_tool_ids |= answered_ids(self.messages)
        while True:
            sampled = await self._sample(client)
            if sampled is None:
                return
            if sampled.content:
                self.messages.append({"role": "assistant", "content": sampled.content})
            if not await self._act_on(sampled):
                return

    async def _act_on(self, sampled: _Sampled) -> bool:
        """Show the turn, run its tools; True when the loop must go on."""
        results: list[BetaToolResultBlockParam] = []
        has_tool_calls = any(is_tool_use(block) for block in sampled.content)
        if has_tool_calls:
            # Appended before any tool runs, so an interruption keeps what ran.
            self.messages.append({"role": "user", "content": cast(Any, results)})
        for block in sampled.content:
            self.on_block(block)
            if not is_tool_use(block):
                continue
            fields = cast(dict[str, Any], block)
            tool_use_id = str(fields["id"])
            result = await self._tool_result_for(fields, sampled)
            results.append(tool_result_param(result, tool_use_id))
            self.on_tool_result(result, tool_use_id)

        stop_reason = sampled.stop_reason
        if sampled.cut_off_tool_ids:
            self._status(
                "tool_call_cut_off",
                "The answer reached the max output tokens limit in the middle of a "
                "tool call, so that call was not run. Raise 'Max Output Tokens' "
                "or ask for smaller steps.",
            )
        if stop_reason == "refusal":
            self._status("refusal", "Claude declined to continue this request.")
            return False
        # pause_turn: a server tool paused a long turn; sending it back resumes it.
        return has_tool_calls or stop_reason == "pause_turn"

    async def _tool_result_for(
        self, block: dict[str, Any], sampled: _Sampled
    ) -> ToolResult:
        tool_use_id = str(block["id"])
        if tool_use_id in sampled.tool_input_errors:
            return ToolResult(
                error=f"{sampled.tool_input_errors[tool_use_id]}; the tool was not "
                "run. Send the call again with a complete JSON object."
            )
        if tool_use_id in sampled.cut_off_tool_ids:
            return ToolResult(
                error="the tool call was cut off by the max_tokens limit before "
                "its input was complete; it was not run"
            )
        if tool_use_id in self.executed_tool_ids:
            return ToolResult(error="this tool call already ran; it is not run twice")
        self.executed_tool_ids.add(tool_use_id)
        result = await run_tool_safely(
            lambda name, tool_input: self.tools.run(name=name, tool_input=tool_input),
            str(block["name"]),
            dict(block.get("input") or {}),
            self.tool_timeout,
        )
        return self.manager.budget_tool_result(result)

    # ---- one request, with retries --------------------------------------

    async def _sample(self, client: AnyAsyncClient) -> _Sampled | None:
        attempt = 0
        shrinks = 0
        while True:
            attempt += 1
            params, estimate = self._request_params(shrinks)
            try:
                reservation = await self._reserve(params, estimate)
            except RequestTooLargeError as error:
                # Input above the (perhaps newly learned) limit: send less history,
                # as for "prompt is too long"; other budgets cannot shrink here.
                if error.budget == "input_tokens" and shrinks < MAX_CONTEXT_SHRINKS:
                    shrinks += 1
                    self._status(
                        "context_pruned",
                        "The request is larger than the input tokens/min limit; "
                        "sending less history.",
                    )
                    continue
                self._error("request_too_large", redact(str(error)))
                return None
            try:
                sampled, response = await self._stream_once(
                    client, params, may_retry=attempt < self.max_attempts
                )
            except Exception as error:
                failure = classify(error)
                if not isinstance(error, anthropic.APIError | httpx2.HTTPError):
                    logger.exception("unexpected failure while streaming")
                # A status error before the stream means the server refused it
                # uncounted; anything later (status 200 = SSE error) was counted.
                refused = (
                    isinstance(error, anthropic.APIStatusError)
                    and error.status_code != 200
                )
                self._settle_failed(reservation, counted=not refused)
                self._report_error(error)
                if failure.kind == "prompt_too_long" and shrinks < MAX_CONTEXT_SHRINKS:
                    shrinks += 1
                    attempt -= 1
                    if (window := prompt_limit(error)) is not None:
                        self.context_window = window
                    self._status(
                        "context_pruned",
                        "The API said the prompt is too long; sending less history.",
                    )
                    continue
                if failure.retryable and attempt < self.max_attempts:
                    await self._pause_before_retry(failure, attempt)
                    continue
                self._error(failure.kind, failure.message)
                return None
            except BaseException:
                # Cancelled (or the UI stopped us) mid-request: the server may
                # have counted it, so the estimate stays charged.
                self._settle_failed(reservation, counted=True)
                raise
            self.manager.reconcile(reservation, response.usage)
            if (
                response.stop_reason == "model_context_window_exceeded"
                and shrinks < MAX_CONTEXT_SHRINKS
            ):
                shrinks += 1
                self._emit(
                    StreamInterrupted(
                        reason="the model's context window filled up", will_retry=True
                    )
                )
                self._status(
                    "context_pruned",
                    "The model's context window filled up; retrying with less history.",
                )
                continue
            return sampled

    def _request_params(self, shrinks: int) -> tuple[dict[str, Any], RequestEstimate]:
        system = system_block(self.system_suffix, cache=self.options.prompt_caching)
        tool_params = self.tools.to_params()
        scale = CONTEXT_SHRINK_FACTOR**shrinks
        input_limit = self.manager.limits_for(model=self.model).input_tokens_per_minute
        budget = ContextBudget.for_model(
            self.model,
            fraction=self.context_fraction * scale,
            input_tokens_per_minute=None
            if input_limit is None
            else int(input_limit * UNCACHED_HEADROOM * scale),
            images_to_keep=self.images_to_keep,
            context_window=self.context_window,
        )
        request_messages, report, estimate = self._fitting_view(
            budget, [system], tool_params
        )
        left_out = (
            report.turns_dropped,
            report.tool_outputs_shortened,
            report.images_removed_for_budget,
        )
        if report.pruned_for_budget and left_out != self.announced_left_out:
            self._status("context_pruned", report.describe())
        self.announced_left_out = left_out
        max_tokens = self._clamped_max_tokens()
        mode, effort, thinking_budget = self.thinking
        extra_body = thinking_body(mode, effort, thinking_budget, max_tokens)
        if self.server_edits:
            extra_body["context_management"] = self.server_edits
        params = {
            "model": self.model,
            "max_tokens": max_tokens,
            "system": [system],
            "messages": request_messages,
            "tools": tool_params,
            "betas": self.options.betas(),
            "extra_body": extra_body,
        }
        return params, estimate

    def _fitting_view(
        self, budget: ContextBudget, system: list[Any], tools: list[Any]
    ) -> tuple[list[BetaMessageParam], PruneReport, RequestEstimate]:
        """The request view (see `fit_request_view`), its cache marks, its estimate."""
        estimated: list[tuple[list[BetaMessageParam], RequestEstimate]] = []

        def estimate(view: list[BetaMessageParam]) -> RequestEstimate:
            if self.options.prompt_caching:
                inject_cache_breakpoints(view)
            result = self.manager.estimate_request(
                system=system, messages=view, tools=tools, model=self.model
            )
            estimated.append((view, result))
            return result

        view, report = fit_request_view(
            self.messages,
            budget,
            self.manager.estimate_message_tokens,
            lambda view: self.manager.input_charge(estimate(view), model=self.model),
            self.manager.estimate_frame_tokens(system=system, tools=tools),
            keep_from=self.kept_cut,
        )
        self.kept_cut = report.first_kept_message
        if estimated and estimated[-1][0] is view:
            return view, report, estimated[-1][1]
        return view, report, estimate(view)

    def _clamped_max_tokens(self) -> int:
        clamped = self.manager.clamp_max_tokens(self.max_tokens, model=self.model)
        if clamped < self.max_tokens and not self.clamp_announced:
            self.clamp_announced = True
            self._status(
                "max_tokens_clamped",
                f"Max output tokens lowered from {self.max_tokens:,} to {clamped:,}: "
                "the output tokens/min budget could never admit more in one request.",
            )
        return self.manager.max_tokens_for_next_request(clamped, model=self.model)

    async def _reserve(
        self, params: dict[str, Any], estimate: RequestEstimate
    ) -> Reservation:
        def on_wait(budget: str, seconds: float) -> None:
            self._status(
                "rate_limit_wait",
                f"Waiting {seconds:.0f} s for {wait_phrase(budget)}.",
                wait_seconds=seconds,
                budget=budget,
            )

        return await self.manager.acquire(
            estimate, params["max_tokens"], model=self.model, on_wait=on_wait
        )

    def _settle_failed(self, reservation: Reservation, *, counted: bool) -> None:
        """A failed request: refused ones cost nothing; broken streams cost what
        the server had measured (the estimate, when nothing was measured)."""
        usage, self.partial_usage = self.partial_usage, None
        if counted:
            self.manager.reconcile(reservation, usage)
        else:
            self.manager.release(reservation)

    async def _pause_before_retry(self, failure: Failure, attempt: int) -> None:
        if failure.kind == "rate_limit":
            # The limiter saw the 429's retry-after and holds every caller; the
            # next acquire() waits exactly as long as needed.
            self._status(
                "retrying",
                f"Rate limited by the API; retrying (attempt {attempt + 1} of "
                f"{self.max_attempts}).",
                attempt=attempt + 1,
                wait_seconds=failure.retry_after,
            )
            return
        delay = backoff_seconds(attempt, random.random())
        self._status(
            "retrying",
            f"{failure.message} Retrying in {delay:.1f} s (attempt {attempt + 1} of "
            f"{self.max_attempts}).",
            attempt=attempt + 1,
            wait_seconds=delay,
        )
        await asyncio.sleep(delay)

    # ---- the stream ------------------------------------------------------

    async def _stream_once(
        self, client: AnyAsyncClient, params: dict[str, Any], *, may_retry: bool
    ) -> tuple[_Sampled, BetaMessage]:
        router = StreamRouter(emit=self._emit)
        messages_api: Any = client.beta.messages  # the same call on every provider
        async with messages_api.stream(**params) as stream:
            try:
                await self._consume(stream, router)
                message = await stream.get_final_message()
                self._check_tool_ids(message)
            except BaseException as error:
                if _is_malformed_tool_json(error):
                    # The SDK could not parse a tool's streamed JSON: answer that
                    # call with an error result instead of losing the turn.
                    self._emit(
                        StreamInterrupted(
                            reason="malformed tool input", will_retry=False
                        )
                    )
                    snapshot = stream.current_message_snapshot
                    self.on_api_response(stream.response.request, stream.response, None)
                    return _sampled_from_broken_stream(snapshot, router), snapshot
                if not router.message_stopped:
                    # What the server measured before the break settles the charge;
                    # read first, as telling the UI may raise (Streamlit's Stop).
                    partial: Any = getattr(
                        stream, "_current_snapshot_or_none", lambda: None
                    )()
                    self.partial_usage = partial.usage if partial is not None else None
                    self._emit(_interruption(error, may_retry))
                raise
            self.on_api_response(stream.response.request, stream.response, None)
        return _sampled_from_message(message, router), message

    async def _consume(self, stream: Any, router: StreamRouter) -> None:
        """Route every event; raise `StreamBroken` unless one whole message arrived.

        The SDK swallows `ping`s, so the watchdog sees only real progress.
        """
        loop = asyncio.get_running_loop()
        events = aiter(stream)
        try:
            async with asyncio.timeout(self.stall_seconds) as watchdog:
                while True:
                    try:
                        event = await anext(events)
                    except StopAsyncIteration:
                        break
                    except (
                        LookupError,
                        AssertionError,
                        TypeError,
                        ValueError,
                    ) as error:
                        if _is_malformed_tool_json(error):
                            raise
                        # The SDK's accumulator choked on an event out of place.
                        raise StreamBroken(
                            "invalid",
                            f"an event could not be read: {type(error).__name__}",
                        ) from error
                    watchdog.reschedule(loop.time() + self.stall_seconds)
                    router.route(event)
                    if router.protocol_error is not None:
                        raise StreamBroken("invalid", router.protocol_error)
        except TimeoutError as error:
            if not watchdog.expired():
                raise
            raise StreamBroken(
                "stalled", f"no progress for {self.stall_seconds:g} s"
            ) from error
        if router.protocol_error is not None:
            raise StreamBroken("invalid", router.protocol_error)
        if not router.message_stopped:
            raise StreamBroken("cut", "the stream ended before message_stop")

    def _check_tool_ids(self, message: BetaMessage) -> None:
        """A tool_use id seen twice would make the history unsendable: retry instead."""
        ids = [
            str(getattr(block, "id", ""))
            for block in message.content
            if getattr(block, "type", None) in TOOL_INPUT_BLOCKS
        ]
        reused = [i for i in ids if i in self.executed_tool_ids]
        if len(set(ids)) != len(ids) or reused:
            raise StreamBroken("invalid", "a tool_use id came twice")

    # ---- reporting -------------------------------------------------------

    def _emit(self, event: StreamEvent) -> None:
        if self.on_stream_event is not None:
            self.on_stream_event(event)

    def _status(self, kind: Any, message: str, **details: Any) -> None:
        logger.info("%s: %s", kind, message)
        if self.on_status is not None:
            self.on_status(LoopStatus(kind=kind, message=message, **details))

    def _error(self, kind: Any, message: str) -> None:
        self._status("error", message, error_kind=kind)

    def _report_error(self, error: Exception) -> None:
        request = getattr(error, "request", None)
        response = getattr(error, "response", None)
        body = response if response is not None else getattr(error, "body", None)
        if request is not None:
            self.on_api_response(request, body, error)


def _is_malformed_tool_json(error: BaseException) -> bool:
    return isinstance(error, ValueError) and "tool parameter JSON" in str(error)


def _interruption(error: BaseException, may_retry: bool) -> StreamInterrupted:
    """What the UI is told when a stream breaks: why, and whether it comes again."""
    if not isinstance(error, Exception):
        return StreamInterrupted(reason="stopped", will_retry=False)
    failure = classify(error)
    return StreamInterrupted(
        reason=failure.message, will_retry=may_retry and failure.retryable
    )


def _sampled_from_message(message: BetaMessage, router: StreamRouter) -> _Sampled:
    content = message_to_params(message)
    invalid: dict[str, str] = {}
    cut_off: set[str] = set()
    for index, block in enumerate(message.content):
        if getattr(block, "type", None) != "tool_use":
            continue
        tool_use_id = str(getattr(block, "id", ""))
        if index not in router.finished_indexes:
            cut_off.add(tool_use_id)
        elif problem := tool_input_problem(
            block_to_param(block), router.tool_input_json(index)
        ):
            invalid[tool_use_id] = problem
    if cut_off:
        # A call whose input never finished is dropped from the history: it
        # must not run, and keeping half an input would only confuse the model.
        content = [
            block
            for block in content
            if not (is_tool_use(block) and block.get("id") in cut_off)
        ]
    return _Sampled(
        content=content,
        stop_reason=message.stop_reason,
        tool_input_errors=invalid,
        cut_off_tool_ids=cut_off,
    )


def _sampled_from_broken_stream(message: BetaMessage, router: StreamRouter) -> _Sampled:
    """The blocks that finished, plus the malformed call (answered as an error)."""
    content: list[BetaContentBlockParam] = []
    invalid: dict[str, str] = {}
    for index, block in enumerate(message.content):
        block_type = getattr(block, "type", None)
        if index in router.finished_indexes:
            param = block_to_param(block)
            if block_type == "text" and not getattr(block, "text", ""):
                continue
            content.append(param)
            if block_type == "tool_use" and (
                problem := tool_input_problem(param, router.tool_input_json(index))
            ):
                invalid[str(param.get("id"))] = problem  # type: ignore[union-attr]
        elif block_type == "tool_use":
            tool_use_id = str(getattr(block, "id", ""))
            content.append(
                cast(
                    BetaContentBlockParam,
                    {
                        "type": "tool_use",
                        "id": tool_use_id,
                        "name": str(getattr(block, "name", "")),
                        "input": {},
                    },
                )
            )
            invalid[tool_use_id] = "the tool input was not valid JSON"
        elif block_type == "text" and getattr(block, "text", ""):
            content.append(block_to_param(block))
        # An unfinished thinking block has no signature and cannot be sent back.
    return _Sampled(
        content=content,
        stop_reason="tool_use" if invalid else "end_turn",
        tool_input_errors=invalid,
        cut_off_tool_ids=set(),
    )


async def _close_quietly(client: AnyAsyncClient) -> None:
    try:
        await asyncio.shield(client.close())
    except Exception:  # closing must never hide the loop's own outcome
        logger.debug("closing the API client failed", exc_info=True)
