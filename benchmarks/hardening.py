"""Figures of the hardening review (issue 13) for benchmarks/reliability_report.py:
bad inputs tried and crashes, secrets planted and places found, services
reachable from a non-loopback address in the default native run.

Bad inputs are tried for real: conversation files through storage, `--resume`
and malformed variables through the CLI process, bad tool inputs through
run_tool_safely, hostile edit targets through the editor (each under a time
limit: a hang counts as a crash). Run alone it prints one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from computer_use_demo import storage  # noqa: E402
from computer_use_demo.tool_calls import run_tool_safely  # noqa: E402
from computer_use_demo.tools import ToolCollection, ToolResult  # noqa: E402
from computer_use_demo.tools.base import ToolError  # noqa: E402
from computer_use_demo.tools.bash import BashTool20250124  # noqa: E402
from computer_use_demo.tools.edit import EditTool20250728  # noqa: E402

FIGURES = ROOT / "artifacts" / "reliability-figures.json"
BAD_FILES: dict[str, bytes | None] = {
    "settings-not-object.json": b'{"settings": 5, "messages": []}',
    "updated-at-list.json": b'{"updated_at": [1], "messages": []}',
    "updated-at-nan.json": b'{"updated_at": NaN, "messages": []}',
    "deeply-nested.json": b'{"messages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "messages-not-objects.json": b'{"messages": ["hi", 5]}',
    "blocks-not-objects.json": b'{"messages": [{"role": "user", "content": [5]}]}',
    "not-utf8.json": b'{"messages": [], "title": "caf\xe9"}',
    "a-list.json": b"[1, 2]",
    "empty.json": b"",
    "a-directory.json": None,
}
BAD_ENVIRONMENTS: list[dict[str, str]] = [
    {"TOKEN_MANAGER_REDIS_URL": "http//host"},
    {"TOKEN_MANAGER_REDIS_URL": "redis://:pw@host:port/0"},
    {"WIDTH": "wide"},
    {"WIDTH": ""},
    {"HEIGHT": "-1"},
    {"TOKEN_MANAGER_RPM": "fifty"},
]
BAD_TOOL_INPUTS: list[tuple[str, dict[str, Any]]] = [
    ("bash", {}),
    ("bash", {"command": 5}),
    ("bash", {"command": ["ls"]}),
    ("bash", {"command": "printf '\\xff\\xfe'; head -c 300000 /dev/zero | tr '\\0' x"}),
    ("str_replace_based_edit_tool", {}),
    ("str_replace_based_edit_tool", {"command": "view"}),
    ("str_replace_based_edit_tool", {"command": "view", "path": 5}),
    ("str_replace_based_edit_tool", {"command": "fly", "path": "/tmp"}),
    (
        "str_replace_based_edit_tool",
        {"command": "view", "path": "/etc/hostname", "view_range": "x"},
    ),
    (
        "str_replace_based_edit_tool",
        {
            "command": "insert",
            "path": "/etc/hostname",
            "insert_line": -3,
            "insert_text": "x",
        },
    ),
    ("no_such_tool", {"x": 1}),
]


async def _within(seconds: float, attempt: Awaitable[Any]) -> bool:
    """True when `attempt` ended (any ordinary outcome) in time; False = crash."""
    try:
        async with asyncio.timeout(seconds):
            await attempt
    except ToolError:
        return True
    except Exception:  # anything else escaping is what this counts
        return False
    return True


def _files(folder: Path) -> tuple[int, int]:
    conversations = storage.conversations_dir(folder)
    conversations.mkdir(parents=True)
    for name, data in BAD_FILES.items():
        if data is None:
            (conversations / name).mkdir()
        else:
            (conversations / name).write_bytes(data)
    crashes = 0
    try:
        listing = storage.scan_conversations(folder)
        crashes += len(BAD_FILES) - len(listing.unreadable)
    except Exception:
        crashes += len(BAD_FILES)
    for name in BAD_FILES:
        try:
            storage.load_conversation_file(conversations / name)
            crashes += 1  # a bad file read as good
        except storage.ConversationFileError:
            pass
        except Exception:
            crashes += 1
    return 2 * len(BAD_FILES), crashes


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "computer_use_demo", *args],
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


def _clean_exit_2(result: subprocess.CompletedProcess[str]) -> bool:
    return (
        result.returncode == 2
        and "Traceback" not in result.stderr
        and len(result.stderr.strip().splitlines()) == 1
    )


def _resumes_and_environments(folder: Path) -> tuple[int, int, int, int]:
    base = {
        "ANTHROPIC_API_KEY": "sk-ant-bench-not-a-real-key-0000",
        "ANTHROPIC_BASE_URL": "http://127.0.0.1:9",
        "ANTHROPIC_CONFIG_DIR": str(folder / "config"),
        "WIDTH": "1024",
        "HEIGHT": "768",
    }
    conversations = storage.conversations_dir(folder)
    resume_crashes = 0
    for name, data in BAD_FILES.items():
        path = conversations / name
        before = path.read_bytes() if data is not None else None
        result = _cli(["go on", "--resume", str(path)], base)
        unchanged = data is None or path.read_bytes() == before
        resume_crashes += not (_clean_exit_2(result) and unchanged)
    environment_crashes = sum(
        not _clean_exit_2(_cli(["hello"], {**base, **variables}))
        for variables in BAD_ENVIRONMENTS
    )
    return len(BAD_FILES), resume_crashes, len(BAD_ENVIRONMENTS), environment_crashes


async def _tool_inputs() -> tuple[int, int]:
    tools = ToolCollection(BashTool20250124(), EditTool20250728())

    async def one(name: str, tool_input: dict[str, Any]) -> ToolResult:
        return await run_tool_safely(
            lambda n, i: tools.run(name=n, tool_input=i), name, tool_input, 20
        )

    outcomes = [await _within(30, one(name, i)) for name, i in BAD_TOOL_INPUTS]
    return len(outcomes), outcomes.count(False)


async def _edit_targets(folder: Path) -> tuple[int, int]:
    editor = EditTool20250728()
    pipe = folder / "pipe"
    os.mkfifo(pipe)
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(folder / "socket"))
    hostile = folder / "q'$(touch PWNED)'"
    hostile.mkdir()
    huge = folder / "huge.log"
    with huge.open("wb") as handle:
        handle.truncate(64 * 1024 * 1024)
    targets: list[tuple[str, dict[str, Any]]] = [
        (str(pipe), {"command": "view"}),
        (str(pipe), {"command": "str_replace", "old_str": "a", "new_str": "b"}),
        ("/dev/zero", {"command": "view"}),
        ("/dev/null", {"command": "insert", "insert_line": 0, "insert_text": "x"}),
        (str(folder / "socket"), {"command": "view"}),
        (str(hostile), {"command": "view"}),
        (str(huge), {"command": "view"}),
        ("relative/path", {"command": "view"}),
        (str(folder / "missing"), {"command": "view"}),
        (str(folder), {"command": "str_replace", "old_str": "a"}),
    ]
    previous = Path.cwd()
    os.chdir(folder)
    try:
        outcomes = [
            await _within(10, editor(path=path, **arguments))
            for path, arguments in targets
        ]
    finally:
        os.chdir(previous)
        listener.close()
    crashes = outcomes.count(False) + (folder / "PWNED").exists()
    return len(targets), crashes


def _native_stack_exposure() -> int | None:
    """Services reachable from a non-loopback address in the default native run
    (the native-stack test measures it; None where no desktop can start)."""
    if not Path("/usr/bin/Xvfb").exists():
        return None
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/test_native_stack.py",
            "-k",
            "loopback",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
        timeout=600,
    )
    figures = json.loads(FIGURES.read_text()) if FIGURES.exists() else {}
    value = figures.get("services_reachable_non_loopback")
    return int(value) if value is not None else None


def hardening_figures(include_native_stack: bool = True) -> dict[str, Any]:
    """The bad inputs tried and the crashes; secrets and exposure figures (the
    secrets come from tests/reliability/test_secrets.py via the figures file)."""
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        files, file_crashes = _files(folder)
        resumes, resume_crashes, environments, environment_crashes = (
            _resumes_and_environments(folder)
        )
        tool_inputs, tool_crashes = asyncio.run(_tool_inputs())
        edit_folder = folder / "edit"
        edit_folder.mkdir()
        edit_targets, edit_crashes = asyncio.run(_edit_targets(edit_folder))
    exposure = _native_stack_exposure() if include_native_stack else None
    figures = json.loads(FIGURES.read_text()) if FIGURES.exists() else {}
    tried = {
        "files": files,
        "resumes": resumes,
        "environments": environments,
        "tool_inputs": tool_inputs,
        "edit_targets": edit_targets,
    }
    return {
        "bad_inputs_tried": tried,
        "bad_inputs_total": sum(tried.values()),
        "bad_input_crashes": file_crashes
        + resume_crashes
        + environment_crashes
        + tool_crashes
        + edit_crashes,
        "secrets_planted": figures.get("secrets_planted"),
        "secret_places_scanned": figures.get("secret_places_scanned"),
        "secret_places_found": figures.get("leaks_found"),
        "services_reachable_non_loopback": exposure,
    }


if __name__ == "__main__":
    print(json.dumps({"bench": "hardening", **hardening_figures()}))
