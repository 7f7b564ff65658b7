"""`--max-cost`: the CLI stops before the request whose worst case could pass
the cap, with exit code 6 and what is left, and the money the server really
charged (priced from the fake API's own record of usage) stays under it."""

from __future__ import annotations

from pathlib import Path

from fake_anthropic import FakeAnthropicAPI
from tests.test_cli import cli_env, run_cli
from token_manager.model_table import PriceList
from token_manager.spend import NANO, UsageShape, usage_cost

MODEL = "claude-sonnet-4-5"
TOOL_CALLS = [
    {
        "content": [
            {"type": "text", "text": f"Step {step}."},
            {"type": "tool_use", "name": "bash", "input": {"command": f"echo {step}"}},
        ]
    }
    for step in range(12)
] + [{"content": [{"type": "text", "text": "Done."}]}]


def charged_dollars(api: FakeAnthropicAPI) -> float:
    prices = PriceList().for_model(MODEL)
    return (
        sum(
            usage_cost(UsageShape.of(request.usage), prices)
            for request in api.requests
            if request.usage is not None
        )
        / NANO
    )


def test_the_cli_stops_before_the_request_that_could_pass_the_cap(
    tmp_path: Path,
) -> None:
    cap = 0.035
    with FakeAnthropicAPI(scenario=TOOL_CALLS) as api:
        result = run_cli(
            ["--model", MODEL, "--max-tokens", "1000", "--max-cost", str(cap), "go"],
            cli_env(api, tmp_path),
            timeout=120,
        )
        answered = [request for request in api.requests if request.status == 200]
        spent = charged_dollars(api)
    assert result.returncode == 6, result.stderr
    assert "conversation spending cap of $0.0350 would be passed" in result.stderr
    assert "left" in result.stderr and "could cost up to" in result.stderr
    assert "Traceback" not in result.stderr
    assert 2 <= len(answered) < len(TOOL_CALLS), "some turns ran, not all"
    assert 0 < spent <= cap


def test_without_a_cap_the_same_run_goes_to_the_end(tmp_path: Path) -> None:
    with FakeAnthropicAPI(scenario=TOOL_CALLS) as api:
        result = run_cli(
            ["--model", MODEL, "--max-tokens", "1000", "go"],
            cli_env(api, tmp_path),
            timeout=120,
        )
        answered = [request for request in api.requests if request.status == 200]
    assert result.returncode == 0, result.stderr
    assert len(answered) == len(TOOL_CALLS)
