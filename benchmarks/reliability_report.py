"""Runs the reliability suite and prints its figures as one JSON line.

Figures: faults tried and survived, load sessions and turns, soak turns and
memory, secret leaks found; bad inputs tried and crashes, secrets planted and
places found, services reachable beyond loopback (benchmarks/hardening.py).
Baseline, measured in the same run: the same API faults met by a
quickstart-style call (non-streaming create, max_retries=4).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import anthropic  # noqa: E402

from benchmarks.hardening import hardening_figures  # noqa: E402
from fake_anthropic import FakeAnthropicAPI  # noqa: E402

FIGURES = ROOT / "artifacts" / "reliability-figures.json"
API_FAULTS: dict[str, dict[str, Any]] = {
    "429-retry-after": {"status": 429, "retry_after": 1, "times": 5},
    "529": {"status": 529, "times": 5},
    "500": {"status": 500, "times": 5},
    "401": {"status": 401, "times": 1},
}


def run_suite() -> dict[str, Any]:
    FIGURES.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as directory:
        report = Path(directory) / "junit.xml"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "tests/reliability",
                f"--junitxml={report}",
            ],
            cwd=ROOT,
            env={**os.environ, "RELIABILITY_SOAK": "full"},  # the 1,000-turn soak
            stdout=subprocess.DEVNULL,
            check=False,
        )
        cases = ElementTree.parse(report).getroot().iter("testcase")
        results = [
            (
                case.get("name", ""),
                not any(child.tag in ("failure", "error") for child in case),
            )
            for case in cases
        ]
    figures = json.loads(FIGURES.read_text()) if FIGURES.exists() else {}
    faults = [
        (name, ok)
        for name, ok in results
        if name.startswith(("test_loop_path", "test_cli_path"))
    ]
    return {
        "tests": len(results),
        "tests_passed": sum(ok for _, ok in results),
        "faults_tried": len(faults),
        "faults_passed": sum(ok for _, ok in faults),
        "sessions": figures.get("load_sessions"),
        "load_turns": figures.get("load_turns"),
        "load_429s": figures.get("load_429s"),
        "turns": figures.get("soak_turns"),
        "soak_rss_mb": [
            figures.get("soak_rss_start_mb"),
            figures.get("soak_rss_half_mb"),
            figures.get("soak_rss_end_mb"),
        ],
        "leaks_found": figures.get("leaks_found"),
    }


def quickstart_baseline() -> dict[str, Any]:
    """What the quickstart's call does with the same faults: a lost turn on each error."""
    lost: list[str] = []
    for name, fault in API_FAULTS.items():
        with FakeAnthropicAPI(
            scenario=[{"fault": fault, "content": [{"type": "text", "text": "ok"}]}]
        ) as api:
            client = anthropic.Anthropic(
                api_key=api.api_key, base_url=api.base_url, max_retries=4
            )
            try:
                client.beta.messages.with_raw_response.create(
                    model="claude-opus-4-8",
                    max_tokens=64,
                    messages=[{"role": "user", "content": "hi"}],
                )
            except anthropic.APIError:
                lost.append(name)
    return {
        "name": "quickstart-style non-streaming call",
        "faults_tried": len(API_FAULTS),
        "turns_lost": len(lost),
        "lost": lost,
    }


if __name__ == "__main__":
    print(
        json.dumps(
            {
                "bench": "reliability",
                **run_suite(),
                **hardening_figures(),  # bad inputs, secrets, exposure (issue 13)
                "baseline": quickstart_baseline(),
            }
        )
    )
