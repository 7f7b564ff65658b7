"""Runs one prompt (or a resumed conversation) through the loop, in a terminal.

Ctrl-C cancels the turn, saves a valid transcript and exits 130; never a traceback.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from .. import settings, storage, telemetry
from ..process_guard import guard_process
from ..redaction import install_log_redaction, register_secret
from ..settings import Settings
from ..startup_log import log_budget_once
from ..status import LoopStatus
from .options import (
    EXIT_API_ERROR,
    EXIT_AUTH,
    EXIT_BAD_ARGUMENTS,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_RATE_LIMITED,
    EXIT_SPEND_CAP,
    Options,
    parse,
)
from .output import JsonRenderer, Renderer, RichRenderer

EXIT_BY_ERROR = {
    "auth": EXIT_AUTH,
    "permission": EXIT_AUTH,
    "rate_limit": EXIT_RATE_LIMITED,
    "request_too_large": EXIT_RATE_LIMITED,
    "spend_cap": EXIT_SPEND_CAP,
}


def _api_key(provider: str) -> str:
    if provider != "anthropic":
        return ""
    key = settings.current().anthropic_api_key
    return key or storage.load_text("api_key") or ""


def _history(options: Options, prompt: str | None) -> list[Any]:
    """The conversation to send: the resumed one, plus the new prompt (none
    with --send-again: its last, unanswered message goes again as it is)."""
    messages: list[Any] = []
    if options.resume is not None:
        messages = storage.load_conversation_file(options.resume).messages
    if prompt is not None:
        messages.append({"role": "user", "content": [{"type": "text", "text": prompt}]})
    return messages


def _ends_with_the_users_turn(messages: list[Any]) -> bool:
    return bool(messages) and messages[-1].get("role") == "user"


def _fail(message: str) -> None:
    print(f"computer-use-demo: {message}", file=sys.stderr)
    sys.exit(EXIT_BAD_ARGUMENTS)


def _limits(options: Options) -> None:
    if options.rpm is None and options.itpm is None and options.otpm is None:
        return
    from token_manager import RateLimits, token_manager

    current = token_manager.limits
    token_manager.set_limits(
        RateLimits(
            options.rpm if options.rpm is not None else current.requests_per_minute,
            options.itpm
            if options.itpm is not None
            else current.input_tokens_per_minute,
            options.otpm
            if options.otpm is not None
            else current.output_tokens_per_minute,
            current.window_seconds,
        )
    )


def _spend_cap(options: Options) -> None:
    """--max-cost caps this conversation (the daily cap stays the environment's)."""
    if options.max_cost is None:
        return
    from token_manager import token_manager
    from token_manager.spend import NANO

    caps = token_manager.spending.caps
    token_manager.spending.set_caps(
        replace(caps, conversation=round(options.max_cost * NANO))
    )


def _priority(options: Options) -> None:
    """A `--json` run is scripted work: it waits behind the interactive apps
    sharing its budget (bounded, see TOKEN_MANAGER_PRIORITY), unless the
    environment says otherwise."""
    if options.json and not os.environ.get("TOKEN_MANAGER_PRIORITY"):
        from token_manager import token_manager

        token_manager.priority = "batch"


async def run(options: Options, prompt: str | None, renderer: Renderer) -> int:
    from .. import loop  # imported here: main() checks the environment first

    api_key = _api_key(options.provider)
    if options.provider == "anthropic" and not api_key:
        renderer.status(
            LoopStatus(
                kind="error",
                message="No API key: set ANTHROPIC_API_KEY or save one in the app.",
                error_kind="auth",
            )
        )
        return EXIT_AUTH
    register_secret(api_key)
    _limits(options)
    _spend_cap(options)
    _priority(options)
    log_budget_once()
    messages = _history(options, prompt)
    errors: list[LoopStatus] = []

    def on_status(status: LoopStatus) -> None:
        if status.kind == "error":
            errors.append(status)
        renderer.status(status)

    def on_tool_result(result: Any, tool_use_id: str) -> None:
        renderer.tool_result(result, tool_use_id)
        save()

    def save() -> None:
        if options.save is not None:
            storage.save_conversation_file(
                options.save,
                messages,
                {"model": options.model, "provider": options.provider},
            )

    task = asyncio.ensure_future(
        loop.sampling_loop(
            model=options.model,
            provider=loop.APIProvider(options.provider),
            system_prompt_suffix=options.system_suffix,
            messages=messages,
            output_callback=lambda block: None,
            tool_output_callback=on_tool_result,
            api_response_callback=lambda request, response, error: None,
            api_key=api_key,
            only_n_most_recent_images=options.images_to_keep,
            max_tokens=options.max_tokens,
            tool_version=options.tool_version,  # type: ignore[arg-type]
            thinking_mode=options.thinking,  # type: ignore[arg-type]
            thinking_effort=options.thinking_effort,  # type: ignore[arg-type]
            thinking_budget=options.thinking_budget,
            stream_callback=renderer.stream,
            status_callback=on_status,
            context_management=options.context_management,  # type: ignore[arg-type]
        )
    )
    loop_ = asyncio.get_running_loop()
    interrupted = False

    def on_interrupt() -> None:
        nonlocal interrupted
        interrupted = True
        task.cancel()

    loop_.add_signal_handler(signal.SIGINT, on_interrupt)
    loop_.add_signal_handler(signal.SIGTERM, on_interrupt)
    try:
        await task
    except asyncio.CancelledError:
        if not interrupted:
            raise
    finally:
        loop_.remove_signal_handler(signal.SIGINT)
        loop_.remove_signal_handler(signal.SIGTERM)
        save()  # the loop answered any open tool call: the transcript is valid
    if interrupted:
        renderer.status(
            LoopStatus(
                kind="stopped",
                message="Interrupted; the conversation was saved."
                if options.save
                else "Interrupted.",
            )
        )
        return EXIT_INTERRUPTED
    if errors:
        return EXIT_BY_ERROR.get(str(errors[-1].error_kind), EXIT_API_ERROR)
    return EXIT_OK


def main(argv: list[str] | None = None) -> None:
    install_log_redaction(logging.WARNING)
    guard_process()
    configured = Settings.from_env(os.environ)  # the CLI's one read of the environment
    settings.use(configured)
    options = parse(argv, configured.api_provider.value)
    if options.debug:  # our own records at every level, tracebacks included
        logging.getLogger("computer_use_demo").setLevel(logging.DEBUG)
    if problems := configured.problems:
        print(f"computer-use-demo: {problems[0]}", file=sys.stderr)
        sys.exit(EXIT_BAD_ARGUMENTS)
    resumed: list[Any] = []
    if options.resume is not None:
        if not Path(options.resume).exists():
            _fail(f"--resume {options.resume}: no such file")
        try:  # read-only: a bad file is reported and left as it is
            resumed = storage.load_conversation_file(Path(options.resume)).messages
        except storage.ConversationFileError as error:
            _fail(f"--resume: {error}")
    unanswered = _ends_with_the_users_turn(resumed)
    prompt = options.prompt
    if options.send_again:
        if not unanswered:
            _fail(
                "--send-again: the conversation does not end with an unanswered "
                "message of yours; give a prompt instead"
            )
    elif not (prompt or "").strip():
        if sys.stdin.isatty():
            print("Type the task, then Ctrl-D:", file=sys.stderr)
        prompt = sys.stdin.read().strip()
        if not prompt:
            _fail(
                "--resume: the conversation ends with your message, which got no "
                "answer: give a new prompt, or --send-again to send it as it is"
                if unanswered
                else "no prompt given (argument or stdin)"
            )
    telemetry.configure(os.environ)
    renderer: Renderer = (
        JsonRenderer(show_thinking=options.show_thinking)
        if options.json
        else RichRenderer(show_thinking=options.show_thinking)
    )
    try:
        code = asyncio.run(run(options, prompt, renderer))
    except ValueError as error:  # a --resume file that is not a conversation
        print(f"computer-use-demo: {error}", file=sys.stderr)
        code = EXIT_BAD_ARGUMENTS
    finally:
        telemetry.shutdown()  # what is buffered goes out before the process ends
    renderer.finish(code)
    sys.exit(code)
