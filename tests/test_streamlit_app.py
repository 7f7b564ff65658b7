"""The app's sidebar and state with Streamlit's AppTest, the loop running for real
against the fake API (the quickstart's own test covers the mocked path)."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from streamlit.testing.v1 import AppTest

from computer_use_demo import storage
from computer_use_demo.conversation import validate_conversation
from fake_anthropic import FakeAnthropicAPI
from token_manager import token_manager

APP = str(Path(__file__).resolve().parents[1] / "computer_use_demo" / "streamlit.py")


@pytest.fixture(autouse=True)
def isolated(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, screen_env: dict[str, str]
) -> None:
    monkeypatch.setenv("ANTHROPIC_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("HIDE_WARNING", "1")
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.setattr(
        "computer_use_demo.retry_policy.backoff_seconds", lambda attempt, jitter: 0.01
    )
    monkeypatch.setattr(
        "anthropic._base_client.BaseClient._calculate_retry_timeout", lambda *args: 0.01
    )
    token_manager.reset()


def test_without_a_key_it_starts_and_asks_for_one() -> None:
    app = AppTest.from_file(APP).run(timeout=30)
    assert not app.exception
    assert any("Enter your Claude API key" in warning.value for warning in app.warning)


def test_a_key_entered_in_the_sidebar_is_saved_privately(tmp_path: Path) -> None:
    app = AppTest.from_file(APP).run(timeout=30)
    app.text_input[1].set_value("sk-ant-test-sidebar-key-0000").run(timeout=30)
    saved = tmp_path / "config" / "api_key"
    assert saved.read_text() == "sk-ant-test-sidebar-key-0000"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600


def test_the_meter_and_the_extra_settings_are_in_the_sidebar() -> None:
    app = AppTest.from_file(APP).run(timeout=30)
    sidebar_text = " ".join(markdown.value for markdown in app.sidebar.markdown)
    assert "Rate limits" in sidebar_text and "input tokens/min" in sidebar_text
    labels = {widget.label for widget in app.sidebar.radio}
    assert {"API Provider", "Tool Versions", "Context management"} <= labels
    assert {"requests/min", "input tokens/min", "output tokens/min"} <= {
        n.label for n in app.sidebar.number_input
    }


def chat(
    api: FakeAnthropicAPI, monkeypatch: pytest.MonkeyPatch, prompt: str
) -> AppTest:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", api.base_url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", api.api_key)
    app = AppTest.from_file(APP).run(timeout=30)
    app.chat_input[0].set_value(prompt).run(timeout=60)
    return app


@pytest.mark.parametrize(
    ("fault", "visible"),
    [
        (None, "answered"),
        ({"status": 529, "times": 3}, "answered"),
        ({"sse_error_after_events": 4}, "answered"),
        ({"status": 401, "times": 1}, "API key was rejected"),
        ({"status": 400, "times": 1}, "rejected the request"),
    ],
    ids=["plain", "overloaded", "sse-error", "bad-key", "bad-request"],
)
def test_a_turn_through_the_app_survives_faults(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    fault: dict[str, Any] | None,
    visible: str,
) -> None:
    turn: dict[str, Any] = {"content": [{"type": "text", "text": "answered"}]}
    if fault:
        turn["fault"] = fault
    with FakeAnthropicAPI(scenario=[turn]) as api:
        app = chat(api, monkeypatch, "hello there")
    assert not app.exception
    shown = " ".join(
        [element.value for element in app.markdown]
        + [element.value for element in app.error]
        + [element.value for element in app.caption]
    )
    assert visible in shown
    messages = app.session_state["messages"]
    assert messages[0]["content"][-1]["text"] == "hello there", (
        "what the user typed is kept"
    )
    assert validate_conversation(messages) == [] or messages[-1]["role"] == "user"
    saved = storage.list_conversations(tmp_path / "config")
    assert (
        len(saved) == 1 and saved[0].messages[0]["content"][-1]["text"] == "hello there"
    )


def test_a_saved_conversation_can_be_reopened(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    storage.save_conversation(
        "20260101-000000-abcdef",
        [
            {"role": "user", "content": [{"type": "text", "text": "an old question"}]},
            {
                "role": "assistant",
                "content": [{"type": "text", "text": "an old answer"}],
            },
        ],
        {},
        tmp_path / "config",
    )
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-reopen-000000")
    app = AppTest.from_file(APP).run(timeout=30)
    open_button = next(
        button for button in app.sidebar.button if button.label == "Open"
    )
    open_button.click().run(timeout=30)
    assert app.session_state["conversation_id"] == "20260101-000000-abcdef"
    assert "an old answer" in " ".join(element.value for element in app.markdown)


def test_usage_is_shown_per_turn_and_saved_with_the_conversation(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    turn = {"content": [{"type": "text", "text": "answered"}]}
    with FakeAnthropicAPI(scenario=[turn]) as api:
        app = chat(api, monkeypatch, "hello there")
    records = app.session_state["turn_usage"]
    assert len(records) == 1 and records[0]["turn"] == 0
    assert records[0]["output_tokens"] > 0
    assert records[0]["input_tokens"] + records[0]["cache_creation_input_tokens"] > 0
    shown = " ".join(caption.value for caption in app.sidebar.caption)
    assert "1 response(s) in this conversation" in shown, "the sidebar total moved"
    saved = storage.list_conversations(tmp_path / "config")[0]
    assert saved.settings["usage"] == records
    reopened = AppTest.from_file(APP).run(timeout=30)
    next(b for b in reopened.sidebar.button if b.label == "Open").click().run(
        timeout=30
    )
    assert reopened.session_state["turn_usage"] == records
    captions = " ".join(caption.value for caption in reopened.caption)
    assert f"This turn: in {records[0]['input_tokens']:,} · out" in captions


def test_after_a_stop_the_app_waits_for_the_next_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-stopped-000000")
    app = AppTest.from_file(APP)
    app.session_state["messages"] = [
        {"role": "user", "content": [{"type": "text", "text": "interrupted ask"}]}
    ]
    app.session_state["in_sampling_loop"] = True
    with mock.patch("computer_use_demo.loop.sampling_loop") as sampling_loop:
        app.run(timeout=30)
        assert not sampling_loop.called, "a rerun after Stop starts no turn"
        assert any("Stopped" in info.value for info in app.info)
        app.chat_input[0].set_value("go on").run(timeout=30)
        sent = sampling_loop.call_args.kwargs["messages"][-1]["content"]
    assert [block["text"] for block in sent] == [
        "(user stopped or interrupted and wrote the following)",
        "go on",
    ]
    assert not app.session_state["in_sampling_loop"], "the turn ended: not stuck"


BAD_CONVERSATIONS: dict[str, bytes] = {
    "settings.json": b'{"settings": 5, "messages": []}',
    "updated.json": b'{"updated_at": [1], "messages": []}',
    "nan.json": b'{"updated_at": NaN, "messages": []}',
    "deep.json": b'{"messages": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    "strings.json": b'{"messages": ["hi", 5]}',
    "blocks.json": b'{"messages": [{"role": "user", "content": [5]}]}',
    "latin1.json": '{"messages": [], "title": "caf\u00e9"}'.encode("latin-1"),
    "list.json": b"[1, 2]",
    "empty.json": b"",
}


def plant_bad_conversations(config: Path) -> Path:
    folder = storage.conversations_dir(config)
    folder.mkdir(parents=True)
    for name, data in BAD_CONVERSATIONS.items():
        (folder / name).write_bytes(data)
    (folder / "a-directory.json").mkdir()
    return folder


def test_bad_files_in_the_conversations_folder_leave_the_app_working(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    plant_bad_conversations(tmp_path / "config")
    storage.save_conversation(
        "20260101-000000-abcdef",
        [
            {"role": "user", "content": [{"type": "text", "text": "the good one"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "answered"}]},
        ],
        {},
        tmp_path / "config",
    )
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-badfiles-000000")
    app = AppTest.from_file(APP).run(timeout=30)
    assert not app.exception
    assert app.title[0].value == "Claude Computer Use Demo"
    skipped = " ".join(caption.value for caption in app.sidebar.caption)
    for name in [*BAD_CONVERSATIONS, "a-directory.json"]:
        assert name in skipped, f"{name} is listed as unreadable"
    next(b for b in app.sidebar.button if b.label == "Open").click().run(timeout=30)
    assert app.session_state["conversation_id"] == "20260101-000000-abcdef"
    from streamlit import config

    assert config.get_option("client.showErrorDetails") in ("type", "none")


def test_blocks_the_app_cannot_draw_do_not_break_the_page(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    storage.save_conversation(
        "20260101-000000-abcdef",
        [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "question"},
                    {
                        "type": "image",
                        "source": {"type": "base64", "data": "not an image!"},
                    },
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "future_block", "payload": {"a": [1]}},
                    {"type": "text", "text": "still shown"},
                ],
            },
        ],
        {"usage": [{"turn": "zero"}, 5, {"turn": 0, "input_tokens": [1]}]},
        tmp_path / "config",
    )
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-badblocks-000000")
    app = AppTest.from_file(APP).run(timeout=30)
    next(b for b in app.sidebar.button if b.label == "Open").click().run(timeout=30)
    assert not app.exception
    assert "still shown" in " ".join(element.value for element in app.markdown)
    assert "(a block that could not be shown)" in " ".join(
        caption.value for caption in app.caption
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WIDTH", "wide"),
        ("HEIGHT", ""),
        ("TOKEN_MANAGER_REDIS_URL", "redis://:hunter2-pw@host:port/0"),
    ],
)
def test_a_bad_environment_is_one_clear_line_in_the_app(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    app = AppTest.from_file(APP).run(timeout=30)
    assert not app.exception
    assert len(app.error) == 1 and name in app.error[0].value
    assert "hunter2" not in app.error[0].value
