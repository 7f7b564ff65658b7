"""`python -m tests.fake_api --port PORT [--rpm N] [--itpm N] [--otpm N] [--window-seconds S] [--script FILE]`."""

from __future__ import annotations

import argparse

from .scenario import Scenario
from .server import FakeAnthropicAPI, free_port, run_blocking


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fake_api", description=__doc__
    )
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--rpm", type=int)
    parser.add_argument("--itpm", type=int)
    parser.add_argument("--otpm", type=int)
    parser.add_argument("--window-seconds", type=float, default=60.0)
    parser.add_argument("--token-rate", type=float, help="output tokens per second")
    parser.add_argument("--api-key", default="sk-ant-test-fake-api-key-0000")
    parser.add_argument("--script", help="scenario file (JSON or YAML)")
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
    )
    print(api.base_url, flush=True)
    run_blocking(api)


if __name__ == "__main__":
    main()
