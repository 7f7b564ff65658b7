"""Fixtures that serve the fake Anthropic API for one test, and the switch that
serves it in-process.

Every running `FakeAnthropicAPI` listens on loopback, so subprocesses (the CLI,
a Streamlit server) reach it over real HTTP. Clients made in the test's own
process by `computer_use_demo.api_client.make_client` (the loop's) reach it
in-process instead, through `fake_anthropic.transport` (no socket; the same
streaming, timeouts and dropped connections), except in the suites whose point
is the wire: the CLI, the app and the reliability tests stay on sockets.
`pytest --fake-api-over-http` keeps every test on sockets.

`pytest --fake-api-latency 0.3` delays every response of these fixtures' fake
APIs by that much after the request was counted (a fixture's own `latency=`
wins), to run a suite as if the API were far away.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from computer_use_demo.api_client import clients_use_transport
from fake_anthropic import FakeAnthropicAPI
from fake_anthropic.transport import in_process_routes

# Test modules whose subject is the real HTTP path, end to end.
OVER_HTTP = (
    "tests/reliability/",
    "tests/test_cli.py",
    "tests/test_streamlit_app.py",
    "tests/test_streamlit_browser.py",
    "tests/test_streamlit_quickstart.py",
    "tests/test_fake_api.py",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--fake-api-latency",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="delay before each fake API response starts (after it was counted)",
    )
    parser.addoption(
        "--fake-api-over-http",
        action="store_true",
        default=False,
        help="the loop's clients reach the fake API over loopback HTTP in every test",
    )


def _latency(request: pytest.FixtureRequest) -> float:
    return float(request.config.getoption("--fake-api-latency", default=0.0) or 0.0)


def over_http(request: pytest.FixtureRequest) -> bool:
    if request.config.getoption("--fake-api-over-http", default=False):
        return True
    root = Path(str(request.config.rootpath))
    try:
        where = Path(str(request.node.path)).resolve().relative_to(root).as_posix()
    except ValueError:
        return True
    return where.startswith(OVER_HTTP)


@pytest.fixture(autouse=True)
def _fake_api_in_process(request: pytest.FixtureRequest) -> Iterator[None]:
    if over_http(request):
        yield
        return
    with clients_use_transport(in_process_routes):
        yield


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
