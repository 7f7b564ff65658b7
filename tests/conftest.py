"""Suite-wide pytest configuration: registers the shared fixture plugins."""

from __future__ import annotations

import pytest

pytest_plugins = [
    "tests.plugins.xvfb",
    "tests.plugins.fake_api",
    "tests.plugins.redis_server",
    "tests.plugins.screen",
    "tests.plugins.settings",
    "tests.plugins.tools_account",
    "tests.plugins.otlp_receiver",
]


def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    """`fuzz` tests run only when `-m` names them: a `-m` given on the command
    line replaces pyproject's `-m 'not fuzz'` instead of adding to it."""
    if "fuzz" in (config.getoption("markexpr") or ""):
        return
    kept = [item for item in items if item.get_closest_marker("fuzz") is None]
    if len(kept) < len(items):
        config.hook.pytest_deselected(
            items=[item for item in items if item.get_closest_marker("fuzz")]
        )
        items[:] = kept
