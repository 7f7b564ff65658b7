"""A local double of the Anthropic Messages API, over real HTTP with real SSE framing.

    from tests.fake_api import FakeAnthropicAPI
    with FakeAnthropicAPI(rpm=50, itpm=40_000, otpm=16_000, window_seconds=2,
                          token_rate=2_000, scenario={"turns": [...]}) as api:
        client = anthropic.Anthropic(api_key=api.api_key, base_url=api.base_url)
        ...
        api.requests      # every request received (keys redacted), with status
        api.stats()       # requests, rate_limited, by_status, tokens accepted

The scenario format is documented in `tests/fake_api/scenario.py`. From a shell:
`python -m tests.fake_api --port 8765 --itpm 40000 --window-seconds 5 --script turns.json`.
"""

from .app import FakeConfig, RecordedRequest
from .scenario import Scenario, Turn
from .server import FakeAnthropicAPI, free_port

__all__ = [
    "FakeAnthropicAPI",
    "FakeConfig",
    "RecordedRequest",
    "Scenario",
    "Turn",
    "free_port",
]
