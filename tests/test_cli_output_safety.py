"""What the terminal front end writes and saves is safe: no escape sequence of
the model's or a tool's reaches the terminal, no known secret reaches the
terminal or the saved file even when the model writes it, and `--save` never
replaces anything but a regular file. A real CLI process against the fake API."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from computer_use_demo.cli.terminal_text import printable
from computer_use_demo.redaction import REDACTED, StreamingRedactor, register_secret
from fake_anthropic import FakeAnthropicAPI
from tests.test_cli import cli_env, run_cli

HOSTILE_TEXT = (
    "Clipboard: \x1b]52;c;ZWNobyBwd25lZA==\x07 clear: \x1b[2J\x1b[H "
    "title: \x1b]0;owned\x1b\\ bell\x07 c1: \x9b31m back\rspace\x08 end"
)


def test_printable_drops_every_control_and_escape_character() -> None:
    shown = printable(HOSTILE_TEXT + "\r\nnext\tline\n")
    assert not any(
        (ord(c) < 32 and c not in "\n\t") or 0x7F <= ord(c) <= 0x9F for c in shown
    )
    assert shown.endswith("end\nnext\tline\n")
    assert "Clipboard: ]52;c;ZWNobyBwd25lZA==" in shown  # harmless text stays


def test_a_secret_split_across_deltas_never_comes_out_in_part() -> None:
    secret = "split-secret-" + "Q7w" * 20
    register_secret(secret)
    text = "before " * 30 + secret + " after" * 30
    redactor = StreamingRedactor()
    released = [redactor.feed(text[i : i + 5]) for i in range(0, len(text), 5)]
    shown = "".join(released) + redactor.flush()
    assert shown == ("before " * 30 + REDACTED + " after" * 30)
    assert any(released), "text is released while it streams, not only at the end"
    for start in range(0, len(secret) - 8):
        assert secret[start : start + 8] not in shown


def test_the_models_text_and_tool_output_reach_the_terminal_without_escapes(
    tmp_path: Path,
) -> None:
    scenario = [
        {
            "content": [
                {"type": "text", "text": HOSTILE_TEXT},
                {
                    "type": "tool_use",
                    "name": "bash",
                    "input": {
                        "command": "printf 'tool \\033]52;c;aGk=\\007 \\033[2J out'"
                    },
                },
            ]
        },
        {"content": [{"type": "text", "text": "done \x1b[31mred\x1b[0m"}]},
    ]
    with FakeAnthropicAPI(scenario=scenario) as api:
        result = run_cli(["go"], cli_env(api, tmp_path))
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "\x1b" not in result.stderr
    assert "\x07" not in result.stdout + result.stderr
    assert "done [31mred[0m" in result.stdout
    assert "tool ]52;c;aGk= [2J out" in result.stderr


def test_a_secret_the_model_writes_is_kept_out_of_the_terminal_and_the_saved_file(
    tmp_path: Path,
) -> None:
    password = "ModelSaidThisRedisPw-0123456789"
    scenario = [
        {"content": [{"type": "text", "text": f"The Redis password is {password}."}]}
    ]
    saved = tmp_path / "saved.json"
    with FakeAnthropicAPI(scenario=scenario) as api:
        env = cli_env(
            api, tmp_path, TOKEN_MANAGER_REDIS_URL=f"redis://:{password}@127.0.0.1:9/0"
        )
        rich = run_cli(["what is it?", "--save", str(saved)], env)
        api.set_scenario(scenario)
        as_json = run_cli(["what is it?", "--json"], env)
    assert rich.returncode == 0 and as_json.returncode == 0, (
        rich.stderr + as_json.stderr
    )
    assert password not in rich.stdout + rich.stderr + as_json.stdout + as_json.stderr
    assert f"The Redis password is {REDACTED}." in rich.stdout
    document = json.loads(saved.read_text())
    assert password not in saved.read_text()
    assert document["messages"][-1]["content"][0]["text"] == (
        f"The Redis password is {REDACTED}."
    )


def _device(path: Path) -> Path:
    os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a null device of our own
    return path


@pytest.mark.parametrize("kind", ["fifo", "device", "folder", "link", "no-folder"])
def test_save_refuses_anything_but_a_regular_file_before_it_starts(
    tmp_path: Path, kind: str
) -> None:
    target = tmp_path / "target"
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "device":
        if os.geteuid() != 0:
            pytest.skip("only root can make a device node")
        _device(target)
    elif kind == "folder":
        target.mkdir()
    elif kind == "link":
        (tmp_path / "real.json").write_text("{}")
        target.symlink_to(tmp_path / "real.json")
    else:
        target = tmp_path / "missing" / "saved.json"
    before = os.lstat(target).st_mode if kind != "no-folder" else None
    with FakeAnthropicAPI(
        scenario=[{"content": [{"type": "text", "text": "hi"}]}]
    ) as api:
        result = run_cli(["hello", "--save", str(target)], cli_env(api, tmp_path))
        sent = api.message_requests()
    assert result.returncode == 2
    assert "--save:" in result.stderr and result.stderr.count("\n") <= 2
    assert sent == [], "nothing was sent"
    if before is not None:
        assert os.lstat(target).st_mode == before, "the target is as it was"
