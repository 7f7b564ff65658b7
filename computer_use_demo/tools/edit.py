"""The file editor tool (`str_replace_based_edit_tool`): view, create, edit, undo.

Reads tolerate any bytes; every bad argument is a ToolError the model can act on.
It never runs a shell, never opens anything but a regular file (a named pipe or
a device could block or never end), never reads more than MAX_FILE_BYTES, and
does its file work off the event loop.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import json
import os
import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Any, Literal, get_args

from . import file_access
from .base import BaseAnthropicTool, CLIResult, ToolError, ToolResult
from .file_access import Refusal
from .identity import ToolsAccount, tools_account
from .run import maybe_truncate, tool_process_options
from .run import run_argv as run  # the name the quickstart's tests patch; no shell

Command = Literal["view", "create", "str_replace", "insert", "undo_edit"]
SNIPPET_LINES = 4
MAX_FILE_BYTES = 10 * 1024 * 1024
ACCOUNT_FILE_TIMEOUT = 30.0  # seconds for one read or write as the tools' account


class EditTool20250728(BaseAnthropicTool):
    """Views and edits files, keeping an undo history per file."""

    api_type: Literal["text_editor_20250728"] = "text_editor_20250728"
    name: Literal["str_replace_based_edit_tool"] = "str_replace_based_edit_tool"

    def __init__(self) -> None:
        self._file_history: dict[Path, list[str]] = defaultdict(list)
        super().__init__()

    def to_params(self) -> Any:
        return {"name": self.name, "type": self.api_type}

    async def __call__(
        self,
        *,
        command: Command,
        path: str,
        file_text: str | None = None,
        view_range: list[int] | None = None,
        old_str: str | None = None,
        new_str: str | None = None,
        insert_line: int | None = None,
        insert_text: str | None = None,
        **kwargs: Any,
    ) -> ToolResult:
        if not isinstance(path, str) or not path:
            raise ToolError("Parameter `path` is required and must be a string")
        target = Path(path)
        self.validate_path(command, target)
        if command == "view":
            return await self.view(target, view_range)
        if command == "create":
            if file_text is None:
                raise ToolError("Parameter `file_text` is required for command: create")
            await asyncio.to_thread(self.write_file, target, file_text)
            self._file_history[target].append(file_text)
            return ToolResult(output=f"File created successfully at: {target}")
        if command == "str_replace":
            if old_str is None:
                raise ToolError(
                    "Parameter `old_str` is required for command: str_replace"
                )
            return await asyncio.to_thread(self.str_replace, target, old_str, new_str)
        if command == "insert":
            if insert_line is None:
                raise ToolError(
                    "Parameter `insert_line` is required for command: insert"
                )
            # The 20250728 tool calls it insert_text; older ones new_str.
            text = insert_text if insert_text is not None else new_str
            if text is None:
                raise ToolError(
                    "Parameter `insert_text` is required for command: insert"
                )
            return await asyncio.to_thread(self.insert, target, insert_line, text)
        if command == "undo_edit":
            return await asyncio.to_thread(self.undo_edit, target)
        raise ToolError(
            f"Unrecognized command {command}. The allowed commands for the {self.name} "
            f"tool are: {', '.join(get_args(Command))}"
        )

    def validate_path(self, command: str, path: Path) -> None:
        """Absolute paths only; create never overwrites; only view takes a directory."""
        if not path.is_absolute():
            suggestion = Path("/") / path
            raise ToolError(
                f"The path {path} is not an absolute path, it should start with `/`. "
                f"Maybe you meant {suggestion}?"
            )
        account = tools_account()
        if account is not None:
            # What exists is what the tools' account can see, not what we can.
            found = self._as_account(account, "probe", path, {"path": str(path)})
            exists, is_dir = bool(found["exists"]), bool(found["is_dir"])
        else:
            exists, is_dir = path.exists(), path.is_dir()
        if command == "create":
            if exists:
                raise ToolError(
                    f"File already exists at: {path}. Cannot overwrite files using command `create`."
                )
            return
        if not exists:
            raise ToolError(
                f"The path {path} does not exist. Please provide a valid path."
            )
        if is_dir and command != "view":
            raise ToolError(
                f"The path {path} is a directory and only the `view` command can be used on directories"
            )

    async def view(self, path: Path, view_range: list[int] | None = None) -> CLIResult:
        if path.is_dir():
            if view_range:
                raise ToolError(
                    "The `view_range` parameter is not allowed when `path` points to a directory."
                )
            _, stdout, stderr = await run(
                ["find", str(path), "-maxdepth", "2", "-not", "-path", "*/.*"]
            )
            if not stderr:
                stdout = (
                    f"Here's the files and directories up to 2 levels deep in {path}, "
                    f"excluding hidden items:\n{stdout}\n"
                )
            return CLIResult(output=stdout, error=stderr)

        text = await asyncio.to_thread(self.read_file, path)
        first_line = 1
        if view_range:
            lines = text.split("\n")
            first_line, last_line = self._checked_range(view_range, len(lines))
            chosen = (
                lines[first_line - 1 :]
                if last_line == -1
                else lines[first_line - 1 : last_line]
            )
            text = "\n".join(chosen)
        return CLIResult(output=self._numbered(text, str(path), first_line))

    @staticmethod
    def _checked_range(view_range: list[int], line_count: int) -> tuple[int, int]:
        if (
            not isinstance(view_range, list | tuple)
            or len(view_range) != 2
            or not all(isinstance(number, int) for number in view_range)
        ):
            raise ToolError(
                "Invalid `view_range`. It should be a list of two integers."
            )
        first, last = view_range
        if first < 1 or first > line_count:
            raise ToolError(
                f"Invalid `view_range`: {view_range}. Its first element `{first}` should be "
                f"within the range of lines of the file: {[1, line_count]}"
            )
        if last != -1 and last > line_count:
            raise ToolError(
                f"Invalid `view_range`: {view_range}. Its second element `{last}` should be "
                f"smaller than the number of lines in the file: `{line_count}`"
            )
        if last != -1 and last < first:
            raise ToolError(
                f"Invalid `view_range`: {view_range}. Its second element `{last}` should be "
                f"larger or equal than its first `{first}`"
            )
        return first, last

    def str_replace(self, path: Path, old_str: str, new_str: str | None) -> CLIResult:
        text = self.read_text_for_edit(path)
        new = new_str or ""
        start, end = _unique_span(text, old_str, path)
        updated = text[:start] + new + text[end:]
        self.write_file(path, updated)
        self._file_history[path].append(text)

        changed_line = text[:start].count("\n")
        first = max(0, changed_line - SNIPPET_LINES)
        last = changed_line + SNIPPET_LINES + new.count("\n")
        snippet = "\n".join(updated.split("\n")[first : last + 1])
        return CLIResult(
            output=f"The file {path} has been edited. "
            + self._numbered(snippet, f"a snippet of {path}", first + 1)
            + "Review the changes and make sure they are as expected. Edit the file again if necessary."
        )

    def insert(self, path: Path, insert_line: int, text: str) -> CLIResult:
        original = self.read_text_for_edit(path)
        lines = original.split("\n")
        if (
            not isinstance(insert_line, int)
            or insert_line < 0
            or insert_line > len(lines)
        ):
            raise ToolError(
                f"Invalid `insert_line` parameter: {insert_line}. It should be within the "
                f"range of lines of the file: {[0, len(lines)]}"
            )
        new_lines = text.split("\n")
        updated_lines = lines[:insert_line] + new_lines + lines[insert_line:]
        self.write_file(path, "\n".join(updated_lines))
        self._file_history[path].append(original)

        snippet_lines = (
            lines[max(0, insert_line - SNIPPET_LINES) : insert_line]
            + new_lines
            + lines[insert_line : insert_line + SNIPPET_LINES]
        )
        return CLIResult(
            output=f"The file {path} has been edited. "
            + self._numbered(
                "\n".join(snippet_lines),
                "a snippet of the edited file",
                max(1, insert_line - SNIPPET_LINES + 1),
            )
            + "Review the changes and make sure they are as expected (correct indentation, "
            "no duplicate lines, etc). Edit the file again if necessary."
        )

    def undo_edit(self, path: Path) -> CLIResult:
        if not self._file_history[path]:
            raise ToolError(f"No edit history found for {path}.")
        previous = self._file_history[path].pop()
        self.write_file(path, previous)
        return CLIResult(
            output=f"Last edit to {path} undone successfully. "
            + self._numbered(previous, str(path))
        )

    def read_file(self, path: Path) -> str:
        """A regular file's text for viewing: bytes that are not UTF-8 show as U+FFFD."""
        data = self._read_regular(path)
        if isinstance(data, str):
            return data
        return data.decode("utf-8", errors="replace")

    def read_text_for_edit(self, path: Path) -> str:
        """A regular file's exact text; a file that is not UTF-8 is refused.

        An edit writes back the whole file, so a lossy decode would change bytes
        the model never asked to touch: such a file is left as it is.
        """
        data = self._read_regular(path)
        if isinstance(data, str):
            return data
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ToolError(
                f"{path} is not UTF-8 text (byte 0x{data[error.start]:02x} at offset "
                f"{error.start}), so the editor leaves it unchanged: it edits UTF-8 "
                "text only, byte for byte. `view` still shows it; use the bash tool "
                "for other encodings and binary files."
            ) from None

    def _read_regular(self, path: Path) -> bytes | str:
        """A regular file's bytes (at most MAX_FILE_BYTES), read as the tools'
        account when they have one; a missing file read through pathlib."""
        account = tools_account()
        if account is not None:
            request = {"path": str(path), "max_bytes": MAX_FILE_BYTES}
            answer = self._as_account(account, "read", path, request)
            return base64.b64decode(answer["data"])
        try:
            return file_access.read_regular(str(path), MAX_FILE_BYTES)
        except Refusal as refusal:
            if refusal.reason == "missing":
                # pathlib says so in its own words (the quickstart's tests stand in for it).
                return _read_missing(path)
            raise _refused(refusal, path, "read") from None

    def write_file(self, path: Path, content: str) -> None:
        """Write a regular file (created if absent); a pipe or a device is refused."""
        try:
            data = content.encode("utf-8")
        except UnicodeError as error:
            raise ToolError(
                f"Ran into {error} while trying to write to {path}"
            ) from None
        account = tools_account()
        if account is not None:
            request = {"path": str(path), "data": base64.b64encode(data).decode()}
            self._as_account(account, "write", path, request)
            return
        if not os.path.lexists(path):
            # A new file, written as the quickstart writes it (its tests check the call).
            try:
                path.write_text(content)
            except (OSError, UnicodeError) as error:
                raise ToolError(
                    f"Ran into {error} while trying to write to {path}"
                ) from None
            return
        try:
            file_access.write_regular(str(path), data)
        except Refusal as refusal:
            raise _refused(refusal, path, "write to") from None

    @staticmethod
    def _as_account(
        account: ToolsAccount, operation: str, path: Path, request: dict[str, Any]
    ) -> dict[str, Any]:
        """One file operation run by file_access.py as the tools' account."""
        try:
            finished = subprocess.run(
                [account.python(), "-I", "-S", "-c", _file_access_source(), operation],
                input=json.dumps(request),
                capture_output=True,
                text=True,
                timeout=ACCOUNT_FILE_TIMEOUT,
                check=False,
                **tool_process_options(),
            )
            answer = json.loads(finished.stdout)
        except (OSError, ValueError, subprocess.TimeoutExpired) as error:
            raise ToolError(
                f"Ran into {type(error).__name__} while working on {path} as the tools' account"
            ) from None
        if not isinstance(answer, dict):
            raise ToolError(f"Ran into a bad answer while working on {path}")
        if "refused" in answer:
            verb = "write to" if operation == "write" else "read"
            raise _refused(Refusal(answer["refused"], answer["detail"]), path, verb)
        return answer

    @staticmethod
    def _numbered(text: str, descriptor: str, first_line: int = 1) -> str:
        """`cat -n` style lines, clipped so one view cannot flood the context.

        Tabs stay tabs, as `cat -n` shows them, so what the model copies into
        `old_str` is what the file holds.
        """
        text = maybe_truncate(text)
        numbered = "\n".join(
            f"{number:6}\t{line}"
            for number, line in enumerate(text.split("\n"), start=first_line)
        )
        return f"Here's the result of running `cat -n` on {descriptor}:\n{numbered}\n"


def _unique_span(text: str, old_str: str, path: Path) -> tuple[int, int]:
    """Where `old_str` occurs once in `text`, as given or with the file's tabs
    expanded (the width a view with expanded tabs would have shown)."""
    count = text.count(old_str)
    if count == 1:
        start = text.index(old_str)
        return start, start + len(old_str)
    if count == 0 and "\t" in text:
        expanded, origins = _expanded_with_origins(text)
        wanted = old_str.expandtabs()
        if expanded.count(wanted) == 1:
            at = expanded.index(wanted)
            after = at + len(wanted)
            # Only a span that starts and ends on whole characters of the file.
            if _starts_character(origins, at) and (
                after == len(expanded) or _starts_character(origins, after)
            ):
                return origins[at], (
                    len(text) if after == len(expanded) else origins[after]
                )
    if count == 0:
        raise ToolError(
            f"No replacement was performed, old_str `{old_str}` did not appear verbatim in {path}."
        )
    line_numbers = [
        number
        for number, line in enumerate(text.split("\n"), start=1)
        if old_str in line
    ]
    raise ToolError(
        f"No replacement was performed. Multiple occurrences of old_str `{old_str}` "
        f"in lines {line_numbers}. Please ensure it is unique"
    )


def _expanded_with_origins(text: str) -> tuple[str, list[int]]:
    """`text.expandtabs()`, and for each of its characters the index it came from."""
    pieces: list[str] = []
    origins: list[int] = []
    column = 0
    for index, character in enumerate(text):
        if character == "\t":
            width = 8 - column % 8
            pieces.append(" " * width)
            origins.extend([index] * width)
            column += width
            continue
        pieces.append(character)
        origins.append(index)
        column = 0 if character in "\n\r" else column + 1
    return "".join(pieces), origins


def _starts_character(origins: list[int], position: int) -> bool:
    return position == 0 or origins[position] != origins[position - 1]


def _read_missing(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        raise ToolError(
            f"Ran into {error.strerror or error} while trying to read {path}"
        ) from None


@functools.cache
def _file_access_source() -> str:
    """file_access.py's text, handed to the account's python as `-c` (our own
    files may live where that account cannot read them); read once."""
    return Path(file_access.__file__).read_text(encoding="utf-8")


def _refused(refusal: Refusal, path: Path, verb: str) -> ToolError:
    """The editor's words for why `path` was not read or written."""
    if refusal.reason == "not_regular":
        return ToolError(
            f"{path} is {refusal.detail}, not a regular file: the editor only reads and "
            "writes regular files (use the bash tool, with a timeout, for anything else)"
        )
    if refusal.reason == "too_large":
        return ToolError(_too_large(path, int(refusal.detail)))
    if refusal.reason == "missing":
        return ToolError(
            f"Ran into No such file or directory while trying to {verb} {path}"
        )
    return ToolError(f"Ran into {refusal.detail} while trying to {verb} {path}")


def _too_large(path: Path, size: int) -> str:
    return (
        f"{path} is {size:,} bytes, more than the {MAX_FILE_BYTES:,} the editor reads: "
        "use bash (grep -n, head, sed -n 'A,Bp') to read the part you need"
    )
