"""The app in a real headless Chromium: text streams in, the meter moves, a 429
shows a countdown then the answer, and Stop leaves a valid, saved conversation."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page

from computer_use_demo.conversation import validate_conversation
from fake_anthropic import FakeAnthropicAPI
from tests.plugins.streamlit_app import (
    RECORD_RENDERS,
    chromium_page,
    send_prompt,
    streamlit_app,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
COUNTDOWN_TEXT = re.compile(r"Waiting \d+ s for")
# Polled by the page: records each new number a countdown warning shows; true
# once the number has gone down.
RECORD_COUNTDOWN = r"""() => {
  const seen = window.__countdown || (window.__countdown = []);
  for (const alert of document.querySelectorAll('[data-testid="stAlert"]')) {
    const match = alert.innerText.match(/Waiting (\d+) s for/);
    if (match && seen[seen.length - 1] !== Number(match[1])) {
      seen.push(Number(match[1]));
    }
  }
  return seen.length >= 2 && seen[seen.length - 1] < seen[0];
}"""
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def test_an_answer_streams_in_and_the_meter_moves(tmp_path: Path) -> None:
    scenario = [{"content": [{"type": "text", "tokens": 400}]}]
    with (
        FakeAnthropicAPI(scenario=scenario, token_rate=200) as api,
        streamlit_app(api, tmp_path) as url,
        chromium_page() as page,
    ):
        page.goto(url)
        page.get_by_text("requests/min: 0 /").wait_for(timeout=30_000)
        page.evaluate(RECORD_RENDERS)
        send_prompt(page, "describe the screen")
        page.get_by_text("requests/min: 1 /").wait_for(timeout=30_000)
        page.locator('p:has-text("cache read"):visible').first.wait_for(timeout=30_000)
        renders = page.evaluate("window.__renders")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "streamlit-streaming.png"), full_page=True)
    partial = [text for _, text in renders if len(text) > 20]
    assert len(partial) >= 5, f"expected several partial renders, saw {len(partial)}"
    lengths = [len(text) for text in partial]
    assert lengths[-1] > lengths[0] * 3, "the text grew while streaming"
    saved = list((tmp_path / "conversations").glob("*.json"))
    assert len(saved) == 1
    messages = json.loads(saved[0].read_text())["messages"]
    assert [message["role"] for message in messages] == ["user", "assistant"]
    assert api.api_key not in saved[0].read_text()


def test_a_rate_limit_shows_a_countdown_then_the_answer(tmp_path: Path) -> None:
    scenario = [
        {
            "fault": {"status": 429, "retry_after": 2, "times": 3},
            "content": [{"type": "text", "text": "The answer after waiting."}],
        }
    ]
    with (
        FakeAnthropicAPI(scenario=scenario) as api,
        streamlit_app(api, tmp_path) as url,
        chromium_page() as page,
    ):
        page.goto(url)
        send_prompt(page, "hello")
        # The countdown itself: its warning element, its number going down.
        page.wait_for_function(RECORD_COUNTDOWN, timeout=30_000, polling=100)
        seen = page.evaluate("window.__countdown")
        page.get_by_text("The answer after waiting.").wait_for(timeout=40_000)
        page.screenshot(
            path=str(ARTIFACTS / "streamlit-rate-limit.png"), full_page=True
        )
        countdowns_left = page.locator(
            '[data-testid="stAlert"]', has_text=COUNTDOWN_TEXT
        ).count()
    assert len(seen) >= 2 and seen[-1] < seen[0] <= 2, seen
    assert countdowns_left == 0, "the countdown is gone once the answer is in"


def test_stop_cancels_the_turn_and_keeps_a_valid_history(tmp_path: Path) -> None:
    scenario = [{"content": [{"type": "text", "tokens": 3_000}]}]
    with (
        FakeAnthropicAPI(scenario=scenario, token_rate=100) as api,
        streamlit_app(api, tmp_path) as url,
        chromium_page() as page,
    ):
        page.goto(url)
        page.evaluate(RECORD_RENDERS)
        send_prompt(page, "write a lot")
        page.wait_for_function("window.__renders.length > 3", timeout=30_000)
        page.get_by_test_id("stSidebarUserContent").get_by_role(
            "button", name="Stop"
        ).click()
        page.wait_for_timeout(1_500)
        length_after_stop = len(page.evaluate("window.__renders")[-1][1])
        page.wait_for_timeout(1_500)
        assert len(page.evaluate("window.__renders")[-1][1]) <= length_after_stop + 5, (
            "streaming stopped"
        )
        saved = list((tmp_path / "conversations").glob("*.json"))
        assert saved, "the interrupted conversation was saved"
        messages = json.loads(saved[0].read_text())["messages"]
        assert validate_conversation(messages) == []
        api.set_scenario([{"content": [{"type": "text", "text": "Still here."}]}])
        send_prompt(page, "are you still there?")
        page.get_by_text("Still here.").wait_for(timeout=30_000)
        last_request = api.message_requests()[-1].body["messages"]
        assert last_request[-1]["content"][-1]["text"] == "are you still there?"


def _stopped_quickly(page: Page, started: float, limit: float) -> float:
    """Seconds from the click until the app says it stopped."""
    page.get_by_text("Stopped. The conversation is saved").wait_for(
        timeout=limit * 1000
    )
    return time.monotonic() - started


def _click_stop(page: Page) -> float:
    page.get_by_test_id("stSidebarUserContent").get_by_role(
        "button", name="Stop"
    ).click()
    return time.monotonic()


def test_stop_works_while_a_tool_runs(tmp_path: Path) -> None:
    scenario = [
        {
            "content": [
                {"type": "text", "text": "Running a slow command."},
                {"type": "tool_use", "name": "bash", "input": {"command": "sleep 30"}},
            ]
        },
        {"content": [{"type": "text", "text": "The command finished."}]},
    ]
    with (
        FakeAnthropicAPI(scenario=scenario) as api,
        streamlit_app(api, tmp_path) as url,
        chromium_page() as page,
    ):
        page.goto(url)
        send_prompt(page, "run it")
        page.get_by_text("Running a slow command.").wait_for(timeout=30_000)
        page.wait_for_timeout(1_000)  # the tool is running now
        took = _stopped_quickly(page, _click_stop(page), limit=5)
        requests_after_stop = len(api.message_requests())
        page.wait_for_timeout(1_000)
        assert len(api.message_requests()) == requests_after_stop == 1
        saved = list((tmp_path / "conversations").glob("*.json"))
        messages = json.loads(saved[0].read_text())["messages"]
    assert took < 5
    assert validate_conversation(messages) == []
    results = [
        block
        for message in messages
        for block in message["content"]
        if isinstance(block, dict) and block.get("type") == "tool_result"
    ]
    assert len(results) == 1 and results[0]["is_error"], "the cut tool call is answered"


def test_stop_works_while_a_rate_limit_wait_counts_down(tmp_path: Path) -> None:
    scenario = [
        {
            "fault": {"status": 429, "retry_after": 20, "times": 5},
            "content": [{"type": "text", "text": "Too late."}],
        }
    ]
    with (
        FakeAnthropicAPI(scenario=scenario) as api,
        streamlit_app(api, tmp_path) as url,
        chromium_page() as page,
    ):
        page.goto(url)
        send_prompt(page, "hello")
        # The SDK sleeps out the retry-after itself: the sidebar meter counts down.
        page.get_by_text("Paused by the API (429)").wait_for(timeout=30_000)
        took = _stopped_quickly(page, _click_stop(page), limit=5)
        saved = list((tmp_path / "conversations").glob("*.json"))
        messages = json.loads(saved[0].read_text())["messages"]
        assert page.get_by_text("Too late.").count() == 0
    assert took < 5
    assert messages[-1]["role"] == "user"
    assert validate_conversation(messages) == []
