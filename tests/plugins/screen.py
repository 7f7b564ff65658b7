"""The quickstart's screen variables for tests that build the tools without a display.

The computer tool reads WIDTH, HEIGHT and DISPLAY_NUM when it is created; these
tests never draw, so no X server stands behind display 99.
"""

from __future__ import annotations

import pytest

SCREEN_ENV = {"WIDTH": "1024", "HEIGHT": "768", "DISPLAY_NUM": "99"}


@pytest.fixture
def screen_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Sets the screen variables for this test; returns them for subprocess envs."""
    for name, value in SCREEN_ENV.items():
        monkeypatch.setenv(name, value)
    return SCREEN_ENV
