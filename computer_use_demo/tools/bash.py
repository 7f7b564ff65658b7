"""The bash tool: one persistent shell per tool instance, as the model expects.

It never hands the shell our secrets, never holds unbounded output in memory, and
a command that hangs is killed and the shell restarted rather than left stuck.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shlex
import shutil
import signal
import tempfile
import uuid
from collections.abc import Callable
from typing import Any, Literal

from ..tool_output.shortening import omission_note
from .base import BaseAnthropicTool, CLIResult, ToolError, ToolResult
from .identity import ToolsAccount, tools_account
from .run import decode_output, tool_process_options

# Bytes kept from each stream: the start and the end of a huge output.
CAPTURE_HEAD_BYTES = 128 * 1024
CAPTURE_TAIL_BYTES = 64 * 1024
_TOKEN_LINE = re.compile(r"__CUD_DONE_[0-9a-f]{32}__\n?")


class _Capture:
    """Head and tail of a byte stream, with the count of what fell between."""

    def __init__(self) -> None:
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        room = CAPTURE_HEAD_BYTES - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if not chunk:
            return
        self.tail += chunk
        excess = len(self.tail) - CAPTURE_TAIL_BYTES
        if excess > 0:
            del self.tail[:excess]
            self.dropped += excess

    def take(self) -> bytes:
        """Everything captured so far (a marker where bytes were dropped); resets."""
        if self.dropped:
            marker = omission_note(self.dropped, "bytes of output").encode()
            data = bytes(self.head) + marker + bytes(self.tail)
        else:
            data = bytes(self.head + self.tail)
        self.head.clear()
        self.tail.clear()
        self.dropped = 0
        return data

    def count(self, token: bytes) -> int:
        return (bytes(self.head) + bytes(self.tail)).count(token)


class _DoneChannel:
    """A private named pipe the shell reports each command's end and status on.

    The shell opens it by path for every report, so nothing a command does to its
    own descriptors (`exec 2>&1`, `exec >/dev/null`, closing fds) can divert it.
    We hold a writer open ourselves, so the reader never sees end-of-file.
    """

    def __init__(self, owner: ToolsAccount | None = None) -> None:
        self._folder = tempfile.mkdtemp(prefix="computer-use-bash-")
        self.path = os.path.join(self._folder, "done")
        os.mkfifo(self.path, 0o600)
        if owner is not None:  # the shell runs as the tools' account
            for path in (self._folder, self.path):
                os.chown(path, owner.uid, owner.gid)
        self._reader = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        self._keep_open = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
        self.received = bytearray()
        self._watched: asyncio.AbstractEventLoop | None = None

    def watch(self, arrived: asyncio.Event) -> None:
        def on_readable() -> None:
            with contextlib.suppress(BlockingIOError):
                self.received += os.read(self._reader, 65536)
            arrived.set()

        self._watched = asyncio.get_running_loop()
        self._watched.add_reader(self._reader, on_readable)

    def close(self) -> None:
        if self._watched is not None and not self._watched.is_closed():
            self._watched.remove_reader(self._reader)
        for descriptor in (self._reader, self._keep_open):
            with contextlib.suppress(OSError):
                os.close(descriptor)
        shutil.rmtree(self._folder, ignore_errors=True)


class _BashSession:
    """A bash process fed one command at a time, each ended by a unique token.

    The end and the exit status travel on the done channel; a copy of the token
    on stdout and on stderr marks where each stream's output of that command
    ends, waited for only briefly (the command may have redirected either).
    """

    command: str = "/bin/bash"
    _timeout: float = 120.0  # seconds
    _stream_grace: float = 0.5  # seconds to wait for a stream's token after the end

    def __init__(self) -> None:
        self._started = False
        self._timed_out = False
        self._process: asyncio.subprocess.Process | None = None
        self._stdout = _Capture()
        self._stderr = _Capture()
        self._readers: list[asyncio.Task[None]] = []
        self._data_arrived = asyncio.Event()
        self._done: _DoneChannel | None = None

    async def start(self) -> None:
        if self._started:
            return
        self._done = _DoneChannel(tools_account())
        self._done.watch(self._data_arrived)
        self._process = await asyncio.create_subprocess_exec(
            self.command,
            "--noprofile",
            "--norc",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
            **tool_process_options(),
        )
        assert self._process.stdout and self._process.stderr
        self._readers = [
            asyncio.create_task(self._pump(self._process.stdout, self._stdout)),
            asyncio.create_task(self._pump(self._process.stderr, self._stderr)),
        ]
        self._started = True

    async def _pump(self, stream: asyncio.StreamReader, capture: _Capture) -> None:
        while chunk := await stream.read(65536):
            capture.add(chunk)
            self._data_arrived.set()
        self._data_arrived.set()

    def stop(self) -> None:
        """Kill the shell and everything it started."""
        if not self._started or self._process is None:
            raise ToolError("Session has not started.")
        if self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGKILL)
        for reader in self._readers:
            reader.cancel()
        if self._done is not None:
            self._done.close()

    def _script(self, command: str, token: str) -> str:
        assert self._done is not None
        done_path = shlex.quote(self._done.path)
        return (
            f"{command}\n__cud_status=$?; "
            f"printf '%s\\n' '{token}' 2>/dev/null; "
            f"printf '%s\\n' '{token}' >&2; "
            f"printf '%s:%s\\n' '{token}' \"$__cud_status\" >{done_path}\n"
        )

    async def run(self, command: str) -> ToolResult:
        if not self._started or self._process is None or self._done is None:
            raise ToolError("Session has not started.")
        if self._process.returncode is not None:
            return ToolResult(
                system="tool must be restarted",
                error=f"bash has exited with returncode {self._process.returncode}",
            )
        if self._timed_out:
            raise ToolError(
                f"timed out: bash has not returned in {self._timeout} seconds and must be restarted"
            )
        assert self._process.stdin
        token = f"__CUD_DONE_{uuid.uuid4().hex}__"
        self._stdout.take()
        self._stderr.take()
        self._done.received.clear()
        try:
            self._process.stdin.write(self._script(command, token).encode())
            await self._process.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            return ToolResult(system="tool must be restarted", error="bash has exited")
        marker = token.encode()
        try:
            async with asyncio.timeout(self._timeout):
                await self._wait_for(lambda: marker in self._done_bytes())
        except TimeoutError:
            self._timed_out = True
            raise ToolError(
                f"timed out: bash has not returned in {self._timeout} seconds and must be restarted"
            ) from None
        # Output written before the end may still be in the pipes: wait for both
        # stream tokens, wherever the command sent its streams, but not for long.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._stream_grace):
                await self._wait_for(
                    lambda: self._stdout.count(marker) + self._stderr.count(marker) >= 2
                )
        return self._result(token)

    def _done_bytes(self) -> bytes:
        assert self._done is not None
        return bytes(self._done.received)

    async def _wait_for(self, condition: Callable[[], bool]) -> None:
        """Until `condition` holds or the shell has exited.

        Both streams at end-of-file is no proof of exit (a command may close
        them), so the wait also watches the process itself.
        """
        assert self._process is not None
        exited = asyncio.ensure_future(self._process.wait())
        try:
            while not condition() and not exited.done():
                self._data_arrived.clear()
                arrived = asyncio.ensure_future(self._data_arrived.wait())
                try:
                    await asyncio.wait(
                        {arrived, exited}, return_when=asyncio.FIRST_COMPLETED
                    )
                finally:
                    arrived.cancel()
        finally:
            exited.cancel()

    def _result(self, token: str) -> ToolResult:
        output = _without_tokens(decode_output(self._stdout.take()))
        error = _without_tokens(decode_output(self._stderr.take()))
        status: int | None = None
        report = self._done_bytes().decode("ascii", errors="replace")
        if token in report:
            with contextlib.suppress(ValueError):
                status = int(report.split(f"{token}:", 1)[1].split("\n", 1)[0])
        output = output.removesuffix("\n")
        error = error.removesuffix("\n")
        if self._process is not None and self._process.returncode is not None:
            return CLIResult(
                output=output,
                error=error,
                system=f"bash has exited with returncode {self._process.returncode}; "
                "tool must be restarted",
            )
        return CLIResult(
            output=output,
            error=error,
            system=f"exit status {status}" if status else None,
        )


def _without_tokens(text: str) -> str:
    """The text with every end token line taken out (late ones of earlier commands too)."""
    return _TOKEN_LINE.sub("", text)


class BashTool20250124(BaseAnthropicTool):
    """Runs the model's bash commands in one long-lived shell."""

    api_type: Literal["bash_20250124"] = "bash_20250124"
    name: Literal["bash"] = "bash"

    def __init__(self) -> None:
        self._session: _BashSession | None = None
        super().__init__()

    def to_params(self) -> Any:
        return {"type": self.api_type, "name": self.name}

    async def __call__(
        self, command: str | None = None, restart: bool = False, **kwargs: Any
    ) -> ToolResult:
        if restart:
            await self._restart()
            return ToolResult(system="tool has been restarted.")
        if command is not None and not isinstance(command, str):
            raise ToolError(f"command must be a string, got {type(command).__name__}")
        if self._session is None:
            self._session = _BashSession()
            await self._session.start()
        if command is None:
            raise ToolError("no command provided.")
        try:
            return await self._session.run(command)
        except ToolError as error:
            if self._session._timed_out:
                # A hung command must not leave the model with a dead shell.
                await self._restart()
                raise ToolError(
                    f"{error.message}. The command was killed and the shell was "
                    "restarted for you (its working directory and variables were reset)."
                ) from None
            raise

    async def close(self) -> None:
        """End the shell and wait until it is gone (nothing left for a later loop)."""
        if self._session is None:
            return
        session, self._session = self._session, None
        with contextlib.suppress(ToolError):
            session.stop()
        if session._process is not None:
            await session._process.wait()

    async def _restart(self) -> None:
        if self._session is not None:
            with contextlib.suppress(ToolError):
                self._session.stop()
        self._session = _BashSession()
        await self._session.start()


class BashTool20241022(BashTool20250124):
    api_type: Literal["bash_20250124"] = "bash_20250124"
