"""The bulk layer's journal: an SQLite file that makes a run resumable, one row per item.

A run records each step of each item (:mod:`._journal_records` lists the four kinds of
record) before the step is taken: a ``start`` is committed before its POST is sent. The
file holds one row per item (:mod:`._journal_store`), so a resumed run looks each item up
when it comes to it instead of loading the journal, and its memory stays flat however
long the journal is. One thread owns the write connection (:mod:`._journal_writer`): the
event loop never waits on a disk write. A run holds the journal's lock from open to
close, so a second run on the same journal is refused at once.

A JSON Lines journal of the first format is refused with the command that converts it
(:mod:`._journal_import`).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import attrs
from cattrs.errors import BaseValidationError

from ._converter import converter
from ._journal_lock import RunLock
from ._journal_reader import ClaimedIds, Reader, keys_changed
from ._journal_records import (
    ItemKey,
    JournalEntry,
    RecordError,
    apply_record,
    entry_to_row,
    fold_sent,
    record_item,
)
from ._journal_store import connect_for_writing, ensure_journal_file
from ._journal_writer import Writer
from ._logging import logger
from ._outcome import Outcome, error_outcome
from .errors import (
    APIStatusError,
    AuthenticationError,
    JournalError,
    PermissionDeniedError,
    ProlificError,
)
from .models.batches import Batch

__all__ = [
    "ItemKey",
    "Journal",
    "JournalEntry",
    "is_final_failure",
    "stored_operation",
]

#: At most this many items are remembered as having no record (see ``Journal.entry``).
UNRECORDED_CACHE: Final = 4096
#: How an operation is named in a journal, where that differs from the code's name.
STORED_OPERATION: Final = {"mixed": "provision"}


def stored_operation(operation: str) -> str:
    """The name a journal records ``operation`` by (``mixed`` is ``provision``)."""
    return STORED_OPERATION.get(operation, operation)


class Journal:
    """A locked SQLite file recording each item of a bulk run, one row per item.

    Pass the same journal (the same path) to a re-run of the same manifest: items that
    finished are reported from it without a request, items that were in flight when the
    run stopped are reconciled, and the rest are done. A journal belongs to one kind of
    run (create, duplicate, or mixed) and one manifest; it is refused for another, and
    while one run uses it (in this process or another) it is refused to any other.

    Args:
        path: the file; created if missing (with ``<path>.lock`` beside it, and while a
            run writes, SQLite's ``<path>-wal`` and ``<path>-shm``).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._path = Path(path)
        self._lock: RunLock | None = None
        self._reader: Reader | None = None
        self._writer: Writer | None = None
        self._open_items: dict[ItemKey, JournalEntry] = {}
        """The entries of items this run has written and not finished (at most the run's
        items in progress): the next record of one folds into it without a read."""
        self._unrecorded: set[ItemKey] = set()
        """Items :meth:`entry` found no record of and nothing has been written for since,
        so their first record needs no read either (a cache: cleared when it grows)."""
        self._new_above: int | None = None
        """In a journal this run created, the highest index written so far: no index
        above it has a row, so looking one up needs no read (``None``: a journal of an
        earlier run, where any item may have one)."""

    def __repr__(self) -> str:
        return f"Journal({str(self._path)!r})"

    @property
    def path(self) -> Path:
        """The journal file."""
        return self._path

    # -- a run: open, look items up, write, close -----------------------------------------

    def open(self, operation: str) -> None:
        """Lock the journal for a run of ``operation`` and open it (creating it if need be).

        Call it on the event loop that writes the records.

        Raises:
            JournalError: it is in use by another run, belongs to another operation, is
                a JSON Lines journal of the first format, or is not a journal.
        """
        if self._lock is not None:
            raise JournalError(f"{self._path} is already in use by a running bulk call")
        operation = stored_operation(operation)
        lock = RunLock.acquire(self._path)
        reader: Reader | None = None
        try:
            resuming = ensure_journal_file(self._path)  # False: missing, or empty (new)
            connection = connect_for_writing(self._path, operation)
            try:
                reader = Reader(self._path, operation)
                self._writer = Writer(connection, self._path)
            except BaseException:
                connection.close()
                raise
        except BaseException:
            if reader is not None:
                reader.close()
            lock.release()
            raise
        self._lock, self._reader = lock, reader
        self._new_above = None if resuming else -1
        if resuming:
            logger.info("resuming the %s run recorded in journal %s", operation, self._path)

    def entry(self, item: ItemKey) -> JournalEntry | None:
        """What the open journal records of ``item`` (one indexed read, no write).

        Raises:
            JournalError: the journal is not open, or the item's record is corrupt.
        """
        if self._reader is None:
            raise JournalError(f"{self._path} is not open")
        entry = self._open_items.get(item)
        if entry is None and not self._surely_unwritten(item):
            entry = self._reader.get(item)
        if entry is None:
            if len(self._unrecorded) >= UNRECORDED_CACHE:
                self._unrecorded.clear()  # items that ended with no record: start afresh
            self._unrecorded.add(item)
        return entry

    def check_keyed_as_before(self, index: int, key: str | None, fingerprint: str) -> None:
        """Refuse a keyed request whose position the journal recorded without a key.

        Matched by its key, the run would not see that an earlier run made it.

        Raises:
            JournalError: the journal holds this request at ``index``, without a key.
        """
        if key is None or self._reader is None or self._new_above is not None:
            return  # no key, or a journal this run created: nothing to compare
        if self._reader.recorded_by_position(index, fingerprint):
            raise JournalError(keys_changed(self._path, f"request {index}", index, key))

    def batch_of(self, item: ItemKey, entry: JournalEntry) -> Batch | None:
        """The batch ``entry`` records for ``item``, if any.

        Raises:
            JournalError: the recorded batch does not read as a batch (a corrupted row).
        """
        try:
            return entry.to_batch()
        except (ValueError, TypeError, KeyError, BaseValidationError) as exc:
            raise JournalError(
                f"{self._path}: the record of item {item!r} holds a batch that cannot be "
                f"read: {exc}"
            ) from exc

    def claimed_ids(self) -> ClaimedIds:
        """An empty set of claimed batch ids that also holds every batch the journal records."""
        if self._reader is None:
            raise JournalError(f"{self._path} is not open")
        return ClaimedIds(self._reader if self._reader.has_any_batch() else None)

    async def close(self) -> None:
        """Commit what is still queued, then close the file and drop the lock.

        Safe to call more than once; even when the caller is cancelled, the queued
        records are committed whole and the writer's thread has ended when it returns.
        """
        writer, self._writer = self._writer, None
        reader, self._reader = self._reader, None
        self._open_items = {}
        self._unrecorded = set()
        self._new_above = None
        if reader is not None:
            reader.close()  # first: the writer's is then the last connection, and removes the WAL
        try:
            if writer is not None:
                await writer.close()
        finally:
            lock, self._lock = self._lock, None
            if lock is not None:
                lock.release()

    # -- reading without a run -------------------------------------------------------------

    def read(self, operation: str) -> dict[ItemKey, JournalEntry]:
        """Load every entry of the journal for ``operation``, without locking or writing.

        This holds the whole journal in memory; a run does not use it (it looks each
        item up when it comes to it).

        Raises:
            JournalError: as :meth:`open`, but never "in use".
        """
        with self.reading(operation) as reader:
            return dict(reader.entries())

    @contextmanager
    def reading(self, operation: str | None) -> Iterator[Reader]:
        """A read-only view of the journal, closed on exit (``None``: any operation).

        Raises:
            JournalError: as :meth:`read`.
        """
        reader = Reader(self._path, None if operation is None else stored_operation(operation))
        try:
            yield reader
        finally:
            reader.close()

    # -- the records, written ------------------------------------------------------------

    async def write_start(self, item: ItemKey, fingerprint: str, *, at: datetime) -> None:
        """Record the first send of ``item``, before it goes out."""
        entry = self._next_entry(item, fingerprint)
        entry.started_at = entry.last_sent_at = at
        entry.error = entry.request_id = None  # a retried failure starts over
        await self._queue(item, entry)

    async def write_sent(self, item: ItemKey, fingerprint: str, *, at: datetime) -> None:
        """Record a later send of ``item`` (before it goes out, or its real time) as ``sent``."""
        await self.write_sent_soon(item, fingerprint, at=at)

    def write_sent_soon(
        self, item: ItemKey, fingerprint: str, *, at: datetime
    ) -> asyncio.Future[None]:
        """Queue :meth:`write_sent`'s record at once; the future resolves once it is committed.

        For a caller that cannot wait: a send as it goes out (``CallState.on_connected``).
        """
        entry = self._next_entry(item, fingerprint)
        fold_sent(entry, at)
        return self._submit(item, entry)

    async def write_done(
        self,
        item: ItemKey,
        fingerprint: str,
        *,
        batch: Batch,
        reconciled: bool,
        attempts: int,
        request_id: str | None = None,
    ) -> None:
        """Record the batch that exists for ``item`` (and the id of the answer that said so)."""
        entry = self._next_entry(item, fingerprint)
        entry.batch = converter.unstructure(batch)
        entry.reconciled, entry.attempts = bool(reconciled), attempts
        entry.request_id = request_id
        await self._queue(item, entry)

    async def write_failed(self, item: ItemKey, fingerprint: str, *, error: ProlificError) -> None:
        """Record that ``item`` failed for good (a re-run reports it unless retrying).

        Only a status error is final (:func:`is_final_failure`): its request id is kept.
        """
        recorded: dict[str, Any] = {"type": type(error).__name__, "message": str(error)}
        request_id = None
        if isinstance(error, APIStatusError):
            recorded.update(status_code=error.status_code, method=error.method, url=error.url)
            request_id = error.request_id
        record = _record("failed", item, fingerprint, error=recorded, request_id=request_id)
        await self.append(record)

    async def write_not_attempted(self, item: ItemKey, fingerprint: str) -> None:
        """Record that a stopped run never sent ``item`` (a plain re-run sends it)."""
        await self.append(_record("not_attempted", item, fingerprint))

    async def write_not_made(self, item: ItemKey, fingerprint: str) -> None:
        """Record that ``item``'s sends provably made nothing (a re-run sends it at once)."""
        await self.append(_record("not_made", item, fingerprint))

    async def append(self, record: dict[str, Any]) -> None:
        """Queue ``record`` and return once it is committed.

        The record is committed even if the caller is cancelled while waiting for it.

        Raises:
            JournalError: the journal is not open, the record is not of the documented
                shape, or a commit failed (the journal then refuses further records:
                what it holds is all true).
        """
        self._check_open()
        try:
            item = record_item(record)  # checked here, so the caller hears of a bad record
            entry = apply_record(record, self._current(item))
        except RecordError as exc:
            raise JournalError(f"{self._path}: not a journal record ({exc}): {record!r}") from exc
        await self._queue(item, entry)

    # The run's own records (``write_*``) fold straight into the entry: they are of the
    # documented shape by construction, so they skip building and checking a record.

    def _check_open(self) -> None:
        if self._writer is None or self._reader is None:
            raise JournalError(f"{self._path} is not open")

    def _current(self, item: ItemKey) -> JournalEntry | None:
        """The item's entry as written so far (read from the file only if need be)."""
        current = self._open_items.get(item)
        if current is None and self._reader is not None and not self._surely_unwritten(item):
            current = self._reader.get(item)  # an item of an earlier run, or none
        return current

    def _surely_unwritten(self, item: ItemKey) -> bool:
        """Whether the file holds no row of ``item``, known without reading it."""
        if item in self._unrecorded:
            return True
        new_above = self._new_above
        return new_above is not None and type(item) is int and item > new_above

    def _next_entry(self, item: ItemKey, fingerprint: str) -> JournalEntry:
        """A copy of the item's entry to fold a record of ``fingerprint`` into.

        A fingerprint that differs from the entry's starts the entry afresh (as
        :func:`~._journal_records.apply_record` does).
        """
        self._check_open()
        if isinstance(item, bool) or not isinstance(item, int | str):
            raise JournalError(f"{self._path}: an item is an integer index or a string key")
        current = self._current(item)
        if current is None or current.fingerprint != fingerprint:
            return JournalEntry(fingerprint=fingerprint)
        return attrs.evolve(current)  # a copy to fold a record into

    async def _queue(self, item: ItemKey, entry: JournalEntry) -> None:
        """Queue the item's new row and return once it is committed."""
        # The row is committed whether or not this caller still waits: cancelling the
        # wait does not take it out of its group.
        await self._submit(item, entry)

    def _submit(self, item: ItemKey, entry: JournalEntry) -> asyncio.Future[None]:
        """Queue the item's new row; the future resolves once it is committed."""
        assert self._writer is not None  # noqa: S101 (checked by the callers)
        # Folded here, on the loop, so the writer thread only writes whole rows.
        done = self._writer.submit(entry_to_row(item, entry))
        self._unrecorded.discard(item)
        if self._new_above is not None and type(item) is int and item > self._new_above:
            self._new_above = item  # raised even if the commit fails: reads are always right
        if entry.batch is not None or entry.error is not None or entry.started_at is None:
            self._open_items.pop(item, None)  # finished: nothing more is written of it
        else:
            self._open_items[item] = entry
        return done


def _record(kind: str, item: ItemKey, fingerprint: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "item": item, "fingerprint": fingerprint, **fields}


def is_final_failure(error: ProlificError) -> bool:
    """Whether a re-run should report this failure instead of trying again.

    A definitive 4xx, but not a 401/403: those are about the token, and a re-run with a
    good one should try the item again without ``retry_failed``.
    """
    return (
        isinstance(error, APIStatusError)
        and error_outcome(error) is Outcome.REJECTED
        and not isinstance(error, AuthenticationError | PermissionDeniedError)
    )
