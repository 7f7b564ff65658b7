"""The lowest limits every process learned from the server's headers, as
Redis last said them, so nobody waits on Redis to read them (also while it is
away), and which of this process's own are worth telling Redis again."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .redis_link import RedisLink, text


class LearnedLimits:
    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        # pool -> budget -> (the lowest learned limit, when it lapses)
        self._known: dict[str, dict[str, tuple[int, float]]] = {}
        self._published: dict[tuple[str, str], tuple[int, float]] = {}

    def current(self, pool: str) -> dict[str, int]:
        """Per budget, the lowest limit learned that has not lapsed."""
        now = self._clock()
        return {
            name: limit
            for name, (limit, ends) in self._known.get(pool, {}).items()
            if ends > now
        }

    def heard(
        self, pool: str, reply: Any, sent: float, names: set[str] | None = None
    ) -> None:
        """A script's answer (name, limit, seconds left, ...): every budget's,
        or only those of `names` (the others as they were)."""
        flat = [text(item) for item in reply or ()]
        heard = {
            flat[at]: (int(float(flat[at + 1])), sent + float(flat[at + 2]))
            for at in range(0, len(flat) - 2, 3)
        }
        kept = {
            name: known
            for name, known in self._known.get(pool, {}).items()
            if names is not None and name not in names
        }
        self._known[pool] = kept | heard

    def tell(
        self,
        link: RedisLink,
        key: str,
        pool: str,
        learned: dict[str, int],
        holds: float,
    ) -> None:
        """Tell Redis (I/O) what is worth telling of `learned`; hear its answer."""
        fresh = self._worth_telling(pool, learned, holds)
        if not fresh:
            return
        args: list[Any] = [holds]
        for name, limit in fresh.items():
            args += [name, int(limit)]
        sent = self._clock()
        self.heard(pool, link.run("LEARN", [key], args), sent, names=set(fresh))
        for name, limit in fresh.items():
            self._published[(pool, name)] = (limit, sent)

    def _worth_telling(
        self, pool: str, learned: dict[str, int], holds: float
    ) -> dict[str, int]:
        """What Redis should hear: a limit it was not told, or told a quarter
        of `holds` ago (so that it holds on while the server says it)."""
        now = self._clock()
        return {
            name: limit
            for name, limit in learned.items()
            if (told := self._published.get((pool, name))) is None
            or told[0] != limit
            or now - told[1] >= holds / 4
        }
