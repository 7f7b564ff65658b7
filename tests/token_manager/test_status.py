"""`python -m token_manager status`, run as an operator would: a subprocess
reading the same environment as the app."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.plugins.redis_server import RedisProcess
from token_manager.status import redis_location

ROOT = Path(__file__).resolve().parents[2]
SECRET_KEY = "sk-ant-api03-status-secret"

CHARGER = """
import sys
import time
sys.path.insert(0, {root!r})
import os
from token_manager import TokenManager, account_tag
tm = TokenManager.from_env()
account = account_tag(os.environ["ANTHROPIC_API_KEY"])
for tokens in {charges!r}:
    usage = {{"input_tokens": tokens, "output_tokens": 50}}
    held = tm.spending.reserve(tokens, 100, model="claude-sonnet-4-5",
                               conversation="c", account=account)
    tm.reconcile(tm.acquire_sync(tokens, 100, model="claude-sonnet-4-5"), usage)
    tm.spending.settle(held, usage, model="claude-sonnet-4-5")
tm.observe_response(type("R", (), {{"headers": {{"retry-after": "0"}},
                                    "status_code": 429}})(), model="claude-sonnet-4-5")
"""


def environment(redis_url: str | None) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("TOKEN_MANAGER_")
    }
    env |= {
        "PYTHONPATH": str(ROOT),
        "ANTHROPIC_API_KEY": SECRET_KEY,
        "TOKEN_MANAGER_INPUT_TPM": "30000",
        "TOKEN_MANAGER_REDIS_PREFIX": "status-test",
        "COLUMNS": "200",
    }
    if redis_url:
        env["TOKEN_MANAGER_REDIS_URL"] = redis_url
    return env


def status(env: dict[str, str], *flags: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "token_manager", "status", *flags],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def charge(env: dict[str, str], charges: list[int]) -> None:
    subprocess.run(
        [sys.executable, "-c", CHARGER.format(root=str(ROOT), charges=charges)],
        env=env,
        check=True,
        timeout=60,
    )


@pytest.mark.redis
def test_json_shows_every_process_charges_in_the_shared_pool(
    redis_server: RedisProcess,
) -> None:
    env = environment(redis_server.url)
    charge(env, [1_000, 2_000])
    charge(env, [500])
    output = status(env, "--json")
    assert SECRET_KEY not in output
    report = json.loads(output)
    assert report["shared"] and report["redis_available"]
    assert report["scope"] == "every process sharing this Redis"
    assert report["redis"] == redis_server.url
    assert report["account"] not in ("anonymous", None)
    (sonnet,) = [pool for pool in report["pools"] if pool["pool"] == "sonnet-4"]
    assert sonnet["usage"] == {
        "requests": 3,
        "input_tokens": 3_500,
        "output_tokens": 150,
    }
    assert sonnet["limits"]["input_tokens"] == 30_000
    assert sonnet["waiters"] == 0
    assert sonnet["rate_limited"] == 2, "one 429 seen by each process"
    # Both processes' spend today: 3,500 in x $3/M + 150 out x $15/M (Sonnet 4.5).
    spend = report["spend"]
    assert spend["by_pool_usd"] == {"sonnet-4": pytest.approx(0.01275)}
    assert spend["spent_usd"] == pytest.approx(0.01275)
    assert spend["day_cap_usd"] is None


@pytest.mark.redis
def test_the_live_view_renders_the_pools_once(redis_server: RedisProcess) -> None:
    env = environment(redis_server.url)
    charge(env, [2_000])
    text = status(env, "--once")
    assert "Shared through Redis at " + redis_server.url in text
    assert "sonnet-4" in text
    assert "2,000 / 30,000 (7%)" in text
    assert "429s seen" in text
    assert "(UTC): $0.0067 no daily cap; by pool: sonnet-4 $0.0067" in text
    assert SECRET_KEY not in text


def test_without_redis_it_says_it_sees_only_this_process() -> None:
    env = environment(None)
    report = json.loads(status(env, "--json"))
    assert report["scope"] == "this process only" and not report["shared"]
    assert [pool["pool"] for pool in report["pools"]] == ["default"]
    assert "this process only" in status(env, "--once")


def test_an_unreachable_redis_is_said_and_its_password_never_shown() -> None:
    from fake_anthropic import free_port

    url = f"redis://operator:hunter2@127.0.0.1:{free_port()}/0"
    env = environment(url)
    output = status(env, "--json")
    assert "hunter2" not in output and "operator" not in output
    report = json.loads(output)
    assert not report["redis_available"]
    assert report["scope"] == "this process only"
    assert "is unavailable" in status(env, "--once")
    assert redis_location(url).endswith("/0 (password hidden)")


@pytest.mark.parametrize("scheme", ["redis", "redis+cluster"])
def test_an_unreachable_redis_still_lists_every_current_pool(scheme: str) -> None:
    from fake_anthropic import free_port

    env = environment(f"{scheme}://127.0.0.1:{free_port()}")
    report = json.loads(status(env, "--json"))
    assert not report["redis_available"]
    pools = {pool["pool"]: pool for pool in report["pools"]}
    assert {"opus-4", "sonnet-4", "haiku-4"} <= set(pools)
    assert pools["sonnet-4"]["limits"]["input_tokens"] == 30_000


WAITERS = """
import sys, threading, time
sys.path.insert(0, {root!r})
from token_manager import TokenManager
tm = TokenManager.from_env()
tm.acquire_sync(1, 0, model="claude-sonnet-4-5")
for _ in range(3):
    threading.Thread(
        target=tm.acquire_sync, args=(1, 0), kwargs={{"model": "claude-sonnet-4-5"}},
        daemon=True,
    ).start()
print("waiting", flush=True)
time.sleep(60)
"""


@pytest.mark.redis
def test_without_a_fair_queue_the_waiters_of_every_process_are_counted(
    redis_server: RedisProcess,
) -> None:
    env = environment(redis_server.url) | {
        "TOKEN_MANAGER_FAIR_QUEUE": "0",
        "TOKEN_MANAGER_RPM": "1",
    }
    child = subprocess.Popen(
        [sys.executable, "-c", WAITERS.format(root=str(ROOT))],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "waiting"
        deadline = time.monotonic() + 10
        waiters = 0
        while time.monotonic() < deadline and waiters != 3:
            report = json.loads(status(env, "--json"))
            (sonnet,) = [p for p in report["pools"] if p["pool"] == "sonnet-4"]
            waiters = sonnet["waiters"]
        assert waiters == 3
    finally:
        child.kill()
        child.wait(5)
