"""A bulk send's real time in the journal, when the client held it after it was journaled.

The start (or ``sent``) record is written, and awaited, before the POST. After it the
client may still hold the send: in its connection slots (``concurrency`` above
``max_connections``), its rate pacer, or its connection limit (which storage transfers
share). A resumed run waits ``reconcile_delay`` from the journaled time, so that time
must not be early. On the client's own session the record of the real time is queued
as the send gets its connection (``CallState.on_connected``), without waiting for its
commit, so it is in the file within a commit of the send going out, whatever the call
does next (a run killed or cancelled mid-call keeps it); the call's end then waits for
the commit. On a caller's ``session=``, where connections are not seen, the record is
written once the call ends, with the time the last attempt was handed to aiohttp.

Either way it precedes any ``failed`` or ``not_made`` record of the item
(:func:`~._bulk_send.journal_unfinished`), which a ``sent`` record must not follow:
imported, one would put the item back in doubt. Not covered: a run killed between the
send going out and that commit (a few milliseconds) keeps the early time.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final

from .errors import JournalError

if TYPE_CHECKING:
    from ._bulk_send import Item
    from ._call import CallState
    from ._journal import Journal

__all__ = ["LATE_SEND_MARGIN", "LateSends"]

#: How much later than its journaled time a send must have gone out to be journaled
#: again. Above what the start's own commit (an fsync) costs, so a send that waited for
#: nothing writes no second record; a resumed run that lists up to this much early is
#: well within ``reconcile_delay`` (by default the attempt timeout, tens of seconds).
LATE_SEND_MARGIN: Final = timedelta(seconds=1)


def _late(journaled: datetime | None, sent: datetime | None) -> bool:
    """Whether a send at ``sent`` went out well after the time journaled for it."""
    return journaled is not None and sent is not None and sent - journaled > LATE_SEND_MARGIN


def _retrieved(record: asyncio.Future[None]) -> None:
    """Mark a record's failure as seen: the call's end raises it, unless it was cancelled."""
    if not record.cancelled():
        record.exception()


class LateSends:
    """Journals the real time of the sends of one run that went out late."""

    def __init__(self, journal: Journal | None) -> None:
        self.journal = journal

    def watch(self, item: Item, state: CallState) -> None:
        """Have ``state``'s attempts tell, as each gets its connection, when it went out."""
        if self.journal is not None:
            state.on_connected = lambda state: self._connected(item, state)

    def _connected(self, item: Item, state: CallState) -> None:
        """The send goes out now: queue its time if well after the journaled one.

        Runs inside aiohttp's connection step, so it never raises: a journal that
        refuses the record (or any error in queueing it) gives a failed future, raised
        as a ``JournalError`` when the call ends.
        """
        sent = state.sent_time
        if self.journal is None or sent is None:
            return
        at = datetime.fromtimestamp(sent, UTC)
        if not _late(item.journaled_at, at):
            return
        item.journaled_at = at
        try:
            record = self.journal.write_sent_soon(item.key, item.fingerprint, at=at)
        except Exception as exc:  # raised when the call ends, not inside aiohttp
            refused = exc
            if not isinstance(exc, JournalError):
                refused = JournalError(f"a send's real time could not be queued: {exc!r}")
                refused.__cause__ = exc
            record = asyncio.get_running_loop().create_future()
            record.set_exception(refused)
        record.add_done_callback(_retrieved)  # an earlier record of the call is superseded
        item.late_record = record

    def due(self, item: Item) -> bool:
        """Whether the call just over left a record to await or to write."""
        late = self.journal is not None and _late(item.journaled_at, item.last_sent_at)
        return item.late_record is not None or late

    async def record(self, item: Item) -> None:
        """Wait for the record queued as the send went out, or write it now.

        Raises:
            JournalError: the journal refused it.
        """
        queued, item.late_record = item.late_record, None
        if queued is not None:
            await queued
        sent = item.last_sent_at
        if self.journal is not None and sent is not None and _late(item.journaled_at, sent):
            item.journaled_at = sent  # a caller's session: timed as handed to aiohttp
            await self.journal.write_sent(item.key, item.fingerprint, at=sent)
