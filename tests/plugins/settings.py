"""Every test starts without cached settings, so the variables it sets are the
ones `computer_use_demo.settings.current()` reads."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from computer_use_demo import settings


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    settings.use(None)
    yield
    settings.use(None)
