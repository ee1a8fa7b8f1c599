"""Reading a journal while a run may be writing it: the run's look-ups, ``journal show``.

Reads never wait for the writer (the file is in WAL mode, :mod:`._journal_store`), so a
run looks its items up on its own thread and another process can show the journal.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from ._journal_records import ItemKey, JournalEntry
from ._journal_store import (
    SELECT_ALL,
    SELECT_ITEM,
    check,
    check_format,
    closed_on_error,
    connect,
    ensure_journal_file,
    read_entry,
)
from .errors import JournalError

__all__ = ["ClaimedIds", "Reader", "keys_changed"]

#: The same of a format 2 journal, read where it may not be written (no ``request_id``).
SELECT_ITEM_2: Final = SELECT_ITEM.replace("error, request_id", "error, NULL")
SELECT_ALL_2: Final = SELECT_ALL.replace("error, request_id", "error, NULL")
COUNTS: Final = (
    "SELECT count(*), count(batch), "
    "count(CASE WHEN batch IS NULL AND error IS NOT NULL THEN 1 END), "
    "count(CASE WHEN batch IS NOT NULL AND reconciled = 1 THEN 1 END), "
    "count(CASE WHEN batch IS NULL AND error IS NULL AND started_at IS NULL "
    "AND last_sent_at IS NULL THEN 1 END), "
    "count(CASE WHEN batch IS NULL AND error IS NULL AND started_at IS NULL "
    "AND last_sent_at IS NOT NULL THEN 1 END) "
    "FROM items"
)


def _connect_reader(path: Path) -> sqlite3.Connection:
    """A connection that only reads (``query_only``), read-write underneath where it may be.

    As the last connection to close, a read-write one folds the WAL back into the file
    and removes it; a read-only one cannot, and would leave ``-wal`` and ``-shm`` behind.
    """
    uri = path.resolve().as_uri()
    try:
        try:
            connection = connect(f"{uri}?mode=rw", uri=True)
        except sqlite3.OperationalError:  # a file we may not write: read it as it is
            return connect(f"{uri}?mode=ro", uri=True)
        connection.execute("PRAGMA query_only = ON")
    except sqlite3.Error as exc:
        raise JournalError(f"cannot open the journal {path}: {exc}") from exc
    return connection


def keys_changed(path: Path, what: str, recorded: ItemKey, key: str | None) -> str:
    """Why a request whose key was added or taken away since the journal was written is refused."""
    now = "no key" if key is None else f"the key {key!r}"
    was = (
        f"at position {recorded}, without a key"
        if isinstance(recorded, int)
        else (f"under the key {recorded!r}")
    )
    return (
        f"{what} is recorded in {path} {was}, but now has {now}: matched by it, the batch "
        "an earlier run made would be made again. Keep the keys as they were when the "
        "journal was written"
    )


class Reader:
    """A read-only view of a journal: one item's entry, all entries, counts, claims.

    Reads never wait for the run's writer (WAL), so the run looks items up on its own
    thread. A missing or empty file reads as a journal with no items.
    """

    def __init__(self, path: Path, operation: str | None) -> None:
        """Open ``path``, checking it records ``operation`` (any operation if ``None``).

        Raises:
            JournalError: it is not a journal of a format this version reads (or of
                ``operation``).
        """
        self.path = path
        self._connection: sqlite3.Connection | None = None
        self.operation = operation
        self._format_2 = False
        if not ensure_journal_file(path):
            return
        connection = _connect_reader(path)
        with closed_on_error(connection, path):
            if operation is None:
                check_format(connection, path)  # before its tables are read: another DB
                row = connection.execute("SELECT value FROM meta WHERE key = 'operation'")
                found = row.fetchone()
                operation = self.operation = None if found is None else str(found[0])
            self._format_2 = check(connection, path, str(operation)) == 2
        self._connection = connection

    def close(self) -> None:
        """Close the connection. Safe to call more than once."""
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def get(self, item: ItemKey) -> JournalEntry | None:
        """The entry of ``item``, if the journal has one.

        Raises:
            JournalError: its row is corrupt, or the file cannot be read.
        """
        if self._connection is None:
            return None
        cursor = self._query(self._select(SELECT_ITEM, SELECT_ITEM_2), (item,))
        try:  # inline, not _rows: a resumed run looks up every item
            row = cursor.fetchone()
        except sqlite3.Error as exc:
            raise self._unreadable(exc) from None
        return None if row is None else read_entry(row, f"{self.path}: ")[1]

    def entries(self) -> Iterator[tuple[ItemKey, JournalEntry]]:
        """Every item's entry, read as it goes (memory stays flat in the journal's size)."""
        if self._connection is None:
            return
        for row in self._rows(self._select(SELECT_ALL, SELECT_ALL_2), ()):
            yield read_entry(row, f"{self.path}: ")

    def recorded_by_position(self, index: int, fingerprint: str) -> bool:
        """Whether the journal holds this request at ``index``, without a key.

        A request given a key now whose position the journal recorded without one: a run
        matching it by its key would not see it was made, and would make it again.
        """
        if self._connection is None:
            return False
        query = "SELECT 1 FROM items WHERE item = ? AND fingerprint = ?"
        return self._query(query, (index, fingerprint)).fetchone() is not None

    def keyed_fingerprints(self) -> Iterator[tuple[str, str]]:
        """``(key, fingerprint)`` of every item recorded under a key, read as it goes."""
        if self._connection is None:
            return
        query = "SELECT item, fingerprint FROM items WHERE typeof(item) = 'text'"
        for item, printed in self._rows(query, ()):
            yield str(item), str(printed)

    def has_batch(self, batch_id: str) -> bool:
        """Whether the journal records ``batch_id`` as an item's batch."""
        if self._connection is None:
            return False
        query = "SELECT 1 FROM items WHERE batch_id = ? LIMIT 1"
        return self._query(query, (batch_id,)).fetchone() is not None

    def has_any_batch(self) -> bool:
        """Whether the journal records a batch for any item."""
        if self._connection is None:
            return False
        query = "SELECT 1 FROM items WHERE batch_id IS NOT NULL LIMIT 1"
        return self._query(query, ()).fetchone() is not None

    def counts(self) -> dict[str, int]:
        """Items in all, done, failed, in flight, not made, not attempted, done by adopting.

        Each item is in one of done, failed, in flight, not made and not attempted
        (:func:`~._journal_records.status_of`).
        """
        if self._connection is None:
            names = ("items", "done", "failed", "in flight", "not made", "not attempted")
            return dict.fromkeys((*names, "reconciled"), 0)
        total, done, failed, reconciled, unsent, not_made = self._query(COUNTS, ()).fetchone()
        return {
            "items": total,
            "done": done,
            "failed": failed,
            "in flight": total - done - failed - not_made - unsent,
            "not made": not_made,
            "not attempted": unsent,
            "reconciled": reconciled,
        }

    def _select(self, query: str, of_format_2: str) -> str:
        """``query``, or ``of_format_2`` while the file is still format 2.

        A run in another process may migrate the file while it is open here: from then
        on its rows have a ``request_id`` to read.
        """
        if self._format_2:
            (version,) = self._query("PRAGMA user_version", ()).fetchone()
            self._format_2 = version == 2
        return of_format_2 if self._format_2 else query

    def _query(self, sql: str, parameters: tuple[object, ...]) -> sqlite3.Cursor:
        assert self._connection is not None  # noqa: S101 (the callers check)
        try:
            return self._connection.execute(sql, parameters)
        except sqlite3.Error as exc:
            raise JournalError(f"cannot read the journal {self.path}: {exc}") from exc

    def _rows(self, sql: str, parameters: tuple[object, ...]) -> Iterator[Any]:
        """The rows of ``sql``, read as they go; a row SQLite cannot hand over is refused.

        A text column holding bytes that are not UTF-8 (a damaged page) fails as its
        row is fetched, not when the query runs.
        """
        cursor = self._query(sql, parameters)
        while True:
            try:
                row = cursor.fetchone()
            except sqlite3.Error as exc:
                raise self._unreadable(exc) from None
            if row is None:
                return
            yield row

    def _unreadable(self, exc: sqlite3.Error) -> JournalError:
        """A row SQLite could not hand over (its message quotes the bytes: not kept)."""
        why = "a record holds text that is not UTF-8" if "decode" in str(exc) else exc
        return JournalError(f"cannot read the journal {self.path}: {why}")


class ClaimedIds(set[str]):
    """Batch ids a run has claimed: those it added, and every batch its journal records.

    The journal's are looked up when asked about (by the batch-id index), not loaded, so
    a resumed run does not hold the ids of every batch an earlier run made.
    """

    def __init__(self, reader: Reader | None) -> None:
        """``reader``: the journal's, or ``None`` when it recorded no batch when opened."""
        super().__init__()
        self._reader = reader

    def __contains__(self, batch_id: object) -> bool:
        if super().__contains__(batch_id):
            return True
        reader = self._reader
        return reader is not None and isinstance(batch_id, str) and reader.has_batch(batch_id)
