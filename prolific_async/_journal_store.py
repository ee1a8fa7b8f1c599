"""The journal's file: an SQLite database with one row per item.

The database is in WAL mode with ``synchronous=FULL``: a transaction is on disk when its
commit returns, and a crash at any point (``kill -9``, a power cut) leaves the last
committed state. Readers (the run's per-item look-ups, ``journal show``) never wait for
the writer, nor it for them.

Reading it is in :mod:`._journal_reader`, the lock a run holds on it in :mod:`._journal_lock`.
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
    COLUMNS,
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
    "SELECT_ALL",
    "SELECT_ITEM",
    "check",
    "check_format",
    "closed_on_error",
    "connect",
    "connect_for_writing",
    "ensure_journal_file",
    "read_entry",
    "rows_per_statement",
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
#: One row's placeholders, one a column.
ROW_PLACEHOLDERS: Final = "(" + ", ".join("?" * len(COLUMNS)) + ")"
REPLACE_ITEM: Final = f"INSERT OR REPLACE INTO items VALUES {ROW_PLACEHOLDERS}"  # noqa: S608
#: Format 2 to 3, in one transaction with the version it sets.
MIGRATE_2: Final = ("ALTER TABLE items ADD COLUMN request_id TEXT",)


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
    except (ValueError, RecursionError):
        header = None
    if isinstance(header, dict) and header.get("type") == "header":
        raise JournalError(
            f"{path} is a journal of the earlier JSON Lines format, which this version "
            f"no longer writes: convert it with `{IMPORT_COMMAND}` (for example "
            f"`prolific-async journal import {path} {path.with_suffix('.journal')}`) "
            "and run again with the new file"
        )
    raise JournalError(f"{path} is not a prolific_async journal (not an SQLite database)")


def connect(target: str, *, uri: bool = False, writer: bool = False) -> sqlite3.Connection:
    # isolation_level=None: no implicit transactions; the writer opens its own. The
    # writer's connection is made here and then used by its thread alone.
    connection = sqlite3.connect(
        target, uri=uri, isolation_level=None, check_same_thread=not writer, timeout=5.0
    )
    connection.execute("PRAGMA synchronous=FULL")
    return connection


def check(connection: sqlite3.Connection, path: Path, operation: str) -> int:
    """Refuse a database that is not a journal, is newer, or records another operation.

    Returns its format (one of :data:`READABLE_VERSIONS`).
    """
    version = check_format(connection, path)
    row = connection.execute("SELECT value FROM meta WHERE key = 'operation'").fetchone()
    recorded = None if row is None else row[0]
    if recorded is None:
        raise JournalError(f"{path} records no run (no operation in its meta table): damaged")
    if recorded != operation:
        raise JournalError(
            f"{path} records a {recorded!r} run; it cannot be used for a {operation!r} run"
        )
    return version


def check_format(connection: sqlite3.Connection, path: Path) -> int:
    """Refuse a database that is not a journal, or of a format this version cannot read.

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
    return int(version)


def connect_for_writing(path: Path, operation: str) -> sqlite3.Connection:
    """Open (creating it if need be) the journal for ``operation``; checked, in WAL mode.

    A journal of format 2 is migrated to this format first (see :func:`_migrate`).

    Raises:
        JournalError: the file is not a journal of a format this version reads, or of
            ``operation``; it cannot be opened; or its migration failed (it is then
            unchanged).
    """
    exists = ensure_journal_file(path)
    try:
        connection = connect(str(path), writer=True)
    except sqlite3.Error as exc:
        raise JournalError(f"cannot open the journal {path}: {exc}") from exc
    with closed_on_error(connection, path):
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
        if check(connection, path, operation) < VERSION:
            _migrate(connection, path)
    return connection


@contextlib.contextmanager
def closed_on_error(connection: sqlite3.Connection, path: Path) -> Iterator[None]:
    """Close ``connection`` if the block fails; an SQLite error becomes a JournalError."""
    try:
        yield
    except sqlite3.Error as exc:
        connection.close()
        why = "a record holds text that is not UTF-8" if "decode" in str(exc) else exc
        raise JournalError(f"{path} is not a usable journal: {why}") from None
    except BaseException:
        connection.close()
        raise


def _migrate(connection: sqlite3.Connection, path: Path) -> None:
    """Bring a format 2 journal to this format: all of it or, on any failure, none.

    The version is read again inside the transaction: another process may have
    migrated the file (or a newer version rewritten it) since it was checked.

    Raises:
        JournalError: the migration failed, the file locked by another writer too (it
            is then unchanged), or the file is now of a format this version does not read.
    """
    try:
        connection.execute("BEGIN IMMEDIATE")
        (version,) = connection.execute("PRAGMA user_version").fetchone()
        if version == 2:
            for statement in MIGRATE_2:
                connection.execute(statement)
            connection.execute(f"PRAGMA user_version = {VERSION}")
        elif version != VERSION:
            raise JournalError(
                f"{path} became a journal of format {version} while it was opened; this "
                f"version of prolific_async reads formats {READABLE_VERSIONS[0]} to {VERSION}"
            )
        connection.execute("COMMIT")
    except sqlite3.Error as exc:
        with contextlib.suppress(sqlite3.Error):
            connection.execute("ROLLBACK")
        raise JournalError(
            f"{path}: migrating the journal from format 2 to format {VERSION} failed "
            f"({exc}); the file is unchanged (a journal of format 2 can be read as it is)"
        ) from exc
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
            current = None if row is None else read_entry(row, "")[1]
            connection.execute(REPLACE_ITEM, entry_to_row(item, apply_record(record, current)))
        connection.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            connection.execute("ROLLBACK")
        raise


#: At most this many rows per INSERT in :func:`write_rows` (fewer where the connection's
#: limit on parameters a statement, one a column, is lower: 999 before SQLite 3.32).
ROWS_PER_STATEMENT: Final = 3000


def rows_per_statement(connection: sqlite3.Connection) -> int:
    """How many rows one INSERT of :func:`write_rows` takes on ``connection``."""
    limit = connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    return max(1, min(ROWS_PER_STATEMENT, limit // len(COLUMNS)))


@functools.cache
def _replace_rows(count: int) -> str:
    """``INSERT OR REPLACE`` of ``count`` rows in one statement (placeholders only)."""
    placeholders = ", ".join([ROW_PLACEHOLDERS] * count)
    return f"INSERT OR REPLACE INTO items VALUES {placeholders}"  # noqa: S608 (no values)


def write_rows(connection: sqlite3.Connection, rows: list[tuple[object, ...]]) -> None:
    """Write whole item rows (later rows of an item win) in one transaction.

    The rows were folded on the event loop; here they only reach the file, in as few
    statements as possible: each one makes the writer thread give up the GIL and wait
    to take it back while the loop is busy. Up to :func:`rows_per_statement` rows are one
    statement, which SQLite commits as its own transaction (one fsync); more are
    wrapped in an explicit one.

    Raises:
        sqlite3.Error: the transaction failed and was rolled back.
    """
    per_statement = rows_per_statement(connection)
    if len(rows) <= per_statement:
        connection.execute(_replace_rows(len(rows)), [value for row in rows for value in row])
        return
    connection.execute("BEGIN IMMEDIATE")
    try:
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            connection.execute(_replace_rows(len(chunk)), [value for row in chunk for value in row])
        connection.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            connection.execute("ROLLBACK")
        raise


def read_entry(row: tuple[Any, ...], where: str) -> tuple[ItemKey, JournalEntry]:
    try:
        return entry_from_row(row)
    except RecordError as exc:
        item = row[0] if row else None
        raise JournalError(f"{where}the record of item {item!r} is not valid: {exc}") from exc
