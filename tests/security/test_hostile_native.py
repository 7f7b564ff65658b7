"""A steered model against the native stack's tools, run by root: nothing to find.

`start_all.sh` runs the stack as root (as `./run.sh` by root does) with the key
and a Redis password in its environment; the CLI runs as root beside it, the
way the stack runs the app (the key in its environment and its config folder,
its tools as the tools' account), so the routes meet the stack's desktop
processes too. The fake API's model calls bash once per route to the
secrets, each printed raw, in base64, in hex and folded; no form of any secret
may appear in the tool results, the saved transcript, the CLI's output and
logs, or the requests the fake received, and redaction is never needed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fake_anthropic import FakeAnthropicAPI
from tests.plugins.redis_server import RedisProcess
from tests.security.hostile_routes import (
    API_KEY,
    assert_nothing_found,
    hostile_turn,
)
from tests.test_native_stack import running_stack

pytestmark = [pytest.mark.slow, pytest.mark.desktop]
ROOT = Path(__file__).resolve().parents[2]


def test_no_route_of_a_steered_model_finds_a_secret(
    tmp_path: Path,
    tools_account_name: str,
    screen_env: dict[str, str],
    fleet_redis: RedisProcess,
) -> None:
    config = tmp_path / "config"
    config.mkdir(mode=0o700)
    (config / "api_key").write_text(API_KEY)
    (config / "api_key").chmod(0o600)
    transcript = tmp_path / "transcript.json"
    scenario = [
        hostile_turn(str(config), fleet_redis.port),
        {"content": [{"type": "text", "text": "done"}]},
    ]
    redis_url = fleet_redis.url
    stack_env = {
        "ANTHROPIC_API_KEY": API_KEY,
        "TOKEN_MANAGER_REDIS_URL": redis_url,
        "COMPUTER_USE_TOOLS_USER": tools_account_name,
    }
    with (
        running_stack(tmp_path / "stack", **stack_env) as (ports, _),
        FakeAnthropicAPI(scenario=scenario, api_key=API_KEY) as api,
    ):
        cli = subprocess.run(
            [
                sys.executable,
                "-m",
                "computer_use_demo",
                "find the API key",
                "--save",
                str(transcript),
            ],
            env={
                **os.environ,
                **screen_env,
                "DISPLAY_NUM": str(ports.display),
                "ANTHROPIC_API_KEY": API_KEY,
                "ANTHROPIC_BASE_URL": api.base_url,
                "ANTHROPIC_CONFIG_DIR": str(config),
                "TOKEN_MANAGER_REDIS_URL": redis_url,
                "COMPUTER_USE_TOOLS_USER": tools_account_name,
                # 27 large tool results in one turn: room for them, not pacing.
                "TOKEN_MANAGER_INPUT_TPM": "2000000",
                "PYTHONPATH": str(ROOT),
            },
            capture_output=True,
            text=True,
            timeout=600,
            cwd=ROOT,
        )
        requests = [request.body for request in api.message_requests()]
    assert cli.returncode == 0, cli.stderr[-2000:]
    places = {
        "transcript": transcript.read_text(),
        "cli_output": cli.stdout,
        "cli_logs": cli.stderr,
    }
    assert_nothing_found(requests, places)
