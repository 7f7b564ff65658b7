"""B3: a 100k-token answer streamed into the real app, watched in headless Chromium.

Measures the DOM updates of the answer, the delay from the fake API sending the
first token to it being visible, and the total render time against the stream's
own duration. Baseline: the quickstart shows nothing until the whole (non-streamed)
answer has arrived, measured in the same run. One JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import anthropic

from fake_anthropic import FakeAnthropicAPI
from tests.plugins.streamlit_app import chromium_page, send_prompt, streamlit_app

# Counts DOM mutations inside the newest assistant message and when its text changed.
WATCH = """
() => {
  window.__updates = 0; window.__firstText = null; window.__lastChange = null; window.__length = 0;
  new MutationObserver((records) => {
    const messages = document.querySelectorAll('[data-testid="stChatMessage"]');
    if (messages.length < 2) return;
    const last = messages[messages.length - 1];
    if (!records.some((r) => last.contains(r.target))) return;
    window.__updates += 1;
    const length = last.innerText.length;
    const now = performance.timeOrigin + performance.now();
    if (length > 5 && window.__firstText === null) window.__firstText = now;
    if (length !== window.__length) { window.__length = length; window.__lastChange = now; }
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}
"""


def main(tokens: int, token_rate: float) -> dict[str, Any]:
    turn = {"content": [{"type": "text", "tokens": tokens}]}
    scenario = {"turns": [turn], "default": turn}
    with (
        tempfile.TemporaryDirectory() as directory,
        FakeAnthropicAPI(
            scenario=scenario, token_rate=token_rate, words_per_delta=3
        ) as api,
    ):
        extra = {
            "TOKEN_MANAGER_OUTPUT_TPM": "10000000",
            "TOKEN_MANAGER_INPUT_TPM": "10000000",
        }
        with streamlit_app(api, Path(directory), extra) as url, chromium_page() as page:
            page.goto(url)
            page.evaluate(WATCH)
            send_prompt(page, "write a very long answer")
            page.wait_for_function("window.__firstText !== null", timeout=120_000)
            deadline = time.time() + 300
            record = None
            while time.time() < deadline:
                record = next(
                    (r for r in api.message_requests() if r.last_event_sent), None
                )
                if record is not None:
                    break
                time.sleep(0.2)
            assert (
                record is not None
                and record.first_token_sent
                and record.last_event_sent
            )
            # Done rendering: the text stopped changing for a while after the stream ended.
            while time.time() < deadline:
                last_change = page.evaluate("window.__lastChange") / 1000
                if time.time() - max(last_change, record.last_event_sent) > 2.0:
                    break
                time.sleep(0.25)
            first_visible = page.evaluate("window.__firstText") / 1000
            updates = page.evaluate("window.__updates")
            rendered_length = page.evaluate("window.__length")
        stream_seconds = record.last_event_sent - record.first_token_sent
        render_seconds = last_change - record.first_token_sent
        # The quickstart's experience: a non-streamed answer of the same size.
        client = anthropic.Anthropic(
            api_key=api.api_key, base_url=api.base_url, timeout=600
        )
        started = time.time()
        client.messages.create(
            model="claude-opus-4-8",
            max_tokens=16_000,
            messages=[{"role": "user", "content": "x"}],
        )
        baseline_first_visible = time.time() - started
    return {
        "bench": "B3",
        "answer_tokens": tokens,
        "token_rate": token_rate,
        "dom_updates": updates,
        "rendered_chars": rendered_length,
        "first_token_visible_ms": round(
            (first_visible - record.first_token_sent) * 1000, 1
        ),
        "stream_seconds": round(stream_seconds, 2),
        "render_seconds": round(render_seconds, 2),
        "render_to_stream_ratio": round(render_seconds / stream_seconds, 3),
        "baseline": {
            "name": "quickstart (non-streaming): nothing visible until the whole answer arrived",
            "first_token_visible_ms": round(baseline_first_visible * 1000, 1),
        },
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tokens", type=int, default=100_000)
    parser.add_argument("--token-rate", type=float, default=10_000)
    arguments = parser.parse_args()
    print(json.dumps(main(arguments.tokens, arguments.token_rate)))
