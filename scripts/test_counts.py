"""Says how many tests of each layer ran, from pytest's JUnit XML reports.

Usage: test_counts.py LABEL=REPORT.xml ... ; exits 1 when a layer ran no test
or any failed, so an empty layer (pytest's exit code 5) never passes silently.
The project suite's recorded-stream tests (ids starting `[recorded`) are
counted apart: with ../shared present they must run.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

RECORDED_MARK = "[recorded"


@dataclass(frozen=True)
class Counts:
    ran: int
    passed: int
    skipped: int
    failed: int
    recorded_ran: int


def count(report: Path) -> Counts:
    ran = skipped = failed = recorded = 0
    for case in ET.parse(report).getroot().iter("testcase"):
        if case.find("skipped") is not None:
            skipped += 1
            continue
        ran += 1
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        if RECORDED_MARK in case.get("name", ""):
            recorded += 1
    return Counts(ran, ran - failed, skipped, failed, recorded)


def main(arguments: list[str]) -> int:
    if not arguments:
        print(__doc__, file=sys.stderr)
        return 2
    ok = True
    for argument in arguments:
        label, _, path = argument.partition("=")
        report = Path(path)
        if not report.is_file():
            print(f"{label}: no report ({report}): the layer did not run")
            ok = False
            continue
        counts = count(report)
        line = (
            f"{label}: {counts.ran} ran ({counts.passed} passed, "
            f"{counts.failed} failed), {counts.skipped} skipped"
        )
        if label == "project suite":
            line += f"; recorded API streams: {counts.recorded_ran} ran"
            ok = ok and counts.recorded_ran > 0
        print(line)
        ok = ok and counts.ran > 0 and counts.failed == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
