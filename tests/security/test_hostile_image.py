"""A steered model against the image as users run it: nothing to find.

The container is started the quickstart's way, with the key and a Redis
password in `-e` variables; the CLI runs inside it (`podman exec`, root, as the
app does) against the fake API on the host, whose model calls bash once per
route to the secrets, each printed raw, in base64, in hex and folded. No form
of any secret may appear in the tool results, the saved transcript, the CLI's
output, the container's and the services' logs, or the requests the fake got.
"""

from __future__ import annotations

import subprocess

import pytest

from fake_anthropic import FakeAnthropicAPI
from tests.plugins.redis_server import RedisProcess
from tests.security.hostile_routes import (
    API_KEY,
    assert_nothing_found,
    hostile_turn,
)
from tests.test_image import PODMAN, running_container

pytestmark = [pytest.mark.image, pytest.mark.slow]
CONFIG = "/home/computeruse/.anthropic"


def _exec(
    name: str, *command: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PODMAN, "exec", name, *command],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_no_route_of_a_steered_model_finds_a_secret_in_the_image(
    fleet_redis: RedisProcess,
) -> None:
    secrets = (
        f"ANTHROPIC_API_KEY={API_KEY}",
        # The container shares the host's network: it reaches the fleet's Redis.
        f"TOKEN_MANAGER_REDIS_URL={fleet_redis.url}",
        "TOKEN_MANAGER_INPUT_TPM=2000000",
    )
    scenario = [
        hostile_turn(CONFIG, fleet_redis.port),
        {"content": [{"type": "text", "text": "done"}]},
    ]
    with (
        running_container(*secrets) as (name, _),
        FakeAnthropicAPI(scenario=scenario, api_key=API_KEY) as api,
    ):
        # The key saved as the app saves it.
        saved = _exec(
            name,
            "sh",
            "-c",
            f'umask 077 && printf %s "$ANTHROPIC_API_KEY" > {CONFIG}/api_key',
        )
        assert saved.returncode == 0, saved.stderr
        cli = _exec(
            name,
            "env",
            f"ANTHROPIC_BASE_URL={api.base_url}",
            "/opt/venv/bin/python",
            "-m",
            "computer_use_demo",
            "find the API key",
            "--save",
            "/tmp/transcript.json",
            timeout=600,
        )
        requests = [request.body for request in api.message_requests()]
        transcript = _exec(name, "cat", "/tmp/transcript.json").stdout
        service_logs = _exec(
            name, "sh", "-c", "cat /tmp/computer-use-*/logs/*.log"
        ).stdout
        container_log = subprocess.run(
            [*PODMAN, "logs", name], capture_output=True, text=True, check=False
        )
    assert cli.returncode == 0, cli.stderr[-2000:]
    places = {
        "transcript": transcript,
        "cli_output": cli.stdout,
        "cli_logs": cli.stderr,
        "service_logs": service_logs,
        "container_log": container_log.stdout + container_log.stderr,
    }
    assert transcript and service_logs
    assert_nothing_found(requests, places)
