"""The journal in a run: one run per journal, converted old journals resume, flat memory."""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from prolific_async import (
    BulkProgress,
    CreateBatchRequest,
    Journal,
    JournalError,
    ProlificClient,
    _journal_writer,
)
from prolific_async._converter import converter
from prolific_async._journal_import import import_journal
from prolific_async.bulk import fingerprint
from prolific_async.testing import FakeProlific

from .conftest import wait_until
from .test_bulk import (
    CREATE,
    DETAILS,
    WS,
    assert_exactly_once,
    batches_named,
    client,
    collect,
    creates,
    fake,
    posts,
)

__all__ = ["client", "fake"]  # the fixtures, shared with the bulk tests

ROOT = Path(__file__).resolve().parent.parent


async def test_a_second_run_on_the_same_journal_is_refused_at_once(
    client: ProlificClient, fake: FakeProlific, tmp_path: Path
) -> None:
    """Two concurrent create_many on one journal: the second is refused, nothing is sent twice."""
    path = tmp_path / "run.journal"
    stalled = fake.add_fault("POST", CREATE, "stall_after", times=4)
    requests = creates(10)
    first = asyncio.create_task(
        collect(client.batches.create_many(requests, concurrency=4, journal=Journal(path)))
    )
    await wait_until(lambda: stalled.fired == 4)  # the first run is mid-way, holding the lock
    sent = posts(fake)
    with pytest.raises(JournalError, match=r"in use by another run in this process \(PID"):
        await collect(client.batches.create_many(requests, journal=Journal(path)))
    assert posts(fake) == sent
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    # Cancelled: no writer thread outlives the run (and the lock is free, see below).
    assert [t for t in threading.enumerate() if t.name.startswith("prolific-async journal")] == []
    results = await collect(
        client.batches.create_many(requests, journal=Journal(path), reconcile_delay=0)
    )
    assert_exactly_once(results, fake)
    assert len(fake.batches) == 10


def _record(kind: str, index: int, request: CreateBatchRequest, **fields: Any) -> str:
    record = {"type": kind, "item": index, "fingerprint": fingerprint(request), **fields}
    return json.dumps(record) + "\n"


async def test_a_converted_mid_run_journal_resumes_to_exactly_once(
    client: ProlificClient, fake: FakeProlific, tmp_path: Path
) -> None:
    """A JSON Lines journal (done, in flight, failed, untouched items) imports and resumes once."""
    requests = creates(10)
    requests[6] = CreateBatchRequest("needs data", WS, DETAILS, "ds-missing")
    started = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    old = tmp_path / "run.jsonl"
    lines = ['{"type":"header","version":1,"operation":"create"}\n']
    for index in range(3):  # done: made and recorded
        made = await client.batches.create(
            name=f"batch-{index}", workspace_id=WS, task_details=DETAILS
        )
        lines.append(_record("start", index, requests[index], started_at=started))
        batch = converter.unstructure(made)
        lines.append(_record("done", index, requests[index], batch=batch, attempts=1))
    for index in (3, 4):  # in flight, applied by the server: to be adopted
        await client.batches.create(name=f"batch-{index}", workspace_id=WS, task_details=DETAILS)
        lines.append(_record("start", index, requests[index], started_at=started))
    lines.append(_record("start", 5, requests[5], started_at=started))  # in flight, not applied
    error = {"type": "BadRequestError", "message": "no dataset", "status_code": 400}
    lines.append(_record("failed", 6, requests[6], error=error))
    lines.append('{"type": "start", "item": 7, "fing')  # torn by the crash: dropped
    old.write_text("".join(lines))
    new = tmp_path / "run.journal"
    assert import_journal(old, new) == 10
    before = posts(fake)
    results = await collect(
        client.batches.create_many(requests, journal=Journal(new), reconcile_delay=0)
    )
    assert [r.resumed for r in results] == [True] * 3 + [False] * 3 + [True] + [False] * 3
    assert [r.reconciled for r in results[3:6]] == [True, True, False]
    assert results[6].error is not None
    assert "(from the journal)" in str(results[6].error)
    assert posts(fake) - before == 4  # items 5, 7, 8, 9
    named = batches_named(fake)
    assert all(named[f"batch-{i}"] == 1 for i in (0, 1, 2, 3, 4, 5, 7, 8, 9))
    assert len(fake.batches) == 9
    assert_exactly_once([r for r in results if r.index != 6], fake)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"type":"done","item":0,"fingerprint":"f"}', "a 'done' record needs 'batch'"),
        ('{"type":"start","item":0,"fingerprint":"f"}', "a 'start' record needs 'started_at'"),
        ('{"type":"failed","item":[1],"fingerprint":"f","error":{}}', "'item' must be"),
        ('["not", "an", "object"]', "not a JSON object"),
    ],
)
def test_an_old_record_of_the_wrong_shape_is_named_on_import(
    tmp_path: Path, line: str, reason: str
) -> None:
    """A malformed old record is a JournalError naming its line, never a KeyError."""
    old = tmp_path / "run.jsonl"
    old.write_text(f'{{"type":"header","version":1,"operation":"create"}}\n{line}\n')
    new = tmp_path / "run.journal"
    with pytest.raises(JournalError, match="line 2: not a valid record") as raised:
        import_journal(old, new)
    assert reason in str(raised.value)
    assert line[:40] in str(raised.value)
    assert not new.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_corrupt_middle_line_refuses_the_import(tmp_path: Path) -> None:
    """A line that is not JSON and not the last one is refused, naming its line number."""
    old = tmp_path / "run.jsonl"
    record = '{"type":"start","item":0,"fingerprint":"f","started_at":"2026-01-01T00:00:00"}'
    old.write_text(f'{{"type":"header","version":1,"operation":"create"}}\ngarbage\n{record}\n')
    with pytest.raises(JournalError, match="line 2"):
        import_journal(old, tmp_path / "run.journal")


def test_import_refuses_to_overwrite_and_what_is_not_an_old_journal(tmp_path: Path) -> None:
    """The destination must be new, and the source must start with a first-format header."""
    old = tmp_path / "run.jsonl"
    old.write_text('{"type":"header","version":1,"operation":"create"}\n')
    existing = tmp_path / "taken.journal"
    existing.write_text("keep me")
    with pytest.raises(JournalError, match="already exists"):
        import_journal(old, existing)
    assert existing.read_text() == "keep me"
    other = tmp_path / "other.jsonl"
    other.write_text('{"name": "a manifest line"}\n')
    with pytest.raises(JournalError, match="line 1: not the header"):
        import_journal(other, tmp_path / "new.journal")


def _resume_benchmark() -> Any:
    path = ROOT / "benchmarks" / "journal_resume.py"
    spec = importlib.util.spec_from_file_location("journal_resume_benchmark", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_resume_benchmark_runs_at_a_small_size(tmp_path: Path) -> None:
    """The resume benchmark resumes a synthetic journal in a child (memory is not asserted)."""
    row = _resume_benchmark().measure(50, directory=tmp_path)
    assert row.items == 50
    assert row.resumed == 50
    assert row.peak_rss_mb > 0


def _live_records() -> int:
    """Finished batches alive now: Batch objects, journal entries and batch dicts."""
    from prolific_async import Batch
    from prolific_async._journal_records import JournalEntry

    return sum(
        1
        for obj in gc.get_objects()
        if isinstance(obj, Batch | JournalEntry)
        or (isinstance(obj, dict) and "total_task_count" in obj)
    )


async def _resume_peak(benchmark: Any, count: int, directory: Path) -> int:
    """Resume a journal of ``count`` done items; the most finished batches alive at once."""
    path = directory / f"resume-{count}.journal"
    benchmark.write_journal(path, count)
    gc.collect()
    baseline, peak, resumed = _live_records(), 0, 0
    every = max(count // 5, 1)  # a heap scan is slow: five samples a run
    async with ProlificClient("token", base_url="http://127.0.0.1:9") as bound:
        async for result in bound.batches.create_many(
            benchmark.requests(count), journal=Journal(path)
        ):
            resumed += result.resumed
            if resumed % every == 0:  # the result in hand is dropped before the next one
                peak = max(peak, _live_records() - baseline)
    assert resumed == count  # nothing was sent: every item came from the journal
    return peak


async def test_a_resume_holds_no_more_finished_batches_for_a_longer_journal(
    tmp_path: Path,
) -> None:
    """Resuming 2,000 done items holds as few batches at once as resuming 200 does."""
    benchmark = _resume_benchmark()
    small = await _resume_peak(benchmark, 200, tmp_path)
    large = await _resume_peak(benchmark, 2_000, tmp_path)
    assert large <= small + 10  # bounded by what is in progress, not by the journal
    assert large < 200


async def test_a_result_waits_for_its_record_which_holds_no_slot(
    client: ProlificClient, fake: FakeProlific, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A done record held on the writer's thread: its result waits, the next item starts."""
    release = threading.Event()
    real = _journal_writer.write_rows

    def held(connection: Any, rows: list[tuple[object, ...]]) -> None:
        if any(row[5] is not None for row in rows):  # a done row: its batch column
            assert release.wait(10), "the test never released the commit"
        real(connection, rows)

    monkeypatch.setattr(_journal_writer, "write_rows", held)
    path = tmp_path / "run.journal"
    progress = BulkProgress()
    reported: list[tuple[int, bool]] = []

    async def consume() -> None:
        runs = client.batches.create_many(
            creates(2), concurrency=1, journal=Journal(path), progress=progress
        )
        async for result in runs:
            # Reported only once its record is on disk: a reader of the file sees it.
            entry = Journal(path).read("create")[result.index]
            reported.append((result.index, entry.batch_id))

    consumer = asyncio.create_task(consume())
    await wait_until(lambda: progress.in_progress == 2)  # item 1 admitted: 0 holds no slot
    assert posts(fake) == 1
    assert reported == []  # item 0's batch exists, but its record is not committed
    release.set()
    await consumer
    assert [index for index, _ in sorted(reported)] == [0, 1]
    assert sorted(batch_id for _, batch_id in reported) == sorted(fake.batches)


async def test_a_key_added_since_the_journal_is_refused_before_its_request_is_sent(
    tmp_path: Path,
) -> None:
    """create_many with keys given to requests a journal holds by position: JournalError."""
    from attrs import evolve

    from .test_bulk import collect, creates

    path = tmp_path / "run.db"
    async with FakeProlific(seed=1) as fake, fake.client() as client:
        await collect(client.batches.create_many(creates(2), journal=Journal(path)))
        keyed = [evolve(request, key=f"key-{i}") for i, request in enumerate(creates(2))]
        posts = len(fake.requests)
        with pytest.raises(JournalError, match=r"request 0 is recorded in .* without a key"):
            await collect(client.batches.create_many(keyed, journal=Journal(path)))
        assert len(fake.requests) == posts
        assert len(fake.batches) == 2
