"""Runs one shell command with a time limit, and bounds what its output may cost.

Never raises on odd bytes (they are replaced) and never returns unbounded text.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Sequence
from typing import Any

from ..redaction import has_url_credentials, is_credential_name
from ..tool_output.shortening import keep_head_and_tail
from .identity import tools_account

MAX_RESPONSE_LEN: int = 16_000
TRUNCATED_MESSAGE: str = (
    "<response clipped><NOTE>To save on context only part of this file has been "
    "shown to you. You should retry this tool after you have searched inside the "
    "file with `grep -n` in order to find the line numbers of what you are looking "
    "for.</NOTE>"
)


def shell_environment(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The environment every tool process gets: ours minus every credential.

    Dropped: credential variables (`*_API_KEY`, `*_TOKEN`, `*SECRET*`,
    `*PASSWORD*`, AWS keys, the Redis URL) and any variable holding a URL with
    a `user:password@` part (a proxy without credentials is kept).
    """
    source = dict(os.environ if environ is None else environ)
    return {
        name: value
        for name, value in source.items()
        if not is_credential_name(name) and not has_url_credentials(value)
    }


def tool_process_options() -> dict[str, Any]:
    """How every tool process starts: an environment without credentials and,
    when the tools have an account of their own, as that account in its home."""
    account = tools_account()
    if account is None:
        return {"env": shell_environment()}
    return {"env": account.environment(shell_environment()), **account.spawn_options()}


def decode_output(data: bytes) -> str:
    """Text from a process's bytes; invalid UTF-8 becomes U+FFFD, never an error."""
    return data.decode("utf-8", errors="replace")


def maybe_truncate(content: str, truncate_after: int | None = MAX_RESPONSE_LEN) -> str:
    """The quickstart's clip-and-note, for file views (head only: line numbers)."""
    if not truncate_after or len(content) <= truncate_after:
        return content
    return content[:truncate_after] + TRUNCATED_MESSAGE


async def run(
    cmd: str,
    timeout: float | None = 120.0,  # noqa: ASYNC109 - the quickstart's signature
    truncate_after: int | None = MAX_RESPONSE_LEN,
) -> tuple[int, str, str]:
    """Run `cmd` in a shell; kill its whole process group if it outlives `timeout`."""
    process = await asyncio.create_subprocess_shell(
        cmd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
        **tool_process_options(),
    )
    return await _finish(process, cmd, timeout, truncate_after)


async def run_argv(
    argv: Sequence[str],
    timeout: float | None = 120.0,  # noqa: ASYNC109 - same as run()
    truncate_after: int | None = MAX_RESPONSE_LEN,
) -> tuple[int, str, str]:
    """Run a program with these exact arguments, no shell: a path or name with
    quotes, `$(...)` or spaces is only ever an argument."""
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
        **tool_process_options(),
    )
    return await _finish(process, " ".join(argv), timeout, truncate_after)


async def _finish(
    process: asyncio.subprocess.Process,
    cmd: str,
    timeout: float | None,  # noqa: ASYNC109 - passed through from the callers
    truncate_after: int | None,
) -> tuple[int, str, str]:
    try:
        async with asyncio.timeout(timeout):
            stdout, stderr = await process.communicate()
    except TimeoutError as error:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
        raise TimeoutError(
            f"Command '{cmd}' timed out after {timeout} seconds"
        ) from error
    return (
        process.returncode or 0,
        keep_head_and_tail(decode_output(stdout), truncate_after),
        keep_head_and_tail(decode_output(stderr), truncate_after),
    )
