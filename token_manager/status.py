"""`python -m token_manager status`: an operator's view of every pool's budget.

Reads the same settings as the app (TOKEN_MANAGER_REDIS_URL, cluster, prefix),
so with Redis it sees every process sharing it; without, only itself. Never
prints a password or the API key (the account is a one-way tag).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from .budgets import BUDGETS, Budget
from .manager import TokenManager
from .settings import SettingsError, read_settings
from .spend import dollars
from .stores import PoolReport, account_tag

# One model of each current pool: what a status without Redis lists.
CURRENT_MODELS = ("claude-opus-4-5", "claude-sonnet-4-5", "claude-haiku-4-5")


def redis_location(url: str) -> str:
    """Where a Redis URL points, without user name, password or query."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return "a Redis URL that cannot be read"
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    location = f"{parts.scheme or 'redis'}://{host}"
    if port is not None:
        location += f":{port}"
    location += parts.path
    return location + (" (password hidden)" if parts.password else "")


def fleet_status(
    manager: TokenManager, redis_url: str | None, environ: Mapping[str, str]
) -> dict[str, Any]:
    """One JSON-ready object: where the budget lives and every pool's figures."""
    settings = read_settings(environ)
    shared = manager.snapshot().shared  # and this process's default pool shows
    reports = manager.pool_reports()  # asks Redis: marks it down if it is
    available = shared and manager.snapshot().shared_available
    if shared and not available:
        # Redis is down: only this process can be seen, every current pool
        # with its limits (the others' figures are in Redis).
        for model in CURRENT_MODELS:
            manager.snapshot(model=model)
        reports = manager.pool_reports()
    configured = settings.limits.by_budget()
    return {
        "shared": shared,
        "redis": redis_location(redis_url) if redis_url else None,
        "redis_available": available,
        "scope": "every process sharing this Redis"
        if available
        else "this process only",
        "prefix": settings.redis_prefix if shared else None,
        "account": account_tag(settings.api_key) if shared else None,
        "window_seconds": settings.limits.window_seconds,
        "pools": [_pool_json(report, configured) for report in reports],
        "spend": _spend_json(manager, account_tag(settings.api_key)),
    }


def _spend_json(manager: TokenManager, account: str) -> dict[str, Any]:
    """Today's spend (UTC) for the API key: the fleet's when Redis holds it."""
    report = manager.spending.report(account=account, fresh=True)
    cap = report.caps.day
    return {
        "day": manager.spending.day(),
        "spent_usd": dollars(report.day_spent),
        "day_cap_usd": None if cap is None else dollars(cap),
        "conversation_cap_usd": None
        if report.caps.conversation is None
        else dollars(report.caps.conversation),
        "by_pool_usd": {
            pool: dollars(spent) for pool, spent in sorted(report.day_by_pool.items())
        },
    }


def _pool_json(
    report: PoolReport, configured: Mapping[str, int | None]
) -> dict[str, Any]:
    limits = {
        name.value: report.limits.get(name)
        if report.limits.get(name) is not None
        else configured.get(name)
        for name in BUDGETS
    }
    return {
        "pool": report.pool,
        "limits": limits,
        "usage": {name.value: int(report.usage.get(name, 0)) for name in BUDGETS},
        "waiters": report.waiters,
        "rate_limited": report.rate_limited,
    }


def _cell(used: int, limit: int | None) -> str:
    if limit is None:
        return f"{used:,} / no limit"
    share = f" ({100 * used / limit:.0f}%)" if limit else ""
    return f"{used:,} / {limit:,}{share}"


def render(status: Mapping[str, Any]) -> Any:
    """The status as a rich renderable: a header line and one row per pool."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    window = status["window_seconds"]
    if status["redis_available"]:
        header = (
            f"Shared through Redis at {status['redis']} (prefix {status['prefix']}, "
            f"account {status['account']}): every process sharing it."
        )
    elif status["shared"]:
        header = (
            f"Redis at {status['redis']} is unavailable: this process only "
            "can be seen, nothing of the others."
        )
    else:
        header = (
            "No Redis (TOKEN_MANAGER_REDIS_URL is not set): this process only; "
            "every other process limits itself alone."
        )
    table = Table(title=f"token manager, use in the last {window:g} s window")
    table.add_column("pool")
    for budget in BUDGETS:
        table.add_column(Budget(budget).label, justify="right")
    table.add_column("waiting", justify="right")
    table.add_column("429s seen", justify="right")
    for pool in status["pools"]:
        table.add_row(
            pool["pool"],
            *(_cell(pool["usage"][name], pool["limits"][name]) for name in BUDGETS),
            str(pool["waiters"]),
            str(pool["rate_limited"]),
        )
    if not status["pools"]:
        table.add_row("(no pool has been used yet)", "", "", "", "", "")
    return Group(Text(header), table, Text(_spend_line(status["spend"])))


def _spend_line(spend: Mapping[str, Any]) -> str:
    cap = spend["day_cap_usd"]
    of_cap = "no daily cap" if cap is None else f"of a ${cap:,.2f} daily cap"
    pools = ", ".join(
        f"{pool} ${spent:,.4f}" for pool, spent in spend["by_pool_usd"].items()
    )
    return f"Spent on {spend['day']} (UTC): ${spend['spent_usd']:,.4f} {of_cap}" + (
        f"; by pool: {pools}" if pools else ""
    )


def main(
    argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None
) -> int:
    import os

    env = os.environ if environ is None else environ
    parser = argparse.ArgumentParser(
        prog="python -m token_manager status",
        description="Every rate-limit pool's limits, use, waiters and 429s seen.",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--once", action="store_true", help="print once, no refresh")
    parser.add_argument(
        "--interval", type=float, default=2.0, help="seconds between refreshes"
    )
    arguments = parser.parse_args(argv)
    try:
        manager = TokenManager.from_env(env)
    except SettingsError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        return 2
    redis_url = read_settings(env).redis_url

    def current() -> dict[str, Any]:
        return fleet_status(manager, redis_url, env)

    if arguments.json:
        print(json.dumps(current()))
        return 0
    from rich.console import Console
    from rich.live import Live

    console = Console()
    if arguments.once:
        console.print(render(current()))
        return 0
    try:
        with Live(render(current()), console=console, screen=False) as live:
            while True:
                time.sleep(max(0.2, arguments.interval))
                live.update(render(current()))
    except KeyboardInterrupt:
        return 0


def cli(argv: Sequence[str] | None = None) -> int:
    """`python -m token_manager <command>`: only `status` for now."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] != "status":
        print("usage: python -m token_manager status [--json] [--once] [--interval S]")
        return 2
    return main(args[1:])
