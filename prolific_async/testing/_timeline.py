"""Deferred state transitions, applied lazily: the emulator's timers without tasks.

A transition that takes time on the real service (a dataset processing an upload, a batch
being set up, an export being generated) is scheduled as an action due at a moment of a
monotonic clock. Nothing runs in the background: whenever the emulator next looks at its
state (a request arrives, a test reads ``fake.batches``), every action that has come due
is applied in due order. Nothing can leak, and a stopped fake has nothing to cancel.

The clock is monotonic and separate from ``FakeProlific.clock`` (which only stamps
``created_at`` and friends), so a test that freezes or skews that clock never stalls a
state machine.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable

from attrs import define

__all__ = ["Timeline", "WorkflowConfig"]


@define(kw_only=True)
class WorkflowConfig:
    """How long the emulator's state machines take, and which export answer it gives."""

    processing_delay: float = 0.05
    """Seconds a dataset upload (V3) or an import job (V4) takes to process."""
    setup_delay: float = 0.05
    """Seconds a batch spends in PROCESSING after a setup request."""
    export_delay: float = 0.05
    """Seconds an export job spends ``generating``."""
    sync_delay: float = 0.05
    """Seconds a batch sync job takes (manual or automatic), once its turn comes."""
    migration_delay: float = 0.05
    """Seconds a dataset's schema migration spends ``processing``."""
    legacy_exports: bool = False
    """Answer export requests the older way: 200 ``complete`` with the URL at once."""
    legacy_v3_uploads: bool = False
    """Give a V3 dataset's upload URL no ``import_id``, as the docs describe it. By
    default it names an import job, as every V4 one does: the official CLI refuses an
    upload URL without one and follows the upload through that job."""


class Timeline:
    """Actions due at moments of a monotonic clock, applied by :meth:`settle`.

    Args:
        monotonic: returns the current time in seconds (never goes back).
    """

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._order = itertools.count()
        self._due: list[tuple[float, int, Callable[[], None]]] = []

    def now(self) -> float:
        """The monotonic time, in seconds."""
        return self._monotonic()

    def after(self, delay: float, action: Callable[[], None]) -> float:
        """Schedule ``action`` ``delay`` seconds from now; return the moment it is due.

        An action that must not run any more (its job was restarted or deleted) checks
        that itself when it runs: scheduling is append-only.
        """
        return self.at(self.now() + max(0.0, delay), action)

    def at(self, moment: float, action: Callable[[], None]) -> float:
        """Schedule ``action`` at the monotonic ``moment``; return it."""
        heapq.heappush(self._due, (moment, next(self._order), action))
        return moment

    def settle(self) -> None:
        """Apply every action that has come due, earliest first (ties: first scheduled)."""
        now = self.now()
        while self._due and self._due[0][0] <= now:
            _, _, action = heapq.heappop(self._due)
            action()

    @property
    def pending(self) -> int:
        """How many actions are scheduled and not yet applied."""
        return len(self._due)
