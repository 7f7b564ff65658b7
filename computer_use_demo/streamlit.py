"""The chat app (`streamlit run computer_use_demo/streamlit.py`): the quickstart's layout,
with answers streaming in live, a token meter, saved conversations and a Stop button.

It never shows a traceback or the API key; every turn is saved as it ends,
stopped or not.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from computer_use_demo.settings import current as current_settings

# The app's one read of the environment, before anything else imports: a bad
# variable is one clear line, not a traceback.
if __name__ == "__main__" and (_problems := current_settings().problems):
    st.set_option("client.showErrorDetails", "type")
    st.error(f"The app cannot start: {_problems[0]}", icon=":material/error:")
    st.stop()

from computer_use_demo import loop, telemetry
from computer_use_demo.process_guard import guard_process
from computer_use_demo.providers import APIProvider
from computer_use_demo.redaction import install_log_redaction, redact, register_secret
from computer_use_demo.startup_log import log_budget_once
from computer_use_demo.streaming import MessageStarted, StreamEvent, Usage
from computer_use_demo.tools import ToolResult
from computer_use_demo.ui.heartbeat import Heartbeat, InterruptRelay
from computer_use_demo.ui.history import render_history, render_tool_output
from computer_use_demo.ui.live import LiveTurns
from computer_use_demo.ui.meter import draw_meter
from computer_use_demo.ui.sidebar import SidebarSlots, draw_usage_summary, sidebar
from computer_use_demo.ui.state import (
    Sender,
    price_table,
    save_conversation_quietly,
    setup_state,
)
from computer_use_demo.ui.status_view import StatusView
from computer_use_demo.ui.usage import describe, prices_for, usage_record
from token_manager import account_tag, token_manager

logger = logging.getLogger(__name__)

STREAMLIT_STYLE = """
<style>
    button[kind=header] { background-color: rgb(255, 75, 75); border: 1px solid rgb(255, 75, 75); color: white; }
    button[kind=header]:hover { background-color: rgb(255, 51, 51); }
    .stAppDeployButton { visibility: hidden; }
</style>
"""
WARNING_TEXT = (
    "⚠️ Security Alert: Never provide access to sensitive accounts or data, as malicious "
    "web content can hijack Claude's behavior"
)
INTERRUPT_TEXT = "(user stopped or interrupted and wrote the following)"
STOPPED_TEXT = "Stopped. The conversation is saved; write a message to go on."
UNANSWERED_TEXT = (
    "This conversation ends with your message, which got no answer (an error, "
    "a stop or an empty answer). Nothing is sent until you say so: write a new "
    "message, or send this one again."
)
SEND_AGAIN = "Send again"
# After Stop, Streamlit starts the next run in a new thread at once (fast
# reruns) while the stopped one unwinds; the new run waits this long at most.
UNWIND_WAIT_SECONDS = 15.0

__all__ = ["INTERRUPT_TEXT", "Sender", "main", "setup_state", "validate_auth"]


def _draw_meter(meter: DeltaGenerator, state: Any) -> None:
    """The token meter and, beside it, what this conversation and today cost
    (never waits: the daily figure is the fleet's as Redis last told it)."""
    spend = token_manager.spending.report(
        conversation=loop.conversation_key(state.messages),
        account=account_tag(state.api_key),
    )
    draw_meter(meter, token_manager.snapshot(model=state.model), spend)


def validate_auth(provider: str, api_key: str | None) -> str | None:
    """What the user must fix before a request can go, or None."""
    if provider == APIProvider.ANTHROPIC and not api_key:
        return "Enter your Claude API key in the sidebar to continue."
    if provider == APIProvider.BEDROCK:
        import boto3

        if not boto3.Session().get_credentials():
            return "You must have AWS credentials set up to use the Bedrock API."
    if provider == APIProvider.VERTEX:
        if not current_settings().cloud_ml_region:
            return "Set the CLOUD_ML_REGION environment variable to use the Vertex API."
        import google.auth
        from google.auth.exceptions import DefaultCredentialsError

        try:
            google.auth.default(
                scopes=["https://www.googleapis.com/auth/cloud-platform"]
            )
        except DefaultCredentialsError:
            return "Your google cloud credentials are not set up correctly."
    return None


def maybe_add_interruption_blocks() -> list[dict[str, Any]]:
    """After a Stop, tell the model the user interrupted (the loop has already
    answered any tool call left open)."""
    if not st.session_state.in_sampling_loop:
        return []
    return [{"type": "text", "text": INTERRUPT_TEXT}]


def _record_exchange(request: Any, response: Any, error: Exception | None) -> None:
    st.session_state.http_log.add(request, response, error)


def _render_http_log() -> None:
    st.toggle(
        "Show HTTP exchanges",
        key="show_http_log",
        help="Drawn only when shown; the newest 50 are kept, keys masked.",
    )
    if not st.session_state.show_http_log:
        return
    for exchange in reversed(st.session_state.http_log.entries):
        with st.expander(
            f"{exchange.at} {exchange.method} {exchange.url} → {exchange.status or exchange.error}"
        ):
            st.json(exchange.request_headers, expanded=False)
            st.code(exchange.request_body, language="json")
            st.json(exchange.response_headers, expanded=False)
            if exchange.error:
                st.error(exchange.error)


async def run_turn(
    chat: DeltaGenerator, slots: SidebarSlots, stop_slot: DeltaGenerator
) -> None:
    """Run the loop on the newest user message, drawing as it streams.

    Everything the `finally` needs is read before the turn: once the user
    presses Stop, Streamlit raises again at any use of `st`, session state
    included.
    """
    state = st.session_state
    messages = state.messages
    conversation_id = state.conversation_id
    usage_log = state.turn_usage
    tool_results: dict[str, ToolResult] = state.tools
    hide_images = bool(state.hide_images)
    turn = len(messages) - 1
    prices = prices_for(state.model, price_table())
    settings = {"model": state.model, "provider": str(state.provider)}

    def on_usage(usage: Usage) -> None:
        usage_log.append(usage_record(turn, usage))
        chat.caption(describe(usage, prices))
        draw_usage_summary(slots.usage, usage_log, prices)
        _draw_meter(slots.meter, state)

    def on_tool_output(result: ToolResult, tool_use_id: str) -> None:
        tool_results[tool_use_id] = result
        with chat:
            render_tool_output(result, hide_images)

    live = LiveTurns(parent=chat, on_usage=on_usage)
    status_view = StatusView(chat)

    def on_stream_event(event: StreamEvent) -> None:
        if isinstance(event, MessageStarted):
            status_view.close()  # the wait is over: the answer has begun
        live(event)

    def every_tick() -> None:
        _ = st.session_state["in_sampling_loop"]  # where a Stop click surfaces
        live.flush_stale()
        status_view.tick()

    finished = threading.Event()
    state.turn_finished = finished
    relay = InterruptRelay(asyncio.current_task())
    heartbeat = Heartbeat(
        relay,
        fast=every_tick,
        slow=lambda: _draw_meter(slots.meter, state),
    )
    stop_slot.button(
        "Stop", type="primary", help="Stop the turn; the conversation stays valid."
    )
    state.in_sampling_loop = True
    heartbeat.start()
    try:
        await loop.sampling_loop(
            system_prompt_suffix=state.custom_system_prompt,
            model=state.model,
            provider=state.provider,
            messages=messages,
            output_callback=lambda block: None,  # drawn live from the stream
            tool_output_callback=on_tool_output,
            api_response_callback=_record_exchange,
            api_key=state.api_key,
            only_n_most_recent_images=state.only_n_most_recent_images,
            tool_version=state.tool_versions,
            max_tokens=state.output_tokens,
            thinking_mode=state.thinking_mode,
            thinking_effort=state.thinking_effort,
            thinking_budget=state.thinking_budget,
            token_efficient_tools_beta=state.token_efficient_tools_beta,
            stream_callback=on_stream_event,
            status_callback=status_view,
            context_management=state.context_management,
        )
        state.in_sampling_loop = False
    except asyncio.CancelledError:
        if relay.interruption is None:
            raise
        # Stop (or any rerun) was noticed by the heartbeat: the loop has been
        # cancelled and has closed its tool calls; let Streamlit rerun.
        raise relay.interruption from None
    except Exception as error:  # never a traceback in the chat
        logger.exception("the turn failed")
        state.in_sampling_loop = False
        chat.error(
            f"Something went wrong: {redact(str(error)) or type(error).__name__}",
            icon=":material/error:",
        )
    finally:
        heartbeat.stop()
        try:
            save_conversation_quietly(
                messages, conversation_id, {**settings, "usage": usage_log}
            )
        finally:
            finished.set()
        stop_slot.empty()
        status_view.close()


def _wait_for_a_stopped_turn(finished: threading.Event | None) -> None:
    """Let a stopped turn (still unwinding in the previous run's thread) close
    its tool calls and save before this run reads the conversation."""
    if finished is not None and not finished.wait(UNWIND_WAIT_SECONDS):
        logger.warning("the stopped turn is still unwinding; going on")


async def main() -> None:
    """One run of the script: sidebar, history, and the turn if one is due."""
    install_log_redaction()
    guard_process()
    # Tracebacks stay in the log: the browser is told only the error's type.
    st.set_option("client.showErrorDetails", "type")
    log_budget_once()
    telemetry.configure()  # once per process; the SDK flushes at exit
    setup_state()
    state = st.session_state
    _wait_for_a_stopped_turn(state.get("turn_finished"))
    if state.api_key:
        register_secret(state.api_key)
    st.markdown(STREAMLIT_STYLE, unsafe_allow_html=True)
    st.title("Claude Computer Use Demo")
    if not current_settings().hide_warning:
        st.warning(WARNING_TEXT)

    with st.sidebar:
        stop_slot = st.empty()
        slots = sidebar()
        _draw_meter(slots.meter, state)

    if not state.auth_validated:
        if auth_error := validate_auth(state.provider, state.api_key):
            st.warning(f"Please resolve the following auth issue:\n\n{auth_error}")
            return
        state.auth_validated = True

    chat, http_logs = st.tabs(["Chat", "HTTP Exchange Logs"])
    new_message = st.chat_input(
        "Type a message to send to Claude to control the computer..."
    )
    with http_logs:
        _render_http_log()
    with chat:
        render_history(
            state.messages,
            state.turn_usage,
            prices_for(state.model, price_table()),
            bool(state.hide_images),
        )
        if new_message:
            state.messages.append(
                {
                    "role": Sender.USER,
                    "content": [
                        *maybe_add_interruption_blocks(),
                        {"type": "text", "text": new_message},
                    ],
                }
            )
            st.chat_message(Sender.USER).markdown(new_message)
        if state.in_sampling_loop and not new_message:
            st.info(STOPPED_TEXT)  # a rerun after Stop: wait for the next message
            return
        if not state.messages or state.messages[-1]["role"] != Sender.USER:
            return
        # Only what the user sent goes: a new message, or this explicit click.
        # Opening a conversation, or any other control's rerun, sends nothing.
        if not new_message and not _send_again_clicked():
            return
        await run_turn(chat, slots, stop_slot)


def _send_again_clicked() -> bool:
    """Offer to send the unanswered last message again; True on the click
    (the offer then goes while the turn runs)."""
    offer = st.empty()
    with offer.container():
        st.info(UNANSWERED_TEXT, icon=":material/info:")
        clicked = st.button(SEND_AGAIN, key="send_again")
    if clicked:
        offer.empty()
    return clicked


if __name__ == "__main__":
    asyncio.run(main())
