"""A local double of the Anthropic Messages API, over real HTTP with real SSE framing.

    from fake_anthropic import FakeAnthropicAPI
    with FakeAnthropicAPI(rpm=50, itpm=40_000, otpm=16_000, window_seconds=2,
                          token_rate=2_000, scenario={"turns": [...]}) as api:
        client = anthropic.Anthropic(api_key=api.api_key, base_url=api.base_url)
        ...
        api.requests      # every request received (keys redacted), with status,
                          # model class and the usage it was answered with
        api.stats()       # requests, rate_limited, by_status, tokens accepted,
                          # cache reads/writes, and the same per model class

Like the server: one bucket set per model class (Opus 4.x, Sonnet 4.x, Haiku
4.5, each unknown id; `class_limits={"opus-4": {"itpm": ...}}` sets one apart),
input tokens/min counting uncached input and cache writes (reads too on the
older models), output pre-charged from max_tokens; a prompt cache with
breakpoints, TTLs and minimum lengths (`prompt_cache.py`); `latency=S` answers
S seconds after counting; `clock=` replaces time.monotonic for buckets and TTLs.

The request rules it enforces, each with its source, are in `RULES.md`. It also
serves Amazon Bedrock's and Google Vertex AI's wires for the same model
(`wires.py`: SigV4 and the AWS event stream, a bearer token and SSE), and can be
reached in-process, without a socket, through `transport.InProcessTransport`
(or, for every running fake, `transport.in_process_routes()`).

The scenario format is documented in `fake_anthropic/scenario.py`. From a shell:
`python -m fake_anthropic --port 8765 --itpm 40000 --window-seconds 5 --latency 0.3 --script turns.json`.
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
