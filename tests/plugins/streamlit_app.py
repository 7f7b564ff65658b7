"""The real app under `streamlit run`, against the fake API, and a headless Chromium.

Used by the browser tests and the B3 benchmark.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from fake_anthropic import FakeAnthropicAPI, free_port

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def streamlit_app(
    api: FakeAnthropicAPI, config_dir: Path, extra_env: dict[str, str] | None = None
) -> Iterator[str]:
    """Start the app on a free port; yield its URL; stop it."""
    port = free_port()
    env = {
        **os.environ,
        "ANTHROPIC_BASE_URL": api.base_url,
        "ANTHROPIC_API_KEY": api.api_key,
        "ANTHROPIC_CONFIG_DIR": str(config_dir),
        "HIDE_WARNING": "1",
        "WIDTH": os.environ.get("WIDTH", "1024"),
        "HEIGHT": os.environ.get("HEIGHT", "768"),
        "DISPLAY_NUM": os.environ.get("DISPLAY_NUM", "99"),
        "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
        **(extra_env or {}),
    }
    log = (config_dir / "streamlit.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(ROOT / "computer_use_demo" / "streamlit.py"),
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/_stcore/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None:
                raise RuntimeError(
                    f"streamlit exited: {(config_dir / 'streamlit.log').read_text()[-2000:]}"
                )
            time.sleep(0.2)
        else:
            raise RuntimeError("streamlit did not answer within 60 s")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@contextmanager
def chromium_page(width: int = 1400, height: int = 1000) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": width, "height": height})
        try:
            yield page
        finally:
            browser.close()


# Records every change of the newest assistant message's text, with timestamps.
RECORD_RENDERS = """
() => {
  window.__renders = [];
  const seen = new Set();
  const record = () => {
    const messages = document.querySelectorAll('[data-testid="stChatMessage"]');
    if (!messages.length) return;
    const last = messages[messages.length - 1];
    const text = last.innerText;
    if (!seen.has(text)) { seen.add(text); window.__renders.push([performance.now() + performance.timeOrigin, text]); }
  };
  new MutationObserver(record).observe(document.body, {subtree: true, childList: true, characterData: true});
}
"""


def send_prompt(page: Any, text: str) -> None:
    box = page.get_by_test_id("stChatInputTextArea")
    box.wait_for(timeout=30_000)
    box.fill(text)
    box.press("Enter")
