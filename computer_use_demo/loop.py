"""The agent loop: stream a response, run its tools, send the results, repeat.

Every exit path (answer, error, cancellation) leaves `messages` valid to send
again: each tool_use answered, nothing half-streamed appended, no tool run twice.
The loop only sequences; its parts assemble each request (request_assembly),
admit and settle it (admission), read its stream (stream_consumer) and decide
what follows a failure (retry_policy).
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
    BetaMessageParam,
    BetaToolResultBlockParam,
)

import token_manager as token_manager_module
from token_manager import TokenManager, account_tag, wait_phrase
from token_manager.estimate import fingerprint

from . import settings, telemetry
from .admission import HeldReservation, admit
from .api_client import AnyAsyncClient, ClientTimeouts, make_client
from .conversation import (
    answer_unanswered_tool_calls,
    answered_ids,
    block_type,
    blocks,
    is_tool_result,
    is_tool_use,
)
from .failures import StreamBroken, classify
from .models import ThinkingEffort, ThinkingMode
from .providers import APIProvider  # re-exported: the quickstart imports it from here
from .redaction import register_secret
from .request import ThinkingSettings, system_prompt
from .request_assembly import AssembledRequest, RequestAssembler
from .retry_policy import (
    CONTEXT_WINDOW_FILLED,
    DEFAULT_MAX_ATTEMPTS,
    Backoff,
    GiveUp,
    RetryPolicy,
    RetryState,
    Shrink,
)
from .status import ErrorKind, LoopStatus, StatusCallback, StatusKind
from .stream_consumer import ApiResponseCallback, ResponseReader, StreamedResponse
from .streaming import StreamCallback, StreamEvent, StreamInterrupted
from .tool_calls import run_tool_safely, tool_result_param
from .tool_output.budget import DEFAULT_TOOL_OUTPUT_DIR, ToolResultBudget
from .tools import TOOL_GROUPS_BY_VERSION, ToolCollection, ToolResult, ToolVersion
from .tools.base import ToolError
from .tools.identity import tools_account
from .turns import Turn

__all__ = [
    "SYSTEM_PROMPT",  # noqa: F822 (built on first read by __getattr__ below)
    "APIProvider",
    "ThinkingEffort",
    "ThinkingMode",
    "sampling_loop",
]

logger = logging.getLogger(__name__)


def __getattr__(name: str) -> str:
    # The quickstart's SYSTEM_PROMPT, built when read: importing the loop must not
    # fix the settings before the app (or a test) has set the environment.
    if name == "SYSTEM_PROMPT":
        return system_prompt()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


ContextManagement = Literal["client", "clear_tool_uses", "compact"]

DEFAULT_TOOL_TIMEOUT = 300.0  # seconds; bash has its own, shorter one


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
    configured = settings.current()
    timeouts = ClientTimeouts.from_settings(configured)
    say = _Notices(status_callback)
    requests = RequestAssembler.for_conversation(
        model=model,
        provider=APIProvider(provider),
        manager=manager,
        tool_params=tools.to_params(),
        beta_flag=tool_group.beta_flag,
        token_efficient_tools=token_efficient_tools_beta,
        context_management=context_management,
        context_fraction=context_budget_fraction,
        system_suffix=system_prompt_suffix,
        images_to_keep=only_n_most_recent_images,
        max_tokens=max_tokens,
        thinking=ThinkingSettings(thinking_mode, thinking_effort, thinking_budget),
        notify=say,
        account=account_tag(api_key),
    )
    agent = _AgentLoop(
        model=model,
        messages=messages,
        tools=tools,
        manager=manager,
        requests=requests,
        policy=RetryPolicy(
            max_attempts=max(1, max_attempts), max_wait=configured.max_retry_wait
        ),
        tool_timeout=tool_timeout,
        conversation=conversation_key(messages),
        tool_budget=ToolResultBudget(
            configured.tool_result_tokens,
            configured.tool_output_dir or DEFAULT_TOOL_OUTPUT_DIR,
        ),
        stall_seconds=timeouts.read,
        on_block=output_callback,
        on_tool_result=tool_output_callback,
        on_api_response=api_response_callback,
        on_stream_event=stream_callback,
        say=say,
    )
    client = make_client(
        provider,
        api_key,
        observe_response=functools.partial(manager.observe_response, model=model),
        timeouts=timeouts,
    )
    try:
        with telemetry.current().turn(model=model, provider=provider) as agent.trace:
            await agent.run(client)
    finally:
        answer_unanswered_tool_calls(messages)
        await _close_quietly(client)
    return messages


@dataclass(frozen=True)
class _Notices:
    """Tells the user (and the log) about waits, retries, limits and errors."""

    callback: StatusCallback | None

    def __call__(self, kind: StatusKind, message: str, **details: Any) -> None:
        logger.info("%s: %s", kind, message)
        if self.callback is not None:
            self.callback(LoopStatus(kind=kind, message=message, **details))

    def error(self, kind: ErrorKind, message: str) -> None:
        self("error", message, error_kind=kind)


@dataclass
class _AgentLoop:
    model: str
    messages: list[BetaMessageParam]
    tools: ToolCollection
    manager: TokenManager
    requests: RequestAssembler
    policy: RetryPolicy
    tool_timeout: float | None
    tool_budget: ToolResultBudget
    # Whose spending cap a request counts against: the conversation's first
    # message, the same through every turn and a resumed save.
    conversation: str
    stall_seconds: float  # no stream progress this long: stalled
    on_block: Callable[[BetaContentBlockParam], None]
    on_tool_result: Callable[[ToolResult, str], None]
    on_api_response: ApiResponseCallback
    on_stream_event: StreamCallback | None
    say: _Notices
    executed_tool_ids: set[str] = field(default_factory=set)
    trace: telemetry.TurnTrace = telemetry.NO_TRACE

    # ---- the turn cycle -------------------------------------------------

    async def run(self, client: AnyAsyncClient) -> None:
        # A history cut off earlier (a crash, a closed tab) may end in open calls.
        answer_unanswered_tool_calls(self.messages)
        self.executed_tool_ids |= answered_ids(self.messages)
        while True:
            turn = await self._sample(client)
            if turn is None:
                return
            if turn.stop_reason == "refusal":
                self._refused()
                return
            if turn.content:
                self.messages.append({"role": "assistant", "content": turn.content})
            if not await self._act_on(turn):
                return

    async def _act_on(self, turn: Turn) -> bool:
        """Show the turn, run its tools; True when the loop must go on."""
        results: list[BetaToolResultBlockParam] = []
        if turn.has_tool_calls:
            # Appended before any tool runs, so an interruption keeps what ran.
            self.messages.append({"role": "user", "content": cast(Any, results)})
        for block in turn.content:
            self.on_block(block)
            if not is_tool_use(block):
                continue
            fields = cast(dict[str, Any], block)
            tool_use_id = str(fields["id"])
            result = await self._tool_result_for(fields, turn)
            results.append(tool_result_param(result, tool_use_id))
            self.on_tool_result(result, tool_use_id)

        if turn.cut_off_tool_ids and turn.stop_reason == "max_tokens":
            self.say(
                "tool_call_cut_off",
                "The answer reached the max output tokens limit in the middle of a "
                "tool call, so that call was not run. Raise 'Max Output Tokens' "
                "or ask for smaller steps.",
            )
        if turn.stop_reason == "model_context_window_exceeded":
            return False  # said by _sample: nothing more fits
        # pause_turn: a server tool paused a long turn; sending it back resumes it.
        return turn.has_tool_calls or turn.stop_reason == "pause_turn"

    def _refused(self) -> None:
        """A refusal, at any point of the answer (also inside a tool call).

        The API's advice: "you must reset the conversation context by removing
        or updating the turn that was refused before continuing", or the next
        request is refused too (handling stop reasons and streaming refusals:
        https://platform.claude.com/docs/en/build-with-claude/handling-stop-reasons,
        https://platform.claude.com/docs/en/test-and-evaluate/strengthen-guardrails/handle-streaming-refusals).
        So the refused answer is never kept (none of its tool calls runs), and
        a prompt the user wrote is taken back out of the conversation."""
        last = self.messages[-1] if self.messages else None
        prompt = (
            last
            if last is not None
            and last.get("role") == "user"
            and not any(is_tool_result(block) for block in blocks(last))
            else None
        )
        if prompt is not None:
            self.messages.pop()
            said = " ".join(
                str(block.get("text", ""))
                for block in blocks(prompt)
                if block_type(block) == "text"
            ).strip()
            self.say(
                "refusal",
                "Claude refused this request (stop_reason: refusal). As the API "
                "advises, your message was taken back out of the conversation so "
                f"the next one is not refused too; rephrase it to go on: {said[:300]!r}",
            )
            return
        self.say(
            "refusal",
            "Claude refused to go on (stop_reason: refusal); its answer was left out "
            "of the conversation and none of its tool calls ran. Rephrase what you "
            "ask next: the API refuses a conversation that goes on from a refused turn.",
        )

    async def _tool_result_for(self, block: dict[str, Any], turn: Turn) -> ToolResult:
        tool_use_id = str(block["id"])
        if tool_use_id in turn.tool_input_errors:
            return ToolResult(
                error=f"{turn.tool_input_errors[tool_use_id]}; the tool was not "
                "run. Send the call again with a complete JSON object."
            )
        if tool_use_id in turn.cut_off_tool_ids:
            return ToolResult(
                error="the tool call was cut off by the max_tokens limit before "
                "its input was complete; it was not run"
            )
        if tool_use_id in self.executed_tool_ids:
            return ToolResult(error="this tool call already ran; it is not run twice")
        self.executed_tool_ids.add(tool_use_id)
        with self.trace.tool(name=str(block["name"]), call_id=tool_use_id) as call:
            result = await run_tool_safely(
                lambda name, tool_input: self.tools.run(
                    name=name, tool_input=tool_input
                ),
                str(block["name"]),
                dict(block.get("input") or {}),
                self.tool_timeout,
            )
            call.result(is_error=bool(result.error))
        limit = self.manager.limits_for(model=self.model).input_tokens_per_minute
        return self.tool_budget.apply(result, limit, owner=_tools_owner())

    # ---- one answer, as the retry policy decides --------------------------

    async def _sample(self, client: AnyAsyncClient) -> Turn | None:
        """The next answer, requested again (with less history, or after a
        backoff) while the retry policy says so; None when it gives up.

        A request sent again with less history must really be smaller than the
        one before: when nothing is left to leave out, the loop gives up at
        once instead of sending (and streaming) the same request again."""
        state = RetryState()
        request = self.requests.assemble(self.messages)
        while True:
            may_retry = self.policy.may_retry(state)
            try:
                turn = await self._request(client, request, may_retry=may_retry)
            except Exception as error:
                failure = classify(error)
                decision = self.policy.next(failure, state, random.random())
                kept: Turn | None = None
            else:
                if turn.stop_reason != "model_context_window_exceeded":
                    return turn
                failure = CONTEXT_WINDOW_FILLED
                decision = self.policy.next(failure, state, random.random())
                kept = turn  # what came is kept when nothing more can be asked
            following: AssembledRequest | None = None
            if isinstance(decision, Shrink):
                following = self.requests.assemble(
                    self.messages,
                    shrinks=state.shrinks + 1,
                    body_refused=failure.kind == "body_too_large",
                    context_window=decision.context_window,
                )
                # The limiter re-reads its limits for each request: only what
                # the server refused must come back smaller.
                from_server = failure.kind != "request_too_large"
                if from_server and not following.sends_less_than(request):
                    decision = GiveUp(failure)
            if isinstance(decision, GiveUp):
                self.say.error(decision.failure.kind, _given_up(decision, kept))
                return kept
            if kept is not None:
                self._emit(StreamInterrupted(reason=failure.message, will_retry=True))
            await self._follow(decision)
            state = state.after(decision)
            # After a backoff the request is built anew: max_tokens follows
            # what the output budget admits by then.
            request = following or self.requests.assemble(
                self.messages, shrinks=state.shrinks
            )

    async def _request(
        self, client: AnyAsyncClient, request: AssembledRequest, *, may_retry: bool
    ) -> Turn:
        """Admit, stream and settle one request; raises what went wrong."""
        with self.trace.request(max_tokens=request.max_tokens) as call:
            held = await admit(
                self.manager,
                request,
                model=self.model,
                on_wait=call.on_wait(self._on_wait),
                conversation=self.conversation,
                account=self.requests.account,
            )
            call.admitted()
            response = await self._read(client, request, held, may_retry=may_retry)
            call.responded(
                response_id=response.message_id,
                stop_reason=response.turn.stop_reason,
                usage=response.usage,
            )
        return response.turn

    async def _read(
        self,
        client: AnyAsyncClient,
        request: AssembledRequest,
        held: HeldReservation,
        *,
        may_retry: bool,
    ) -> StreamedResponse:
        reader = ResponseReader(
            emit=self._emit,
            on_api_response=self.on_api_response,
            stall_seconds=self.stall_seconds,
        )
        try:
            response = await reader.read(
                client,
                request.params,
                already_run=self.executed_tool_ids,
                may_retry=may_retry,
            )
        except BaseException as error:
            # Released if refused before the stream; otherwise (a break, a
            # cancellation, the UI's Stop) charged as the server may have counted it.
            held.settle_failed(error, reader.measured_usage)
            if isinstance(error, Exception):
                # The status line tells the user; the traceback is for --debug.
                logger.debug("the request failed", exc_info=True)
                if not isinstance(
                    error, anthropic.APIError | httpx2.HTTPError | StreamBroken
                ):
                    logger.warning("the stream failed: %s", classify(error).message)
                self._report_error(error)
            raise
        held.settle(response.usage)
        return response

    async def _follow(self, decision: Shrink | Backoff) -> None:
        """Say what comes next; wait out a backoff."""
        if isinstance(decision, Shrink):
            self.say("context_pruned", decision.notice)
            return
        self.say(
            "retrying",
            decision.notice,
            attempt=decision.attempt,
            wait_seconds=decision.wait_seconds,
        )
        self.trace.retrying(attempt=decision.attempt, wait_seconds=decision.seconds)
        await asyncio.sleep(decision.seconds)

    # ---- reporting -------------------------------------------------------

    def _on_wait(self, budget: str, seconds: float) -> None:
        self.say(
            "rate_limit_wait",
            f"Waiting {seconds:.0f} s for {wait_phrase(budget)}.",
            wait_seconds=seconds,
            budget=budget,
        )

    def _emit(self, event: StreamEvent) -> None:
        if self.on_stream_event is not None:
            self.on_stream_event(event)

    def _report_error(self, error: Exception) -> None:
        request = getattr(error, "request", None)
        response = getattr(error, "response", None)
        body = response if response is not None else getattr(error, "body", None)
        if request is not None:
            self.on_api_response(request, body, error)


def _given_up(decision: GiveUp, kept: Turn | None) -> str:
    """The one error line for a request the loop stops trying."""
    failure = decision.failure
    if not failure.less_history_helps:
        return failure.message
    if kept is not None:
        return (
            "The model's context window filled up, and nothing older is left to "
            "leave out: the answer so far is kept. Start a new conversation, or "
            "lower 'Max Output Tokens'."
        )
    return (
        f"{failure.message} Nothing older is left to leave out of this request: "
        "start a new conversation, or send a smaller message."
    )


async def _close_quietly(client: AnyAsyncClient) -> None:
    try:
        await asyncio.shield(client.close())
    except Exception:  # closing must never hide the loop's own outcome
        logger.debug("closing the API client failed", exc_info=True)


def conversation_key(messages: list[BetaMessageParam]) -> str:
    """A conversation's name for its spending cap: its first message's fingerprint."""
    return fingerprint(messages[0]) if messages else ""


def _tools_owner() -> tuple[int, int] | None:
    """The uid and gid the tools run as, when not ours: a shortened result's
    whole text is saved where they, who page through it, can read it."""
    try:
        account = tools_account()
    except ToolError:
        return None
    return None if account is None else (account.uid, account.gid)
