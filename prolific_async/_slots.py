"""A client's connection slots: a semaphore whose free slot costs no coroutine.

Every call takes a slot before its deadline starts, so that more calls than
connections wait their turn untimed. ``asyncio.Semaphore``'s ``async with`` runs two
coroutines and a generator on every call, wait or not; :meth:`Slots.take_now` is a
comparison. Waiters are served first come, first served: a slot given back goes to the
first waiter directly, so a newcomer cannot take it ahead of them.
"""

from __future__ import annotations

import asyncio
from collections import deque

__all__ = ["Slots"]


class Slots:
    """``size`` slots, taken with :meth:`take_now` or :meth:`take`, returned with :meth:`give`."""

    def __init__(self, size: int) -> None:
        if size < 0:
            raise ValueError(f"the number of slots must be >= 0, got {size!r}")
        self._free = size
        self._waiters: deque[asyncio.Future[None]] = deque()
        # While a slot is free nobody waits: a waiter is queued only when none was free,
        # and a slot is counted free only when no waiter was left to hand it to.

    def take_now(self) -> bool:
        """Take a slot if one is free and nobody waits for one (``False``: :meth:`take`)."""
        if self._free and not self._waiters:
            self._free -= 1
            return True
        return False

    async def take(self) -> None:
        """Take a slot, waiting in line for one if none is free."""
        if self.take_now():
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.give()  # handed a slot just as it was cancelled: pass it on
            raise

    def give(self) -> None:
        """Return a slot: to the first live waiter, else to the free ones."""
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            # A cancelled waiter has left the line; one of a closed loop never runs again.
            if not waiter.done() and not waiter.get_loop().is_closed():
                waiter.set_result(None)
                return
        self._free += 1
