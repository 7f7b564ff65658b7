"""B5: request size and memory over a 1,000-turn computer-use session, vs the quickstart.

Simulates the conversation only (no API, no desktop): each turn the model says a
sentence (sometimes thinking first) and calls a tool; the tool result holds text
and often a screenshot-size PNG. Before each request our context budget builds
the request view; the baseline is the quickstart's own behaviour (the whole
history, with only its chunked screenshot filter, applied in place). Tokens are
estimated the way the TokenManager does (cl100k offline, images width*height/750).
The session's content is generated before memory is first measured, so RSS
growth shows what request building retains, not the history's own bytes.
A second run keeps screenshots without a count limit ("screenshots to keep"
unset): 300 turns, one screen-size screenshot of 120-380 KB per action, each
request built by the product's request assembler and sent to the fake API
(`/v1/messages/count_tokens`, which applies every request rule of the real
API); it counts the fake's 400s and 413s, the images and bytes per request.
Its baseline is the same view without the API's request rules, checked by the
fake's own validator. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import base64
import functools
import io
import json
import os
import random
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any, cast

import psutil
from anthropic.types.beta import BetaMessageParam
from PIL import Image

from computer_use_demo.conversation import (
    ContextBudget,
    fit_request_view,
    validate_conversation,
)
from computer_use_demo.models import context_window_for
from computer_use_demo.request import system_prompt
from token_manager.estimate import MessageCounter, system_tokens, tools_tokens

TOOLS = [
    {
        "type": "computer_20250124",
        "name": "computer",
        "display_width_px": 1280,
        "display_height_px": 800,
    },
    {"type": "bash_20250124", "name": "bash"},
    {"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"},
]
WORDS = [
    "click",
    "open",
    "the",
    "settings",
    "menu",
    "then",
    "scroll",
    "down",
    "to",
    "find",
    "the",
    "network",
    "panel",
    "and",
    "check",
    "whether",
    "the",
    "proxy",
    "field",
    "is",
    "empty",
    "before",
    "saving",
    "the",
    "form",
    "again",
    "because",
    "the",
    "page",
    "reloaded",
    "after",
    "the",
    "last",
    "change",
    "so",
    "I",
    "will",
    "take",
    "another",
    "screenshot",
]
LOG_LINES = [
    "drwxr-xr-x  2 computeruse computeruse  4096 Nov 24 13:02 Downloads",
    "-rw-r--r--  1 computeruse computeruse 18734 Nov 24 13:05 report.csv",
    "2026-11-24T13:05:11Z INFO  worker[3] processed batch 1182 in 231 ms",
    "Get:14 http://deb.debian.org/debian bookworm/main amd64 libpoppler126 [1,867 kB]",
    '  File "/home/computeruse/app.py", line 88, in handle_request',
]


def rss_mb() -> float:
    return round(psutil.Process(os.getpid()).memory_info().rss / 2**20, 1)


def screenshot(rng: random.Random, width: int, height: int) -> str:
    """A distinct PNG of screen size, a few KB like a mostly flat desktop."""
    image = Image.new("RGB", (width, height), (36, 41, 51))
    patch = Image.frombytes("RGB", (48, 48), rng.randbytes(48 * 48 * 3))
    image.paste(patch, (rng.randrange(width - 48), rng.randrange(height - 48)))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return base64.b64encode(buffer.getvalue()).decode()


def noisy_screenshot(rng: random.Random, png_bytes: int) -> str:
    """A 1280x800 PNG of about `png_bytes`: an incompressible patch on a flat desktop."""
    image = Image.new("RGB", (1280, 800), (36, 41, 51))
    side = min(790, int((png_bytes / 3) ** 0.5))
    patch = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
    image.paste(patch, (rng.randrange(1280 - side), rng.randrange(800 - side)))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return base64.b64encode(buffer.getvalue()).decode()


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def session_turns(
    rng: random.Random, turns: int, screenshot_every: int, width: int, height: int
) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(assistant message, user message) for each turn of a long computer-use task."""
    for number in range(turns):
        content: list[dict[str, Any]] = []
        if number % 3 == 0:
            content.append(
                {
                    "type": "thinking",
                    "thinking": sentence(rng, rng.randint(60, 300)),
                    "signature": base64.b64encode(rng.randbytes(240)).decode(),
                }
            )
        content.append({"type": "text", "text": sentence(rng, rng.randint(8, 60))})
        tool_id = f"toolu_{number:05d}"
        takes_screenshot = number % screenshot_every == 0
        if takes_screenshot:
            call = {
                "name": "computer",
                "input": {
                    "action": "left_click",
                    "coordinate": [rng.randrange(width), rng.randrange(height)],
                },
            }
        else:
            call = {
                "name": "bash",
                "input": {"command": "ls -la ~ && tail -n 50 /tmp/app.log"},
            }
        content.append({"type": "tool_use", "id": tool_id, **call})
        lines = rng.randint(1, 40) if number % 25 else 600  # now and then a long log
        output = "\n".join(rng.choice(LOG_LINES) for _ in range(lines))
        result: list[dict[str, Any]] = [{"type": "text", "text": output}]
        if takes_screenshot:
            result.append(
                {
                    "type": "image",
                    "source": {
                        "type": "base64",
                        "media_type": "image/png",
                        "data": screenshot(rng, width, height),
                    },
                }
            )
        answer: list[dict[str, Any]] = [
            {
                "type": "tool_result",
                "tool_use_id": tool_id,
                "content": result,
                "is_error": False,
            }
        ]
        if number and number % 200 == 0:
            answer.append(
                {
                    "type": "text",
                    "text": "Also export the report as PDF when you are done.",
                }
            )
        yield (
            {"role": "assistant", "content": content},
            {"role": "user", "content": answer},
        )


def quickstart_image_filter(
    history: list[dict[str, Any]], images_to_keep: int
) -> set[int]:
    """The quickstart's behaviour, reimplemented for comparison: remove all but the
    newest tool-result screenshots in place, in chunks of `images_to_keep` rounded
    down (so between N and 2N-1 stay). Returns the indexes of changed messages."""
    located = [
        (index, block)
        for index, message in enumerate(history)
        if isinstance(message["content"], list)
        for block in message["content"]
        if block.get("type") == "tool_result" and isinstance(block.get("content"), list)
    ]
    total = sum(
        1
        for _, block in located
        for item in block["content"]
        if item.get("type") == "image"
    )
    to_remove = total - images_to_keep
    to_remove -= to_remove % images_to_keep
    changed: set[int] = set()
    for index, block in located:
        if to_remove <= 0:
            break
        kept = []
        for item in block["content"]:
            if item.get("type") == "image" and to_remove > 0:
                to_remove -= 1
                changed.add(index)
                continue
            kept.append(item)
        block["content"] = kept
    return changed


def common_prefix(before: list[Any], after: list[Any]) -> int:
    """How many leading messages two requests share."""
    same = 0
    for old, new in zip(before, after, strict=False):
        if old is not new and old != new:
            break
        same += 1
    return same


@dataclass
class Figures:
    max_request_tokens: int = 0
    first_turn_over_budget: int | None = None
    first_turn_over_window: int | None = None
    final_request_tokens: int = 0


def observe(
    figures: Figures, number: int, tokens: int, budget: int, window: int
) -> None:
    figures.max_request_tokens = max(figures.max_request_tokens, tokens)
    figures.final_request_tokens = tokens
    if tokens > budget and figures.first_turn_over_budget is None:
        figures.first_turn_over_budget = number
    if tokens > window and figures.first_turn_over_window is None:
        figures.first_turn_over_window = number


def unlimited_screenshots(turns: int, seed: int, model: str) -> dict[str, Any]:
    """Screenshots kept without a count limit, each request sent to the fake API."""
    import httpx

    from computer_use_demo.models import LONG_CONTEXT_WINDOW
    from computer_use_demo.providers import APIProvider
    from computer_use_demo.request import ThinkingSettings
    from computer_use_demo.request_assembly import RequestAssembler
    from fake_anthropic import FakeAnthropicAPI
    from fake_anthropic.validation import MAX_REQUEST_BYTES, APIError, check_body
    from token_manager import RateLimits, TokenManager

    rng = random.Random(seed)
    manager = TokenManager(RateLimits(1_000_000, 10**12, 10**12))
    assembler = RequestAssembler.for_conversation(
        model=model,
        provider=APIProvider.ANTHROPIC,
        manager=manager,
        tool_params=cast(Any, TOOLS),
        beta_flag=None,
        token_efficient_tools=False,
        context_management="client",
        context_fraction=0.8,
        system_suffix="",
        images_to_keep=None,
        max_tokens=4096,
        thinking=ThinkingSettings(),
        notify=lambda kind, message: None,
    )
    # The 1M-token window: the token budget alone would keep every screenshot,
    # so the API's request rules are what bounds the request.
    assembler.context_window = LONG_CONTEXT_WINDOW
    history: list[Any] = [
        {"role": "user", "content": "Check every page of the admin console."}
    ]
    sizes = [len(json.dumps(history[0]))]  # each message's JSON bytes, once
    ours: dict[int, int] = {}
    base: dict[int, int] = {}
    images: list[int] = []
    request_bytes: list[int] = []
    base_images_max = base_bytes_max = 0
    headers = {"anthropic-version": "2023-06-01", "content-type": "application/json"}
    started = time.perf_counter()
    with (
        FakeAnthropicAPI(context_window=LONG_CONTEXT_WINDOW) as api,
        httpx.Client(base_url=api.base_url, timeout=120) as http,
    ):
        headers["x-api-key"] = api.api_key
        for number in range(turns):
            tool_id = f"toolu_{number:05d}"
            data = noisy_screenshot(rng, rng.randint(120_000, 380_000))
            turn = [
                {
                    "role": "assistant",
                    "content": [
                        {"type": "text", "text": sentence(rng, rng.randint(5, 30))},
                        {
                            "type": "tool_use",
                            "id": tool_id,
                            "name": "computer",
                            "input": {"action": "left_click", "coordinate": [5, 5]},
                        },
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": tool_id,
                            "content": [
                                {
                                    "type": "image",
                                    "source": {
                                        "type": "base64",
                                        "media_type": "image/png",
                                        "data": data,
                                    },
                                }
                            ],
                        }
                    ],
                },
            ]
            history.extend(turn)
            sizes.extend(len(json.dumps(message)) for message in turn)
            request = assembler.assemble(history)
            params = request.params
            body = {
                key: params[key] for key in ("model", "system", "tools", "messages")
            }
            raw = json.dumps(body).encode()
            response = http.post(
                "/v1/messages/count_tokens", content=raw, headers=headers
            )
            ours[response.status_code] = ours.get(response.status_code, 0) + 1
            with api.state.lock:  # the fake keeps every body: not 300 of them
                api.state.requests.clear()
            rules = request.rules
            assert rules is not None
            images.append(rules.images_sent)
            request_bytes.append(len(raw))
            # Baseline: the same view without the request rules (the token
            # budget keeps the whole history at 1M), as the fake would answer.
            rest = len(json.dumps({**body, "messages": []}))
            whole_bytes = rest + sum(sizes) + len(sizes) + 1
            whole_images = number + 1
            base_images_max = max(base_images_max, whole_images)
            base_bytes_max = max(base_bytes_max, whole_bytes)
            if whole_bytes > MAX_REQUEST_BYTES:
                status = 413
            else:
                try:
                    check_body({**body, "messages": history}, count_only=True)
                    status = 200
                except APIError as error:
                    status = error.status
            base[status] = base.get(status, 0) + 1
    return {
        "turns": turns,
        "images_to_keep": None,
        "context_window": LONG_CONTEXT_WINDOW,
        "status_400": ours.get(400, 0),
        "status_413": ours.get(413, 0),
        "status_200": ours.get(200, 0),
        "max_images_per_request": max(images),
        "max_request_bytes": max(request_bytes),
        "final_images_per_request": images[-1],
        "seconds": round(time.perf_counter() - started, 1),
        "baseline": {
            "system": "the same view without the API's request rules",
            "status_400": base.get(400, 0),
            "status_413": base.get(413, 0),
            "status_200": base.get(200, 0),
            "max_images_per_request": base_images_max,
            "max_request_bytes": base_bytes_max,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=1_000)
    parser.add_argument("--model", default="claude-sonnet-4-5-20250929")
    parser.add_argument("--fraction", type=float, default=0.8)
    parser.add_argument("--images-to-keep", type=int, default=3)
    parser.add_argument("--screenshot-every", type=int, default=2)
    parser.add_argument("--input-tokens-per-minute", type=int, default=None)
    parser.add_argument("--prune-step-turns", type=int, default=None)
    parser.add_argument("--keep-recent-turns", type=int, default=None)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument(
        "--unlimited-turns",
        type=int,
        default=300,
        help="turns of the run with screenshots kept without a count limit (0: skip)",
    )
    args = parser.parse_args()

    window = context_window_for(args.model)
    budget = ContextBudget.for_model(
        args.model,
        fraction=args.fraction,
        input_tokens_per_minute=args.input_tokens_per_minute,
        images_to_keep=args.images_to_keep,
    )
    if args.prune_step_turns is not None:
        budget = replace(budget, prune_step_turns=args.prune_step_turns)
    if args.keep_recent_turns is not None:
        budget = replace(budget, keep_recent_turns=args.keep_recent_turns)
    counter = MessageCounter()
    frame = system_tokens([{"type": "text", "text": system_prompt()}]) + tools_tokens(
        TOOLS
    )
    opening = {
        "role": "user",
        "content": "Reconcile last month's invoices in the web app and write a summary report.",
    }

    started_setup = time.perf_counter()
    turns = list(
        session_turns(
            random.Random(args.seed), args.turns, args.screenshot_every, 1280, 800
        )
    )
    setup_seconds = time.perf_counter() - started_setup

    # Ours: the history keeps everything; each request is a view within budget.
    rss_start = rss_mb()
    history: list[dict[str, Any]] = [opening]
    ours = Figures()
    seconds: list[float] = []
    invalid = 0
    prefix_kept = 0
    cached_share: list[float] = []
    previous: list[Any] = []
    rss_mid = rss_start
    kept_cut: object | None = None
    request_tokens: list[int] = []
    uncached_tokens: list[int] = []

    def uncached(previous: list[Any], view: list[BetaMessageParam]) -> int:
        """What the prompt cache cannot serve: everything after the prefix this
        view shares with the previous request (all of it on the first)."""
        same = common_prefix(previous, cast(list[Any], view))
        fresh = sum(counter.count(message) for message in view[same:])
        return fresh + (frame if not previous else 0)

    for number, (assistant, user) in enumerate(turns, 1):
        history.extend((assistant, user))
        started = time.perf_counter()
        view, report = fit_request_view(
            cast(list[BetaMessageParam], history),
            budget,
            counter.count,
            functools.partial(uncached, previous),
            frame,
            keep_from=kept_cut,
        )
        kept_cut = report.first_kept_message
        uncached_tokens.append(uncached(previous, view))
        seconds.append(time.perf_counter() - started)
        counts = [counter.count(message) for message in view]
        tokens = frame + sum(counts)  # recounted: the report must not flatter itself
        assert tokens == report.tokens_after, (tokens, report)
        observe(ours, number, tokens, budget.max_input_tokens, window)
        request_tokens.append(tokens)
        invalid += bool(validate_conversation(view))
        same = common_prefix(previous, view)
        prefix_kept += same == len(previous)
        # What the prompt cache could serve: the system prompt, tools and the
        # messages this request shares with the previous one.
        cached_share.append((frame + sum(counts[:same])) / tokens)
        previous = view
        if number == args.turns // 2:
            rss_mid = rss_mb()
    rss_end = rss_mb()
    history_mb = round(len(json.dumps(history)) / 2**20, 1)
    del history, previous, view

    # Baseline: the quickstart, which sends the whole (filtered in place) history.
    base_rss_start = rss_mb()
    base_history: list[dict[str, Any]] = [dict(opening)]
    sizes = [counter.count(opening)]
    total = sizes[0]
    unfiltered_total = total
    baseline = Figures()
    base_seconds: list[float] = []
    unfiltered_max = 0
    for number, (assistant, user) in enumerate(turns, 1):
        # The quickstart filter edits tool results in place: give it its own copies.
        own_user = {**user, "content": [dict(block) for block in user["content"]]}
        for message in (assistant, own_user):
            base_history.append(message)
            sizes.append(counter.count(message))
            total += sizes[-1]
            unfiltered_total += sizes[-1]
        started = time.perf_counter()
        for index in quickstart_image_filter(base_history, args.images_to_keep):
            new_size = counter.count(base_history[index])
            total += new_size - sizes[index]
            sizes[index] = new_size
        base_seconds.append(time.perf_counter() - started)
        observe(baseline, number, frame + total, budget.max_input_tokens, window)
        unfiltered_max = max(unfiltered_max, frame + unfiltered_total)
    base_rss_end = rss_mb()

    unlimited = (
        unlimited_screenshots(args.unlimited_turns, args.seed, args.model)
        if args.unlimited_turns > 0
        else None
    )
    print(
        json.dumps(
            {
                "bench": "B5",
                "max_images_per_request": unlimited
                and unlimited["max_images_per_request"],
                "max_request_bytes": unlimited and unlimited["max_request_bytes"],
                "unlimited_screenshots": unlimited,
                "turns": args.turns,
                "model": args.model,
                "budget": budget.max_input_tokens,
                "context_window": window,
                "max_request_tokens": ours.max_request_tokens,
                "median_request_tokens": int(statistics.median(request_tokens)),
                "uncached_budget": budget.max_uncached_tokens,
                "max_uncached_tokens": max(uncached_tokens),
                "final_request_tokens": ours.final_request_tokens,
                "within_budget": ours.first_turn_over_budget is None,
                "invalid_requests": invalid,
                "prefix_kept_ratio": round(prefix_kept / max(1, args.turns), 3),
                "cacheable_share_mean": round(statistics.fmean(cached_share), 3),
                "ms_per_turn_mean": round(statistics.fmean(seconds) * 1000, 2),
                "ms_per_turn_p99": round(
                    statistics.quantiles(seconds, n=100)[98] * 1000, 2
                ),
                "ms_per_turn_max": round(max(seconds) * 1000, 2),
                "rss_start_mb": rss_start,
                "rss_mid_mb": rss_mid,
                "rss_end_mb": rss_end,
                "rss_growth_mb": round(rss_end - rss_start, 1),
                "history_json_mb": history_mb,
                "setup_seconds": round(setup_seconds, 1),
                "baseline": {
                    "system": "quickstart: whole history, its chunked screenshot filter only",
                    "turns": args.turns,
                    "max_request_tokens": baseline.max_request_tokens,
                    "final_request_tokens": baseline.final_request_tokens,
                    "within_budget": baseline.first_turn_over_budget is None,
                    "first_turn_over_budget": baseline.first_turn_over_budget,
                    "first_turn_over_window": baseline.first_turn_over_window,
                    "max_request_tokens_without_image_filter": unfiltered_max,
                    "ms_per_turn_mean": round(statistics.fmean(base_seconds) * 1000, 2),
                    "rss_start_mb": base_rss_start,
                    "rss_end_mb": base_rss_end,
                },
            }
        )
    )


if __name__ == "__main__":
    main()
