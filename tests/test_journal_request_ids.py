"""Journal format 3: each item's request id kept, resumed runs report it, format 2 migrated."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from prolific_async import (
    BadRequestError,
    BulkResult,
    CreateBatchRequest,
    DuplicateBatchRequest,
    Journal,
    JournalError,
    ProlificClient,
    _journal_store,
)
from prolific_async._journal_import import import_journal
from prolific_async._journal_records import COLUMNS, JournalEntry, entry_to_row
from prolific_async.testing import FakeProlific
from tests.conftest import SCRIPTED_BATCH, TOKEN, StartServer

from .test_bulk import CREATE, DETAILS, WS, assert_exactly_once, client, collect, creates, fake
from .test_journal import AT, BATCH
from .test_request_ids import HeaderEcho, echo_client

__all__ = ["client", "fake"]  # the fixtures, shared with the bulk tests


def user_version(path: Path) -> int:
    with contextlib.closing(sqlite3.connect(path)) as connection:
        return int(connection.execute("PRAGMA user_version").fetchone()[0])


def columns(path: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(path)) as connection:
        return [row[1] for row in connection.execute("PRAGMA table_info(items)")]


#: The schema journal format 2 wrote (as released): no request_id column.
FORMAT_2_SCHEMA = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL)",
    "CREATE TABLE items (item PRIMARY KEY NOT NULL, fingerprint TEXT NOT NULL, "
    "started_at TEXT, last_sent_at TEXT, batch_id TEXT, batch TEXT, "
    "reconciled INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0, "
    "error TEXT) WITHOUT ROWID",
    "CREATE INDEX items_by_batch ON items (batch_id) WHERE batch_id IS NOT NULL",
)


def as_format_2(path: Path) -> None:
    """Rewrite the journal at ``path`` as format 2 wrote it: its schema, user_version 2."""
    with contextlib.closing(sqlite3.connect(path)) as connection:
        meta = connection.execute("SELECT * FROM meta").fetchall()
        items = connection.execute("SELECT * FROM items").fetchall()
    for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        leftover.unlink(missing_ok=True)
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
        for statement in FORMAT_2_SCHEMA:
            connection.execute(statement)
        connection.executemany("INSERT INTO meta VALUES (?, ?)", meta)
        rows = [row[:-1] for row in items]  # every column but request_id
        connection.executemany("INSERT INTO items VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        connection.execute(f"PRAGMA application_id = {_journal_store.APPLICATION_ID}")
        connection.execute("PRAGMA user_version = 2")
    assert columns(path)[-1] == "error"


async def format_2_journal(client: ProlificClient, path: Path, count: int = 1) -> list[BulkResult]:
    """A journal at ``path`` of ``count`` creates made, rewritten as format 2 wrote it."""
    results = await collect(client.batches.create_many(creates(count), journal=Journal(path)))
    as_format_2(path)
    return results


async def test_the_typed_writers_keep_the_request_ids_of_done_and_failed_items(
    tmp_path: Path,
) -> None:
    """write_done's request_id and a failure's own id read back; a new start clears it."""
    error = BadRequestError(
        "bad", status_code=400, body=None, request_id="req-400", method="POST", url="http://x/b"
    )
    journal = Journal(tmp_path / "j.journal")
    journal.open("create")
    await journal.append({"type": "start", "item": 0, "fingerprint": "f", "started_at": AT})
    await journal.append(
        {"type": "done", "item": 0, "fingerprint": "f", "batch": {"id": "b"}, "request_id": "r0"}
    )
    await journal.write_failed(1, "g", error=error)
    await journal.write_failed(2, "h", error=error)
    await journal.append({"type": "start", "item": 2, "fingerprint": "h", "started_at": AT})
    await journal.close()
    entries = journal.read("create")
    assert entries[0].request_id == "r0"
    assert entries[1].request_id == "req-400"
    recorded = entries[1].to_error()
    assert isinstance(recorded, BadRequestError)
    assert recorded.request_id == "req-400"
    assert (entries[2].error, entries[2].request_id) == (None, None)  # retried: starts over


async def test_write_start_after_a_failure_clears_its_request_id(tmp_path: Path) -> None:
    """write_done keeps its request_id; write_start on a failed item drops the old answer's id."""
    error = BadRequestError(
        "bad", status_code=400, body=None, request_id="req-400", method="POST", url="http://x/b"
    )
    journal = Journal(tmp_path / "j.journal")
    journal.open("create")
    await journal.write_done(0, "f", batch=BATCH, reconciled=False, attempts=1, request_id="r0")
    await journal.write_failed(1, "g", error=error)
    await journal.write_start(1, "g", at=datetime(2026, 1, 1, tzinfo=UTC))
    await journal.close()
    entries = journal.read("create")
    assert entries[0].request_id == "r0"
    assert (entries[1].error, entries[1].request_id) == (None, None)


async def test_a_request_id_of_the_wrong_type_is_refused_by_name(tmp_path: Path) -> None:
    """A record whose request_id is not a string (or null) is refused, naming the field."""
    journal = Journal(tmp_path / "j.journal")
    journal.open("create")
    try:
        bad = {"type": "done", "item": 0, "fingerprint": "f", "batch": {"id": "b"}}
        with pytest.raises(JournalError, match="'request_id' must be a string or null"):
            await journal.append({**bad, "request_id": 7})
    finally:
        await journal.close()
    assert journal.read("create") == {}


async def test_a_resumed_run_reports_the_request_ids_the_first_run_read(
    client: ProlificClient, fake: FakeProlific, tmp_path: Path
) -> None:
    """Done and failed items resumed from the journal carry their answers' request ids."""
    fake.add_fault("POST", CREATE, "status", status=400, headers={"X-Request-Id": "req-refused"})
    path = tmp_path / "j.journal"
    requests = [CreateBatchRequest("bad", WS, DETAILS), *creates(3)]
    first = await collect(
        client.batches.create_many(requests, concurrency=1, journal=Journal(path))
    )
    assert [r.ok for r in first] == [False, True, True, True]
    assert first[0].request_id == "req-refused"
    assert all(r.request_id for r in first)
    again = await collect(client.batches.create_many(requests, journal=Journal(path)))
    assert all(r.resumed for r in again)
    assert [r.request_id for r in again] == [r.request_id for r in first]
    assert isinstance(again[0].error, BadRequestError)
    assert again[0].error.request_id == "req-refused"


async def test_a_format_2_journal_is_read_as_it_is(
    client: ProlificClient, fake: FakeProlific, tmp_path: Path
) -> None:
    """Reading a format 2 journal (journal show/export) gives no request ids and changes nothing."""
    path = tmp_path / "j.journal"
    await format_2_journal(client, path, 2)
    before = path.read_bytes()
    entries = Journal(path).read("create")
    assert [e.batch_id is not None for e in entries.values()] == [True, True]
    assert [e.request_id for e in entries.values()] == [None, None]
    with Journal(path).reading(None) as reader:
        assert reader.get(1) is not None
        assert reader.counts()["done"] == 2
    assert path.read_bytes() == before
    assert user_version(path) == 2


async def test_a_run_migrates_a_format_2_journal_and_resumes_it_exactly_once(
    client: ProlificClient, fake: FakeProlific, tmp_path: Path
) -> None:
    """A run on a format 2 journal adds the column, keeps every row, and records new ids."""
    path = tmp_path / "j.journal"
    requests = creates(4)
    first = await format_2_journal(client, path, 2)
    results = await collect(client.batches.create_many(requests, journal=Journal(path)))
    assert user_version(path) == _journal_store.VERSION == 3
    assert columns(path)[-1] == "request_id"
    assert_exactly_once(results, fake)
    assert len(fake.batches) == 4
    assert [r.resumed for r in results] == [True, True, False, False]
    assert [r.batch.id for r in results[:2] if r.batch] == [r.batch.id for r in first if r.batch]
    assert [r.request_id is None for r in results] == [True, True, False, False]
    entries = Journal(path).read("create")
    assert [entries[i].request_id for i in (2, 3)] == [r.request_id for r in results[2:]]


async def test_a_failed_migration_leaves_the_journal_at_format_2(
    client: ProlificClient,
    fake: FakeProlific,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A migration failing after its first statement is undone whole: the file stays format 2."""
    path = tmp_path / "j.journal"
    await format_2_journal(client, path)
    # The column is added, then a later statement of the same transaction fails.
    failing = (*_journal_store.MIGRATE_2, "SELECT * FROM no_such_table")
    monkeypatch.setattr(_journal_store, "MIGRATE_2", failing)
    refused = "migrating the journal from format 2 to format 3 failed .* unchanged"
    with pytest.raises(JournalError, match=refused):
        await collect(client.batches.create_many(creates(1), journal=Journal(path)))
    assert user_version(path) == 2
    assert columns(path)[-1] == "error"
    assert len(Journal(path).read("create")) == 1
    monkeypatch.undo()
    again = await collect(client.batches.create_many(creates(1), journal=Journal(path)))
    assert again[0].resumed
    assert len(fake.batches) == 1


async def test_a_journal_of_a_newer_format_is_refused_naming_the_formats(
    tmp_path: Path,
) -> None:
    """A journal a later version wrote (format 4) is refused, saying which formats are read."""
    path = tmp_path / "j.journal"
    journal = Journal(path)
    journal.open("create")
    await journal.close()
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as connection:
        connection.execute("PRAGMA user_version = 4")
    with pytest.raises(JournalError, match=r"journal of format 4; .* reads formats 2 to 3"):
        journal.open("create")
    with pytest.raises(JournalError, match="journal of format 4"):
        journal.read("create")


async def test_a_request_id_echoing_the_token_is_journaled_masked(
    start_server: StartServer, tmp_path: Path
) -> None:
    """A server copying Authorization into X-Request-Id: the journal file holds no token."""
    path = tmp_path / "j.journal"
    async with await echo_client(start_server, HeaderEcho("X-Request-Id")) as echoing:
        request = CreateBatchRequest(SCRIPTED_BATCH["name"], WS, DETAILS, dataset_id="ds1")
        (result,) = await collect(echoing.batches.create_many([request], journal=Journal(path)))
    assert result.ok
    assert Journal(path).read("create")[0].request_id == "Token ***"
    names = os.listdir(tmp_path)  # the journal, its lock and any file SQLite left beside it
    written = b"".join((tmp_path / name).read_bytes() for name in names)
    assert TOKEN.encode() not in written


async def test_a_migration_refuses_a_file_rewritten_to_a_newer_format_meanwhile(
    client: ProlificClient, fake: FakeProlific, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A format 2 file another version moved to format 4 after the check is refused, untouched."""
    path = tmp_path / "j.journal"
    await format_2_journal(client, path)
    real = _journal_store.check

    def check_then_rewrite(*args: object) -> int:
        version = real(*args)  # type: ignore[arg-type]
        with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as other:
            other.execute("PRAGMA user_version = 4")
        return version

    monkeypatch.setattr(_journal_store, "check", check_then_rewrite)
    with pytest.raises(JournalError, match=r"became a journal of format 4 .* reads formats 2 to 3"):
        await collect(client.batches.create_many(creates(1), journal=Journal(path)))
    assert user_version(path) == 4
    assert columns(path)[-1] == "error"
    assert len(fake.batches) == 1


async def test_a_reader_of_a_format_2_file_sees_the_ids_once_a_run_migrates_it(
    client: ProlificClient, fake: FakeProlific, tmp_path: Path
) -> None:
    """A reader opened on format 2 (a long-lived Journal.reading) reads ids after migration."""
    path = tmp_path / "j.journal"
    await format_2_journal(client, path)
    with Journal(path).reading(None) as reader:
        assert reader.get(0) is not None
        results = await collect(client.batches.create_many(creates(2), journal=Journal(path)))
        assert user_version(path) == 3
        entry = reader.get(1)
        assert entry is not None
        assert entry.request_id == results[1].request_id is not None
        listed = dict(reader.entries())
        assert [listed[i].request_id for i in (0, 1)] == [None, results[1].request_id]


async def test_a_refusal_echoing_the_token_is_journaled_masked(
    start_server: StartServer, tmp_path: Path
) -> None:
    """A 400 whose X-Request-Id and body copy Authorization: the failed record holds no token."""
    path = tmp_path / "j.journal"
    echo = HeaderEcho("X-Request-Id", status=400)
    async with await echo_client(start_server, echo) as echoing:
        request = CreateBatchRequest(SCRIPTED_BATCH["name"], WS, DETAILS, dataset_id="ds1")
        (result,) = await collect(echoing.batches.create_many([request], journal=Journal(path)))
    assert isinstance(result.error, BadRequestError)
    entry = Journal(path).read("create")[0]
    assert entry.error is not None
    assert entry.request_id == "Token ***"
    names = os.listdir(tmp_path)
    written = b"".join((tmp_path / name).read_bytes() for name in names)
    assert TOKEN.encode() not in written


def test_an_imported_first_format_journal_keeps_a_request_id_given_and_none_otherwise(
    tmp_path: Path,
) -> None:
    """Journal import: a record's request_id is stored as given; a record without one has none."""
    old = tmp_path / "run.jsonl"
    done = {"type": "done", "fingerprint": "f", "batch": {"id": "b"}, "attempts": 1}
    lines = [
        {"type": "header", "version": 1, "operation": "create"},
        {**done, "item": 0},
        {**done, "item": 1, "request_id": "r1"},
    ]
    old.write_text("".join(json.dumps(line) + "\n" for line in lines))
    new = tmp_path / "run.journal"
    assert import_journal(old, new) == 2
    entries = Journal(new).read("create")
    assert [entries[0].request_id, entries[1].request_id] == [None, "r1"]
    old.write_text(old.read_text().replace('"r1"', "7"))
    with pytest.raises(JournalError, match=r"line 3: .*'request_id' must be a string or null"):
        import_journal(old, tmp_path / "other.journal")


async def test_resumed_duplicates_report_the_request_ids_the_first_run_read(
    client: ProlificClient, fake: FakeProlific, tmp_path: Path
) -> None:
    """duplicate_many resumed from its journal carries each copy's request id."""
    source = fake.add_batch(name="Source", workspace_id=WS, task_details=DETAILS)
    path = tmp_path / "j.journal"
    requests = [DuplicateBatchRequest(source.id, name=f"copy-{i}") for i in range(3)]
    first = await collect(client.batches.duplicate_many(requests, journal=Journal(path)))
    again = await collect(client.batches.duplicate_many(requests, journal=Journal(path)))
    assert all(r.resumed for r in again)
    assert [r.request_id for r in again] == [r.request_id for r in first]
    assert all(r.request_id for r in first)
    assert len(fake.batches) == 4


@pytest.mark.parametrize("limit", [None, 25])
def test_write_rows_fits_the_connections_parameter_limit(tmp_path: Path, limit: int | None) -> None:
    """write_rows sends as many rows a statement as the limit allows, and one more in two."""
    connection = _journal_store.connect_for_writing(tmp_path / "j.journal", "create")
    try:
        if limit is not None:  # as SQLite before 3.32, or built with a lower limit
            connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, limit)
        per_statement = _journal_store.rows_per_statement(connection)
        allowed = connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        assert per_statement * len(COLUMNS) <= allowed
        assert per_statement == (2 if limit else _journal_store.ROWS_PER_STATEMENT)
        for count in (per_statement, per_statement + 1):
            rows = [entry_to_row(i, JournalEntry("f", request_id=f"r{i}")) for i in range(count)]
            _journal_store.write_rows(connection, rows)
            (written,) = connection.execute("SELECT count(request_id) FROM items").fetchone()
            assert written == count
    finally:
        connection.close()


async def test_a_migration_another_writer_blocks_says_so_and_leaves_the_file(
    client: ProlificClient, fake: FakeProlific, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another connection holding the write lock: the migration error names it, file unchanged."""
    path = tmp_path / "j.journal"
    await format_2_journal(client, path)
    real = _journal_store.connect

    def impatient(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        connection = real(*args, **kwargs)
        connection.execute("PRAGMA busy_timeout = 0")  # fail at once, not after 5 s
        return connection

    monkeypatch.setattr(_journal_store, "connect", impatient)
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")
        refused = "migrating the journal from format 2 to format 3 failed .*locked.* unchanged"
        with pytest.raises(JournalError, match=refused):
            await collect(client.batches.create_many(creates(1), journal=Journal(path)))
        other.execute("ROLLBACK")
    assert (user_version(path), columns(path)[-1]) == (2, "error")
    assert len(fake.batches) == 1
