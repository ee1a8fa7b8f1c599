"""The bulk journal file: records, torn last lines, corrupt lines, misuse."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from prolific_async import BadRequestError, Batch, Journal, JournalError, TaskDetails


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_new_journal_gets_a_header(tmp_path: Path) -> None:
    """Opening a new journal writes a header naming the operation."""
    journal = Journal(tmp_path / "j.jsonl")
    assert journal.open("create") == {}
    await journal.close()
    assert lines(journal.path) == [{"type": "header", "version": 1, "operation": "create"}]


async def test_records_round_trip(tmp_path: Path) -> None:
    """start, done and failed records load back into per-item entries."""
    journal = Journal(tmp_path / "j.jsonl")
    journal.open("create")
    await journal.append(
        {"type": "start", "item": 0, "fingerprint": "f0", "started_at": "2026-01-01T00:00:00+00:00"}
    )
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
    await journal.append(
        {
            "type": "start",
            "item": "k1",
            "fingerprint": "f1",
            "started_at": "2026-01-01T00:00:01+00:00",
        }
    )
    await journal.append(
        {
            "type": "failed",
            "item": "k2",
            "fingerprint": "f2",
            "error": {"type": "BadRequestError", "status_code": 400},
        }
    )
    await journal.close()
    entries = Journal(journal.path).open("create")
    assert entries[0].batch == {"id": "b0"}
    assert entries[0].attempts == 2
    assert entries[0].reconciled is True
    assert entries["k1"].batch is None
    assert entries["k1"].started_at is not None
    assert entries["k2"].error == {"type": "BadRequestError", "status_code": 400}


async def test_torn_last_line_is_dropped_and_truncated(tmp_path: Path) -> None:
    """A last line cut short by a crash is ignored and removed before appending."""
    path = tmp_path / "j.jsonl"
    journal = Journal(path)
    journal.open("create")
    await journal.append(
        {"type": "start", "item": 0, "fingerprint": "f", "started_at": "2026-01-01T00:00:00+00:00"}
    )
    await journal.close()
    with path.open("ab") as file:
        file.write(b'{"type": "done", "item": 0, "finger')
    reopened = Journal(path)
    entries = reopened.open("create")
    assert entries[0].batch is None
    await reopened.append({"type": "done", "item": 0, "fingerprint": "f", "batch": {"id": "x"}})
    await reopened.close()
    assert [record["type"] for record in lines(path)] == ["header", "start", "done"]


async def test_invalid_complete_last_line_is_tolerated(tmp_path: Path) -> None:
    """A last line that ends in a newline but is not valid JSON is dropped too."""
    path = tmp_path / "j.jsonl"
    Journal(path).open("create")
    with path.open("ab") as file:
        file.write(b'{"type": "start", "item": 0, \n')
    journal = Journal(path)
    assert journal.open("create") == {}
    await journal.close()
    assert len(lines(path)) == 1


async def test_corrupt_middle_line_is_refused(tmp_path: Path) -> None:
    """A bad line that is not the last one is an error naming its line number."""
    path = tmp_path / "j.jsonl"
    path.write_text(
        '{"type":"header","version":1,"operation":"create"}\n'
        "garbage\n"
        '{"type":"start","item":0,"fingerprint":"f","started_at":"2026-01-01T00:00:00+00:00"}\n'
    )
    with pytest.raises(JournalError, match="line 2"):
        Journal(path).open("create")


async def test_journal_of_another_operation_is_refused(tmp_path: Path) -> None:
    """A create journal cannot be used for a duplicate run."""
    path = tmp_path / "j.jsonl"
    journal = Journal(path)
    journal.open("create")
    await journal.close()
    with pytest.raises(JournalError, match="'create' run"):
        Journal(path).open("duplicate")


async def test_not_a_journal_is_refused(tmp_path: Path) -> None:
    """A file that does not start with a journal header is refused."""
    path = tmp_path / "results.jsonl"
    path.write_text('{"some": "other file"}\n{"more": 1}\n')
    with pytest.raises(JournalError, match="line 1"):
        Journal(path).open("create")


async def test_journal_in_use_is_refused(tmp_path: Path) -> None:
    """One journal object serves one run at a time."""
    journal = Journal(tmp_path / "j.jsonl")
    journal.open("create")
    with pytest.raises(JournalError, match="already in use"):
        journal.open("create")
    await journal.close()


async def test_cancelled_append_still_reaches_the_disk(tmp_path: Path) -> None:
    """A record whose writer is cancelled is still written whole before close returns."""
    journal = Journal(tmp_path / "j.jsonl")
    journal.open("create")
    record = {
        "type": "start",
        "item": 0,
        "fingerprint": "f",
        "started_at": "2026-01-01T00:00:00+00:00",
    }
    task = asyncio.create_task(journal.append(record))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await journal.close()
    assert lines(journal.path)[1] == record


async def test_concurrent_appends_are_grouped_and_all_written(tmp_path: Path) -> None:
    """Many concurrent appends all land, each as one whole line."""
    journal = Journal(tmp_path / "j.jsonl")
    journal.open("create")
    await asyncio.gather(
        *(
            journal.append(
                {
                    "type": "start",
                    "item": i,
                    "fingerprint": "f",
                    "started_at": "2026-01-01T00:00:00+00:00",
                }
            )
            for i in range(200)
        )
    )
    await journal.close()
    assert sorted(record["item"] for record in lines(journal.path)[1:]) == list(range(200))  # type: ignore[type-var]


async def test_a_failed_write_is_cut_off_and_stops_the_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that fails leaves no torn record, and later records are refused."""
    journal = Journal(tmp_path / "j.jsonl")
    journal.open("create")
    size = journal.path.stat().st_size
    real_write = os.write

    def half_write(fd: int, data: bytes | memoryview) -> int:
        real_write(fd, bytes(data)[:5])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", half_write)
    record = {
        "type": "start",
        "item": 0,
        "fingerprint": "f",
        "started_at": "2026-01-01T00:00:00+00:00",
    }
    with pytest.raises(JournalError, match="No space left"):
        await journal.append(record)
    monkeypatch.setattr(os, "write", real_write)
    assert journal.path.stat().st_size == size
    with pytest.raises(JournalError, match="No space left"):
        await journal.append(record)
    await journal.close()


async def test_close_writes_what_is_queued_even_when_cancelled(tmp_path: Path) -> None:
    """Records queued when the run is cancelled during close still reach the file."""
    journal = Journal(tmp_path / "j.jsonl")
    journal.open("create")
    records = [
        {"type": "start", "item": i, "fingerprint": "f", "started_at": "2026-01-01T00:00:00+00:00"}
        for i in range(3)
    ]
    writers = [asyncio.create_task(journal.append(record)) for record in records]
    closing = asyncio.create_task(journal.close())
    await asyncio.sleep(0)
    closing.cancel()
    await asyncio.gather(closing, *writers, return_exceptions=True)
    assert [r["item"] for r in lines(journal.path)[1:]] == [0, 1, 2]


async def test_typed_writers_write_the_documented_records(tmp_path: Path) -> None:
    """write_start/sent/done/failed produce exactly the record format the reader takes."""
    at = datetime(2026, 1, 1, tzinfo=UTC)
    batch = Batch(
        id="b0",
        created_at=at,
        created_by="u",
        datasets=[],
        name="n",
        status="UNINITIALISED",
        total_task_count=0,
        total_instruction_count=0,
        workspace_id="w",
        task_details=TaskDetails(task_name="t", task_introduction="", task_steps=""),
    )
    error = BadRequestError(
        "bad", status_code=400, body=None, request_id=None, method="POST", url="http://x/b"
    )
    journal = Journal(tmp_path / "j.jsonl")
    journal.open("create")
    await journal.write_start(0, "f0", at=at)
    await journal.write_sent(0, "f0", at=at)
    await journal.write_done(0, "f0", batch=batch, reconciled=True, attempts=2)
    await journal.write_failed("k", "f1", error=error)
    await journal.close()
    records = lines(journal.path)[1:]
    assert records[:2] == [
        {"type": "start", "item": 0, "fingerprint": "f0", "started_at": at.isoformat()},
        {"type": "sent", "item": 0, "fingerprint": "f0", "at": at.isoformat()},
    ]
    assert set(records[2]) == {"type", "item", "fingerprint", "batch", "reconciled", "attempts"}
    assert records[3] == {
        "type": "failed",
        "item": "k",
        "fingerprint": "f1",
        "error": {
            "type": "BadRequestError",
            "message": str(error),
            "status_code": 400,
            "method": "POST",
            "url": "http://x/b",
        },
    }
    entries = Journal(journal.path).read("create")
    assert entries[0].to_batch() == batch
    assert entries[0].batch_id == "b0"
    recorded = entries["k"].to_error()
    assert isinstance(recorded, BadRequestError)
    assert recorded.status_code == 400
    assert "(from the journal)" in str(recorded)


async def test_a_mixed_run_keeps_the_header_name_journals_have_today(tmp_path: Path) -> None:
    """A mixed run's header says "provision", so journals written before still open."""
    path = tmp_path / "j.jsonl"
    path.write_text('{"type":"header","version":1,"operation":"provision"}\n')
    journal = Journal(path)
    assert journal.open("mixed") == {}
    await journal.close()
    assert Journal(path).read("provision") == {}
    fresh = Journal(tmp_path / "new.jsonl")
    fresh.open("mixed")
    await fresh.close()
    assert lines(fresh.path) == [{"type": "header", "version": 1, "operation": "provision"}]
    with pytest.raises(JournalError, match="'provision' run"):
        Journal(path).open("create")
