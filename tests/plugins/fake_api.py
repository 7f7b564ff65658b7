"""Fixtures that serve the fake Anthropic API on loopback for one test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.fake_api import FakeAnthropicAPI


@pytest.fixture
def fake_api() -> Iterator[FakeAnthropicAPI]:
    with FakeAnthropicAPI() as api:
        yield api


@pytest.fixture
def fake_api_factory() -> Iterator[Callable[..., FakeAnthropicAPI]]:
    started: list[FakeAnthropicAPI] = []

    def start(**options: Any) -> FakeAnthropicAPI:
        api = FakeAnthropicAPI(**options).start()
        started.append(api)
        return api

    yield start
    for api in started:
        api.stop()
