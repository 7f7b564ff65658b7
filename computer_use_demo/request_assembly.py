"""Builds each request of a conversation: system block, tools, the cache-fitted
history view, its estimate, max_tokens within the output budget, thinking and the
API's own context edits.

Sends nothing and never changes the history; it remembers only what keeps later
requests alike (the view's cut, for the prompt cache) and what was announced.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from anthropic.types.beta import BetaMessageParam, BetaToolUnionParam

from token_manager import RequestEstimate, TokenManager

from .conversation import (
    ContextBudget,
    PruneReport,
    RulesReport,
    apply_request_rules,
    fit_request_view,
    inject_cache_breakpoints,
    messages_budget_bytes,
    server_context_management,
)
from .providers import APIProvider
from .request import RequestOptions, ThinkingSettings, system_block
from .status import StatusKind

CONTEXT_SHRINK_FACTOR = 0.7  # each shrink sends 70% of the history budget before
SERVER_EDITS_AT = 0.9  # the API's own edits act just below the client budget
# The request's estimate (exact server counts of its prefix, calibrated counts
# of the rest) and the sum of its messages' estimates differ by a few percent.
UNCACHED_HEADROOM = 0.95

Notify = Callable[[StatusKind, str], None]


@dataclass(frozen=True, slots=True)
class AssembledRequest:
    params: dict[str, Any]  # the keyword arguments of `messages.stream`
    estimate: RequestEstimate  # what the token manager admits it for
    rules: RulesReport | None = None  # what the API's request rules changed

    @property
    def max_tokens(self) -> int:
        return int(self.params["max_tokens"])

    def sends_less_than(self, other: AssembledRequest) -> bool:
        """Whether this request carries fewer tokens or fewer bytes than `other`."""
        if self.estimate.total_tokens < other.estimate.total_tokens:
            return True
        return (
            self.rules is not None
            and other.rules is not None
            and self.rules.messages_bytes < other.rules.messages_bytes
        )


@dataclass
class RequestAssembler:
    model: str
    manager: TokenManager
    tool_params: list[BetaToolUnionParam]
    options: RequestOptions
    system_suffix: str
    images_to_keep: int | None
    max_tokens: int
    thinking: ThinkingSettings
    server_edits: dict[str, Any] | None
    context_fraction: float
    notify: Notify
    # The API key's tag (`account_tag`): whose prompt cache the requests read.
    account: str = ""
    context_window: int | None = None  # learned from a "prompt is too long" error
    # The messages' bytes a 413 allows: below what the refused request held.
    body_ceiling: int | None = None
    _last_messages_bytes: int | None = field(default=None, repr=False)
    # The oldest turn the last request kept (the cut holds the cached prefix).
    _kept_cut: object | None = field(default=None, repr=False)
    _announced_left_out: tuple[int, int, int] = (0, 0, 0)
    _announced_images: tuple[int, int] = (0, 0)
    _clamp_announced: bool = False

    @classmethod
    def for_conversation(
        cls,
        *,
        model: str,
        provider: APIProvider,
        manager: TokenManager,
        tool_params: list[BetaToolUnionParam],
        beta_flag: str | None,
        token_efficient_tools: bool,
        context_management: str,
        context_fraction: float,
        system_suffix: str,
        images_to_keep: int | None,
        max_tokens: int,
        thinking: ThinkingSettings,
        notify: Notify,
        account: str = "",
    ) -> RequestAssembler:
        """The API's own context management goes to the first-party API only; it
        acts just below the client budget, which stays as the fallback."""
        client_budget = ContextBudget.for_model(
            model,
            fraction=context_fraction,
            input_tokens_per_minute=manager.limits_for(
                model=model
            ).input_tokens_per_minute,
        )
        first_party = provider == APIProvider.ANTHROPIC
        server_edits, edit_betas = server_context_management(
            context_management if first_party else "client",
            model,
            trigger_tokens=int(client_budget.max_input_tokens * SERVER_EDITS_AT),
        )
        options = RequestOptions(
            beta_flag=beta_flag,
            prompt_caching=first_party,
            token_efficient_tools=token_efficient_tools,
            extra_betas=edit_betas,
        )
        return cls(
            model=model,
            manager=manager,
            tool_params=tool_params,
            options=options,
            server_edits=server_edits,
            context_fraction=context_fraction,
            system_suffix=system_suffix,
            images_to_keep=images_to_keep,
            max_tokens=max_tokens,
            thinking=thinking,
            notify=notify,
            account=account,
        )

    def assemble(
        self,
        history: list[BetaMessageParam],
        *,
        shrinks: int = 0,
        body_refused: bool = False,
        context_window: int | None = None,
    ) -> AssembledRequest:
        """The next request; after each shrink it carries less of `history`.

        `body_refused`: the last request got a 413, so this one's messages take
        fewer bytes than that one's. `context_window`: the window an error
        named, kept for every later request."""
        if context_window is not None:
            self.context_window = context_window
        if body_refused and self._last_messages_bytes is not None:
            self.body_ceiling = int(self._last_messages_bytes * CONTEXT_SHRINK_FACTOR)
        system = system_block(self.system_suffix, cache=self.options.prompt_caching)
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
        view, report, estimate = self._fitting_view(history, budget, [system])
        self._announce_pruning(report)
        max_tokens = self._max_tokens()
        extra_body = self.thinking.body(max_tokens)
        if self.server_edits:
            extra_body["context_management"] = self.server_edits
        params: dict[str, Any] = {
            "model": self.model,
            "max_tokens": max_tokens,
            "system": [system],
            "tools": self.tool_params,
            "betas": self.options.betas(),
            "extra_body": extra_body,
        }
        # The API's request rules, last: the byte budget shrinks with the
        # token budget after a 413, so "send less" also holds for bytes.
        max_bytes = messages_budget_bytes(params, scale)
        if self.body_ceiling is not None:
            max_bytes = min(max_bytes, self.body_ceiling)
        messages, rules = apply_request_rules(view, max_bytes=max_bytes)
        self._last_messages_bytes = rules.messages_bytes
        if messages is not view:
            if self.options.prompt_caching:
                inject_cache_breakpoints(messages)
            estimate = self.manager.estimate_request(
                system=[system],
                messages=messages,
                tools=self.tool_params,
                model=self.model,
                account=self.account,
            )
        self._announce_images(rules)
        params["messages"] = messages
        return AssembledRequest(params, estimate, rules)

    def _announce_images(self, rules: RulesReport) -> None:
        """Say, once for each change, that the API's image or size limits left
        screenshots out."""
        counts = (rules.images_left_out, rules.images_too_large)
        if counts != self._announced_images and any(counts):
            parts = []
            if rules.images_left_out:
                parts.append(
                    f"{rules.images_left_out} older screenshot(s) (at most 100 images "
                    "and 32 MB per request)"
                )
            if rules.images_too_large:
                parts.append(
                    f"{rules.images_too_large} image(s) larger than the API accepts"
                )
            self.notify(
                "context_pruned",
                "To meet the API's request limits, this request leaves out "
                + " and ".join(parts)
                + ".",
            )
        self._announced_images = counts

    def _fitting_view(
        self,
        history: list[BetaMessageParam],
        budget: ContextBudget,
        system: list[Any],
    ) -> tuple[list[BetaMessageParam], PruneReport, RequestEstimate]:
        """The request view (see `fit_request_view`), its cache marks, its estimate."""
        estimated: list[tuple[list[BetaMessageParam], RequestEstimate]] = []
        tools = self.tool_params

        def estimate(view: list[BetaMessageParam]) -> RequestEstimate:
            if self.options.prompt_caching:
                inject_cache_breakpoints(view)
            result = self.manager.estimate_request(
                system=system,
                messages=view,
                tools=tools,
                model=self.model,
                account=self.account,
            )
            estimated.append((view, result))
            return result

        view, report = fit_request_view(
            history,
            budget,
            self.manager.estimate_message_tokens,
            lambda view: self.manager.input_charge(estimate(view), model=self.model),
            self.manager.estimate_frame_tokens(system=system, tools=tools),
            keep_from=self._kept_cut,
        )
        self._kept_cut = report.first_kept_message
        if estimated and estimated[-1][0] is view:
            return view, report, estimated[-1][1]
        return view, report, estimate(view)

    def _announce_pruning(self, report: PruneReport) -> None:
        """Say what the budget left out, once for each change."""
        left_out = (
            report.turns_dropped,
            report.tool_outputs_shortened,
            report.images_removed_for_budget,
        )
        if report.pruned_for_budget and left_out != self._announced_left_out:
            self.notify("context_pruned", report.describe())
        self._announced_left_out = left_out

    def _max_tokens(self) -> int:
        clamped = self.manager.clamp_max_tokens(self.max_tokens, model=self.model)
        if clamped < self.max_tokens and not self._clamp_announced:
            self._clamp_announced = True
            self.notify(
                "max_tokens_clamped",
                f"Max output tokens lowered from {self.max_tokens:,} to {clamped:,}: "
                "the output tokens/min budget could never admit more in one request.",
            )
        return self.manager.max_tokens_for_next_request(clamped, model=self.model)
