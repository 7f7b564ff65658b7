"""The fleet's Redis for the hostile routes: a real server, on the host's
loopback, behind the password the tools must not find."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.plugins.redis_server import RedisProcess
from tests.security.hostile_routes import REDIS_PASSWORD


@pytest.fixture
def fleet_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    server = RedisProcess(tmp_path / "fleet-redis", password=REDIS_PASSWORD)
    try:
        yield server
    finally:
        server.stop()
