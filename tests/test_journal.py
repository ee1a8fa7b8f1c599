"""The bulk journal file: records, rows, the lock, the writer thread, old files, misuse."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import pytest

from prolific_async import (
    BadRequestError,
    Batch,
    Journal,
    JournalError,
    TaskDetails,
    _journal,
    _journal_reader,
    _journal_records,
    _journal_store,
    _journal_writer,
)
from prolific_async._journal_records import COLUMNS

AT = "2026-01-01T00:00:00+00:00"
BATCH = Batch(
    id="b0",
    created_at=datetime(2026, 1, 1, tzinfo=UTC),
    created_by="u",
    datasets=[],
    name="n",
    status="UNINITIALISED",
    total_task_count=0,
    total_instruction_count=0,
    workspace_id="w",
    task_details=TaskDetails(task_name="t", task_introduction="", task_steps=""),
)


def start(item: int | str, fingerprint: str = "f") -> dict[str, Any]:
    return {"type": "start", "item": item, "fingerprint": fingerprint, "started_at": AT}


def journal_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("prolific-async journal")]


async def test_new_journal_records_its_operation(tmp_path: Path) -> None:
    """Opening a new journal makes an SQLite file that records the operation, and no item."""
    journal = Journal(tmp_path / "j.journal")
    journal.open("create")
    await journal.close()
    assert journal.path.read_bytes().startswith(b"SQLite format 3\x00")
    assert journal.read("create") == {}
    with journal.reading(None) as reader:
        assert reader.operation == "create"
    assert sorted(os.listdir(tmp_path)) == ["j.journal", "j.journal.lock"]


async def test_records_round_trip(tmp_path: Path) -> None:
    """start, done and failed records load back into per-item entries, int and str keys apart."""
    journal = Journal(tmp_path / "j.journal")
    journal.open("create")
    await journal.append(start(0, "f0"))
    await journal.append(
        {
            "type": "done",
            "item": 0,
            "fingerprint": "f0",
            "batch": {"id": "b0"},
            "attempts": 2,
            "reconciled": True,
        }
    )
    await journal.append(start("0", "f1"))
    await journal.append(
        {
            "type": "failed",
            "item": "k2",
            "fingerprint": "f2",
            "error": {"type": "BadRequestError", "status_code": 400},
        }
    )
    assert journal.entry(0) is not None
    assert journal.entry(5) is None
    await journal.close()
    entries = Journal(journal.path).read("create")
    assert entries[0].batch == {"id": "b0"}
    assert entries[0].attempts == 2
    assert entries[0].reconciled is True
    assert entries["0"].batch is None
    assert entries["0"].started_at == datetime.fromisoformat(AT)
    assert entries["k2"].error == {"type": "BadRequestError", "status_code": 400}


async def test_a_record_with_another_fingerprint_starts_the_entry_afresh(tmp_path: Path) -> None:
    """As in the first format, a record of another fingerprint replaces the item's entry."""
    journal = Journal(tmp_path / "j.journal")
    journal.open("create")
    await journal.append({"type": "done", "item": 0, "fingerprint": "a", "batch": {"id": "b"}})
    await journal.append(start(0, "b"))
    await journal.close()
    entry = journal.read("create")[0]
    assert entry.fingerprint == "b"
    assert entry.batch is None


async def test_typed_writers_record_what_the_reader_gives_back(tmp_path: Path) -> None:
    """write_start/sent/done/failed give entries whose batch and error read back as they were."""
    at = datetime(2026, 1, 1, tzinfo=UTC)
    later = datetime(2026, 1, 1, 0, 1, tzinfo=UTC)
    batch = BATCH
    error = BadRequestError(
        "bad", status_code=400, body=None, request_id=None, method="POST", url="http://x/b"
    )
    journal = Journal(tmp_path / "j.journal")
    journal.open("create")
    await journal.write_start(0, "f0", at=at)
    await journal.write_sent(0, "f0", at=later)
    await journal.write_done(0, "f0", batch=batch, reconciled=True, attempts=2)
    await journal.write_failed("k", "f1", error=error)
    await journal.close()
    entries = Journal(journal.path).read("create")
    assert entries[0].started_at == at
    assert entries[0].last_sent_at == later
    assert entries[0].to_batch() == batch
    assert entries[0].batch_id == "b0"
    assert (entries[0].reconciled, entries[0].attempts) == (True, 2)
    assert entries["k"].error == {
        "type": "BadRequestError",
        "message": str(error),
        "status_code": 400,
        "method": "POST",
        "url": "http://x/b",
    }
    recorded = entries["k"].to_error()
    assert isinstance(recorded, BadRequestError)
    assert recorded.status_code == 400
    assert "(from the journal)" in str(recorded)


def test_the_row_columns_are_those_of_the_table(tmp_path: Path) -> None:
    """The SQL spelled out in the store reads and writes the columns in COLUMNS' order."""
    with contextlib.closing(sqlite3.connect(":memory:")) as connection:
        for statement in _journal_store.SCHEMA:
            connection.execute(statement)
        names = [row[1] for row in connection.execute("PRAGMA table_info(items)")]
    assert tuple(names) == COLUMNS
    assert ", ".join(COLUMNS) in _journal_store.SELECT_ITEM


async def test_journal_of_another_operation_is_refused(tmp_path: Path) -> None:
    """A create journal cannot be used for a duplicate run."""
    path = tmp_path / "j.journal"
    journal = Journal(path)
    journal.open("create")
    await journal.close()
    with pytest.raises(JournalError, match="'create' run"):
        Journal(path).open("duplicate")
    with pytest.raises(JournalError, match="'create' run"):
        Journal(path).read("duplicate")


async def test_a_mixed_run_is_recorded_as_provision(tmp_path: Path) -> None:
    """A mixed run records "provision", the name the first format gave it."""
    journal = Journal(tmp_path / "j.journal")
    journal.open("mixed")
    await journal.close()
    assert Journal(journal.path).read("provision") == {}
    with journal.reading(None) as reader:
        assert reader.operation == "provision"
    with pytest.raises(JournalError, match="'provision' run"):
        Journal(journal.path).open("create")


def test_not_a_journal_is_refused(tmp_path: Path) -> None:
    """A text file, or an SQLite database of another program, is not taken for a journal."""
    text = tmp_path / "results.jsonl"
    text.write_text('{"some": "other file"}\n{"more": 1}\n')
    with pytest.raises(JournalError, match="not a prolific_async journal"):
        Journal(text).open("create")
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE t (x)")
    connection.close()
    with pytest.raises(JournalError, match="another SQLite database"):
        Journal(other).read("create")
    assert os.path.getsize(f"{text}.lock") == 0  # refused, and the lock given back


async def test_a_json_lines_journal_is_refused_with_the_import_command(tmp_path: Path) -> None:
    """A journal of the first format is refused, and the error names the command to convert it."""
    path = tmp_path / "j.jsonl"
    path.write_text('{"type":"header","version":1,"operation":"create"}\n')
    for attempt in (lambda: Journal(path).open("create"), lambda: Journal(path).read("create")):
        with pytest.raises(JournalError, match="prolific-async journal import OLD NEW"):
            attempt()
    assert path.read_text() == '{"type":"header","version":1,"operation":"create"}\n'


async def test_the_same_journal_object_serves_one_run_at_a_time(tmp_path: Path) -> None:
    """One journal object cannot be opened twice."""
    journal = Journal(tmp_path / "j.journal")
    journal.open("create")
    with pytest.raises(JournalError, match="already in use"):
        journal.open("create")
    await journal.close()


async def test_a_second_journal_on_the_same_file_is_refused_until_the_first_closes(
    tmp_path: Path,
) -> None:
    """Another Journal of the same path is refused at once, naming this process; then it opens."""
    first = Journal(tmp_path / "j.journal")
    first.open("create")
    second = Journal(tmp_path / "j.journal")
    with pytest.raises(JournalError, match=r"in use by another run in this process \(PID \d+\)"):
        second.open("create")
    await first.close()
    second.open("create")
    await second.close()


async def test_cancelled_append_is_still_committed(tmp_path: Path) -> None:
    """A record whose writer is cancelled is still committed whole before close returns."""
    journal = Journal(tmp_path / "j.journal")
    journal.open("create")
    task = asyncio.create_task(journal.append(start(0)))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await journal.close()
    assert journal.read("create")[0].started_at is not None


async def test_records_of_one_loop_turn_share_one_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two hundred concurrent appends all land, in a handful of transactions."""
    commits: list[int] = []
    real = _journal_store.write_rows

    def counting(connection: sqlite3.Connection, rows: Any) -> None:
        commits.append(len(rows))
        real(connection, rows)

    monkeypatch.setattr(_journal_writer, "write_rows", counting)
    journal = Journal(tmp_path / "j.journal")
    journal.open("create")
    await asyncio.gather(*(journal.append(start(i)) for i in range(200)))
    await journal.close()
    assert sorted(journal.read("create")) == list(range(200))
    assert sum(commits) == 200
    assert len(commits) <= 3


async def test_a_failed_commit_leaves_nothing_and_stops_the_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A transaction that fails half-way is rolled back whole, and later records are refused."""
    journal = Journal(tmp_path / "j.journal")
    journal.open("create")
    await journal.append(start(0))
    real = _journal_records.entry_to_row

    def failing(item: Any, entry: Any) -> tuple[object, ...]:
        row = real(item, entry)
        return (None, *row[1:]) if item == 2 else row  # the file refuses this row

    monkeypatch.setattr(_journal, "entry_to_row", failing)
    monkeypatch.setattr(_journal_store, "ROWS_PER_STATEMENT", 1)  # item 1 is written first
    with pytest.raises(JournalError, match="NOT NULL constraint failed"):
        await asyncio.gather(journal.append(start(1)), journal.append(start(2)))
    monkeypatch.setattr(_journal, "entry_to_row", real)
    with pytest.raises(JournalError, match="NOT NULL constraint failed"):
        await journal.append(start(3))
    await journal.close()
    assert sorted(journal.read("create")) == [0]  # item 1 shared the failed transaction


async def test_close_commits_what_is_queued_even_when_cancelled(tmp_path: Path) -> None:
    """Records queued when close is cancelled still reach the file, and no thread stays."""
    journal = Journal(tmp_path / "j.journal")
    journal.open("create")
    writers = [asyncio.create_task(journal.append(start(i))) for i in range(3)]
    closing = asyncio.create_task(journal.close())
    await asyncio.sleep(0)
    closing.cancel()
    await asyncio.gather(closing, *writers, return_exceptions=True)
    assert sorted(journal.read("create")) == [0, 1, 2]
    assert journal_threads() == []
    again = Journal(journal.path)
    again.open("create")  # the lock was given back
    await again.close()


async def test_a_record_of_the_wrong_shape_is_refused_by_name(tmp_path: Path) -> None:
    """An append of a malformed record raises JournalError quoting it, never KeyError."""
    journal = Journal(tmp_path / "j.journal")
    journal.open("create")
    bad: list[dict[str, Any]] = [
        {"type": "done", "item": 0, "fingerprint": "f"},
        {"type": "done", "item": 0, "fingerprint": "f", "batch": {"name": "no id"}},
        {"type": "start", "item": 0, "fingerprint": "f", "started_at": "yesterday"},
        {"type": "start", "item": None, "fingerprint": "f", "started_at": AT},
        {"type": "finished", "item": 0, "fingerprint": "f"},
    ]
    for record in bad:
        with pytest.raises(JournalError, match="not a journal record") as raised:
            await journal.append(record)
        assert repr(record) in str(raised.value)
    await journal.close()
    assert journal.read("create") == {}


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("batch", "not json", "'batch' is not valid JSON"),
        ("batch", '{"name": "no id"}', "'batch' must have a string 'id'"),
        ("started_at", "yesterday", "'started_at' must be an ISO 8601 timestamp"),
        ("error", "[1]", "'error' must be a JSON object"),
        ("attempts", -1, "'attempts' must be a whole number"),
    ],
)
async def test_a_corrupted_row_is_refused_naming_its_item(
    tmp_path: Path, column: str, value: object, reason: str
) -> None:
    """A row changed behind the journal's back reads as JournalError naming the item."""
    journal = Journal(tmp_path / "j.journal")
    journal.open("create")
    await journal.append({"type": "done", "item": "k", "fingerprint": "f", "batch": {"id": "b"}})
    await journal.close()
    with sqlite3.connect(journal.path) as connection:
        connection.execute(f"UPDATE items SET {column} = ?", (value,))  # noqa: S608
    connection.close()
    with pytest.raises(JournalError, match="record of item 'k' is not valid") as raised:
        journal.read("create")
    assert reason in str(raised.value)
    journal.open("create")
    with pytest.raises(JournalError, match="record of item 'k'"):
        journal.entry("k")
    await journal.close()


#: One item's done record, for the damaged-journal tests.
DONE_K: Final = {"type": "done", "item": "k", "fingerprint": "f", "batch": {"id": "b"}}


async def damaged_journal(
    tmp_path: Path, operation: str, sql: str, record: dict[str, Any] | None = None
) -> Journal:
    """A closed journal (holding ``record``) whose file then had ``sql`` run on it."""
    journal = Journal(tmp_path / "j.journal")
    journal.open(operation)
    if record is not None:
        await journal.append(record)
    await journal.close()
    with sqlite3.connect(journal.path) as connection:
        connection.execute(sql)
    connection.close()
    return journal


async def test_a_journal_whose_run_is_not_recorded_is_refused_as_damaged(tmp_path: Path) -> None:
    """A journal with its meta row deleted: JournalError saying so, not "a None run"."""
    journal = await damaged_journal(tmp_path, "create", "DELETE FROM meta")
    with pytest.raises(JournalError, match="records no run") as raised:
        journal.open("create")
    assert "None" not in str(raised.value)
    with pytest.raises(JournalError, match="records no run"):
        Journal(journal.path).read(None)


@pytest.mark.parametrize("column", ["batch", "item", "fingerprint"])
async def test_a_row_whose_text_is_not_utf8_is_a_journal_error(tmp_path: Path, column: str) -> None:
    """A text column holding bytes that are not UTF-8 (a damaged page): JournalError."""
    sql = f"UPDATE items SET {column} = CAST(x'7bff7d' AS TEXT)"  # noqa: S608
    journal = await damaged_journal(tmp_path, "create", sql, DONE_K)
    with pytest.raises(JournalError, match="a record holds text that is not UTF-8") as raised:
        journal.read("create")
    assert raised.value.__cause__ is None  # sqlite3's message quotes the bytes: not chained
    journal.open("create")
    if column != "item":  # a damaged key matches no look-up: the whole read above finds it
        with pytest.raises(JournalError, match="not UTF-8"):
            journal.entry("k")
    await journal.close()


async def test_a_journal_whose_run_is_not_utf8_is_refused_without_its_bytes(
    tmp_path: Path,
) -> None:
    """A meta row damaged into bytes that are not UTF-8: JournalError, the bytes not quoted."""
    sql = "UPDATE meta SET value = CAST(x'63ff' AS TEXT)"
    journal = await damaged_journal(tmp_path, "create", sql)
    with pytest.raises(JournalError, match="a record holds text that is not UTF-8") as raised:
        journal.open("create")
    assert "\ufffd" not in str(raised.value)
    assert raised.value.__cause__ is None


async def test_listing_keyed_fingerprints_of_a_damaged_row_is_a_journal_error(
    tmp_path: Path,
) -> None:
    """The keys-taken-away check reads every keyed row: one that is not UTF-8 is refused."""
    sql = "UPDATE items SET fingerprint = CAST(x'7bff7d' AS TEXT)"
    journal = await damaged_journal(tmp_path, "mixed", sql, DONE_K)
    with journal.reading("mixed") as recorded, pytest.raises(JournalError, match="not UTF-8"):
        list(recorded.keyed_fingerprints())


async def test_a_recorded_batch_that_does_not_read_is_a_journal_error(tmp_path: Path) -> None:
    """A batch with an id but nothing else is refused when resumed, naming the item."""
    journal = Journal(tmp_path / "j.journal")
    journal.open("create")
    await journal.append({"type": "done", "item": 3, "fingerprint": "f", "batch": {"id": "b"}})
    entry = journal.entry(3)
    assert entry is not None
    with pytest.raises(JournalError, match="record of item 3 holds a batch that cannot be read"):
        journal.batch_of(3, entry)
    await journal.close()


async def test_claimed_ids_include_the_journals_batches_without_loading_them(
    tmp_path: Path,
) -> None:
    """The claimed set answers for every batch the journal records, and for ids added."""
    journal = Journal(tmp_path / "j.journal")
    journal.open("create")
    await journal.append({"type": "done", "item": 0, "fingerprint": "f", "batch": {"id": "b0"}})
    claimed = journal.claimed_ids()
    assert len(claimed) == 0
    assert "b0" in claimed
    assert "b1" not in claimed
    claimed.add("b1")
    assert "b1" in claimed
    await journal.close()


async def test_a_record_folds_into_the_row_an_earlier_run_left(tmp_path: Path) -> None:
    """A done written after a reopen keeps the start the earlier run recorded."""
    journal = Journal(tmp_path / "j.journal")
    journal.open("create")
    await journal.append(start(7))
    await journal.close()
    journal.open("create")
    assert journal.entry(7) is not None
    await journal.append({"type": "done", "item": 7, "fingerprint": "f", "batch": {"id": "b7"}})
    assert "b7" in journal.claimed_ids()
    await journal.close()
    entry = journal.read("create")[7]
    assert entry.started_at is not None
    assert entry.batch == {"id": "b7"}


@pytest.mark.parametrize("alias", ["symlink", "hardlink", "dotdot"])
async def test_another_name_of_a_journal_in_use_is_refused(tmp_path: Path, alias: str) -> None:
    """A symlink, a hard link or a `..` path to a journal in use is refused like its own name."""
    if alias == "hardlink" and not sys.platform.startswith("linux"):
        pytest.skip("the journal file itself is locked on Linux only")
    path = tmp_path / "j.journal"
    first = Journal(path)
    first.open("create")
    other = tmp_path / "alias.journal"
    if alias == "symlink":
        other.symlink_to(path)
    elif alias == "hardlink":
        os.link(path, other)
    else:
        (tmp_path / "sub").mkdir()
        other = tmp_path / "sub" / ".." / "j.journal"
    with pytest.raises(JournalError, match="in use by another run"):
        Journal(other).open("create")
    await first.close()
    second = Journal(other)
    if alias == "hardlink":  # a journal with two names is refused even when free
        with pytest.raises(JournalError, match="hard links"):
            second.open("create")
        return
    second.open("create")  # free again once the first run closed it
    await second.close()


def test_a_hard_link_in_use_by_another_process_is_refused(tmp_path: Path) -> None:
    """A journal another process holds is refused through a hard link to it."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the journal file itself is locked on Linux only")
    path = tmp_path / "j.journal"
    holder = subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", _HOLD, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "held\n"  # the other process holds the journal
        os.link(path, tmp_path / "alias.journal")
        with pytest.raises(JournalError, match="under another name"):
            Journal(tmp_path / "alias.journal").open("create")
    finally:
        holder.communicate("")  # closing its stdin lets it close the journal and end
    assert holder.returncode == 0


#: Opens the journal named by argv[1], says so, and holds it until stdin closes.
_HOLD = """
import asyncio, sys
from prolific_async import Journal

async def main():
    journal = Journal(sys.argv[1])
    journal.open("create")
    print("held", flush=True)
    await asyncio.to_thread(sys.stdin.read)
    await journal.close()

asyncio.run(main())
"""


async def test_a_commit_runs_off_the_loop_which_keeps_serving(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a commit is held on the writer's thread, other coroutines on the loop go on."""
    release = threading.Event()
    committing = threading.Event()
    real = _journal_writer.Writer._commit

    def held(self: Any, group: Any) -> None:
        committing.set()
        assert release.wait(10), "the loop never released the commit: it was blocked"
        real(self, group)

    monkeypatch.setattr(_journal_writer.Writer, "_commit", held)
    journal = Journal(tmp_path / "j.journal")
    journal.open("create")
    append = asyncio.create_task(journal.append(start(0)))
    turns = 0
    while not committing.is_set() or turns < 100:  # the loop turns while the thread commits
        await asyncio.sleep(0)
        turns += 1
        assert turns < 1_000_000, "the commit never began"
    assert not append.done()  # the record waits for its commit, the loop does not
    release.set()
    await append
    await journal.close()
    assert journal.read("create")[0].started_at is not None


@pytest.mark.parametrize("by", ["its name", "the link"])
async def test_a_journal_with_two_names_is_refused(tmp_path: Path, by: str) -> None:
    """A hard-linked journal is refused under either name: a crash's commits sit by one."""
    path = tmp_path / "j.journal"
    journal = Journal(path)
    journal.open("create")
    await journal.append(start(0))
    await journal.close()
    os.link(path, tmp_path / "alias.journal")
    name = path if by == "its name" else tmp_path / "alias.journal"
    with pytest.raises(JournalError, match="2 names"):
        Journal(name).open("create")


async def test_a_new_journal_looks_up_unwritten_indexes_without_a_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new journal reads no row for an index above those written, and still finds the rest."""
    reads: list[object] = []
    real = _journal_reader.Reader.get

    def counting(self: Any, item: Any) -> Any:
        reads.append(item)
        return real(self, item)

    monkeypatch.setattr(_journal_reader.Reader, "get", counting)
    journal = Journal(tmp_path / "j.journal")
    journal.open("create")
    assert journal.entry(5) is None
    await journal.append(start(5))
    await journal.append({"type": "done", "item": 5, "fingerprint": "f", "batch": {"id": "b"}})
    assert reads == []
    entry = journal.entry(5)  # finished, so no longer held: read back from the file
    assert entry is not None
    assert entry.batch_id == "b"
    assert journal.entry(4) is None  # below the highest written: read, to be sure
    assert reads == [5, 4]
    await journal.close()
    reads.clear()
    journal.open("create")  # an earlier run's journal: every look-up reads
    assert journal.entry(6) is None
    assert reads == [6]
    await journal.close()
