"""The quickstart's own tests (tools and streamlit_test.py), run unchanged against ours.

Needs the quickstart's tests: $QUICKSTART_DIR (a checkout's computer-use-demo
folder) or the conformance layer's copy in ../shared/conformance/quickstart;
skipped, saying so, when there is neither.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.fixtures import QUICKSTART as CONFORMANCE_QUICKSTART

ROOT = Path(__file__).resolve().parents[1]
CANDIDATES = [
    os.environ.get("QUICKSTART_DIR", ""),
    str(CONFORMANCE_QUICKSTART),
    "/work/ref/computer-use-demo",
]
QUICKSTART = next(
    (
        Path(c)
        for c in CANDIDATES
        if c and (Path(c) / "tests/streamlit_test.py").is_file()
    ),
    None,
)


@pytest.mark.skipif(
    QUICKSTART is None,
    reason=f"no quickstart tests: set QUICKSTART_DIR or put {CONFORMANCE_QUICKSTART} in place",
)
@pytest.mark.parametrize(
    ("script", "arguments", "at_least"),
    [
        ("run_quickstart_streamlit_test.sh", [], 2),
        ("run_quickstart_tests.sh", ["--ignore=streamlit_test.py"], 20),
    ],
    ids=["streamlit_test", "tool_tests"],
)
def test_the_quickstarts_own_tests_pass_unchanged(
    script: str, arguments: list[str], at_least: int
) -> None:
    assert QUICKSTART is not None
    env = {k: v for k, v in os.environ.items() if k != "ANTHROPIC_API_KEY"}
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / script), str(QUICKSTART), "-q", *arguments],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
        check=False,
    )
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    passed = re.search(r"(\d+) passed", summary)
    assert passed and int(passed.group(1)) >= at_least and "failed" not in summary, (
        summary
    )
