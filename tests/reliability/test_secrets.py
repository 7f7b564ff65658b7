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
from tests.fake_api import FakeAnthropicAPI
from tests.reliability.agent import run_agent

pytestmark = pytest.mark.reliability
KEY = "sk-ant-api03-LEAKCANARY-0123456789abcdef"
ROOT = Path(__file__).resolve().parents[2]


async def test_the_key_is_in_no_log_tab_error_transcript_or_tool_env(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    figures: dict[str, Any],
    screen_env: dict[str, str],
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    scenario = [
        {
            "content": [
                {
                    "type": "tool_use",
                    "name": "bash",
                    "input": {
                        "command": "env; cat /proc/self/environ | tr '\\0' '\\n'"
                    },
                }
            ]
        },
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
        cli = subprocess.run(  # noqa: ASYNC221 - the CLI runs as its own process
            [
                sys.executable,
                "-m",
                "computer_use_demo",
                "hello",
                "--json",
                "--save",
                str(tmp_path / "t.json"),
            ],
            env={
                **os.environ,
                "ANTHROPIC_CONFIG_DIR": str(tmp_path / "config"),
                "PYTHONPATH": str(ROOT),
            },
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
        )
    places = {
        "logs": caplog.text,
        "http_log_tab": json.dumps([vars(entry) for entry in exchange_log.entries]),
        "statuses": repr(statuses),
        "tool_outputs": "\n".join(outputs),
        "history": json.dumps(history),
        "cli_output": cli.stdout + cli.stderr,
        "cli_transcript": (tmp_path / "t.json").read_text(),
    }
    assert exchange_log.entries, "the HTTP log tab recorded the exchanges"
    assert "env" in places["tool_outputs"] and "PATH=" in places["tool_outputs"]
    leaks = [
        name for name, text in places.items() if KEY in text or "LEAKCANARY" in text
    ]
    figures["secret_places_scanned"] = len(places)
    figures["leaks_found"] = len(leaks)
    assert leaks == []
    assert stat.S_IMODE((tmp_path / "t.json").stat().st_mode) == 0o600


def test_the_saved_key_file_is_private(tmp_path: Path) -> None:
    from computer_use_demo import storage

    path = storage.save_text("api_key", KEY, tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert (
        stat.S_IMODE(path.parent.stat().st_mode) & 0o077 == 0 or path.parent == tmp_path
    )
