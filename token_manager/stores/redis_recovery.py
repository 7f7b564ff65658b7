"""When Redis no longer knows this process's charges (it restarted, empty or
with an older snapshot, or a partition outlasted this process's claim): every
charge is written back before this process's next grant, and after a restart
grants wait until every live process has heard of it and written its own.

No I/O but the run id asked through the link.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from .ledger import Ledger
from .redis_courier import RETRY_AFTER_ERROR
from .redis_leases import Leases
from .redis_link import RedisLink

logger = logging.getLogger("token_manager")


class Recovery:
    def __init__(
        self,
        link: RedisLink,
        ledger: Ledger,
        leases: Leases,
        send_soon: Callable[[], None],
        clock: Callable[[], float],
    ) -> None:
        self._link, self._ledger, self._leases = link, ledger, leases
        self._send_soon, self._clock = send_soon, clock
        self._hold_until: dict[str, float] = {}
        self._server_id: str | None = None  # the redis-server last seen

    def notice_restart(self) -> None:
        """A redis-server that restarted with its data still knows this process
        but not what was charged since its last save, nor what the others
        granted while it was down: it is treated as one that lost everything.
        Raises StorageUnavailable."""
        server = self._link.server_id()
        known, self._server_id = self._server_id, server
        if known is not None and server != known:
            for pool in list(self._leases.windows):
                self.lost(pool, restarted=True)

    def lost(self, pool: str, restarted: bool = False) -> None:
        """Write every charge back (before this process's next grant, as every
        send is). After a restart every live process must write its own back
        too, so this pool's grants wait until each has heard of it (at its next
        heartbeat, or half a second after an error) and sent them. A partition
        that outlasted this process's claim lost only this process's charges:
        no wait."""
        logger.warning("Redis lost the shared charges; writing this process's back")
        self._ledger.rewrite_all()
        if restarted:
            hold = 2 * self._leases.beat_interval() + RETRY_AFTER_ERROR
            self._hold_until[pool] = self._clock() + hold
        self._send_soon()

    def held(self, pool: str) -> float:
        """Seconds this pool's grants still wait after a restart (0: none)."""
        return max(0.0, self._hold_until.get(pool, 0.0) - self._clock())
