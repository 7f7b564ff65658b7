"""The terminal front end as a user runs it: a real process, a real terminal (tmux)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from computer_use_demo import storage
from computer_use_demo.conversation import validate_conversation
from fake_anthropic import FakeAnthropicAPI
from tests.plugins.screen import SCREEN_ENV

ROOT = Path(__file__).resolve().parents[1]


def cli_env(api: FakeAnthropicAPI, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "ANTHROPIC_BASE_URL": api.base_url,
        "ANTHROPIC_API_KEY": api.api_key,
        "ANTHROPIC_CONFIG_DIR": str(tmp_path / "config"),
        **SCREEN_ENV,
        "PYTHONPATH": str(ROOT),
        **extra,
    }


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll `condition` until it holds; fail saying what did not happen in time."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {seconds:g} s")
        time.sleep(0.05)


def run_cli(
    args: list[str], env: dict[str, str], stdin: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "computer_use_demo", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


TOOL_THEN_TEXT = [
    {
        "content": [
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "name": "bash", "input": {"command": "echo tool-ran"}},
        ]
    },
    {"content": [{"type": "text", "text": "All good."}]},
]


def test_text_goes_to_stdout_and_tools_to_stderr(tmp_path: Path) -> None:
    with FakeAnthropicAPI(scenario=TOOL_THEN_TEXT) as api:
        result = run_cli(["check the system"], cli_env(api, tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Checking.\nAll good.\n"
    assert "bash" in result.stderr and "tool-ran" in result.stderr
    assert api.api_key not in result.stdout + result.stderr


def test_json_events_one_per_line_and_prompt_from_stdin(tmp_path: Path) -> None:
    with FakeAnthropicAPI(scenario=TOOL_THEN_TEXT) as api:
        result = run_cli(["--json"], cli_env(api, tmp_path), stdin="check the system\n")
        first_request = api.message_requests()[0].body
    events = [json.loads(line) for line in result.stdout.splitlines()]
    kinds = [event["type"] for event in events]
    assert kinds[-1] == "done" and events[-1]["exit_code"] == 0
    assert "tool_use" in kinds and "tool_result" in kinds and "text_delta" in kinds
    tool_result = next(event for event in events if event["type"] == "tool_result")
    assert tool_result["output"] == "tool-ran"
    assert first_request["messages"][0]["content"][0]["text"] == "check the system"


def test_save_and_resume_share_the_apps_format(tmp_path: Path) -> None:
    saved = tmp_path / "conversation.json"
    app_saved = storage.save_conversation(
        "20260101-000000-abcdef",
        [
            {"role": "user", "content": "from the app"},
            {"role": "assistant", "content": [{"type": "text", "text": "hi"}]},
        ],
        {},
        tmp_path / "config",
    )
    with FakeAnthropicAPI(scenario=TOOL_THEN_TEXT) as api:
        result = run_cli(
            ["continue", "--resume", str(app_saved), "--save", str(saved)],
            cli_env(api, tmp_path),
        )
        sent = api.message_requests()[0].body["messages"]
    assert result.returncode == 0
    assert sent[0]["content"][0]["text"] == "from the app"
    conversation = storage.load_conversation_file(saved)
    assert [message["role"] for message in conversation.messages] == [
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
        "assistant",
    ]
    assert validate_conversation(conversation.messages) == []


@pytest.mark.parametrize(
    ("args", "scenario", "key", "expected"),
    [
        (["--max-tokens", "0", "x"], [], None, 2),
        (["--provider", "nope", "x"], [], None, 2),
        (["x"], [], "sk-ant-test-wrong-key-00000", 3),
        (
            ["x"],
            [{"fault": {"status": 429, "retry_after": 0, "times": 100}, "content": []}],
            None,
            4,
        ),
        (["x"], [{"fault": {"status": 400, "times": 1}, "content": []}], None, 5),
    ],
    ids=["bad-max-tokens", "bad-provider", "auth", "rate-limit-give-up", "api-error"],
)
def test_exit_codes_say_what_went_wrong(
    tmp_path: Path, args: list[str], scenario: list[Any], key: str | None, expected: int
) -> None:
    with FakeAnthropicAPI(scenario=scenario) as api:
        env = cli_env(api, tmp_path)
        if key is not None:
            env["ANTHROPIC_API_KEY"] = key
        result = run_cli(args, env, timeout=120)
    assert result.returncode == expected, result.stderr
    assert "Traceback" not in result.stderr


def test_ctrl_c_saves_a_valid_transcript_and_exits_130(tmp_path: Path) -> None:
    saved = tmp_path / "conversation.json"
    started = tmp_path / "tool-started"
    command = f"touch {started}; sleep 30"
    scenario = [
        {
            "content": [
                {"type": "tool_use", "name": "bash", "input": {"command": command}}
            ]
        }
    ]
    with FakeAnthropicAPI(scenario=scenario) as api:
        process = subprocess.Popen(
            [sys.executable, "-m", "computer_use_demo", "wait", "--save", str(saved)],
            env=cli_env(api, tmp_path),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_for(started.exists, 30, "the tool starting")
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert "Interrupted" in stderr and "Traceback" not in stderr
    messages = storage.load_conversation_file(saved).messages
    assert validate_conversation(messages) == []
    assert messages[-1]["content"][0]["is_error"] is True


@pytest.fixture
def tmux_session() -> Iterator[str]:
    if shutil.which("tmux") is None:
        pytest.fail("tmux is not installed (./test.sh installs it)")
    name = f"cud-{os.getpid()}"
    yield name
    subprocess.run(
        ["tmux", "kill-session", "-t", name], capture_output=True, check=False
    )


@pytest.mark.slow
def test_in_a_real_terminal_text_streams_and_ctrl_c_stops(
    tmp_path: Path, tmux_session: str
) -> None:
    saved = tmp_path / "conversation.json"
    scenario = [{"content": [{"type": "text", "tokens": 2_000}]}]
    with FakeAnthropicAPI(scenario=scenario, token_rate=60) as api:
        env = cli_env(api, tmp_path)
        exports = " ".join(
            f"{key}={env[key]}"
            for key in (
                "ANTHROPIC_BASE_URL",
                "ANTHROPIC_API_KEY",
                "ANTHROPIC_CONFIG_DIR",
                "WIDTH",
                "HEIGHT",
                "DISPLAY_NUM",
                "PYTHONPATH",
            )
        )
        command = (
            f"cd {ROOT} && env {exports} {sys.executable} -m computer_use_demo 'tell me a story' "
            f"--save {saved}; echo EXIT=$?; sleep 60"
        )
        subprocess.run(
            [
                "tmux",
                "new-session",
                "-d",
                "-s",
                tmux_session,
                "-x",
                "120",
                "-y",
                "40",
                command,
            ],
            check=True,
        )

        def pane() -> str:
            return subprocess.run(
                ["tmux", "capture-pane", "-p", "-t", tmux_session],
                capture_output=True,
                text=True,
                check=True,
            ).stdout

        wait_for(lambda: len(pane().strip()) >= 40, 30, "text in the terminal")
        first = pane()
        wait_for(
            lambda: len(pane().strip()) > len(first.strip()),
            10,
            "more text arriving in the terminal",
        )
        subprocess.run(["tmux", "send-keys", "-t", tmux_session, "C-c"], check=True)
        wait_for(lambda: "EXIT=" in pane(), 20, "the CLI exiting")
        screen = pane()
    assert "EXIT=130" in screen and "Interrupted" in screen
    assert validate_conversation(storage.load_conversation_file(saved).messages) == []


@pytest.mark.parametrize(
    "content",
    [
        b'{"settings": 5, "messages": []}',
        b'{"updated_at": [1], "messages": []}',
        b'{"messages": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
        b'{"messages": ["not an object"]}',
        b'{"messages": [], "title": "caf\xe9"}',
        None,  # a directory
    ],
)
def test_resume_of_a_bad_file_exits_2_with_one_line_and_leaves_it(
    tmp_path: Path, content: bytes | None
) -> None:
    target = tmp_path / "old.json"
    if content is None:
        target.mkdir()
    else:
        target.write_bytes(content)
    before = target.stat().st_mtime_ns
    with FakeAnthropicAPI() as api:
        result = run_cli(
            ["go on", "--resume", str(target), "--save", str(tmp_path / "new.json")],
            cli_env(api, tmp_path),
        )
        assert api.message_requests() == [], "nothing was sent"
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "not a saved conversation" in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    if content is not None:
        assert target.read_bytes() == content
    assert target.stat().st_mtime_ns == before
    assert not (tmp_path / "new.json").exists()


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({"TOKEN_MANAGER_REDIS_URL": "http//host"}, "TOKEN_MANAGER_REDIS_URL"),
        (
            {"TOKEN_MANAGER_REDIS_URL": "redis://:hunter2-pw@host:port/0"},
            "TOKEN_MANAGER_REDIS_URL",
        ),
        ({"WIDTH": "wide"}, "WIDTH"),
        ({"WIDTH": ""}, "WIDTH"),
        ({"HEIGHT": "-5"}, "HEIGHT"),
        ({"TOKEN_MANAGER_RPM": "fifty"}, "TOKEN_MANAGER_RPM"),
        ({"API_PROVIDER": "azure"}, "API_PROVIDER must be one of"),
        ({"DISPLAY_NUM": ":1"}, "DISPLAY_NUM"),
        ({"COMPUTER_USE_READ_TIMEOUT": "soon"}, "COMPUTER_USE_READ_TIMEOUT"),
    ],
)
def test_a_bad_environment_is_one_clear_line_and_exit_2(
    tmp_path: Path, variables: dict[str, str], expected: str
) -> None:
    with FakeAnthropicAPI() as api:
        result = run_cli(["hello"], cli_env(api, tmp_path, **variables))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], result.stderr
    assert "hunter2" not in result.stderr


@pytest.mark.parametrize(
    ("argv", "variable", "expected"),
    [
        (["task", "--json"], None, "batch"),
        (["task"], None, "interactive"),
        (["task", "--json"], "interactive", "interactive"),
    ],
)
def test_a_json_run_waits_behind_the_apps_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    variable: str | None,
    expected: str,
) -> None:
    import token_manager
    from computer_use_demo.cli import main as cli_main
    from computer_use_demo.cli.options import parse

    manager = token_manager.TokenManager(token_manager.RateLimits(None, None, None))
    monkeypatch.setattr(token_manager, "token_manager", manager)
    if variable is None:
        monkeypatch.delenv("TOKEN_MANAGER_PRIORITY", raising=False)
    else:
        monkeypatch.setenv("TOKEN_MANAGER_PRIORITY", variable)
    cli_main._priority(parse(argv, None))
    assert manager.priority == expected


TOOL_CALL: dict[str, Any] = {
    "type": "tool_use",
    "id": "toolu_01",
    "name": "bash",
    "input": {"command": "ls"},
}
TOOL_RESULT: dict[str, Any] = {
    "type": "tool_result",
    "tool_use_id": "toolu_01",
    "content": "a.txt",
}


def saved_file(tmp_path: Path, messages: list[Any]) -> Path:
    path = tmp_path / "saved.json"
    path.write_text(json.dumps({"format": 1, "title": "t", "messages": messages}))
    return path


def with_call(call: dict[str, Any], result: dict[str, Any]) -> list[Any]:
    return [
        {"role": "user", "content": "list the files"},
        {"role": "assistant", "content": [call]},
        {"role": "user", "content": [result]},
        {"role": "assistant", "content": [{"type": "text", "text": "one file"}]},
    ]


@pytest.mark.parametrize(
    "messages",
    [
        with_call({k: v for k, v in TOOL_CALL.items() if k != "id"}, TOOL_RESULT),
        with_call(
            TOOL_CALL, {k: v for k, v in TOOL_RESULT.items() if k != "tool_use_id"}
        ),
        with_call({**TOOL_CALL, "input": "ls"}, TOOL_RESULT),
        with_call({**TOOL_CALL, "id": 7}, {**TOOL_RESULT, "tool_use_id": 7}),
        with_call(
            {**TOOL_CALL, "id": "toolu 01"}, {**TOOL_RESULT, "tool_use_id": "toolu 01"}
        ),
        with_call(TOOL_CALL, {**TOOL_RESULT, "tool_use_id": "toolu_other"}),
        with_call(TOOL_CALL, {**TOOL_RESULT, "content": {"text": "a.txt"}}),
        [{"role": "user", "content": [{"type": "text", "text": ["not", "text"]}]}],
        [{"role": "user", "content": [{"type": "thinking", "thinking": "hm"}]}],
    ],
    ids=[
        "tool-use-without-id",
        "tool-result-without-tool-use-id",
        "input-not-an-object",
        "id-not-a-string",
        "id-off-pattern",
        "result-answering-nothing",
        "result-content-an-object",
        "text-not-a-string",
        "thinking-without-signature",
    ],
)
def test_resume_of_a_malformed_conversation_exits_2_saying_what_is_wrong(
    tmp_path: Path, messages: list[Any]
) -> None:
    target = saved_file(tmp_path, messages)
    with FakeAnthropicAPI() as api:
        result = run_cli(["go on", "--resume", str(target)], cli_env(api, tmp_path))
        assert api.message_requests() == [], "nothing was sent"
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "not a saved conversation" in lines[0], result.stderr
    assert "message " in lines[0] or "tool_use" in lines[0], lines[0]


def test_resume_of_a_file_with_whitespace_text_from_an_older_version_goes_on(
    tmp_path: Path,
) -> None:
    messages = with_call(TOOL_CALL, TOOL_RESULT)
    messages[1]["content"] = [{"type": "text", "text": "\n\n"}, TOOL_CALL]
    messages.append({"role": "user", "content": [{"type": "text", "text": "  "}]})
    target = saved_file(tmp_path, messages)
    scenario = [{"content": [{"type": "text", "text": "Going on."}]}]
    with FakeAnthropicAPI(scenario=scenario) as api:
        result = run_cli(["go on", "--resume", str(target)], cli_env(api, tmp_path))
        statuses = [request.status for request in api.message_requests()]
    assert result.returncode == 0, result.stderr
    assert statuses == [200] and result.stdout == "Going on.\n"


def test_an_hour_of_retry_after_exits_4_at_once_saying_so(tmp_path: Path) -> None:
    scenario = [
        {"fault": {"status": 429, "retry_after": 3600, "times": 9}, "content": []}
    ]
    started = time.monotonic()
    with FakeAnthropicAPI(scenario=scenario) as api:
        result = run_cli(["x"], cli_env(api, tmp_path), timeout=60)
        assert len(api.message_requests()) == 1
    assert time.monotonic() - started < 30
    assert result.returncode == 4, result.stderr
    assert "asks to wait 60 min" in result.stderr
    assert "Traceback" not in result.stderr


def cut_stream(tmp_path: Path) -> list[Any]:
    from tests.test_loop import _message_start, _sse, _text_start_and_delta

    cut = tmp_path / "cut.sse"
    cut.write_text(_sse(_message_start(), *_text_start_and_delta("I")))
    return [
        {"raw_sse": str(cut)},
        {"content": [{"type": "text", "text": "The whole answer."}]},
    ]


ROOMY = ["--rpm", "1000", "--itpm", "10000000", "--otpm", "10000000"]


def test_a_retried_stream_break_is_one_line_and_a_traceback_only_with_debug(
    tmp_path: Path,
) -> None:
    with FakeAnthropicAPI(scenario=cut_stream(tmp_path)) as api:
        result = run_cli(["x", *ROOMY], cli_env(api, tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("The whole answer.\n")
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cut off" in lines[0], result.stderr
    with FakeAnthropicAPI(scenario=cut_stream(tmp_path)) as api:
        debug = run_cli(["x", "--debug", *ROOMY], cli_env(api, tmp_path))
    assert debug.returncode == 0 and "Traceback" in debug.stderr


def test_a_conversation_ending_with_the_users_turn_needs_a_prompt_or_send_again(
    tmp_path: Path,
) -> None:
    target = saved_file(tmp_path, [{"role": "user", "content": "what is 2+2?"}])
    with FakeAnthropicAPI() as api:
        refused = run_cli(["--resume", str(target)], cli_env(api, tmp_path), stdin="")
        assert api.message_requests() == []
    assert refused.returncode == 2
    assert "--send-again" in refused.stderr and len(refused.stderr.splitlines()) == 1
    with FakeAnthropicAPI(
        scenario=[{"content": [{"type": "text", "text": "4"}]}]
    ) as api:
        again = run_cli(
            ["--resume", str(target), "--send-again"], cli_env(api, tmp_path)
        )
        sent = api.message_requests()[0].body["messages"]
    assert again.returncode == 0 and again.stdout == "4\n"
    assert len(sent) == 1 and sent[0]["content"][0]["text"] == "what is 2+2?"
