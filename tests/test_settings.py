"""The one read of the environment: variables in, typed settings out; a bad
value is defaulted and named with environment_check's message."""

from __future__ import annotations

from pathlib import Path

import pytest

from computer_use_demo import settings
from computer_use_demo.providers import APIProvider
from computer_use_demo.settings import DEFAULT_READ_TIMEOUT, Screen, Settings

SCREEN = {"WIDTH": "1280", "HEIGHT": "800"}


@pytest.mark.parametrize(
    ("environ", "field", "expected"),
    [
        ({}, "api_provider", APIProvider.ANTHROPIC),
        ({"API_PROVIDER": "vertex"}, "api_provider", APIProvider.VERTEX),
        ({"API_PROVIDER": "bedrock"}, "api_provider", APIProvider.BEDROCK),
        ({"ANTHROPIC_API_KEY": "sk-ant-x"}, "anthropic_api_key", "sk-ant-x"),
        ({}, "anthropic_api_key", ""),
        (SCREEN, "screen", Screen(1280, 800, None)),
        ({**SCREEN, "DISPLAY_NUM": "7"}, "screen", Screen(1280, 800, 7)),
        ({}, "screen", Screen(0, 0, None)),
        ({"COMPUTER_USE_READ_TIMEOUT": "1.5"}, "read_timeout", 1.5),
        ({}, "read_timeout", DEFAULT_READ_TIMEOUT),
        ({"ANTHROPIC_CONFIG_DIR": "/srv/cfg"}, "config_dir", Path("/srv/cfg")),
        ({}, "config_dir", Path.home() / ".anthropic"),
        ({"HIDE_WARNING": "1"}, "hide_warning", True),
        ({"HIDE_WARNING": ""}, "hide_warning", False),
        ({}, "hide_warning", False),
        ({"CLOUD_ML_REGION": "us-east5"}, "cloud_ml_region", "us-east5"),
        ({}, "cloud_ml_region", None),
    ],
)
def test_each_variable_becomes_its_typed_setting(
    environ: dict[str, str], field: str, expected: object
) -> None:
    assert getattr(Settings.from_env(environ), field) == expected


@pytest.mark.parametrize(
    ("environ", "field", "default", "message"),
    [
        (
            {"API_PROVIDER": "azure"},
            "api_provider",
            APIProvider.ANTHROPIC,
            "API_PROVIDER must be one of anthropic, bedrock, vertex, not 'azure'",
        ),
        (
            {"DISPLAY_NUM": ":1"},
            "screen",
            Screen(1280, 800, None),
            "DISPLAY_NUM must be the X display's number (e.g. 1), not ':1'",
        ),
        (
            {"COMPUTER_USE_READ_TIMEOUT": "soon"},
            "read_timeout",
            DEFAULT_READ_TIMEOUT,
            "COMPUTER_USE_READ_TIMEOUT must be a number of seconds above 0, not 'soon'",
        ),
        (
            {"COMPUTER_USE_READ_TIMEOUT": "0"},
            "read_timeout",
            DEFAULT_READ_TIMEOUT,
            "COMPUTER_USE_READ_TIMEOUT must be a number of seconds above 0, not '0'",
        ),
        (
            {"WIDTH": "wide"},
            "screen",
            Screen(0, 800, None),
            "WIDTH must be a whole number of pixels between 1 and 16384, not 'wide'",
        ),
    ],
)
def test_a_bad_value_is_defaulted_and_named(
    environ: dict[str, str], field: str, default: object, message: str
) -> None:
    configured = Settings.from_env({**SCREEN, **environ})
    assert getattr(configured, field) == default
    assert configured.problems == (message,)


def test_a_missing_screen_size_names_each_variable() -> None:
    hint = "set WIDTH and HEIGHT to the display's size in pixels (e.g. 1024 and 768)"
    assert Settings.from_env({}).problems == (
        f"WIDTH is not set: {hint}",
        f"HEIGHT is not set: {hint}",
    )
    assert Settings.from_env({"WIDTH": "1024"}).problems == (
        f"HEIGHT is not set: {hint}",
    )


# Every variable the app reads is parsed once, by the same layer as the
# limiter's: each bad value (0, negative, nan, inf, garbage) is one line naming it.
APP_BAD_VALUES = [
    ("COMPUTER_USE_READ_TIMEOUT", "nan"),
    ("COMPUTER_USE_READ_TIMEOUT", "inf"),
    ("COMPUTER_USE_MAX_RETRY_WAIT", "-5"),
    ("COMPUTER_USE_MAX_RETRY_WAIT", "0"),
    ("COMPUTER_SETTLE_MIN_S", "-1"),
    ("COMPUTER_SETTLE_QUIET_S", "nan"),
    ("COMPUTER_SETTLE_FIRST_CHANGE_S", "soon"),
    ("COMPUTER_SETTLE_MAX_S", "inf"),
    ("TOKEN_MANAGER_TOOL_RESULT_TOKENS", "0"),
    ("TOKEN_MANAGER_TOOL_RESULT_TOKENS", "none"),
    ("WIDTH", "0"),
    ("HEIGHT", "99999"),
    ("DISPLAY_NUM", "-1"),
    ("API_PROVIDER", "openai"),
]


@pytest.mark.parametrize(("name", "value"), APP_BAD_VALUES)
def test_each_bad_app_value_is_one_line_naming_it(name: str, value: str) -> None:
    problems = Settings.from_env({**SCREEN, name: value}).problems
    assert len(problems) == 1 and problems[0].startswith(name), problems
    assert value[:20] in problems[0] and "\n" not in problems[0]


def test_the_tool_result_budget_is_read_here() -> None:
    configured = Settings.from_env(
        {
            **SCREEN,
            "TOKEN_MANAGER_TOOL_RESULT_TOKENS": "2,000",
            "TOKEN_MANAGER_TOOL_OUTPUT_DIR": "/srv/out",
        }
    )
    assert configured.tool_result_tokens == 2_000
    assert configured.tool_output_dir == Path("/srv/out")


def test_a_good_environment_has_no_problems() -> None:
    assert Settings.from_env({**SCREEN, "API_PROVIDER": "vertex"}).problems == ()


def test_the_key_never_shows_in_the_settings_repr() -> None:
    configured = Settings.from_env({"ANTHROPIC_API_KEY": "sk-ant-secret-123"})
    assert "sk-ant-secret-123" not in repr(configured)


def test_the_process_reads_the_environment_once_until_replaced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COMPUTER_USE_READ_TIMEOUT", "3")
    first = settings.current()
    monkeypatch.setenv("COMPUTER_USE_READ_TIMEOUT", "9")
    assert settings.current() is first and first.read_timeout == 3.0
    settings.use(Settings(read_timeout=5.0))
    assert settings.current().read_timeout == 5.0
    settings.use(None)
    assert settings.current().read_timeout == 9.0


def test_the_readme_table_documents_every_setting() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    table = readme.split("## Environment variables", 1)[1].split("\n\n", 2)[1]
    for name in (
        "ANTHROPIC_API_KEY",
        "API_PROVIDER",
        "WIDTH",
        "HEIGHT",
        "DISPLAY_NUM",
        "COMPUTER_USE_READ_TIMEOUT",
        "ANTHROPIC_CONFIG_DIR",
        "HIDE_WARNING",
        "CLOUD_ML_REGION",
    ):
        assert f"`{name}`" in table, f"{name} is missing from the README's table"
