"""The start-up line about the budget: limits, pool, shared or not, no secrets."""

from __future__ import annotations

import logging

import pytest

import token_manager as token_manager_package
from computer_use_demo import startup_log
from computer_use_demo.redaction import redact
from computer_use_demo.startup_log import (
    budget_line,
    describe_budget,
    log_budget_once,
    redis_location,
)
from token_manager import RateLimits, TokenManager

ENTRY_TIER = RateLimits(50, 30_000, 8_000)


def test_a_shared_budget_names_its_limits_and_its_redis() -> None:
    line = describe_budget(ENTRY_TIER, "redis://redis:6379/0")
    assert line == (
        "token manager: limits 50 rpm / 30,000 input tpm / 8,000 output tpm, "
        "shared through Redis at redis://redis:6379/0"
    )


def test_a_local_budget_says_it_is_this_process_only() -> None:
    line = describe_budget(ENTRY_TIER, None)
    assert "this process only" in line and "Redis at" not in line


def test_a_shorter_window_and_a_missing_limit_are_spelled_out() -> None:
    line = describe_budget(RateLimits(None, 30_000, 8_000, 10.0), None)
    assert "no requests limit / 30,000 input tokens / 8,000 output tokens" in line
    assert "per 10 s window" in line


def test_the_pool_is_named_when_known() -> None:
    assert ", pool sonnet-4," in describe_budget(ENTRY_TIER, None, pool="sonnet-4")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:s3cret-pass@redis:6379/0", "redis://redis:6379/0 (password hidden)"),
        (
            "rediss://fleet:s3cret-pass@cache.example:6380/2",
            "rediss://cache.example:6380/2 (password hidden)",
        ),
        (
            "redis://redis:6379/0?password=s3cret-pass",
            "redis://redis:6379/0 (password hidden)",
        ),
        ("redis://fleet@redis/0", "redis://redis/0 (user name hidden)"),
        ("unix:///run/redis/redis.sock?db=0", "unix:///run/redis/redis.sock"),
        ("redis://[::1]:6379/0", "redis://[::1]:6379/0"),
    ],
)
def test_redis_location_never_shows_credentials(url: str, shown: str) -> None:
    location = redis_location(url)
    assert location == shown
    assert "s3cret" not in location and "fleet" not in location


def test_an_unreadable_url_is_not_echoed() -> None:
    location = redis_location("redis://:s3cret-pass@redis:port/0")
    assert "s3cret" not in location and "cannot be read" in location


def test_the_line_reads_the_process_manager_and_hides_the_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        token_manager_package, "token_manager", TokenManager(RateLimits(7, 700, 70))
    )
    monkeypatch.setattr(
        token_manager_package,
        "rate_limit_pool",
        lambda model: "pool-of-" + model,
        raising=False,
    )
    line = budget_line(
        {
            "TOKEN_MANAGER_REDIS_URL": "redis://:hunter2-hunter2@redis:6379/0",
            "API_PROVIDER": "anthropic",
        }
    )
    assert line.startswith(
        "token manager: limits 7 rpm / 700 input tpm / 70 output tpm"
    )
    assert ", pool pool-of-claude-" in line
    assert line.endswith("redis://redis:6379/0 (password hidden)")
    assert "hunter2" not in line
    # Anything else that logs the URL is redacted too.
    assert "hunter2" not in redact("connecting to redis://:hunter2-hunter2@redis")


def test_the_line_is_logged_once_per_process(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(startup_log, "_logged", False)
    monkeypatch.setenv("TOKEN_MANAGER_REDIS_URL", "redis://redis:6379/0")
    with caplog.at_level(logging.INFO, logger=startup_log.__name__):
        log_budget_once()
        log_budget_once()
    lines = [r.getMessage() for r in caplog.records if r.name == startup_log.__name__]
    assert len(lines) == 1
    assert lines[0].startswith("token manager: limits ")
    assert lines[0].endswith("shared through Redis at redis://redis:6379/0")


def test_a_failure_to_describe_never_stops_the_app(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(environ: object = None) -> str:
        raise RuntimeError("no limits")

    monkeypatch.setattr(startup_log, "_logged", False)
    monkeypatch.setattr(startup_log, "budget_line", broken)
    with caplog.at_level(logging.INFO, logger=startup_log.__name__):
        log_budget_once()
    assert "could not describe the budget" in caplog.text
