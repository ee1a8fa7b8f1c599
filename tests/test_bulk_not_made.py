"""An item whose sends provably made nothing is journaled *not made*: a re-run sends it at once.

Refused (401, 403, 429) or never connected, every time: none of these sends can have made
a batch, so a re-run must not wait ``reconcile_delay`` to list for one. An item one of
whose sends may have made a batch stays *in flight*, and a re-run reconciles it.
"""

from __future__ import annotations

import asyncio
import json
import socket
from datetime import UTC, datetime
from pathlib import Path

from prolific_async import (
    AuthenticationError,
    BadRequestError,
    Journal,
    PermissionDeniedError,
    ProlificClient,
    RateLimitError,
    _journal_records,
)
from prolific_async._journal_import import import_journal
from prolific_async._journal_records import JournalEntry, apply_record, status_of
from prolific_async.bulk import fingerprint
from prolific_async.testing import FakeProlific

from .test_bulk import (
    CREATE,
    DETAILS,
    FAST,
    WS,
    _no_retry_waits,
    assert_exactly_once,
    collect,
    creates,
    fake,
    posts,
)
from .test_bulk_adopt import BOUND, HOUR
from .test_bulk_trust import LISTINGS, listings

__all__ = ["_no_retry_waits", "fake"]  # the fixtures, shared with the bulk tests

AT = "2026-01-01T00:00:00+00:00"


def statuses(path: Path) -> list[str]:
    entries = Journal(path).read("create")
    return [status_of(entries[i]) for i in sorted(entries)]  # type: ignore[type-var]


async def rerun_at_once(fake: FakeProlific, path: Path, count: int) -> None:
    """Re-run with an hour's reconcile_delay: an item left in doubt would list and wait."""
    before = listings(fake)
    async with fake.client(retry=FAST) as client:
        run = client.batches.create_many(
            creates(count), journal=Journal(path), reconcile_delay=HOUR
        )
        results = await asyncio.wait_for(collect(run), BOUND)
    assert_exactly_once(results, fake)
    assert not any(result.reconciled for result in results)
    assert listings(fake) == before  # sent at once: nothing to look for


async def test_a_401_leaves_its_item_not_made_and_a_rerun_sends_it_at_once(
    fake: FakeProlific, tmp_path: Path
) -> None:
    """The item answered 401 is journaled not made, the rest not attempted; none in flight."""
    path = tmp_path / "run.journal"
    async with ProlificClient("a-wrong-token", base_url=fake.url, retry=FAST) as bound:
        run = bound.batches.create_many(creates(4), concurrency=1, journal=Journal(path))
        results = await collect(run)
    assert isinstance(results[0].error, AuthenticationError)
    assert statuses(path) == ["not made"] + ["not attempted"] * 3
    with Journal(path).reading("create") as reader:
        counts = reader.counts()
    assert (counts["not made"], counts["not attempted"], counts["in flight"]) == (1, 3, 0)
    await rerun_at_once(fake, path, 4)
    assert posts(fake) == 1 + 4


async def test_sends_that_never_connected_leave_their_items_not_made(
    fake: FakeProlific, never_listening: socket.socket, tmp_path: Path
) -> None:
    """Items whose every send was refused a connection are not made: a re-run lists nothing."""
    path = tmp_path / "run.journal"
    port = never_listening.getsockname()[1]
    async with ProlificClient("token", base_url=f"http://127.0.0.1:{port}", retry=FAST) as bound:
        run = bound.batches.create_many(
            creates(6), concurrency=1, journal=Journal(path), max_consecutive_unsent=2
        )
        results = await collect(run)
    tried = sum(1 for result in results if result.attempts)
    assert tried >= 1
    assert statuses(path).count("not made") == tried
    assert "in flight" not in statuses(path)
    await rerun_at_once(fake, path, 6)


async def test_an_item_once_in_doubt_stays_in_flight_though_a_listing_showed_none(
    fake: FakeProlific, tmp_path: Path
) -> None:
    """Answered 500, listed (none), then refused 401: in flight, as a later listing may differ."""
    path = tmp_path / "run.journal"
    fake.add_fault("POST", CREATE, "status", status=500, times=1)
    fake.add_fault("POST", CREATE, "status", status=401, times=None)
    async with fake.client(retry=FAST) as client:
        run = client.batches.create_many(creates(1), journal=Journal(path), reconcile_delay=0.001)
        results = await collect(run)
    assert isinstance(results[0].error, AuthenticationError)
    assert listings(fake) >= 1  # looked for after the 500, and found nothing
    assert statuses(path) == ["in flight"]


async def test_an_item_refused_429_until_its_cap_is_not_made(
    fake: FakeProlific, tmp_path: Path
) -> None:
    """A 429 whose Retry-After is past the policy's cap made nothing: not made."""
    path = tmp_path / "run.journal"
    fake.add_fault("POST", CREATE, "status", status=429, headers={"Retry-After": "3600"})
    async with fake.client(retry=FAST) as client:
        run = client.batches.create_many(creates(1), journal=Journal(path))
        results = await collect(run)
    assert isinstance(results[0].error, RateLimitError)
    assert statuses(path) == ["not made"]
    await rerun_at_once(fake, path, 1)


async def test_a_403_leaves_its_item_not_made(fake: FakeProlific, tmp_path: Path) -> None:
    """A send refused 403 made nothing: not made, and a re-run sends it at once."""
    path = tmp_path / "run.journal"
    fake.add_fault("POST", CREATE, "status", status=403, times=1)
    async with fake.client(retry=FAST) as client:
        results = await collect(client.batches.create_many(creates(1), journal=Journal(path)))
    assert isinstance(results[0].error, PermissionDeniedError)
    assert statuses(path) == ["not made"]
    await rerun_at_once(fake, path, 1)


async def test_an_item_whose_answer_was_lost_and_never_looked_for_stays_in_flight(
    fake: FakeProlific, tmp_path: Path
) -> None:
    """Applied, unanswered, listings refused in this run and a re-run: in flight, then adopted."""
    path = tmp_path / "run.journal"
    fake.add_fault("POST", CREATE, "drop_after", times=1)
    fake.add_fault("GET", LISTINGS, "status", status=401, times=None)
    async with fake.client(retry=FAST) as client:
        run = client.batches.create_many(creates(1), journal=Journal(path), reconcile_delay=0.001)
        results = await collect(run)
    assert not results[0].ok
    assert statuses(path) == ["in flight"]
    fake.clear_faults()
    async with ProlificClient("a-wrong-token", base_url=fake.url, retry=FAST) as bound:
        refused = await collect(bound.batches.create_many(creates(1), journal=Journal(path)))
    assert isinstance(refused[0].error, AuthenticationError)  # its listing was refused
    assert statuses(path) == ["in flight"]  # resumed in doubt: still in doubt
    async with fake.client(retry=FAST) as client:
        run = client.batches.create_many(creates(1), journal=Journal(path), reconcile_delay=0.001)
        resumed = await asyncio.wait_for(collect(run), BOUND)
    assert_exactly_once(resumed, fake)
    assert resumed[0].reconciled
    assert posts(fake) == 1


def test_a_not_made_record_clears_the_start_and_keeps_the_last_send() -> None:
    """not_made leaves an entry with no start (nothing to reconcile) and its last send time."""
    started = apply_record({"type": "start", "item": 0, "fingerprint": "f", "started_at": AT}, None)
    entry = apply_record({"type": "not_made", "item": 0, "fingerprint": "f"}, started)
    assert entry.started_at is None
    assert entry.last_sent_at == datetime(2026, 1, 1, tzinfo=UTC)
    assert status_of(entry) == "not made"


def test_a_not_made_record_leaves_a_recorded_batch_alone() -> None:
    """An item recorded done stays done whatever not_made record follows."""
    done = JournalEntry(fingerprint="f", started_at=datetime(2026, 1, 1, tzinfo=UTC))
    done.batch = {"id": "b0"}
    entry = apply_record({"type": "not_made", "item": 0, "fingerprint": "f"}, done)
    assert entry.started_at == done.started_at
    assert status_of(entry) == "done"


def test_a_send_recorded_with_no_start_is_in_doubt() -> None:
    """A 'sent' record after not_made (or with no start at all) puts the item back in flight."""
    assert "not_made" in _journal_records.RECORD_TYPES
    cleared = apply_record({"type": "not_made", "item": 0, "fingerprint": "f"}, None)
    assert status_of(cleared) == "not attempted"
    entry = apply_record({"type": "sent", "item": 0, "fingerprint": "f", "at": AT}, cleared)
    assert entry.started_at == datetime(2026, 1, 1, tzinfo=UTC)
    assert status_of(entry) == "in flight"


FAILED = {"type": "BadRequestError", "message": "refused", "status_code": 400}


def test_a_send_recorded_after_a_failure_clears_it_start_or_not() -> None:
    """A 'sent' after 'failed' puts the item in flight, its failure and request id cleared."""
    started = apply_record({"type": "start", "item": 0, "fingerprint": "f", "started_at": AT}, None)
    for before in (started, None):  # with a start, and a failure recorded with none
        failure = {"type": "failed", "item": 0, "fingerprint": "f", "error": FAILED}
        failed = apply_record({**failure, "request_id": "req-1"}, before)
        assert status_of(failed) == "failed"
        later = "2026-01-02T00:00:00+00:00"
        entry = apply_record({"type": "sent", "item": 0, "fingerprint": "f", "at": later}, failed)
        assert status_of(entry) == "in flight"
        assert entry.error is None
        assert entry.request_id is None
        first = AT if before is not None else later  # a start recorded is kept
        assert entry.started_at == datetime.fromisoformat(first)
        assert entry.last_sent_at == datetime.fromisoformat(later)


async def test_write_sent_after_a_failure_folds_as_a_sent_record(tmp_path: Path) -> None:
    """The run's write_sent after write_failed gives the entry a 'sent' record gives."""
    journal = Journal(tmp_path / "run.db")
    journal.open("create")
    try:
        at = datetime(2026, 1, 1, tzinfo=UTC)
        await journal.write_start(0, "f", at=at)
        refused = BadRequestError(
            "refused", status_code=400, body=None, request_id="req-1", method="POST", url="u"
        )
        await journal.write_failed(0, "f", error=refused)
        await journal.write_sent(0, "f", at=at.replace(day=2))
    finally:
        await journal.close()
    entry = Journal(tmp_path / "run.db").read("create")[0]
    assert status_of(entry) == "in flight"
    assert entry.error is None
    assert entry.request_id is None
    assert entry.started_at == at
    assert entry.last_sent_at == at.replace(day=2)


async def test_a_failed_item_sent_again_is_reconciled_not_reported_failed(
    fake: FakeProlific, tmp_path: Path
) -> None:
    """A journal whose failed item was sent again: a re-run adopts the batch that send made."""
    request = creates(1)[0]
    made = fake.add_batch(name=request.name, workspace_id=WS, task_details=DETAILS)
    when = made.created_at.isoformat()
    old = tmp_path / "run.jsonl"
    records = [
        {"type": "header", "version": 1, "operation": "create"},
        {"type": "start", "started_at": when},
        {"type": "failed", "error": FAILED},
        {"type": "sent", "at": when},  # sent again after the failure: it made `made`
    ]
    lines = [records[0]] + [
        {**r, "item": 0, "fingerprint": fingerprint(request)} for r in records[1:]
    ]
    old.write_text("".join(json.dumps(line) + "\n" for line in lines))
    path = tmp_path / "run.journal"
    assert import_journal(old, path) == 3
    async with fake.client(retry=FAST) as client:
        run = client.batches.create_many([request], journal=Journal(path), reconcile_delay=0)
        results = await asyncio.wait_for(collect(run), BOUND)
    assert results[0].batch is not None, results[0].error
    assert results[0].batch.id == made.id
    assert results[0].reconciled
    assert posts(fake) == 0
    assert statuses(path) == ["done"]


async def test_a_failed_item_retried_and_refused_is_not_taken_for_never_made(
    fake: FakeProlific, tmp_path: Path
) -> None:
    """A failed item once in doubt, retried (retry_failed) and refused 401, is not made-nothing."""
    path = tmp_path / "run.journal"
    fake.add_fault("POST", CREATE, "status", status=500, times=1)  # in doubt, listed: none
    fake.add_fault("POST", CREATE, "status", status=422, times=1)  # then refused for good
    async with fake.client(retry=FAST) as client:
        run = client.batches.create_many(creates(1), journal=Journal(path), reconcile_delay=0.001)
        failed = await collect(run)
    assert not failed[0].ok
    assert statuses(path) == ["failed"]
    async with ProlificClient("a-wrong-token", base_url=fake.url, retry=FAST) as bound:
        run = bound.batches.create_many(creates(1), journal=Journal(path), retry_failed=True)
        retried = await collect(run)
    assert isinstance(retried[0].error, AuthenticationError)
    assert statuses(path) != ["not made"]
