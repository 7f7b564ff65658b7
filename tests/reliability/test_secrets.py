"""A recognisable fake key run through every path must appear nowhere it could leak."""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from computer_use_demo.ui.http_log import ExchangeLog
from fake_anthropic import FakeAnthropicAPI
from tests.reliability.agent import run_agent

pytestmark = pytest.mark.reliability
KEY = "sk-ant-api03-LEAKCANARY-0123456789abcdef"
ROOT = Path(__file__).resolve().parents[2]


REDIS_PASSWORD = "REDISCANARY-pw-0123456789"
URL_PASSWORD = "URLCANARY-pw-9876543210"
TOKEN_VALUE = "TOKENCANARY-0123456789abcdef"
CANARIES = (KEY, "LEAKCANARY", REDIS_PASSWORD, URL_PASSWORD, TOKEN_VALUE)
# What a curious model runs: its parent's environment, then every ancestor's.
READ_ANCESTORS = (
    "tr '\\0' '\\n' < /proc/$PPID/environ; p=$PPID; "
    "while [ \"$p\" -gt 1 ]; do echo \"== $p\"; tr '\\0' '\\n' < /proc/$p/environ; "
    "p=$(awk '{print $4}' /proc/$p/stat); done; env; "
    "cat /proc/self/environ | tr '\\0' '\\n'"
)


def _plant(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every kind of secret the environment may hold."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    # A closed port: the limiter falls back to local limiting at once.
    monkeypatch.setenv(
        "TOKEN_MANAGER_REDIS_URL", f"redis://:{REDIS_PASSWORD}@127.0.0.1:9/0"
    )
    monkeypatch.setenv("PIP_INDEX_URL", f"https://piper:{URL_PASSWORD}@pypi.invalid/s")
    monkeypatch.setenv("HTTPS_PROXY", f"http://proxy:{URL_PASSWORD}@127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "*")
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN_VALUE)


def _leaks(places: dict[str, str]) -> list[tuple[str, str]]:
    return [
        (name, canary)
        for name, text in places.items()
        for canary in CANARIES
        if canary in text
    ]


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "computer_use_demo", "show me the environment", *args],
        env={
            **os.environ,
            "ANTHROPIC_CONFIG_DIR": str(tmp_path / "config"),
            "PYTHONPATH": str(ROOT),
        },
        capture_output=True,
        text=True,
        timeout=90,
        cwd=ROOT,
    )


async def test_the_key_is_in_no_log_tab_error_transcript_or_tool_env(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    figures: dict[str, Any],
    screen_env: dict[str, str],
) -> None:
    _plant(monkeypatch)
    read_everything = {
        "content": [
            {
                "type": "tool_use",
                "name": "bash",
                "input": {"command": READ_ANCESTORS},
            }
        ]
    }
    scenario = [
        read_everything,
        {
            "content": [{"type": "text", "text": "ok"}],
            "fault": {"status": 400, "times": 1},
        },
    ]
    exchange_log = ExchangeLog()

    def record(request: Any, response: Any, error: Exception | None) -> None:
        exchange_log.add(request, response, error)

    statuses: list[Any] = []
    outputs: list[str] = []
    with (
        FakeAnthropicAPI(scenario=scenario, api_key=KEY) as api,
        caplog.at_level(logging.DEBUG),
    ):
        monkeypatch.setenv("ANTHROPIC_BASE_URL", api.base_url)
        history: list[Any] = [{"role": "user", "content": "show me the environment"}]
        await run_agent(
            history,
            KEY,
            tool_output_callback=lambda result, tool_id: outputs.append(str(result)),
            api_response_callback=lambda request, response, error: record(
                request, response, error
            ),
            status_callback=statuses.append,
        )
        # The CLI is started with the secrets in its own environment: its bash
        # tool's /proc/$PPID/environ is the CLI's, and its ancestors' too.
        cli_runs = {}
        for mode, args in {
            "json": ("--json", "--save", str(tmp_path / "t.json")),
            "rich": ("--save", str(tmp_path / "rich.json")),
        }.items():
            api.set_scenario(
                [read_everything, {"content": [{"type": "text", "text": "ok"}]}]
            )
            cli_runs[mode] = _cli(tmp_path, *args)
        tool_requests = json.dumps(
            [request.body for request in api.message_requests()], default=str
        )
    places = {
        "logs": caplog.text,
        "http_log_tab": json.dumps([vars(entry) for entry in exchange_log.entries]),
        "statuses": repr(statuses),
        "tool_outputs": "\n".join(outputs),
        "history": json.dumps(history),
        "requests_sent": tool_requests,
        "cli_json_output": cli_runs["json"].stdout + cli_runs["json"].stderr,
        "cli_rich_output": cli_runs["rich"].stdout + cli_runs["rich"].stderr,
        "cli_transcript": (tmp_path / "t.json").read_text(),
        "cli_rich_transcript": (tmp_path / "rich.json").read_text(),
    }
    assert exchange_log.entries, "the HTTP log tab recorded the exchanges"
    assert "env" in places["tool_outputs"] and "PATH=" in places["tool_outputs"]
    leaks = _leaks(places)
    figures["secrets_planted"] = 4  # API key, Redis password, URL credentials, token
    figures["secret_places_scanned"] = len(places)
    figures["leaks_found"] = len(leaks)
    assert leaks == []
    # The model did read its ancestors' environments (redacted, not absent).
    assert "[REDACTED]" in places["cli_transcript"]
    assert "PATH=" in places["cli_transcript"]
    assert "== " in places["cli_rich_output"] or "PATH=" in places["cli_rich_output"]
    assert stat.S_IMODE((tmp_path / "t.json").stat().st_mode) == 0o600


_PROBE = """
import asyncio, ctypes, os, sys
from computer_use_demo.process_guard import make_non_dumpable
from computer_use_demo.tools.bash import BashTool20250124
if os.geteuid() == 0:  # an ordinary user: root may read any process anyway
    os.setgroups([])
    os.setresgid(65534, 65534, 65534)
    os.setresuid(65534, 65534, 65534)
    ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)  # as a process started by that user
if sys.argv[1] == "guarded":
    make_non_dumpable()
result = asyncio.run(BashTool20250124()(command="tr '\\0' '\\n' < /proc/$PPID/environ"))
print(repr(result.output), repr(result.error))
"""


@pytest.mark.parametrize("guarded", [True, False])
def test_a_non_dumpable_app_hides_its_environment_from_its_tools(
    guarded: bool,
) -> None:
    """The raw bash tool (no redaction) started by a process of an ordinary user."""
    probe = subprocess.run(
        [sys.executable, "-c", _PROBE, "guarded" if guarded else "open"],
        env={
            "PATH": os.environ["PATH"],
            "PYTHONPATH": str(ROOT),
            "ANTHROPIC_API_KEY": KEY,
        },
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
    )
    assert probe.returncode == 0, probe.stderr
    if guarded:
        assert KEY not in probe.stdout
        assert "Permission denied" in probe.stdout
    else:  # the control: without the guard the environment is readable
        assert KEY in probe.stdout


def test_the_saved_key_file_is_private(tmp_path: Path) -> None:
    from computer_use_demo import storage

    path = storage.save_text("api_key", KEY, tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert (
        stat.S_IMODE(path.parent.stat().st_mode) & 0o077 == 0 or path.parent == tmp_path
    )
