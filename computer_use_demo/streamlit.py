"""The chat app (`streamlit run computer_use_demo/streamlit.py`): the quickstart's layout,
with answers streaming in live, a token meter, saved conversations and a Stop button.

It never shows a traceback or the API key; every turn is saved as it ends.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import subprocess
import time
from dataclasses import asdict
from enum import StrEnum
from typing import Any, get_args

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from computer_use_demo import loop, storage
from computer_use_demo.loop import APIProvider
from computer_use_demo.models import (
    DEFAULT_MODEL_BY_PROVIDER,
    DEFAULT_MODEL_CONF,
    ThinkingEffort,
    lookup_model_conf,
)
from computer_use_demo.redaction import install_log_redaction, redact, register_secret
from computer_use_demo.status import LoopStatus
from computer_use_demo.streaming import Usage
from computer_use_demo.tools import ToolResult, ToolVersion
from computer_use_demo.ui.http_log import ExchangeLog
from computer_use_demo.ui.live import LiveTurns
from computer_use_demo.ui.usage import (
    DEFAULT_PRICES,
    Prices,
    cache_hit_rate,
    cost,
    describe,
    prices_for,
)
from token_manager import RateLimits, token_manager

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
METER_REFRESH_SECONDS = 0.5


class Sender(StrEnum):
    USER = "user"
    BOT = "assistant"
    TOOL = "tool"


# ---- state ---------------------------------------------------------------------


def setup_state() -> None:
    state = st.session_state
    defaults: dict[str, Any] = {
        "messages": [],
        "tools": {},
        "only_n_most_recent_images": 3,
        "hide_images": False,
        "token_efficient_tools_beta": False,
        "in_sampling_loop": False,
        "auth_validated": False,
        "turn_usage": [],
        "conversation_id": storage.new_conversation_id(),
        "context_management": "client",
        "show_http_log": False,
        "prices": {model: asdict(prices) for model, prices in DEFAULT_PRICES.items()},
    }
    for key, value in defaults.items():
        if key not in state:
            state[key] = value
    if "http_log" not in state:
        state.http_log = ExchangeLog()
    if "api_key" not in state:
        state.api_key = storage.load_text("api_key") or os.getenv(
            "ANTHROPIC_API_KEY", ""
        )
    if "provider" not in state:
        state.provider = os.getenv("API_PROVIDER", "anthropic") or APIProvider.ANTHROPIC
    if "provider_radio" not in state:
        state.provider_radio = state.provider
    if "model" not in state:
        _reset_model()
    if "thinking_modes" not in state:
        _reset_model_conf()
    if "custom_system_prompt" not in state:
        state.custom_system_prompt = storage.load_text("system_prompt") or ""


def _reset_model() -> None:
    st.session_state.model = DEFAULT_MODEL_BY_PROVIDER[str(st.session_state.provider)]
    _reset_model_conf()


def _reset_model_conf() -> None:
    conf = lookup_model_conf(st.session_state.model)
    st.session_state.tool_version = conf.tool_version
    st.session_state.tool_versions = conf.tool_version
    st.session_state.output_tokens = conf.default_output_tokens
    st.session_state.max_output_tokens = conf.max_output_tokens
    st.session_state.thinking_budget = conf.default_output_tokens // 2
    st.session_state.thinking_modes = conf.thinking_modes
    st.session_state.thinking_mode = conf.thinking_modes[0]
    st.session_state.thinking_effort = "medium"


def _save_setting(name: str, value: str) -> None:
    storage.save_text(name, value)


def _save_key() -> None:
    key = st.session_state.api_key.strip()
    if key:
        storage.save_text("api_key", key)
        register_secret(key)


def _save_conversation(
    messages: Any, conversation_id: str, settings: dict[str, str]
) -> None:
    """Write the conversation; never fails the turn (a full disk is only logged)."""
    if not isinstance(messages, list) or not messages:
        return
    try:
        storage.save_conversation(conversation_id, messages, settings)
    except (OSError, TypeError, ValueError) as error:
        logger.warning("could not save the conversation: %s", error)


# ---- sidebar -------------------------------------------------------------------


def sidebar() -> DeltaGenerator:
    """The quickstart's settings, then limits, usage and saved conversations.

    Returns the placeholder where the live token meter is drawn.
    """
    state = st.session_state

    def reset_provider() -> None:
        if state.provider_radio != state.provider:
            state.provider = state.provider_radio
            _reset_model()
            state.auth_validated = False

    st.radio(
        "API Provider",
        options=[provider.value for provider in APIProvider],
        key="provider_radio",
        format_func=str.title,
        on_change=reset_provider,
    )
    st.text_input("Model", key="model", on_change=_reset_model_conf)
    if state.provider == APIProvider.ANTHROPIC:
        st.text_input(
            "Claude API Key",
            type="password",
            key="api_key",
            on_change=_save_key,
            help="Saved to ~/.anthropic/api_key, readable only by you.",
        )
    st.number_input(
        "Only send N most recent images",
        min_value=0,
        key="only_n_most_recent_images",
        help="To decrease the total tokens sent, remove older screenshots from the conversation",
    )
    st.text_area(
        "Custom System Prompt Suffix",
        key="custom_system_prompt",
        help="Additional instructions appended to the system prompt (see computer_use_demo/request.py).",
        on_change=lambda: _save_setting("system_prompt", state.custom_system_prompt),
    )
    st.checkbox("Hide screenshots", key="hide_images")
    st.checkbox("Enable token-efficient tools beta", key="token_efficient_tools_beta")
    versions = list(get_args(ToolVersion))
    st.radio(
        "Tool Versions",
        key="tool_versions",
        options=versions,
        on_change=lambda: setattr(state, "tool_version", state.tool_versions),
    )
    st.number_input(
        "Max Output Tokens",
        key="output_tokens",
        min_value=1,
        max_value=int(state.max_output_tokens),
        step=1,
        help="Streaming lets this go up to the model's limit; the rate limiter lowers it if the output budget is smaller.",
    )
    _thinking_controls()
    st.radio(
        "Context management",
        options=["client", "clear_tool_uses", "compact"],
        key="context_management",
        format_func={
            "client": "Client budget",
            "clear_tool_uses": "API: clear old tool results",
            "compact": "API: compaction",
        }.get,
        help="The client budget always applies; the API's own strategies run on top where the model supports them.",
    )
    meter = st.empty()
    _limits_editor()
    _usage_panel()
    _conversations_panel()
    if st.button("Reset", type="primary"):
        with st.spinner("Resetting..."):
            st.session_state.clear()
            setup_state()
            subprocess.run("pkill Xvfb; pkill tint2", shell=True, check=False)
            time.sleep(1)
            subprocess.run("./start_all.sh", shell=True, check=False)
    return meter


def _thinking_controls() -> None:
    state = st.session_state
    conf = lookup_model_conf(state.model)
    modes = conf.thinking_modes
    state.thinking_modes = modes
    if state.thinking_mode not in modes:
        state.thinking_mode = modes[0]
    if conf is DEFAULT_MODEL_CONF:
        st.caption(
            "⚠️ Unrecognized model — all thinking modes are shown; pick one this model supports."
        )
    if len(modes) > 1:
        st.radio(
            "Thinking",
            options=modes,
            key="thinking_mode",
            format_func=str.capitalize,
            horizontal=True,
        )
        if state.thinking_mode == "adaptive":
            st.select_slider(
                "Thinking Effort",
                options=get_args(ThinkingEffort),
                key="thinking_effort",
            )
        elif state.thinking_mode == "extended":
            st.number_input(
                "Thinking Budget",
                key="thinking_budget",
                max_value=int(state.max_output_tokens),
                step=1,
            )


def draw_meter(meter: DeltaGenerator) -> None:
    """The token meter: each budget's use in the current window, and who waits."""
    snapshot = token_manager.snapshot()
    lines = ["**Rate limits** (this window)"]
    for name, label in (
        ("requests", "Requests"),
        ("input_tokens", "Input tokens"),
        ("output_tokens", "Output tokens"),
    ):
        budget = snapshot.budgets[name]
        limit = "∞" if budget.limit is None else f"{budget.limit:,}"
        learned = " (from API headers)" if budget.limit_source == "server" else ""
        lines.append(f"- {label}: {budget.used:,} / {limit}{learned}")
    with meter.container():
        st.markdown("\n".join(lines))
        for name in ("input_tokens", "output_tokens"):
            budget = snapshot.budgets[name]
            if budget.limit:
                st.progress(min(1.0, budget.used / budget.limit))
        if snapshot.waiters:
            waiting_for = (snapshot.waiting_for or "a budget").replace("_", " ")
            st.caption(f"{snapshot.waiters} request(s) waiting for {waiting_for}")


def _limits_editor() -> None:
    limits = token_manager.limits
    with st.expander("Rate limits (editable)"):
        rpm = st.number_input(
            "Requests / min", min_value=1, value=limits.requests_per_minute or 50
        )
        itpm = st.number_input(
            "Input tokens / min",
            min_value=1_000,
            value=limits.input_tokens_per_minute or 40_000,
            step=1_000,
        )
        otpm = st.number_input(
            "Output tokens / min",
            min_value=1_000,
            value=limits.output_tokens_per_minute or 16_000,
            step=1_000,
        )
        if st.button("Apply limits"):
            token_manager.set_limits(
                RateLimits(int(rpm), int(itpm), int(otpm), limits.window_seconds)
            )
        st.caption(
            "Limits learned from the API's response headers replace the defaults."
        )


def _price_table() -> dict[str, Prices]:
    return {
        model: Prices(**values) for model, values in st.session_state.prices.items()
    }


def _usage_panel() -> None:
    state = st.session_state
    total = sum((Usage(**entry) for entry in state.turn_usage), Usage())
    prices = prices_for(state.model, _price_table())
    with st.expander("Usage and cost", expanded=bool(state.turn_usage)):
        st.caption(f"{len(state.turn_usage)} response(s) in this conversation")
        st.markdown(describe(total, prices))
        rate = cache_hit_rate(total)
        st.caption(
            f"cache hit rate: {'—' if rate is None else f'{rate:.0%}'} · total ≈ ${cost(total, prices):.4f}"
        )
        model_prices = state.prices.setdefault(state.model, asdict(prices))
        st.caption(f"Prices for {state.model} (USD per million tokens):")
        for field_name in ("input", "output", "cache_write", "cache_read"):
            model_prices[field_name] = st.number_input(
                field_name.replace("_", " "),
                min_value=0.0,
                value=float(model_prices[field_name]),
                key=f"price_{field_name}",
            )


def _conversations_panel() -> None:
    saved = storage.list_conversations()
    with st.expander("Conversations"):
        if st.button("New conversation"):
            _start_new_conversation()
        if not saved:
            st.caption("Conversations are saved here after every turn.")
            return
        labels: dict[str, str] = {
            item.conversation_id: f"{item.title} ({time.strftime('%b %d %H:%M', time.localtime(item.updated_at))})"
            for item in saved
        }
        chosen = st.selectbox(
            "Saved", options=list(labels), format_func=lambda key: labels.get(key, key)
        )
        if st.button("Open") and chosen:
            loaded = next(item for item in saved if item.conversation_id == chosen)
            st.session_state.messages = loaded.messages
            st.session_state.conversation_id = loaded.conversation_id
            st.session_state.turn_usage = []
            st.rerun()


def _start_new_conversation() -> None:
    st.session_state.messages = []
    st.session_state.tools = {}
    st.session_state.turn_usage = []
    st.session_state.conversation_id = storage.new_conversation_id()


# ---- chat ----------------------------------------------------------------------


def validate_auth(provider: str, api_key: str | None) -> str | None:
    if provider == APIProvider.ANTHROPIC and not api_key:
        return "Enter your Claude API key in the sidebar to continue."
    if provider == APIProvider.BEDROCK:
        import boto3

        if not boto3.Session().get_credentials():
            return "You must have AWS credentials set up to use the Bedrock API."
    if provider == APIProvider.VERTEX:
        if not os.environ.get("CLOUD_ML_REGION"):
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


def render_block(sender: str, block: Any) -> None:
    """One stored block of the history."""
    if isinstance(block, str):
        if block:
            st.chat_message(sender).markdown(block)
        return
    kind = block.get("type")
    if kind == "tool_result":
        _render_tool_result(block)
        return
    with st.chat_message(sender):
        if kind == "text":
            st.markdown(block.get("text", ""))
        elif kind == "thinking":
            with st.expander("Thinking", expanded=False):
                st.markdown(block.get("thinking", ""))
        elif kind == "redacted_thinking":
            st.caption("(redacted thinking)")
        elif kind in ("tool_use", "server_tool_use"):
            st.markdown(f"**Tool use:** `{block.get('name')}`")
            st.json(block.get("input", {}), expanded=False)
        elif kind == "image":
            if not st.session_state.hide_images:
                st.image(base64.b64decode(block["source"]["data"]))
        else:
            st.caption(f"{kind} block")


def _render_tool_result(block: dict[str, Any]) -> None:
    content = block.get("content")
    items: list[Any] = (
        [{"type": "text", "text": content}]
        if isinstance(content, str)
        else list(content or [])
    )
    with st.chat_message(Sender.TOOL):
        for item in items:
            if item.get("type") == "text":
                if block.get("is_error"):
                    st.error(item.get("text", ""))
                else:
                    st.code(item.get("text", ""))
            elif item.get("type") == "image" and not st.session_state.hide_images:
                st.image(base64.b64decode(item["source"]["data"]))


def render_tool_output(result: ToolResult, tool_use_id: str) -> None:
    """A tool's result, as it comes back during the turn."""
    st.session_state.tools[tool_use_id] = result
    with st.chat_message(Sender.TOOL):
        if result.output:
            if result.__class__.__name__ == "CLIResult":
                st.code(result.output)
            else:
                st.markdown(result.output)
        if result.error:
            st.error(result.error)
        if result.base64_image and not st.session_state.hide_images:
            st.image(base64.b64decode(result.base64_image))


class StatusView:
    """Waits, retries and errors, drawn in the chat; waits count down live."""

    def __init__(self, chat: DeltaGenerator, meter: DeltaGenerator) -> None:
        self.chat = chat
        self.meter = meter
        self.placeholder = chat.empty()
        self._countdown: asyncio.Task[None] | None = None

    def __call__(self, status: LoopStatus) -> None:
        self._stop_countdown()
        if status.kind == "error":
            self.chat.error(status.message)
        elif status.kind in ("rate_limit_wait", "retrying") and status.wait_seconds:
            until = time.monotonic() + status.wait_seconds
            self._countdown = asyncio.get_running_loop().create_task(
                self._count_down(status, until)
            )
        elif status.kind in (
            "refusal",
            "tool_call_cut_off",
            "max_tokens_clamped",
            "context_pruned",
        ):
            self.chat.info(status.message)
        draw_meter(self.meter)

    async def _count_down(self, status: LoopStatus, until: float) -> None:
        what = status.budget.replace("_", " ") + "/min" if status.budget else "the API"
        while (left := until - time.monotonic()) > 0:
            self.placeholder.warning(
                f"⏳ Waiting {left:.0f} s for {what} — {status.message}"
            )
            draw_meter(self.meter)
            await asyncio.sleep(min(METER_REFRESH_SECONDS, left))
        self.placeholder.empty()

    def _stop_countdown(self) -> None:
        if self._countdown is not None and not self._countdown.done():
            self._countdown.cancel()
        self._countdown = None
        self.placeholder.empty()

    def close(self) -> None:
        self._stop_countdown()


def maybe_add_interruption_blocks() -> list[Any]:
    """After a Stop, tell the model the user interrupted (open calls are already answered)."""
    if not st.session_state.in_sampling_loop:
        return []
    return [{"type": "text", "text": INTERRUPT_TEXT}]


def _record_exchange(request: Any, response: Any, error: Exception | None) -> None:
    st.session_state.http_log.add(request, response, error)


def _render_http_log() -> None:
    st.toggle(
        "Show HTTP exchanges",
        key="show_http_log",
        help="Drawn only when shown; the newest 50 are kept.",
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


async def run_turn(chat: DeltaGenerator, meter: DeltaGenerator) -> None:
    """Run the loop on the newest user message, drawing as it streams."""
    state = st.session_state
    status_view = StatusView(chat, meter)

    def on_usage(usage: Usage) -> None:
        state.turn_usage.append(asdict(usage))
        chat.caption(describe(usage, prices_for(state.model, _price_table())))
        draw_meter(meter)

    live = LiveTurns(parent=chat, on_usage=on_usage)
    messages = state.messages
    conversation_id = state.conversation_id
    settings = {"model": state.model, "provider": str(state.provider)}

    def save() -> None:
        _save_conversation(messages, conversation_id, settings)

    state.in_sampling_loop = True
    try:
        await loop.sampling_loop(
            system_prompt_suffix=state.custom_system_prompt,
            model=state.model,
            provider=state.provider,
            messages=messages,
            output_callback=lambda block: None,  # drawn live from the stream
            tool_output_callback=render_tool_output,
            api_response_callback=_record_exchange,
            api_key=state.api_key,
            only_n_most_recent_images=state.only_n_most_recent_images,
            tool_version=state.tool_versions,
            max_tokens=state.output_tokens,
            thinking_mode=state.thinking_mode,
            thinking_effort=state.thinking_effort,
            thinking_budget=state.thinking_budget,
            token_efficient_tools_beta=state.token_efficient_tools_beta,
            stream_callback=live,
            status_callback=status_view,
            context_management=state.context_management,
        )
        state.in_sampling_loop = False
    except Exception as error:  # never a traceback in the chat
        logger.exception("the turn failed")
        state.in_sampling_loop = False
        chat.error(
            f"Something went wrong: {redact(str(error)) or type(error).__name__}"
        )
    finally:
        # Saved first, from values read before the turn: once the user presses
        # Stop, Streamlit raises again at any use of st, session_state included.
        save()
        status_view.close()


async def main() -> None:
    install_log_redaction()
    setup_state()
    state = st.session_state
    if state.api_key:
        register_secret(state.api_key)
    st.markdown(STREAMLIT_STYLE, unsafe_allow_html=True)
    st.title("Claude Computer Use Demo")
    if not os.getenv("HIDE_WARNING", False):
        st.warning(WARNING_TEXT)

    with st.sidebar:
        meter = sidebar()
        draw_meter(meter)

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
        for message in state.messages:
            content = message["content"]
            for block in [content] if isinstance(content, str) else content:
                render_block(message["role"], block)
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
        if not state.messages or state.messages[-1]["role"] != Sender.USER:
            return
        if state.in_sampling_loop and not new_message:
            return  # a rerun after Stop: wait for the user's next message
        with st.sidebar:
            stop = st.button(
                "Stop", help="Stop the running turn; the conversation stays valid."
            )
        if stop:
            return
        await run_turn(chat, meter)


if __name__ == "__main__":
    asyncio.run(main())
