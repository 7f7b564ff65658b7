"""The app sends only what the user sent: opening a conversation, or any
sidebar control, never sends; an unanswered last message is sent again only
on an explicit "Send again". Streamlit's AppTest, the loop real, the fake API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from computer_use_demo import storage
from fake_anthropic import FakeAnthropicAPI
from token_manager import token_manager

APP = str(Path(__file__).resolve().parents[1] / "computer_use_demo" / "streamlit.py")


@pytest.fixture(autouse=True)
def isolated(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, screen_env: dict[str, str]
) -> None:
    monkeypatch.setenv("ANTHROPIC_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("HIDE_WARNING", "1")
    monkeypatch.setattr(
        "computer_use_demo.retry_policy.backoff_seconds", lambda attempt, jitter: 0.01
    )
    token_manager.reset()


def connect(api: FakeAnthropicAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", api.base_url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", api.api_key)


def button(app: AppTest, label: str) -> Any:
    found = [b for b in [*app.button, *app.sidebar.button] if b.label == label]
    assert found, f"no {label!r} button"
    return found[0]


def test_opening_an_unanswered_conversation_sends_nothing_until_send_again(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    storage.save_conversation(
        "20260101-000000-abcdef",
        [{"role": "user", "content": [{"type": "text", "text": "run ls for me"}]}],
        {},
        tmp_path / "config",
    )
    scenario = [{"content": [{"type": "text", "text": "sent on purpose"}]}]
    with FakeAnthropicAPI(scenario=scenario) as api:
        connect(api, monkeypatch)
        app = AppTest.from_file(APP).run(timeout=30)
        button(app, "Open").click().run(timeout=30)
        assert not app.exception
        assert api.message_requests() == [], "opening never sends"
        assert any("got no answer" in info.value for info in app.info)
        app.run(timeout=30)  # any later rerun does not send either
        assert api.message_requests() == []
        button(app, "Send again").click().run(timeout=60)
        assert len(api.message_requests()) == 1
        app.run(timeout=30)
        assert len(api.message_requests()) == 1, "sent once, on the click"
    shown = " ".join(element.value for element in app.markdown)
    assert "sent on purpose" in shown


def test_toggling_the_http_log_after_a_400_does_not_send_the_turn_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scenario = [
        {
            "fault": {"status": 400, "times": 1},
            "content": [{"type": "text", "text": "never asked for"}],
        }
    ]
    with FakeAnthropicAPI(scenario=scenario) as api:
        connect(api, monkeypatch)
        app = AppTest.from_file(APP).run(timeout=30)
        app.chat_input[0].set_value("hello").run(timeout=60)
        assert len(api.message_requests()) == 1
        toggle = next(t for t in app.toggle if t.label == "Show HTTP exchanges")
        toggle.set_value(True).run(timeout=60)
        toggle.set_value(False).run(timeout=60)
        assert len(api.message_requests()) == 1, "no sidebar control sends"
    assert app.session_state["messages"][-1]["role"] == "user"
    assert not app.exception


def test_a_malformed_saved_conversation_is_listed_as_unreadable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    folder = storage.conversations_dir(tmp_path / "config")
    folder.mkdir(parents=True)
    (folder / "no-id.json").write_text(
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": "go"},
                    {
                        "role": "assistant",
                        "content": [{"type": "tool_use", "name": "bash", "input": {}}],
                    },
                ]
            }
        )
    )
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-malformed-0000")
    app = AppTest.from_file(APP).run(timeout=30)
    assert not app.exception
    skipped = " ".join(caption.value for caption in app.sidebar.caption)
    assert "no-id.json" in skipped and "without an id" in skipped
    assert not [b for b in app.sidebar.button if b.label == "Open"]
