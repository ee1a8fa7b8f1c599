"""The journal's file: an SQLite database with one row per item.

The database is in WAL mode with ``synchronous=FULL``: a transaction is on disk when its
commit returns, and a crash at any point (``kill -9``, a power cut) leaves the last
committed state. Readers (the run's per-item look-ups, ``journal show``) never wait for
the writer, nor it for them.

The lock a run holds on its journal is in :mod:`._journal_lock`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Final

from ._journal_records import (
    ItemKey,
    JournalEntry,
    RecordError,
    apply_record,
    entry_from_row,
    entry_to_row,
    record_item,
)
from .errors import JournalError

__all__ = [
    "IMPORT_COMMAND",
    "Reader",
    "connect_for_writing",
    "ensure_journal_file",
    "write_records",
    "write_rows",
]

#: ``PRAGMA application_id`` of a journal ("PAJL"), so no other database is taken for one.
APPLICATION_ID: Final = 0x50414A4C
#: The format: 1 was JSON Lines, 2 this database, 3 added each item's ``request_id``. A
#: journal of format 2 is read as it is and gains the column when a run opens it.
VERSION: Final = 3
READABLE_VERSIONS: Final = (2, VERSION)
SQLITE_MAGIC: Final = b"SQLite format 3\x00"
IMPORT_COMMAND: Final = "prolific-async journal import OLD NEW"
SCHEMA: Final = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL)",
    # No declared type on item: an int index and a str key stay apart (0 is not '0').
    "CREATE TABLE items (item PRIMARY KEY NOT NULL, fingerprint TEXT NOT NULL, "
    "started_at TEXT, last_sent_at TEXT, batch_id TEXT, batch TEXT, "
    "reconciled INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0, "
    "error TEXT, request_id TEXT) WITHOUT ROWID",
    "CREATE INDEX items_by_batch ON items (batch_id) WHERE batch_id IS NOT NULL",
)
#: Rows are read and written in the order of ``_journal_records.COLUMNS`` (the SQL is
#: spelled out: none is built from strings).
SELECT_ITEM: Final = (
    "SELECT item, fingerprint, started_at, last_sent_at, batch_id, batch, reconciled, "
    "attempts, error, request_id FROM items WHERE item = ?"
)
SELECT_ALL: Final = (
    "SELECT item, fingerprint, started_at, last_sent_at, batch_id, batch, reconciled, "
    "attempts, error, request_id FROM items ORDER BY item"
)
#: The same of a format 2 journal, read where it may not be written (no ``request_id``).
SELECT_ITEM_2: Final = SELECT_ITEM.replace("error, request_id", "error, NULL")
SELECT_ALL_2: Final = SELECT_ALL.replace("error, request_id", "error, NULL")
REPLACE_ITEM: Final = "INSERT OR REPLACE INTO items VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
#: Format 2 to 3, in one transaction with the version it sets.
MIGRATE_2: Final = "ALTER TABLE items ADD COLUMN request_id TEXT"
COUNTS: Final = (
    "SELECT count(*), count(batch), "
    "count(CASE WHEN batch IS NULL AND error IS NOT NULL THEN 1 END), "
    "count(CASE WHEN batch IS NOT NULL AND reconciled = 1 THEN 1 END), "
    "count(CASE WHEN batch IS NULL AND error IS NULL AND started_at IS NULL THEN 1 END) "
    "FROM items"
)


def ensure_journal_file(path: Path) -> bool:
    """Whether ``path`` holds a journal database (``False``: missing or empty).

    Raises:
        JournalError: it is a JSON Lines journal of the first format (to be imported),
            or not a journal at all.
    """
    try:
        with path.open("rb") as file:
            start = file.read(4096)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise JournalError(f"cannot read the journal {path}: {exc}") from exc
    if not start:
        return False
    if start.startswith(SQLITE_MAGIC):
        return True
    try:
        header = json.loads(start.split(b"\n", 1)[0])
    except ValueError:
        header = None
    if isinstance(header, dict) and header.get("type") == "header":
        raise JournalError(
            f"{path} is a journal of the earlier JSON Lines format, which this version "
            f"no longer writes: convert it with `{IMPORT_COMMAND}` (for example "
            f"`prolific-async journal import {path} {path.with_suffix('.journal')}`) "
            "and run again with the new file"
        )
    raise JournalError(f"{path} is not a prolific_async journal (not an SQLite database)")


def _connect(target: str, *, uri: bool = False, writer: bool = False) -> sqlite3.Connection:
    # isolation_level=None: no implicit transactions; the writer opens its own. The
    # writer's connection is made here and then used by its thread alone.
    connection = sqlite3.connect(
        target, uri=uri, isolation_level=None, check_same_thread=not writer, timeout=5.0
    )
    connection.execute("PRAGMA synchronous=FULL")
    return connection


def _connect_reader(path: Path) -> sqlite3.Connection:
    """A connection that only reads (``query_only``), read-write underneath where it may be.

    As the last connection to close, a read-write one folds the WAL back into the file
    and removes it; a read-only one cannot, and would leave ``-wal`` and ``-shm`` behind.
    """
    uri = path.resolve().as_uri()
    try:
        try:
            connection = _connect(f"{uri}?mode=rw", uri=True)
        except sqlite3.OperationalError:  # a file we may not write: read it as it is
            return _connect(f"{uri}?mode=ro", uri=True)
        connection.execute("PRAGMA query_only = ON")
    except sqlite3.Error as exc:
        raise JournalError(f"cannot open the journal {path}: {exc}") from exc
    return connection


def _check(connection: sqlite3.Connection, path: Path, operation: str) -> int:
    """Refuse a database that is not a journal, is newer, or records another operation.

    Returns its format (one of :data:`READABLE_VERSIONS`).
    """
    (application_id,) = connection.execute("PRAGMA application_id").fetchone()
    if application_id != APPLICATION_ID:
        raise JournalError(f"{path} is not a prolific_async journal (another SQLite database)")
    (version,) = connection.execute("PRAGMA user_version").fetchone()
    if version not in READABLE_VERSIONS:
        raise JournalError(
            f"{path} is a journal of format {version}; this version of prolific_async "
            f"reads formats {READABLE_VERSIONS[0]} to {VERSION}"
        )
    row = connection.execute("SELECT value FROM meta WHERE key = 'operation'").fetchone()
    recorded = None if row is None else row[0]
    if recorded != operation:
        raise JournalError(
            f"{path} records a {recorded!r} run; it cannot be used for a {operation!r} run"
        )
    return int(version)


def connect_for_writing(path: Path, operation: str) -> sqlite3.Connection:
    """Open (creating it if need be) the journal for ``operation``; checked, in WAL mode.

    Raises:
        JournalError: the file is not a journal of this format and operation, or
            cannot be opened.
    """
    exists = ensure_journal_file(path)
    try:
        connection = _connect(str(path), writer=True)
    except sqlite3.Error as exc:
        raise JournalError(f"cannot open the journal {path}: {exc}") from exc
    try:
        (mode,) = connection.execute("PRAGMA journal_mode=WAL").fetchone()
        if mode != "wal":
            raise JournalError(f"{path}: SQLite cannot keep a write-ahead log here ({mode})")
        if not exists:
            connection.execute("BEGIN IMMEDIATE")
            for statement in SCHEMA:
                connection.execute(statement)
            connection.execute("INSERT INTO meta VALUES ('operation', ?)", (operation,))
            connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            connection.execute(f"PRAGMA user_version = {VERSION}")
            connection.execute("COMMIT")
        if _check(connection, path, operation) < VERSION:
            _migrate(connection)
    except sqlite3.Error as exc:
        connection.close()
        raise JournalError(f"{path} is not a usable journal: {exc}") from exc
    except BaseException:
        connection.close()
        raise
    return connection


def _migrate(connection: sqlite3.Connection) -> None:
    """Bring a format 2 journal to this format: all of it or, on any failure, none."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        (version,) = connection.execute("PRAGMA user_version").fetchone()
        if version == 2:  # not migrated meanwhile by another process
            connection.execute(MIGRATE_2)
            connection.execute(f"PRAGMA user_version = {VERSION}")
        connection.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            connection.execute("ROLLBACK")
        raise


def write_records(connection: sqlite3.Connection, records: Iterable[dict[str, Any]]) -> None:
    """Fold ``records`` into their items' rows in one transaction (all or nothing).

    The records were checked when they were queued (:func:`apply_record` again here
    cannot fail on them); a row that does not read back refuses the whole group.

    Raises:
        sqlite3.Error: the transaction failed and was rolled back.
        JournalError: a stored row is corrupt.
    """
    connection.execute("BEGIN IMMEDIATE")
    try:
        for record in records:
            item = record_item(record)
            row = connection.execute(SELECT_ITEM, (item,)).fetchone()
            current = None if row is None else _entry(row, "")[1]
            connection.execute(REPLACE_ITEM, entry_to_row(item, apply_record(record, current)))
        connection.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            connection.execute("ROLLBACK")
        raise


#: Rows per INSERT in :func:`write_rows`: 10 parameters a row, within SQLite's limit on
#: parameters a statement (32766 since SQLite 3.32, 999 before).
ROWS_PER_STATEMENT: Final = 3000 if sqlite3.sqlite_version_info >= (3, 32, 0) else 99


@functools.cache
def _replace_rows(count: int) -> str:
    """``INSERT OR REPLACE`` of ``count`` rows in one statement (placeholders only)."""
    placeholders = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * count)
    return f"INSERT OR REPLACE INTO items VALUES {placeholders}"  # noqa: S608 (no values)


def write_rows(connection: sqlite3.Connection, rows: list[tuple[object, ...]]) -> None:
    """Write whole item rows (later rows of an item win) in one transaction.

    The rows were folded on the event loop; here they only reach the file, in as few
    statements as possible: each one makes the writer thread give up the GIL and wait
    to take it back while the loop is busy. Up to ``ROWS_PER_STATEMENT`` rows are one
    statement, which SQLite commits as its own transaction (one fsync); more are
    wrapped in an explicit one.

    Raises:
        sqlite3.Error: the transaction failed and was rolled back.
    """
    if len(rows) <= ROWS_PER_STATEMENT:
        connection.execute(_replace_rows(len(rows)), [value for row in rows for value in row])
        return
    connection.execute("BEGIN IMMEDIATE")
    try:
        for start in range(0, len(rows), ROWS_PER_STATEMENT):
            chunk = rows[start : start + ROWS_PER_STATEMENT]
            connection.execute(_replace_rows(len(chunk)), [value for row in chunk for value in row])
        connection.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            connection.execute("ROLLBACK")
        raise


def _entry(row: tuple[Any, ...], where: str) -> tuple[ItemKey, JournalEntry]:
    try:
        return entry_from_row(row)
    except RecordError as exc:
        item = row[0] if row else None
        raise JournalError(f"{where}the record of item {item!r} is not valid: {exc}") from exc


class Reader:
    """A read-only view of a journal: one item's entry, all entries, counts, claims.

    Reads never wait for the run's writer (WAL), so the run looks items up on its own
    thread. A missing or empty file reads as a journal with no items.
    """

    def __init__(self, path: Path, operation: str | None) -> None:
        """Open ``path``, checking it records ``operation`` (any operation if ``None``).

        Raises:
            JournalError: it is not a journal of this format (and operation).
        """
        self.path = path
        self._connection: sqlite3.Connection | None = None
        self.operation = operation
        self._select_item, self._select_all = SELECT_ITEM, SELECT_ALL
        if not ensure_journal_file(path):
            return
        connection = _connect_reader(path)
        try:
            if operation is None:
                row = connection.execute("SELECT value FROM meta WHERE key = 'operation'")
                found = row.fetchone()
                operation = self.operation = None if found is None else str(found[0])
            if _check(connection, path, str(operation)) == 2:
                self._select_item, self._select_all = SELECT_ITEM_2, SELECT_ALL_2
        except sqlite3.Error as exc:
            connection.close()
            raise JournalError(f"{path} is not a usable journal: {exc}") from exc
        except BaseException:
            connection.close()
            raise
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
        row = self._query(self._select_item, (item,)).fetchone()
        return None if row is None else _entry(row, f"{self.path}: ")[1]

    def entries(self) -> Iterator[tuple[ItemKey, JournalEntry]]:
        """Every item's entry, read as it goes (memory stays flat in the journal's size)."""
        if self._connection is None:
            return
        for row in self._query(self._select_all, ()):
            yield _entry(row, f"{self.path}: ")

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
        """Items in all, done, failed, in flight, not attempted, and done by adopting."""
        if self._connection is None:
            return dict.fromkeys(
                ("items", "done", "failed", "in flight", "not attempted", "reconciled"), 0
            )
        total, done, failed, reconciled, unsent = self._query(COUNTS, ()).fetchone()
        return {
            "items": total,
            "done": done,
            "failed": failed,
            "in flight": total - done - failed - unsent,
            "not attempted": unsent,
            "reconciled": reconciled,
        }

    def _query(self, sql: str, parameters: tuple[object, ...]) -> sqlite3.Cursor:
        assert self._connection is not None  # noqa: S101 (the callers check)
        try:
            return self._connection.execute(sql, parameters)
        except sqlite3.Error as exc:
            raise JournalError(f"cannot read the journal {self.path}: {exc}") from exc
