"""The bash tool against a real bash: output, errors, status, limits, restarts."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from computer_use_demo.tools import BashTool20250124, ToolCollection
from computer_use_demo.tools.base import ToolError
from computer_use_demo.tools.bash import CAPTURE_HEAD_BYTES, CAPTURE_TAIL_BYTES
from computer_use_demo.tools.run import shell_environment


@pytest.fixture
async def bash() -> AsyncIterator[BashTool20250124]:
    tool = BashTool20250124()
    yield tool
    await tool.close()


async def test_output_and_stderr_are_kept_apart(bash: BashTool20250124) -> None:
    result = await bash(command="echo out; echo err >&2")
    assert (result.output, result.error, result.system) == ("out", "err", None)


async def test_a_failing_command_reports_its_exit_status(
    bash: BashTool20250124,
) -> None:
    result = await bash(command="ls /definitely/not/here")
    assert "No such file" in (result.error or "")
    assert result.system == "exit status 2"


async def test_the_session_keeps_state_between_commands(bash: BashTool20250124) -> None:
    await bash(command="cd /tmp && export GREETING=hi")
    result = await bash(command='echo "$PWD $GREETING"')
    assert result.output == "/tmp hi"


async def test_ten_megabytes_of_output_come_back_bounded_with_head_and_tail(
    bash: BashTool20250124,
) -> None:
    result = await bash(
        command="head -c 10000000 /dev/zero | tr '\\0' 'x'; echo; echo THE-END"
    )
    output = result.output or ""
    assert len(output) < CAPTURE_HEAD_BYTES + CAPTURE_TAIL_BYTES + 1000
    assert output.startswith("xxxx") and output.endswith("THE-END")
    assert "bytes of output omitted" in output


async def test_binary_output_is_replaced_not_fatal(bash: BashTool20250124) -> None:
    result = await bash(command="printf 'ok \\xff\\xfe\\x00 done'")
    assert result.output is not None
    assert result.output.startswith("ok ") and result.output.endswith(" done")
    assert "\ufffd" in result.output


async def test_a_hanging_command_is_killed_and_the_shell_restarts(
    bash: BashTool20250124,
) -> None:
    await bash(command="export MARK=before")
    assert bash._session is not None
    bash._session._timeout = 0.3
    with pytest.raises(
        ToolError, match=r"timed out: bash has not returned in 0\.3 seconds"
    ):
        await bash(command="sleep 30")
    result = await bash(command='echo "alive ${MARK:-reset}"')
    assert result.output == "alive reset"


async def test_restart_gives_a_fresh_shell(bash: BashTool20250124) -> None:
    await bash(command="export MARK=1")
    assert (await bash(restart=True)).system == "tool has been restarted."
    assert (await bash(command='echo "${MARK:-none}"')).output == "none"


async def test_the_shell_never_sees_credentials(
    bash: BashTool20250124, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-api03-leak-test-000000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret")
    monkeypatch.setenv("TOKEN_MANAGER_REDIS_URL", "redis://:password@host/0")
    monkeypatch.setenv("HARMLESS_SETTING", "visible")
    result = await bash(command="env")
    output = result.output or ""
    assert (
        "sk-ant-api03-leak-test" not in output
        and "aws-secret" not in output
        and "password" not in output
    )
    assert "HARMLESS_SETTING=visible" in output


def test_shell_environment_filter() -> None:
    env = shell_environment(
        {"OPENAI_API_KEY": "x", "PATH": "/bin", "GITHUB_SESSION_TOKEN": "y"}
    )
    assert env == {"PATH": "/bin"}


def test_every_credential_and_proxy_with_credentials_stays_out_of_tools() -> None:
    env = shell_environment(
        {
            "GH_TOKEN": "t",
            "CLIENT_SECRET_FILE": "s",
            "DB_PASSWORD_FILE": "p",
            "VNC_PASSWORD": "v",
            "AWS_ACCESS_KEY_ID": "a",
            "AWS_SECRET_ACCESS_KEY": "b",
            "AWS_SESSION_TOKEN": "c",
            "TOKEN_MANAGER_REDIS_URL": "redis://:pw@host:6379/0",
            "HTTPS_PROXY": "http://user:pw@proxy:3128",
            "all_proxy": "socks5://u:p@proxy:1080",
            "ANTHROPIC_BASE_URL": "https://u:p@gateway.example",
            "HTTP_PROXY": "http://proxy:3128",
            "NO_PROXY": "localhost",
            "DISPLAY": ":1",
        }
    )
    assert env == {
        "HTTP_PROXY": "http://proxy:3128",
        "NO_PROXY": "localhost",
        "DISPLAY": ":1",
    }


async def test_bad_calls_become_error_results(bash: BashTool20250124) -> None:
    collection = ToolCollection(bash)
    assert (
        await collection.run(name="bash", tool_input={})
    ).error == "no command provided."
    assert "must be a string" in (
        (await collection.run(name="bash", tool_input={"command": 5})).error or ""
    )
    assert (
        await collection.run(name="nope", tool_input={})
    ).error == "Tool nope is invalid"
    weird = await collection.run(
        name="bash", tool_input={"command": "echo fine", "unknown": 1}
    )
    assert weird.output == "fine"


async def test_helper_processes_of_the_other_tools_get_no_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from computer_use_demo.tools.run import run

    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-api03-leak-test-000000")
    _, output, _ = await run("env")
    assert "sk-ant-api03-leak-test" not in output and "PATH=" in output


@pytest.mark.parametrize(
    ("redirect", "then", "expected_output", "expected_error"),
    [
        ("exec 2>&1", "echo out; echo err >&2", "out\nerr", ""),
        ("exec 2>/dev/null", "echo out; echo err >&2", "out", ""),
        ("exec >/dev/null", "echo out; echo err >&2", "", "err"),
        ("exec 1>&2", "echo out", "", "out"),
        ("exec 1>&- 2>&-", "echo out; echo err >&2", "", ""),
        ("exec 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-", "echo out", "out", ""),
    ],
)
async def test_commands_that_redirect_the_shells_own_streams_still_end(
    bash: BashTool20250124,
    redirect: str,
    then: str,
    expected_output: str,
    expected_error: str,
) -> None:
    await bash(command="true")
    assert bash._session is not None
    bash._session._timeout = 5.0  # far above what a working end takes
    await bash(command=redirect)
    result = await bash(command=f"{then}; false")
    assert (result.output, result.error) == (expected_output, expected_error)
    assert result.system == "exit status 1"
    # The shell kept its state: still the same session, still answering.
    assert (await bash(command="export KEPT=1; true")).system is None
    assert (await bash(command='test "$KEPT" = 1')).system is None
    assert (await bash(command='test "$KEPT" = 2')).system == "exit status 1"


async def test_a_stray_end_token_of_an_earlier_command_is_never_output(
    bash: BashTool20250124,
) -> None:
    await bash(command="exec >/dev/null")  # its stdout token never comes
    await bash(command="exec >/dev/tty 2>/dev/null || exec 1>&2")
    result = await bash(command="echo visible")
    assert "__CUD_DONE_" not in (result.output or "") + (result.error or "")
