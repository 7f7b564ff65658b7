"""CI's per-layer counts: an empty or failing layer fails the build (scripts/test_counts.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def report(path: Path, *cases: str) -> Path:
    path.write_text(f"<testsuites><testsuite>{''.join(cases)}</testsuite></testsuites>")
    return path


def counts(*labels: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts/test_counts.py"), *labels],
        capture_output=True,
        text=True,
        check=False,
    )


PASSED = '<testcase name="test_a" />'
RECORDED = '<testcase name="test_b[recorded/basic]" />'
SKIPPED = '<testcase name="test_c[recorded/x]"><skipped /></testcase>'
FAILED = '<testcase name="test_d"><failure /></testcase>'


def test_each_layer_says_how_many_ran(tmp_path: Path) -> None:
    suite = report(tmp_path / "suite.xml", PASSED, RECORDED, SKIPPED)
    tools = report(tmp_path / "tools.xml", PASSED)
    result = counts(f"project suite={suite}", f"tools={tools}")
    assert result.returncode == 0, result.stdout
    assert result.stdout.splitlines() == [
        "project suite: 2 ran (2 passed, 0 failed), 1 skipped; "
        "recorded API streams: 1 ran",
        "tools: 1 ran (1 passed, 0 failed), 0 skipped",
    ]


def test_an_empty_missing_or_failing_layer_fails(tmp_path: Path) -> None:
    empty = report(tmp_path / "empty.xml", SKIPPED)
    failing = report(tmp_path / "failing.xml", PASSED, FAILED)
    no_recordings = report(tmp_path / "suite.xml", PASSED)
    assert counts(f"tools={empty}").returncode == 1
    assert counts(f"tools={failing}").returncode == 1
    assert counts(f"tools={tmp_path / 'absent.xml'}").returncode == 1
    assert counts(f"project suite={no_recordings}").returncode == 1
