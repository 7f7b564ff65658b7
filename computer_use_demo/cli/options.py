"""The command line, mirroring the app's sidebar; parsing only, no side effects."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

from ..models import DEFAULT_MODEL_BY_PROVIDER, ThinkingEffort, lookup_model_conf
from ..providers import APIProvider
from ..storage import save_target_problem
from ..tools import ToolVersion

EXIT_OK = 0
EXIT_BAD_ARGUMENTS = 2
EXIT_AUTH = 3
EXIT_RATE_LIMITED = 4
EXIT_API_ERROR = 5
EXIT_SPEND_CAP = 6  # the next request's worst case could pass a spending cap
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class Options:
    prompt: str | None
    provider: str
    model: str
    tool_version: str
    max_tokens: int
    thinking: str
    thinking_effort: str
    thinking_budget: int | None
    images_to_keep: int
    system_suffix: str
    context_management: str
    rpm: int | None
    itpm: int | None
    otpm: int | None
    show_thinking: bool
    json: bool
    save: Path | None
    resume: Path | None
    send_again: bool = False
    debug: bool = False
    max_cost: float | None = None  # US dollars this conversation may spend


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(
        prog="computer-use-demo",
        description="Run the computer-use agent in a terminal: answers stream to stdout, "
        "tool calls and waits go to stderr.",
        epilog="exit codes: 0 done, 2 bad arguments, 3 authentication failed, "
        "4 gave up on rate limits, 5 other API error, 6 the spending cap would be "
        "passed, 130 interrupted",
    )
    cli.add_argument("prompt", nargs="?", help="the task; read from stdin when omitted")
    cli.add_argument(
        "--provider",
        choices=[p.value for p in APIProvider],
        default=None,
        help="default: $API_PROVIDER or anthropic",
    )
    cli.add_argument("--model", help="model id (default: the provider's default)")
    cli.add_argument(
        "--tool-version",
        choices=list(get_args(ToolVersion)),
        help="default: the model's",
    )
    cli.add_argument(
        "--max-tokens", type=int, help="max output tokens (default: the model's)"
    )
    cli.add_argument(
        "--thinking",
        choices=["off", "adaptive", "extended"],
        help="default: the model's first mode",
    )
    cli.add_argument(
        "--thinking-effort", choices=list(get_args(ThinkingEffort)), default="medium"
    )
    cli.add_argument(
        "--thinking-budget", type=int, help="tokens, with --thinking extended"
    )
    cli.add_argument(
        "--images-to-keep",
        type=int,
        default=3,
        help="screenshots sent with each request",
    )
    cli.add_argument(
        "--system-suffix", default="", help="appended to the system prompt"
    )
    cli.add_argument(
        "--context-management",
        choices=["client", "clear_tool_uses", "compact"],
        default="client",
    )
    cli.add_argument(
        "--rpm", type=int, help="requests/min limit (default: $TOKEN_MANAGER_RPM or 50)"
    )
    cli.add_argument("--itpm", type=int, help="input tokens/min limit")
    cli.add_argument("--otpm", type=int, help="output tokens/min limit")
    cli.add_argument(
        "--max-cost",
        type=float,
        metavar="USD",
        help="the most this conversation may spend, in US dollars: a request whose "
        "worst case could pass it is not sent (exit 6; default: "
        "$TOKEN_MANAGER_MAX_COST_PER_CONVERSATION or no cap)",
    )
    cli.add_argument(
        "--show-thinking",
        action="store_true",
        help="stream thinking too (dimmed, on stderr)",
    )
    cli.add_argument(
        "--json", action="store_true", help="one JSON event per line on stdout"
    )
    cli.add_argument(
        "--save", type=Path, help="save the conversation here after every turn"
    )
    cli.add_argument(
        "--resume", type=Path, help="continue a conversation saved by the app or --save"
    )
    cli.add_argument(
        "--send-again",
        action="store_true",
        help="with --resume, when the conversation ends with your unanswered "
        "message: send it again as it is (no new prompt)",
    )
    cli.add_argument(
        "--debug", action="store_true", help="log details, tracebacks included"
    )
    return cli


def parse(argv: list[str] | None, environ_provider: str | None) -> Options:
    """Options with the model's defaults filled in (exits 2 on bad arguments)."""
    cli = parser()
    args = cli.parse_args(argv)
    provider = args.provider or environ_provider or APIProvider.ANTHROPIC.value
    if provider not in [p.value for p in APIProvider]:
        cli.error(f"unknown provider {provider!r} (from $API_PROVIDER)")
    model = args.model or DEFAULT_MODEL_BY_PROVIDER[provider]
    conf = lookup_model_conf(model)
    thinking = args.thinking or conf.thinking_modes[0]
    if (
        args.max_tokens is not None
        and not 1 <= args.max_tokens <= conf.max_output_tokens
    ):
        cli.error(
            f"--max-tokens must be between 1 and {conf.max_output_tokens:,} for {model}"
        )
    if args.images_to_keep < 0:
        cli.error("--images-to-keep must be 0 or more")
    if args.max_cost is not None and not 0 < args.max_cost < 1e9:
        cli.error("--max-cost must be an amount of US dollars above 0")
    if args.send_again and (args.resume is None or args.prompt is not None):
        cli.error("--send-again goes with --resume and no prompt")
    if args.save is not None and (problem := save_target_problem(args.save)):
        cli.exit(2, f"{cli.prog}: --save: {problem}\n")  # one line, no usage dump
    return Options(
        prompt=args.prompt,
        provider=provider,
        model=model,
        tool_version=args.tool_version or conf.tool_version,
        max_tokens=args.max_tokens or conf.default_output_tokens,
        thinking=thinking,
        thinking_effort=args.thinking_effort,
        thinking_budget=args.thinking_budget
        or (conf.default_output_tokens // 2 if thinking == "extended" else None),
        images_to_keep=args.images_to_keep,
        system_suffix=args.system_suffix,
        context_management=args.context_management,
        rpm=args.rpm,
        itpm=args.itpm,
        otpm=args.otpm,
        show_thinking=args.show_thinking,
        json=args.json,
        save=args.save,
        resume=args.resume,
        send_again=args.send_again,
        debug=args.debug,
        max_cost=args.max_cost,
    )
