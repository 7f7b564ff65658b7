"""`python -m fake_anthropic --port PORT [--rpm N] [--itpm N] [--otpm N] [--window-seconds S]
[--latency S] [--class-limits JSON] [--script FILE]`.

Limits apply to each model class on its own (Opus 4.x, Sonnet 4.x, Haiku 4.5,
each unknown id); `--class-limits '{"opus-4": {"itpm": 10000}}'` sets one apart.
"""

from __future__ import annotations

import argparse
import json

from .scenario import Scenario
from .server import FakeAnthropicAPI, free_port, run_blocking


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m fake_anthropic", description=__doc__
    )
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--rpm", type=int)
    parser.add_argument("--itpm", type=int)
    parser.add_argument("--otpm", type=int)
    parser.add_argument("--window-seconds", type=float, default=60.0)
    parser.add_argument("--token-rate", type=float, help="output tokens per second")
    parser.add_argument("--api-key", default="sk-ant-test-fake-api-key-0000")
    parser.add_argument("--script", help="scenario file (JSON or YAML)")
    parser.add_argument(
        "--latency",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="delay between counting a request and starting its response",
    )
    parser.add_argument(
        "--class-limits",
        type=json.loads,
        default={},
        metavar="JSON",
        help='per model class limits, e.g. \'{"opus-4": {"rpm": 50, "itpm": 30000}}\'',
    )
    parser.add_argument("--cache-max-entries", type=int, default=4096)
    args = parser.parse_args()
    api = FakeAnthropicAPI(
        port=args.port or free_port(),
        scenario=Scenario.from_file(args.script) if args.script else None,
        rpm=args.rpm,
        itpm=args.itpm,
        otpm=args.otpm,
        window_seconds=args.window_seconds,
        token_rate=args.token_rate,
        api_key=args.api_key,
        latency=args.latency,
        class_limits=args.class_limits,
        cache_max_entries=args.cache_max_entries,
    )
    print(api.base_url, flush=True)
    run_blocking(api)


if __name__ == "__main__":
    main()
