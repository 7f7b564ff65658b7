"""Fixtures that serve the fake Anthropic API on loopback for one test.

`pytest --fake-api-latency 0.3` delays every response of these fixtures' fake
APIs by that much after the request was counted (a fixture's own `latency=`
wins), to run a suite as if the API were far away.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from fake_anthropic import FakeAnthropicAPI


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--fake-api-latency",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="delay before each fake API response starts (after it was counted)",
    )


def _latency(request: pytest.FixtureRequest) -> float:
    return float(request.config.getoption("--fake-api-latency", default=0.0) or 0.0)


@pytest.fixture
def fake_api(request: pytest.FixtureRequest) -> Iterator[FakeAnthropicAPI]:
    with FakeAnthropicAPI(latency=_latency(request)) as api:
        yield api


@pytest.fixture
def fake_api_factory(
    request: pytest.FixtureRequest,
) -> Iterator[Callable[..., FakeAnthropicAPI]]:
    started: list[FakeAnthropicAPI] = []
    latency = _latency(request)

    def start(**options: Any) -> FakeAnthropicAPI:
        options.setdefault("latency", latency)
        api = FakeAnthropicAPI(**options).start()
        started.append(api)
        return api

    yield start
    for api in started:
        api.stop()
