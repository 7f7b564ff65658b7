"""The sidebar: the quickstart's settings, then limits, usage and saved conversations.

Widgets only; what a setting means is decided by the loop and the token manager.
"""

from __future__ import annotations

import getpass
import time
from dataclasses import asdict, dataclass
from typing import get_args

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from token_manager import Budget, RateLimits, token_manager
from token_manager.spend import NANO, dollars
from token_manager.spending import SpendCaps

from .. import storage
from ..desktop import restart_desktop
from ..models import DEFAULT_MODEL_CONF, ThinkingEffort, lookup_model_conf
from ..providers import APIProvider
from ..tools import ToolVersion
from .state import (
    open_conversation,
    price_table,
    reset_model,
    reset_model_conf,
    save_key,
    setup_state,
    start_new_conversation,
    tools_share_the_apps_account,
)
from .usage import (
    Prices,
    UsageRecord,
    cache_hit_rate,
    cost,
    describe,
    prices_for,
    total_usage,
)

CONTEXT_MANAGEMENT_LABELS = {
    "client": "Client budget",
    "clear_tool_uses": "API: clear old tool results",
    "compact": "API: compaction",
}


@dataclass(frozen=True)
class SidebarSlots:
    """Places the running turn redraws: the token meter and the usage summary."""

    meter: DeltaGenerator
    usage: DeltaGenerator


def sidebar() -> SidebarSlots:
    """Draw the sidebar; return the places the running turn keeps current."""
    state = st.session_state

    def reset_provider() -> None:
        if state.provider_radio != state.provider:
            state.provider = state.provider_radio
            reset_model()
            state.auth_validated = False

    st.radio(
        "API Provider",
        options=[provider.value for provider in APIProvider],
        key="provider_radio",
        format_func=str.title,
        on_change=reset_provider,
    )
    st.text_input("Model", key="model", on_change=reset_model_conf)
    if state.provider == APIProvider.ANTHROPIC:
        shared = tools_share_the_apps_account()
        st.text_input(
            "Claude API Key",
            type="password",
            key="api_key",
            on_change=save_key,
            help="Kept in this app's memory; saved to the config folder "
            "(~/.anthropic/api_key, 0600) "
            + (
                "only if you tick the box below."
                if shared
                else "out of the tools' reach."
            ),
        )
        if shared:
            # The tools run as this account: a saved key is a file they can read.
            st.checkbox(
                "Save the key on this machine",
                key="save_api_key",
                on_change=save_key,
                help="The tools run as your account and can read what it can, "
                "a saved key included.",
            )
            st.caption(
                f"The tools run as {getpass.getuser()} and can read what that account can."
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
        on_change=_save_system_prompt,
    )
    st.checkbox("Hide screenshots", key="hide_images")
    st.checkbox("Enable token-efficient tools beta", key="token_efficient_tools_beta")
    st.radio(
        "Tool Versions",
        key="tool_versions",
        options=list(get_args(ToolVersion)),
        on_change=lambda: setattr(state, "tool_version", state.tool_versions),
    )
    st.number_input(
        "Max Output Tokens",
        key="output_tokens",
        min_value=1,
        max_value=int(state.max_output_tokens),
        step=1,
        help="Streaming allows up to the model's limit; the rate limiter lowers it when the output budget is smaller.",
    )
    _thinking_controls()
    st.radio(
        "Context management",
        options=list(CONTEXT_MANAGEMENT_LABELS),
        key="context_management",
        format_func=CONTEXT_MANAGEMENT_LABELS.get,
        help="The client budget always applies; the API's own strategies run on top where the model supports them.",
    )
    meter = st.empty()
    _limits_editor()
    usage = _usage_panel()
    _conversations_panel()
    if st.button("Reset", type="primary"):
        with st.spinner("Resetting..."):
            st.session_state.clear()
            setup_state()
            # The desktop's own processes only, by their pids (start_all.sh
            # restarts them); the app and the other services keep running.
            outcome = restart_desktop()
        (st.success if outcome.restarted else st.info)(outcome.message)
    return SidebarSlots(meter=meter, usage=usage)


def _save_system_prompt() -> None:
    storage.save_text("system_prompt", st.session_state.custom_system_prompt)


def _thinking_controls() -> None:
    """Only the thinking modes the model accepts; an unsupported one is reset."""
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
    if len(modes) <= 1:
        return
    st.radio(
        "Thinking",
        options=modes,
        key="thinking_mode",
        format_func=str.capitalize,
        horizontal=True,
    )
    if state.thinking_mode == "adaptive":
        st.select_slider(
            "Thinking Effort", options=get_args(ThinkingEffort), key="thinking_effort"
        )
    elif state.thinking_mode == "extended":
        st.number_input(
            "Thinking Budget",
            key="thinking_budget",
            max_value=int(state.max_output_tokens),
            step=1,
        )


def _limits_editor() -> None:
    # The selected model's class: its own limits, learned from its own headers.
    limits = token_manager.limits_for(model=st.session_state.get("model"))
    with st.expander("Rate limits (editable)"):
        rpm = st.number_input(
            Budget.REQUESTS.label,
            min_value=1,
            value=limits.requests_per_minute or 50,
        )
        itpm = st.number_input(
            Budget.INPUT_TOKENS.label,
            min_value=1_000,
            value=limits.input_tokens_per_minute or 40_000,
            step=1_000,
        )
        otpm = st.number_input(
            Budget.OUTPUT_TOKENS.label,
            min_value=1_000,
            value=limits.output_tokens_per_minute or 16_000,
            step=1_000,
        )
        if st.button("Apply limits"):
            token_manager.set_limits(
                RateLimits(int(rpm), int(itpm), int(otpm), limits.window_seconds)
            )
        st.caption(
            "Shared by every tab of this app; each model class (Opus 4.x, "
            "Sonnet 4.x, Haiku 4.5, ...) has its own budget. Limits the API "
            "reports in its response headers are learned per class and marked "
            "in the meter; a limit you apply here stays the ceiling."
        )


def draw_usage_summary(
    slot: DeltaGenerator, records: list[UsageRecord], prices: Prices
) -> None:
    """The conversation's totals: tokens by kind, cache hit rate, estimated cost."""
    total = total_usage(records)
    rate = cache_hit_rate(total)
    with slot.container():
        st.caption(f"{len(records)} response(s) in this conversation")
        st.markdown(describe(total, prices))
        st.caption(
            f"cache hit rate: {'—' if rate is None else f'{rate:.0%}'} · "
            f"total ≈ ${cost(total, prices):.4f}"
        )


def _usage_panel() -> DeltaGenerator:
    state = st.session_state
    prices = prices_for(state.model, price_table())
    with st.expander("Usage and cost", expanded=bool(state.turn_usage)):
        summary = st.empty()
        draw_usage_summary(summary, state.turn_usage, prices)
        model_prices = state.prices.setdefault(state.model, asdict(prices))
        st.caption(f"Prices for {state.model} (USD per million tokens):")
        for field_name in ("input", "output", "cache_write", "cache_read"):
            model_prices[field_name] = st.number_input(
                field_name.replace("_", " "),
                min_value=0.0,
                value=float(model_prices[field_name]),
                key=f"price_{state.model}_{field_name}",
            )
        _spending_caps()
    return summary


def _spending_caps() -> None:
    """The caps a request's worst case is held against before it is sent
    (shared by every tab; the daily one by every process on the same Redis)."""
    caps = token_manager.spending.caps
    st.caption("Spending caps (USD, 0 = no cap):")
    conversation = st.number_input(
        "per conversation",
        min_value=0.0,
        value=dollars(caps.conversation or 0),
        step=0.5,
        key="cap_conversation",
    )
    day = st.number_input(
        "per day", min_value=0.0, value=dollars(caps.day or 0), step=1.0, key="cap_day"
    )
    wanted = SpendCaps(
        conversation=round(conversation * NANO) or None, day=round(day * NANO) or None
    )
    if wanted != caps:
        token_manager.spending.set_caps(wanted)


def _conversations_panel() -> None:
    listing = storage.scan_conversations()
    saved = listing.conversations
    with st.expander("Conversations"):
        if st.button("New conversation"):
            start_new_conversation()
        if listing.unreadable:
            st.caption(
                "Unreadable, skipped: "
                + "; ".join(f"{name} ({why})" for name, why in listing.unreadable),
                help="These files in the conversations folder are not saved "
                "conversations; they are left as they are.",
            )
        if not saved:
            st.caption("Conversations are saved here after every turn.")
            return
        labels = {
            item.conversation_id: f"{item.title} ({time.strftime('%b %d %H:%M', time.localtime(item.updated_at))})"
            for item in saved
        }
        chosen = st.selectbox(
            "Saved", options=list(labels), format_func=lambda key: labels.get(key, key)
        )
        if st.button("Open") and chosen:
            open_conversation(next(i for i in saved if i.conversation_id == chosen))
            st.rerun()
