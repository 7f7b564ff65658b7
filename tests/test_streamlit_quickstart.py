"""The quickstart's own tests/streamlit_test.py, run unchanged against our app.

Needs a checkout of the quickstart: $QUICKSTART_DIR (its computer-use-demo folder);
skipped when there is none.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CANDIDATES = [os.environ.get("QUICKSTART_DIR", ""), "/work/ref/computer-use-demo"]
QUICKSTART = next(
    (
        Path(c)
        for c in CANDIDATES
        if c and (Path(c) / "tests/streamlit_test.py").is_file()
    ),
    None,
)


@pytest.mark.skipif(
    QUICKSTART is None, reason="no quickstart checkout: set QUICKSTART_DIR"
)
def test_the_quickstarts_streamlit_test_passes_unchanged() -> None:
    assert QUICKSTART is not None
    env = {k: v for k, v in os.environ.items() if k != "ANTHROPIC_API_KEY"}
    result = subprocess.run(
        [
            "bash",
            str(ROOT / "scripts/run_quickstart_streamlit_test.sh"),
            str(QUICKSTART),
            "-q",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
        check=False,
    )
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    passed = re.search(r"(\d+) passed", summary)
    assert passed and int(passed.group(1)) >= 2 and "failed" not in summary, summary
