"""Shared pieces of the reliability suite: figures collected for the report."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

FIGURES = Path(__file__).resolve().parents[2] / "artifacts" / "reliability-figures.json"


@pytest.fixture(scope="session")
def figures() -> Iterator[dict[str, Any]]:
    """Numbers the tests measure; written for benchmarks/reliability_report.py."""
    collected: dict[str, Any] = {}
    yield collected
    FIGURES.parent.mkdir(exist_ok=True)
    existing = json.loads(FIGURES.read_text()) if FIGURES.exists() else {}
    FIGURES.write_text(json.dumps({**existing, **collected}, indent=1))
