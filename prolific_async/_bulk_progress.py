"""A live view of a bulk run, for a progress display: what runs and what waits."""

from __future__ import annotations

from datetime import datetime

from attrs import define, field

__all__ = ["BulkProgress"]


@define(eq=False)
class BulkProgress:
    """What a bulk run is doing right now; the run updates it, the caller reads it.

    Pass one as ``progress=`` to ``create_many``/``duplicate_many`` and read it at any
    time (a progress bar's refresh, say); the caller must not change it. Requests the
    journal reports as finished never appear here: they cost no work.
    """

    in_progress: int = 0
    """Requests started and not finished, those in ``waiting`` included."""
    waiting: dict[int, datetime] = field(factory=dict)
    """Requests waiting to reconcile, by index, with when each lists the workspace again.

    Each one's create (or duplicate) may have reached the server, and no listing shows
    its batch yet: it is sent again only if a listing taken ``reconcile_delay`` after
    its last send still shows none. It sends nothing and holds no concurrency slot
    while it waits.
    """

    relisting: dict[str, tuple[datetime, str]] = field(factory=dict)
    """Workspaces whose last listing said it was partial, with when each is listed
    again and what the listing said (``meta.count`` above its results, a ``next``
    link...). The requests reconciled there wait for it."""
    sending: set[int] = field(factory=set)
    """Requests whose create (or duplicate) was sent and whose result is not yet
    reported, by index: each may have made its batch. Those still here when a run is
    cancelled are in doubt (a journal reconciles them on resume); requests started
    and never sent are not here."""

    @property
    def waiting_until(self) -> datetime | None:
        """When the first waiting request lists again; ``None`` when none waits."""
        return min(self.waiting.values(), default=None)
