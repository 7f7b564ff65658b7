"""The bash tool: one persistent shell per tool instance, as the model expects.

It never hands the shell our secrets, never holds unbounded output in memory, and
a command that hangs is killed and the shell restarted rather than left stuck.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import uuid
from typing import Any, Literal

from token_manager.shortening import omission_note

from .base import BaseAnthropicTool, CLIResult, ToolError, ToolResult
from .run import decode_output, shell_environment

# Bytes kept from each stream: the start and the end of a huge output.
CAPTURE_HEAD_BYTES = 128 * 1024
CAPTURE_TAIL_BYTES = 64 * 1024


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

    def contains(self, token: bytes) -> bool:
        return token in self.tail or token in self.head


class _BashSession:
    """A bash process fed one command at a time, each ended by a unique sentinel."""

    command: str = "/bin/bash"
    _timeout: float = 120.0  # seconds

    def __init__(self) -> None:
        self._started = False
        self._timed_out = False
        self._process: asyncio.subprocess.Process | None = None
        self._stdout = _Capture()
        self._stderr = _Capture()
        self._readers: list[asyncio.Task[None]] = []
        self._data_arrived = asyncio.Event()

    async def start(self) -> None:
        if self._started:
            return
        self._process = await asyncio.create_subprocess_exec(
            self.command,
            "--noprofile",
            "--norc",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=shell_environment(),
            start_new_session=True,
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

    async def run(self, command: str) -> ToolResult:
        if not self._started or self._process is None:
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
        script = (
            f"{command}\n__cud_status=$?; printf '%s:%s\\n' '{token}' \"$__cud_status\"; "
            f"printf '%s\\n' '{token}' >&2\n"
        )
        try:
            self._process.stdin.write(script.encode())
            await self._process.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            return ToolResult(system="tool must be restarted", error="bash has exited")
        marker = token.encode()
        try:
            async with asyncio.timeout(self._timeout):
                while not (
                    self._stdout.contains(marker) and self._stderr.contains(marker)
                ):
                    if self._process.returncode is not None or all(
                        r.done() for r in self._readers
                    ):
                        break
                    self._data_arrived.clear()
                    await self._data_arrived.wait()
        except TimeoutError:
            self._timed_out = True
            raise ToolError(
                f"timed out: bash has not returned in {self._timeout} seconds and must be restarted"
            ) from None
        return self._result(token)

    def _result(self, token: str) -> ToolResult:
        output = decode_output(self._stdout.take())
        error = decode_output(self._stderr.take())
        status: int | None = None
        if token in output:
            output, _, rest = output.partition(token)
            with contextlib.suppress(ValueError):
                status = int(rest.lstrip(":").split("\n", 1)[0])
        error = error.split(token, 1)[0]
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

    async def _restart(self) -> None:
        if self._session is not None:
            with contextlib.suppress(ToolError):
                self._session.stop()
        self._session = _BashSession()
        await self._session.start()


class BashTool20241022(BashTool20250124):
    api_type: Literal["bash_20250124"] = "bash_20250124"
