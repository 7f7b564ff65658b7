"""The sidebar's token meter: each budget's use in the window, and who waits for what.

Text is built by pure functions of the limiter's snapshot; drawing never
changes the limiter.
"""

from __future__ import annotations

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from token_manager import Budget, LimiterSnapshot, wait_label
from token_manager.spend import shown
from token_manager.spending import SpendReport


def _seconds(value: float) -> str:
    return f"{value:.0f} s" if value >= 1 else f"{value:.1f} s"


def meter_lines(snapshot: LimiterSnapshot) -> list[str]:
    """Markdown lines: use/limit per budget (learned limits marked as such)."""
    pool = "" if snapshot.pool == "default" else f" · {snapshot.pool}"
    lines = [f"**Rate limits**{pool} (last {_seconds(snapshot.window_seconds)})"]
    for name in Budget:
        label = name.label
        budget = snapshot.budgets[name]
        limit = "∞" if budget.limit is None else f"{budget.limit:,}"
        learned = (
            " · *learned from API headers*" if budget.limit_source == "server" else ""
        )
        lines.append(f"- {label}: {budget.used:,} / {limit}{learned}")
    if snapshot.shared:
        lines.append(
            "- shared with other processes (Redis)"
            if snapshot.shared_available
            else "- Redis unreachable: limiting this process alone"
        )
    return lines


def spend_lines(report: SpendReport) -> list[str]:
    """What this conversation and today cost so far (held requests included),
    each against its cap."""

    def against(spent: int, cap: int | None) -> str:
        if cap is None:
            return f"{shown(spent)} (no cap)"
        return f"{shown(spent)} of {shown(cap)} ({shown(max(0, cap - spent))} left)"

    return [
        "**Spending**",
        f"- this conversation: {against(report.conversation_spent, report.caps.conversation)}",
        f"- today (UTC): {against(report.day_spent, report.caps.day)}",
    ]


def wait_line(snapshot: LimiterSnapshot) -> str | None:
    """The countdown while a request waits, saying which limit holds it."""
    if snapshot.paused_for > 0:
        return f"⏳ Paused by the API (429): {_seconds(snapshot.paused_for)} left"
    if not snapshot.waiters:
        return None
    what = wait_label(snapshot.waiting_for)
    line = f"⏳ {snapshot.waiters} request(s) waiting for {what}"
    if snapshot.next_free_in is not None:
        line += f": {_seconds(snapshot.next_free_in)} left"
    return line


def draw_meter(
    meter: DeltaGenerator, snapshot: LimiterSnapshot, spend: SpendReport | None = None
) -> None:
    with meter.container():
        st.markdown("\n".join(meter_lines(snapshot)))
        if spend is not None:
            st.markdown("\n".join(spend_lines(spend)))
        for name in ("input_tokens", "output_tokens"):
            budget = snapshot.budgets[name]
            if budget.limit:
                share = budget.used / budget.limit
                st.progress(min(1.0, share), text=f"{Budget(name).label}: {share:.0%}")
        if line := wait_line(snapshot):
            st.warning(line)
