"""B6: cached computer-use sessions at the API's entry tier, cache-aware vs cache-blind.

Four sessions run concurrently through `computer_use_demo.loop.sampling_loop`,
over HTTP, against the fake API at the entry tier's limits for Sonnet 4.x
(50 RPM, 30,000 input tokens/min, 8,000 output tokens/min; the window is
scaled by `--window`, tokens are not). The fake model answers every turn with a
real bash tool call whose output is ~2k tokens, so each session's conversation
grows by ~2k new tokens a turn; a session's shell counts its turns and after
`--turns` prints a marker on which the fake model ends that session. The
sessions share one TokenManager, as a process does.

Ours: `TokenManager(limits)` (cache-aware admission, the default). Baseline, in
the same run on a fresh fake API: `TokenManager(limits,
cache_aware_admission=False)`, which charges every request in full as before.
Each arm stops by itself. Ours: after `--turns` turns per session, or
`--max-seconds`. The cache-blind baseline manages ~1.6 turns a window, so it
cannot do 150 turns a session in minutes: it runs until every session made
`--baseline-turns-past-100k` turns past 100k tokens (~4-5 minutes at the
default 2 s window), or `--baseline-max-seconds`. Its per-window figures do not
depend on where it stops.

Figures, all from what the fake API received and answered (accepted requests):
- rate_limited: 429s the fake API sent;
- median_request_tokens, max_request_tokens: input + cache writes + cache reads
  of a request, as the server counted it;
- median_request_tokens_after_100k: the same, over requests made once that
  session's whole conversation (its history, not the request) held more than
  100k tokens by the server's count (null when no session got there);
- cache_read_share: cache reads / all input tokens, over every request;
- turns_per_window: accepted requests (turns) / (arm's duration / window);
- prefix_kept_share: over each session's requests after its first, the share
  that read from the cache at least everything the session's previous request
  had read or written (cache_read >= previous cache_read + previous
  cache_creation > 0): the turn reused the previous request's cached prefix.

    python benchmarks/b6_cached_sessions.py [--turns 150] [--window 2] [--max-seconds 240]
        [--baseline-max-seconds 360] [--baseline-turns-past-100k 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from computer_use_demo.loop import APIProvider, sampling_loop
from computer_use_demo.status import LoopStatus
from fake_anthropic import FakeAnthropicAPI
from fake_anthropic.counting import TokenCounter
from fake_anthropic.prompt_cache import prompt_blocks
from token_manager import RateLimits, TokenManager

MODEL = "claude-sonnet-4-6"
TOOL_VERSION = "computer_use_20250124"
SESSIONS = 4
RPM, ITPM, OTPM = 50, 30_000, 8_000
LARGE_CONVERSATION = 100_000
DONE_MARKER = "B6 SESSION COMPLETE"
FINAL_ANSWER = "All reports are read."
# One line of the tool's output, ~51 server tokens; 38 of them and the call make ~2k a turn.
LINE = (
    "turn $n line $i: -rw-r--r-- 1 computeruse computeruse 18734 Nov 24 13:05 "
    "/home/computeruse/reports/invoice-$n-$i.csv"
)


def bash_command(turns: int, lines: int) -> str:
    """Counts the session's turns in its own shell; says when the task is done."""
    return (
        f'n=$(( ${{n:-0}} + 1 )); for i in $(seq 1 {lines}); do echo "{LINE}"; done; '
        f'if [ "$n" -ge {turns} ]; then echo "{DONE_MARKER}"; fi'
    )


def scenario(turns: int, lines: int) -> dict[str, Any]:
    tool_turn = {
        "content": [
            {"type": "text", "text": "Reading the next part of the reports."},
            {
                "type": "tool_use",
                "name": "bash",
                "input": {"command": bash_command(turns, lines)},
            },
        ]
    }
    return {
        "default": tool_turn,
        "stop_when": DONE_MARKER,
        "final": {"content": [{"type": "text", "text": FINAL_ANSWER}]},
    }


@dataclass
class Session:
    number: int
    messages: list[Any] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    completed: bool = False  # the fake model gave its final answer
    turns_past_large: int = 0  # tool turns once the history passed 100k tokens


def make_manager(window: float, cache_aware: bool) -> TokenManager:
    limits = RateLimits(RPM, ITPM, OTPM, window)
    return TokenManager(limits, cache_aware_admission=cache_aware)


async def run_session(
    session: Session, api: FakeAnthropicAPI, manager: TokenManager, max_tokens: int
) -> None:
    counter = TokenCounter()

    def on_tool_result(result: Any, tool_use_id: str) -> None:
        history = sum(counter.message(message) for message in session.messages)
        session.turns_past_large += history > LARGE_CONVERSATION

    def on_status(status: LoopStatus) -> None:
        if status.kind == "error":
            session.errors.append(status.message)

    def on_block(block: Any) -> None:
        if block.get("type") == "text" and block.get("text") == FINAL_ANSWER:
            session.completed = True

    session.messages.append(
        {
            "role": "user",
            "content": [
                {
                    "type": "text",
                    "text": f"Session {session.number}: read every report in "
                    "~/reports, part by part, and summarise the invoices.",
                }
            ],
        }
    )
    await sampling_loop(
        model=MODEL,
        provider=APIProvider.ANTHROPIC,
        system_prompt_suffix=f"You are working in session {session.number}.",
        messages=session.messages,
        output_callback=on_block,
        tool_output_callback=on_tool_result,
        api_response_callback=lambda request, response, error: None,
        api_key=api.api_key,
        max_tokens=max_tokens,
        tool_version=TOOL_VERSION,  # type: ignore[arg-type]
        status_callback=on_status,
        token_manager=manager,
    )


async def run_arm(
    cache_aware: bool,
    *,
    turns: int,
    lines: int,
    window: float,
    max_seconds: float,
    max_tokens: int,
    stop_after_large_turns: int | None = None,
) -> dict[str, Any]:
    """One arm on a fresh fake API; it ends when every session has ended, at
    `max_seconds`, or (if set) once every session made that many turns past 100k."""
    with FakeAnthropicAPI(
        scenario=scenario(turns, lines),
        rpm=RPM,
        itpm=ITPM,
        otpm=OTPM,
        window_seconds=window,
    ) as api:
        os.environ["ANTHROPIC_BASE_URL"] = api.base_url
        manager = make_manager(window, cache_aware)
        sessions = [Session(number) for number in range(1, SESSIONS + 1)]
        started = time.monotonic()
        tasks = [
            asyncio.create_task(run_session(session, api, manager, max_tokens))
            for session in sessions
        ]
        stopped_by = "every session ended"
        while True:
            left = started + max_seconds - time.monotonic()
            done, pending = await asyncio.wait(tasks, timeout=max(0.0, min(1.0, left)))
            if not pending:
                break
            if left <= 1.0:
                stopped_by = "time"
                break
            if stop_after_large_turns is not None and all(
                session.turns_past_large >= stop_after_large_turns
                for session in sessions
            ):
                stopped_by = f"every session {stop_after_large_turns} turns past 100k"
                break
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for task in done:
            if task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
        elapsed = time.monotonic() - started
        stats = api.stats()
        records = api.message_requests()
    figures = measure(records, sessions, window, elapsed)
    return {
        **figures,
        "rate_limited": stats["rate_limited"],
        "sessions_completed": sum(session.completed for session in sessions),
        "sessions_failed": sum(bool(session.errors) for session in sessions),
        "stopped_by": stopped_by,
        "seconds": round(elapsed, 1),
        "errors": [error for session in sessions for error in session.errors][:5],
    }


def measure(
    records: list[Any], sessions: list[Session], window: float, elapsed: float
) -> dict[str, Any]:
    counter = TokenCounter()
    by_session: dict[int, list[Any]] = {session.number: [] for session in sessions}
    for record in records:
        if record.status != 200 or record.usage is None:
            continue
        system_text = json.dumps(record.body.get("system"))
        for number in by_session:
            if f"session {number}." in system_text:
                by_session[number].append(record)
    sizes: list[int] = []
    large: list[int] = []
    reads = totals = kept = followers = 0
    for session in sessions:
        conversation = conversation_sizes(session.messages, counter)
        previous: dict[str, int] | None = None
        for record in by_session[session.number]:
            usage = record.usage
            total = (
                usage["input_tokens"]
                + usage["cache_creation_input_tokens"]
                + usage["cache_read_input_tokens"]
            )
            sizes.append(total)
            reads += usage["cache_read_input_tokens"]
            totals += total
            frame = sum(
                block.tokens
                for block in prompt_blocks({**record.body, "messages": []}, counter)
            )
            if frame + conversation.get(_last_result_id(record.body), 0) > (
                LARGE_CONVERSATION
            ):
                large.append(total)
            if previous is not None:
                followers += 1
                cached_before = (
                    previous["cache_read_input_tokens"]
                    + previous["cache_creation_input_tokens"]
                )
                kept += 0 < cached_before <= usage["cache_read_input_tokens"]
            previous = usage
    windows = elapsed / window
    return {
        "turns": len(sizes),
        "median_request_tokens": int(statistics.median(sizes)) if sizes else 0,
        "max_request_tokens": max(sizes, default=0),
        "median_request_tokens_after_100k": int(statistics.median(large))
        if large
        else None,
        "requests_after_100k": len(large),
        "cache_read_share": round(reads / totals, 3) if totals else 0.0,
        "turns_per_window": round(len(sizes) / windows, 2) if windows else 0.0,
        "prefix_kept_share": round(kept / followers, 3) if followers else 0.0,
    }


def conversation_sizes(messages: list[Any], counter: TokenCounter) -> dict[str, int]:
    """Tokens of the whole history up to each tool result, keyed by its tool_use_id."""
    sizes: dict[str, int] = {}
    running = 0
    for message in messages:
        running += counter.message(message)
        content = message.get("content")
        if message.get("role") != "user" or not isinstance(content, list):
            continue
        for block in content:
            if isinstance(block, dict) and block.get("type") == "tool_result":
                sizes[str(block.get("tool_use_id"))] = running
    return sizes


def _last_result_id(body: dict[str, Any]) -> str:
    last = body["messages"][-1].get("content")
    ids = [
        str(block.get("tool_use_id"))
        for block in (last if isinstance(last, list) else [])
        if isinstance(block, dict) and block.get("type") == "tool_result"
    ]
    return ids[-1] if ids else ""


async def main(arguments: argparse.Namespace) -> dict[str, Any]:
    for name, value in (("WIDTH", "1280"), ("HEIGHT", "800"), ("DISPLAY_NUM", "99")):
        os.environ.setdefault(name, value)
    options = {
        "turns": arguments.turns,
        "lines": arguments.lines,
        "window": arguments.window,
        "max_seconds": arguments.max_seconds,
        "max_tokens": arguments.max_tokens,
    }
    ours = await run_arm(True, **options)
    # The baseline cannot reach 150 turns a session in minutes (that is the
    # point): it runs until its conversations are well past 100k tokens.
    baseline = await run_arm(
        False,
        **{**options, "max_seconds": arguments.baseline_max_seconds},
        stop_after_large_turns=arguments.baseline_turns_past_100k,
    )
    return {
        "bench": "B6",
        **ours,
        "sessions": SESSIONS,
        "turns_per_session_target": arguments.turns,
        "window_seconds": arguments.window,
        "limits": {"rpm": RPM, "itpm": ITPM, "otpm": OTPM},
        "model": MODEL,
        "cache_aware_admission": "on (baseline: off)",
        "baseline": baseline,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--turns", type=int, default=150, help="turns per session")
    parser.add_argument(
        "--window", type=float, default=2.0, help="seconds standing for a minute"
    )
    parser.add_argument(
        "--max-seconds", type=float, default=240.0, help="time bound of our arm"
    )
    parser.add_argument(
        "--baseline-max-seconds",
        type=float,
        default=360.0,
        help="time bound of the baseline arm",
    )
    parser.add_argument(
        "--baseline-turns-past-100k",
        type=int,
        default=8,
        help="the baseline stops once every session made this many turns past 100k",
    )
    parser.add_argument("--max-tokens", type=int, default=1024)
    parser.add_argument(
        "--lines", type=int, default=38, help="tool output lines a turn (~51 tokens)"
    )
    print(json.dumps(asyncio.run(main(parser.parse_args()))))
