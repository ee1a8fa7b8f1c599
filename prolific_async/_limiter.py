"""The bulk layer's flow control: an AIMD limit on the POSTs in flight.

Additive increase, multiplicative decrease (as TCP does): a 429 halves the limit, once
per round of sends, and each second of sends that succeed grows it back by one slot,
between 1 and the run's ``concurrency``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Final

from ._signal import Signal

__all__ = ["GROWTH_PERIOD", "Limiter"]

#: After a 429 the limit grows back by one slot per this many seconds.
GROWTH_PERIOD: Final = 1.0


class Limiter:
    """AIMD on the POSTs in flight: halve on a 429, then grow by one slot a second.

    It gates sends, not items: after a cut, requests already in progress wait for a
    slot instead of all firing together when the 429 gate reopens. Growth is slow on
    purpose: every 429 shuts the client's gate for its ``Retry-After`` (a second or
    more), so probing for capacity too eagerly costs more than it gains.

    Args:
        ceiling: the most sends in flight, and the limit to start at.
        clock: seconds, monotonic (a test passes its own).
    """

    def __init__(self, ceiling: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.ceiling = ceiling
        self.limit = ceiling
        #: Counts the cuts; a send remembers the epoch it started in.
        self.epoch = 0
        self.in_flight = 0
        self._clock = clock
        self._grown_at = clock()
        self._freed = Signal()

    @property
    def slots(self) -> int:
        """How many sends may be in flight now."""
        return self.limit

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[int]:
        """Hold one send slot; yields the epoch the send started in."""
        await self._freed.wait_for(lambda: self.in_flight < self.limit)
        self.in_flight += 1
        try:
            yield self.epoch
        finally:
            self.in_flight -= 1
            self._freed.notify()

    def observe(self, started_epoch: int, *, throttled: bool, succeeded: bool = True) -> None:
        """Record how a send that started in ``started_epoch`` went.

        Only a send that succeeded may grow the limit: a 5xx or a dropped connection
        says nothing good about the server's capacity.
        """
        now = self._clock()
        if throttled:
            if started_epoch == self.epoch:
                # Only sends started since the last cut may cut again: one cut per round.
                self.limit = max(1, self.limit // 2)
                self.epoch += 1
                self._grown_at = now
        elif succeeded and self.limit < self.ceiling and now - self._grown_at >= GROWTH_PERIOD:
            self.limit += 1
            self._grown_at = now
        self._freed.notify()
