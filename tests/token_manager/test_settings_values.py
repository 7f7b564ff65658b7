"""Every TOKEN_MANAGER_* value is checked once: a bad one is one line naming
the variable (for the app's and the CLI's start-up check, the manager and the
status command alike), never a traceback or limiting silently turned off."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from computer_use_demo.settings import environment_problems
from token_manager import RateLimits, TokenManager
from token_manager.settings import SettingsError, read_settings

ROOT = Path(__file__).resolve().parents[2]

BAD_VALUES = [
    ("TOKEN_MANAGER_WINDOW_SECONDS", "0"),
    ("TOKEN_MANAGER_WINDOW_SECONDS", "-60"),
    ("TOKEN_MANAGER_WINDOW_SECONDS", "nan"),
    ("TOKEN_MANAGER_WINDOW_SECONDS", "inf"),
    ("TOKEN_MANAGER_WINDOW_SECONDS", "abc"),
    ("TOKEN_MANAGER_RPM", "0"),
    ("TOKEN_MANAGER_RPM", "-5"),
    ("TOKEN_MANAGER_INPUT_TPM", "abc"),
    ("TOKEN_MANAGER_INPUT_TPM", "1e5"),
    ("TOKEN_MANAGER_OUTPUT_TPM", "nan"),
    ("TOKEN_MANAGER_PRIORITY", "urgent"),
    ("TOKEN_MANAGER_FAIR_QUEUE", "maybe"),
    ("TOKEN_MANAGER_CACHE_AWARE", "2"),
    ("TOKEN_MANAGER_REDIS_CLUSTER", "cluster"),
    ("TOKEN_MANAGER_REDIS_URL", "garbage::/x"),
    ("TOKEN_MANAGER_REDIS_URL", "redis://host:notaport/0"),
    ("TOKEN_MANAGER_REDIS_PREFIX", "a{b}"),
    ("TOKEN_MANAGER_MAX_COST_PER_DAY", "0"),
    ("TOKEN_MANAGER_MAX_COST_PER_DAY", "nan"),
    ("TOKEN_MANAGER_MAX_COST_PER_CONVERSATION", "five"),
    ("TOKEN_MANAGER_PRICES_FILE", "/nonexistent/prices.json"),
]


@pytest.mark.parametrize(("name", "value"), BAD_VALUES)
def test_a_bad_value_is_one_line_naming_its_variable(name: str, value: str) -> None:
    environ = {name: value}
    with pytest.raises(SettingsError) as raised:
        read_settings(environ)
    assert len(raised.value.problems) == 1
    assert raised.value.problems[0].startswith(name)
    assert "\n" not in raised.value.problems[0]
    with pytest.raises(SettingsError):
        TokenManager.from_env(environ)
    named = [line for line in environment_problems(environ) if name in line]
    assert named == raised.value.problems, "the start-up check says the same line"


def test_every_bad_variable_is_named_at_once() -> None:
    environ = {name: value for name, value in BAD_VALUES}
    problems = read_settings_problems(environ)
    assert {line.split()[0].split("'")[0] for line in problems} == {
        name for name, _ in BAD_VALUES
    }


def read_settings_problems(environ: dict[str, str]) -> list[str]:
    with pytest.raises(SettingsError) as raised:
        read_settings(environ)
    return raised.value.problems


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("TOKEN_MANAGER_RPM", "none", None),
        ("TOKEN_MANAGER_INPUT_TPM", "40,000", 40_000),
        ("TOKEN_MANAGER_OUTPUT_TPM", "16_000", 16_000),
    ],
)
def test_good_limits_still_read(name: str, value: str, expected: int | None) -> None:
    limits = read_settings({name: value}).limits
    assert {
        "TOKEN_MANAGER_RPM": limits.requests_per_minute,
        "TOKEN_MANAGER_INPUT_TPM": limits.input_tokens_per_minute,
        "TOKEN_MANAGER_OUTPUT_TPM": limits.output_tokens_per_minute,
    }[name] == expected


def test_the_status_command_says_a_bad_url_in_one_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "token_manager", "status", "--json"],
        env={"PYTHONPATH": str(ROOT), "TOKEN_MANAGER_REDIS_URL": "garbage::/x"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "TOKEN_MANAGER_REDIS_URL must start with redis://, rediss://, unix:// or "
        "redis+cluster:// (for example redis://:PASSWORD@localhost:6379/0)"
    ]


def test_negative_usage_never_empties_the_window_below_zero() -> None:
    tm = TokenManager(RateLimits(None, 1_000, None, 60.0), explicit_limits=())
    tm.reconcile(tm.acquire_sync(500, 0), {"input_tokens": -600})
    assert tm.snapshot().budgets["input_tokens"].used == 0
    tm.reconcile(tm.acquire_sync(1_000, 0), {"input_tokens": 1_000})
    assert tm.snapshot().budgets["input_tokens"].used == 1_000, (
        "a negative count never made room for more than the limit"
    )
