"""The app's per-browser-session state: defaults, model settings, conversations.

The only module that decides what a fresh session looks like; it never holds
the API key anywhere but the session and the private key file.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from enum import StrEnum
from typing import Any

import streamlit as st

from .. import storage
from ..models import DEFAULT_MODEL_BY_PROVIDER, lookup_model_conf
from ..redaction import register_secret
from ..settings import current as current_settings
from ..tools.base import ToolError
from ..tools.identity import tools_account
from .http_log import ExchangeLog
from .usage import DEFAULT_PRICES, Prices, UsageRecord

logger = logging.getLogger(__name__)


class Sender(StrEnum):
    USER = "user"
    BOT = "assistant"
    TOOL = "tool"


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
        state.api_key = (
            storage.load_text("api_key") or current_settings().anthropic_api_key
        )
    if "provider" not in state:
        state.provider = current_settings().api_provider.value
    if "provider_radio" not in state:
        state.provider_radio = state.provider
    if "model" not in state:
        reset_model()
    if "thinking_modes" not in state:
        reset_model_conf()
    if "custom_system_prompt" not in state:
        state.custom_system_prompt = storage.load_text("system_prompt") or ""


def reset_model() -> None:
    """The provider changed: its default model, and that model's settings."""
    st.session_state.model = DEFAULT_MODEL_BY_PROVIDER[str(st.session_state.provider)]
    reset_model_conf()


def reset_model_conf() -> None:
    """The model changed: its tool version, output limits and thinking modes."""
    conf = lookup_model_conf(st.session_state.model)
    st.session_state.tool_version = conf.tool_version
    st.session_state.tool_versions = conf.tool_version
    st.session_state.output_tokens = conf.default_output_tokens
    st.session_state.max_output_tokens = conf.max_output_tokens
    st.session_state.thinking_budget = conf.default_output_tokens // 2
    st.session_state.thinking_modes = conf.thinking_modes
    st.session_state.thinking_mode = conf.thinking_modes[0]
    st.session_state.thinking_effort = "medium"


def tools_share_the_apps_account() -> bool:
    """Whether the tools run as the app's own account, and so could read a
    saved key (a native run by an ordinary user)."""
    try:
        return tools_account() is None
    except ToolError:
        return True


def save_key() -> None:
    """The key typed in the sidebar goes to the private key file (0600): at
    once when the tools cannot read it, else only when the user asks."""
    key = st.session_state.api_key.strip()
    if not key:
        return
    register_secret(key)
    if tools_share_the_apps_account() and not st.session_state.get("save_api_key"):
        return
    storage.save_text("api_key", key)


def price_table() -> dict[str, Prices]:
    return {
        model: Prices(**values) for model, values in st.session_state.prices.items()
    }


def start_new_conversation() -> None:
    st.session_state.messages = []
    st.session_state.tools = {}
    st.session_state.turn_usage = []
    st.session_state.in_sampling_loop = False
    st.session_state.conversation_id = storage.new_conversation_id()


def open_conversation(saved: storage.SavedConversation) -> None:
    st.session_state.messages = saved.messages
    st.session_state.tools = {}
    st.session_state.conversation_id = saved.conversation_id
    stored = saved.settings.get("usage")
    # Only well-formed records: a hand-edited file must not break the meter.
    usage: list[UsageRecord] = [
        record
        for record in (stored if isinstance(stored, list) else [])
        if isinstance(record, dict)
        and all(
            isinstance(value, int) and not isinstance(value, bool)
            for value in record.values()
        )
    ]
    st.session_state.turn_usage = usage
    st.session_state.in_sampling_loop = False


def save_conversation_quietly(
    messages: Any, conversation_id: str, settings: dict[str, Any]
) -> None:
    """Write the conversation; never fails the turn (a full disk is only logged)."""
    if not isinstance(messages, list) or not messages:
        return
    try:
        storage.save_conversation(conversation_id, messages, settings)
    except (OSError, TypeError, ValueError) as error:
        logger.warning("could not save the conversation: %s", error)
