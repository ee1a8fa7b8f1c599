"""A wake-up call for coroutines waiting on shared state (an asyncio one, not an OS signal)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = ["Signal"]


class Signal:
    """Wakes every waiter when some state changes (no lock: the event loop is the lock).

    Whoever changes the state calls :meth:`notify`; each waiter checks its own condition
    again, so one signal serves waiters of different conditions.
    """

    def __init__(self) -> None:
        self._waiters: list[asyncio.Future[None]] = []

    def notify(self) -> None:
        """Wake every waiter."""
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        """Return once ``predicate()`` is true, checking it again after each notify."""
        while not predicate():
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            await waiter
