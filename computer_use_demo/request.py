"""Assembles one Messages API request: system prompt, tools, betas, thinking.

Pure: takes settings in, returns plain request pieces; sends nothing.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from anthropic.types.beta import BetaTextBlockParam

from . import settings
from .models import ThinkingEffort, ThinkingMode

PROMPT_CACHING_BETA_FLAG = "prompt-caching-2024-07-31"
TOKEN_EFFICIENT_TOOLS_BETA_FLAG = "token-efficient-tools-2025-02-19"
MIN_THINKING_BUDGET = 1024


def system_prompt(now: datetime | None = None, display_num: int | None = None) -> str:
    """What the model must know about the desktop it drives (Debian, not Ubuntu)."""
    display = (
        settings.current().screen.display_num if display_num is None else display_num
    )
    if display is None:
        display = 1
    today = (now or datetime.now()).strftime("%A, %B %-d, %Y")
    return f"""<SYSTEM_CAPABILITY>
* You are using a Debian GNU/Linux virtual desktop ({platform.machine()} architecture) with internet access.
* You can install Debian packages with your bash tool (apt-get, through sudo if needed). Use curl instead of wget.
* To open Firefox, click the Firefox icon on the panel; firefox-esr is the installed browser.
* GUI applications started from bash need the display set and a subshell, for example "(DISPLAY=:{display} xterm &)". They may take a moment to appear: take a screenshot to confirm.
* When a command may print a lot of text, redirect it to a file and read the parts you need with str_replace_based_edit_tool or `grep -n -B <lines before> -A <lines after> <query> <file>`. Very long tool output is shortened for you and saved whole to a file whose path the result names.
* To see a whole web page, zoom out or scroll before deciding something is not there.
* Computer actions take a while to return: where you can, chain several into one request.
* The current date is {today}.
</SYSTEM_CAPABILITY>

<IMPORTANT>
* If Firefox shows a first-run wizard, ignore it: click the address bar and type the search or URL there.
* To read a whole PDF, download it with curl and convert it with pdftotext (install poppler-utils if needed), then read the text file instead of paging through screenshots.
</IMPORTANT>"""


def system_block(suffix: str, *, cache: bool) -> BetaTextBlockParam:
    block: BetaTextBlockParam = {
        "type": "text",
        "text": system_prompt() + (f" {suffix}" if suffix else ""),
    }
    if cache:
        block["cache_control"] = {"type": "ephemeral"}
    return block


@dataclass(frozen=True, slots=True)
class ThinkingSettings:
    """How the model thinks before it answers (the quickstart's three modes)."""

    mode: ThinkingMode = "off"
    effort: ThinkingEffort = "medium"
    budget: int | None = None  # tokens, for "extended"

    def body(self, max_tokens: int) -> dict[str, Any]:
        """The thinking fields of the request body.

        A fixed budget must stay below max_tokens, which the limiter may have lowered.
        """
        if self.mode == "adaptive":
            return {
                "thinking": {"type": "adaptive"},
                "output_config": {"effort": self.effort},
            }
        if self.mode == "extended" and self.budget:
            usable = min(self.budget, max_tokens - 1)
            return {
                "thinking": {
                    "type": "enabled",
                    "budget_tokens": max(usable, MIN_THINKING_BUDGET),
                }
            }
        return {}


@dataclass
class RequestOptions:
    """Per-loop settings that shape every request of a conversation."""

    beta_flag: str | None
    prompt_caching: bool
    token_efficient_tools: bool
    extra_betas: list[str] = field(default_factory=list)

    def betas(self) -> list[str]:
        flags = [self.beta_flag] if self.beta_flag else []
        if self.token_efficient_tools:
            flags.append(TOKEN_EFFICIENT_TOOLS_BETA_FLAG)
        if self.prompt_caching:
            flags.append(PROMPT_CACHING_BETA_FLAG)
        for flag in self.extra_betas:
            if flag not in flags:
                flags.append(flag)
        return flags
