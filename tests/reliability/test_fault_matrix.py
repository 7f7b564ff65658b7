"""Every fault through the whole stack: afterwards the process still works, the
conversation is valid (the fake API's validator accepts the next request), no
tool ran twice, the user was told, and nothing the user typed was lost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from computer_use_demo import storage
from computer_use_demo.status import LoopStatus
from computer_use_demo.streaming import StreamEvent
from fake_anthropic import FakeAnthropicAPI
from tests.plugins.screen import SCREEN_ENV
from tests.reliability.agent import run_agent

pytestmark = pytest.mark.reliability
ROOT = Path(__file__).resolve().parents[2]
STREAMS = Path(__file__).resolve().parent / "streams"  # faulty streams, written here
PROMPT = "please do the thing (typed by the user)"


def tool_turn(log: Path, command: str = "true") -> dict[str, Any]:
    return {
        "content": [
            {
                "type": "tool_use",
                "name": "bash",
                "input": {"command": f"echo ran >> {log}; {command}"},
            }
        ]
    }


def final_turn() -> dict[str, Any]:
    return {"content": [{"type": "text", "text": "finished"}]}


def matrix(log: Path) -> dict[str, tuple[list[dict[str, Any]], str]]:
    """name -> (scenario, what the user must be told: a status kind or 'ok')."""
    return {
        "429-retry-after": (
            [
                tool_turn(log),
                {
                    **final_turn(),
                    "fault": {"status": 429, "retry_after": 1, "times": 3},
                },
            ],
            "retrying",
        ),
        "429-no-retry-after": (
            [tool_turn(log), {**final_turn(), "fault": {"status": 429, "times": 3}}],
            "retrying",
        ),
        "529": (
            [tool_turn(log), {**final_turn(), "fault": {"status": 529, "times": 3}}],
            "retrying",
        ),
        "500": (
            [tool_turn(log), {**final_turn(), "fault": {"status": 500, "times": 3}}],
            "retrying",
        ),
        "401": ([{**final_turn(), "fault": {"status": 401, "times": 1}}], "error"),
        "reset-before-stream": (
            [tool_turn(log), {**final_turn(), "fault": {"drop_after_events": 0}}],
            "retrying",
        ),
        "reset-mid-stream": (
            [tool_turn(log), {**final_turn(), "fault": {"drop_after_events": 4}}],
            "retrying",
        ),
        "sse-error-event": (
            [tool_turn(log), {**final_turn(), "fault": {"sse_error_after_events": 4}}],
            "retrying",
        ),
        "stall": (
            [
                tool_turn(log),
                {
                    **final_turn(),
                    "fault": {"stall_seconds": 3, "stall_after_events": 3},
                },
            ],
            "retrying",
        ),
        "malformed-tool-json": (
            [
                {
                    "content": [
                        {
                            "type": "tool_use",
                            "name": "bash",
                            "input": {"command": f"echo ran >> {log}"},
                            "malformed_json": True,
                        }
                    ]
                },
                final_turn(),
            ],
            "tool_input_invalid_or_ok",
        ),
        "tool-exception": (
            [
                {
                    "content": [
                        {
                            "type": "tool_use",
                            "name": "computer",
                            "input": {"action": "explode"},
                        }
                    ]
                },
                final_turn(),
            ],
            "ok",
        ),
        "tool-timeout": ([tool_turn(log, "sleep 20"), final_turn()], "ok"),
        "10MB-output": (
            [tool_turn(log, "head -c 10000000 /dev/urandom | base64"), final_turn()],
            "ok",
        ),
        "non-utf8-output": (
            [tool_turn(log, "printf '\\xff\\xfe\\xfd bad bytes'"), final_turn()],
            "ok",
        ),
        "closed-without-message-stop": (
            [
                tool_turn(log),
                {"raw_sse": str(STREAMS / "cut_without_message_stop.sse")},
            ],
            "retrying",
        ),
        "duplicated-tool-start": (
            [tool_turn(log), {"raw_sse": str(STREAMS / "duplicated_tool_start.sse")}],
            "retrying",
        ),
        "cut-off-tool-call": (
            [
                {
                    "content": [
                        {
                            "type": "tool_use",
                            "name": "bash",
                            "input": {"command": f"echo ran >> {log}"},
                            "truncate": True,
                        }
                    ]
                }
            ],
            "tool_call_cut_off",
        ),
    }


FAULTS = list(matrix(Path("/x")))


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch, screen_env: dict[str, str]) -> None:
    monkeypatch.setenv("COMPUTER_USE_READ_TIMEOUT", "1.5")
    monkeypatch.setattr(
        "computer_use_demo.retry_policy.backoff_seconds", lambda attempt, jitter: 0.05
    )
    monkeypatch.setattr(
        "anthropic._base_client.BaseClient._calculate_retry_timeout", lambda *args: 0.05
    )


@pytest.mark.parametrize("fault", FAULTS)
async def test_loop_path_survives(
    fault: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, figures: dict[str, Any]
) -> None:
    log = tmp_path / "ran.log"
    scenario, expected = matrix(log)[fault]
    statuses: list[LoopStatus] = []
    events: list[StreamEvent] = []
    history: list[Any] = [
        {"role": "user", "content": [{"type": "text", "text": PROMPT}]}
    ]
    key = "sk-ant-test-fault-matrix-000"
    with FakeAnthropicAPI(
        scenario=scenario,
        api_key=key if fault != "401" else "sk-ant-test-other-key-000",
    ) as api:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", api.base_url)
        await run_agent(
            history,
            key,
            stream_callback=events.append,
            status_callback=statuses.append,
            tool_timeout=2.0,
        )
        # The next request must be accepted as it is: the fake API validates it.
        api.set_scenario([final_turn()])
        if fault == "401":
            api.state.config.api_key = key
        history.append(
            {"role": "user", "content": [{"type": "text", "text": "and now?"}]}
        )
        await run_agent(history, key)
        last_status = api.message_requests()[-1].status
    assert last_status == 200, (
        "the conversation after the fault was accepted by the validator"
    )
    runs = log.read_text().count("ran") if log.exists() else 0
    assert runs <= 1, "no tool ran twice"
    assert history[0]["content"][0]["text"] == PROMPT, "what the user typed is kept"
    kinds = {status.kind for status in statuses}
    if expected == "tool_input_invalid_or_ok":
        assert runs == 0
    elif expected != "ok":
        assert expected in kinds, f"the user was told ({kinds})"
    figures.setdefault("faults_passed", []).append(fault)


@pytest.mark.parametrize(
    "fault", ["429-retry-after", "reset-mid-stream", "401", "malformed-tool-json"]
)
def test_cli_path_survives(fault: str, tmp_path: Path) -> None:
    log = tmp_path / "ran.log"
    scenario, _ = matrix(log)[fault]
    saved = tmp_path / "conversation.json"
    key = "sk-ant-test-fault-matrix-000"
    with FakeAnthropicAPI(scenario=scenario, api_key=key) as api:
        env = {
            **os.environ,
            "ANTHROPIC_BASE_URL": api.base_url,
            "ANTHROPIC_API_KEY": key if fault != "401" else "sk-ant-test-wrong-0000000",
            "ANTHROPIC_CONFIG_DIR": str(tmp_path / "config"),
            **SCREEN_ENV,
            "PYTHONPATH": str(ROOT),
        }
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "computer_use_demo",
                PROMPT,
                "--save",
                str(saved),
                "--json",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
        )
        assert "Traceback" not in result.stderr
        events = [json.loads(line) for line in result.stdout.splitlines()]
        assert events[-1]["type"] == "done"
        if fault == "401":
            assert result.returncode == 3
            assert any(event.get("error_kind") == "auth" for event in events)
            return
        assert result.returncode == 0, result.stderr
        env["ANTHROPIC_API_KEY"] = key
        api.set_scenario([final_turn()])
        again = subprocess.run(
            [
                sys.executable,
                "-m",
                "computer_use_demo",
                "continue",
                "--resume",
                str(saved),
                "--save",
                str(saved),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
        )
        assert again.returncode == 0, again.stderr
        assert api.message_requests()[-1].status == 200
    messages = storage.load_conversation_file(saved).messages
    assert messages[0]["content"][0]["text"] == PROMPT
    assert (log.read_text().count("ran") if log.exists() else 0) <= 1
