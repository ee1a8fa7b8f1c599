"""Bulk provisioning against the emulator: exactly once under faults, journal, streaming."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

from prolific_async import (
    AuthenticationError,
    BadRequestError,
    BulkResult,
    CreateBatchRequest,
    DuplicateBatchRequest,
    Journal,
    JournalError,
    NotFoundError,
    ProlificClient,
    RateLimitError,
    ReconciliationError,
    RetryPolicy,
    TaskDetails,
    set_testing,
)
from prolific_async._converter import converter
from prolific_async._reconcile import MatchKey
from prolific_async.bulk import fingerprint, run_bulk
from prolific_async.models import Column, Page, RichTextItem, Row
from prolific_async.testing import FakeProlific

from .conftest import SCRIPTED_BATCH, wait_until

CREATE = "/api/v1/data-collection/batches"
DUPLICATE = "/api/v1/data-collection/batches/*/duplicate"
WS = "6278acb09062db3b35bcbeb0"
DETAILS = TaskDetails(task_name="Rate", task_introduction="<p>Hi</p>", task_steps="<ol></ol>")
FAST = RetryPolicy(attempts=5, timeout=10.0, wait_initial=0.001, wait_max=0.01, wait_jitter=0.0)


@pytest.fixture(autouse=True)
def _no_retry_waits() -> Iterator[None]:
    with set_testing():
        yield


@pytest.fixture
async def fake() -> AsyncIterator[FakeProlific]:
    async with FakeProlific(seed=1) as emulator:
        yield emulator


@pytest.fixture
async def client(fake: FakeProlific) -> AsyncIterator[ProlificClient]:
    async with fake.client(retry=FAST, timeout=2.0) as bound:
        yield bound


def creates(count: int, *, name: str = "batch-{i}", **kwargs: Any) -> list[CreateBatchRequest]:
    return [CreateBatchRequest(name.format(i=i), WS, DETAILS, **kwargs) for i in range(count)]


async def collect(results: AsyncIterator[BulkResult]) -> list[BulkResult]:
    return sorted([result async for result in results], key=lambda r: r.index)


def served_batch(name: str) -> dict[str, object]:
    """The JSON of a batch named ``name`` in ``WS`` a test server answers with, made now."""
    return {
        **SCRIPTED_BATCH,
        "id": f"id-{name}",
        "name": name,
        "datasets": [],
        "workspace_id": WS,
        "task_details": converter.unstructure(DETAILS),
        "created_at": datetime.now(UTC).isoformat(),  # just made: not foreign by its age
    }


def batches_named(fake: FakeProlific) -> Counter[str]:
    return Counter(batch.name for batch in fake.batches.values())


def posts(fake: FakeProlific) -> int:
    return sum(1 for request in fake.requests if request.method == "POST")


def assert_exactly_once(results: list[BulkResult], fake: FakeProlific) -> None:
    """Every result has its own batch, and the emulator holds nothing more or less."""
    assert all(result.ok for result in results), [str(r.error) for r in results if not r.ok]
    ids = [result.batch.id for result in results if result.batch]
    assert len(set(ids)) == len(results)
    assert set(ids) <= set(fake.batches)


# -- the happy path and the result fields ------------------------------------------------


async def test_create_many_makes_each_batch_once(
    client: ProlificClient, fake: FakeProlific
) -> None:
    """Thirty creates make thirty batches, one POST each, results for every index."""
    results = await collect(client.batches.create_many(creates(30), concurrency=8))
    assert [r.index for r in results] == list(range(30))
    assert_exactly_once(results, fake)
    assert len(fake.batches) == 30
    assert all(r.attempts == 1 and not r.reconciled and not r.resumed for r in results)
    assert all(r.batch is not None and r.batch.name == r.request.name for r in results)


async def test_async_iterable_input_is_accepted(client: ProlificClient, fake: FakeProlific) -> None:
    """Requests may come from an async generator."""

    async def produce() -> AsyncIterator[CreateBatchRequest]:
        for request in creates(5):
            yield request

    results = await collect(client.batches.create_many(produce()))
    assert_exactly_once(results, fake)


async def test_definitive_failure_is_reported_not_retried(
    client: ProlificClient, fake: FakeProlific
) -> None:
    """A 400 fails its own item after one POST; the other items still succeed."""
    requests = [*creates(3), CreateBatchRequest("bad", WS, DETAILS, "no-such-dataset")]
    results = await collect(client.batches.create_many(requests))
    assert [r.ok for r in results] == [True, True, True, False]
    assert isinstance(results[3].error, BadRequestError)
    assert results[3].attempts == 1
    assert len(fake.batches) == 3


# -- the fingerprint a journal matches requests by --------------------------------------

#: Digests computed by the fingerprint of 0.1 (before the wire form had one home):
#: journals written then must keep matching their manifests.
UNICODE = TaskDetails(
    task_name='Évaluer "ça"', task_introduction="", task_steps="<ol><li>1</li></ol>"
)
PINNED_FINGERPRINTS = [
    (CreateBatchRequest("batch-0", "ws-1", DETAILS), "7cb22882746c5afeac3d260612a7c72f"),
    (CreateBatchRequest("batch-0", "ws-1", DETAILS, "ds-1"), "4fbe65d3655ea6d5fd992aacd7836474"),
    (CreateBatchRequest("batch-0", "ws-1", DETAILS, key="k1"), "7cb22882746c5afeac3d260612a7c72f"),
    (CreateBatchRequest("naïve ☃", "ws-2", UNICODE, "ds-2"), "226592bd8cb8a0af78919f4fa9dcaa16"),
    (DuplicateBatchRequest("b-1"), "317496a581f010cfc5d1f923c88b65a0"),
    (DuplicateBatchRequest("b-1", "Copy name"), "2f499806d595764255771331b20cc458"),
    (DuplicateBatchRequest("b-1", upload_new_dataset=True), "ddfddae6e7076b2b18c2642e7eb5678f"),
    (
        DuplicateBatchRequest("b-1", "Copy name", True, key="k2"),
        "d70eb11fbdb9551962f9a146381aa30a",
    ),
]


@pytest.mark.parametrize(("request_", "digest"), PINNED_FINGERPRINTS)
def test_fingerprints_of_existing_requests_never_change(
    request_: CreateBatchRequest | DuplicateBatchRequest, digest: str
) -> None:
    """A request expressible before keeps its fingerprint byte for byte (its key left out)."""
    assert fingerprint(request_) == digest


# -- one wire form: body, fingerprint and match key from one place ----------------------

PAGE = Page(rows=[Row(columns=[Column(items=[RichTextItem(content="<p>Hi</p>")])])])


def test_a_field_set_on_a_request_reaches_body_fingerprint_and_match_key() -> None:
    """Giving a create its dataset changes its body, its fingerprint and its match key."""
    plain = CreateBatchRequest("n", WS, DETAILS)
    with_data = attrs.evolve(plain, dataset_id="ds-1")
    assert "dataset_id" not in converter.unstructure(plain)
    assert converter.unstructure(with_data)["dataset_id"] == "ds-1"
    assert fingerprint(with_data) != fingerprint(plain)
    assert MatchKey.of_request(with_data).dataset_ids == {"ds-1"}
    assert MatchKey.of_request(plain).dataset_ids == frozenset()


@pytest.mark.parametrize(
    "fields",
    [{"batch_items": [PAGE]}, {"auto_sync_enabled": False}, {"auto_sync_enabled": True}],
    ids=["batch_items", "auto_sync-off", "auto_sync-on"],
)
def test_layout_and_auto_sync_are_sent_fingerprinted_and_matched(
    fields: dict[str, Any],
) -> None:
    """The layout and sync flag join the body, the fingerprint and the match key when set."""
    plain = CreateBatchRequest("n", WS, DETAILS, "ds-1")
    given = CreateBatchRequest("n", WS, DETAILS, "ds-1", **fields)
    body = converter.unstructure(given)
    for name, value in fields.items():
        assert body[name] == (
            converter.unstructure(value, list[Page]) if name == "batch_items" else value
        )
    assert fingerprint(given) != fingerprint(plain)
    assert MatchKey.of_request(given) != MatchKey.of_request(plain)


def test_a_field_added_to_the_request_class_follows_without_other_edits() -> None:
    """A subclass with one more field: its body and fingerprint carry it once it is set.

    (The match key is written out on purpose: it holds what a listing shows, and
    ``test_layout_and_auto_sync_are_sent_fingerprinted_and_matched`` pins that the create
    fields a listing shows follow into it.)
    """
    extended = attrs.make_class(
        "Extended",
        {"priority": attrs.field(default=None, kw_only=True)},
        bases=(CreateBatchRequest,),
        frozen=True,
    )
    unset = extended("batch-0", "ws-1", DETAILS)
    assert converter.unstructure(unset) == converter.unstructure(
        CreateBatchRequest("batch-0", "ws-1", DETAILS)
    )
    assert fingerprint(unset) == PINNED_FINGERPRINTS[0][1]
    given = extended("batch-0", "ws-1", DETAILS, priority=3)
    assert converter.unstructure(given)["priority"] == 3
    assert fingerprint(given) != fingerprint(unset)


@pytest.mark.parametrize(
    ("fields", "error", "message"),
    [
        ({"batch_items": []}, ValueError, "at least one Page"),
        ({"batch_items": [{"rows": []}]}, TypeError, "batch_items must be a list of Page"),
        ({"auto_sync_enabled": 1}, TypeError, "auto_sync_enabled must be a bool"),
        ({"task_details": {"task_name": "x"}}, TypeError, "task_details must be a TaskDetails"),
    ],
)
async def test_requests_refuse_what_create_refuses_in_the_same_words(
    client: ProlificClient, fields: dict[str, Any], error: type[Exception], message: str
) -> None:
    """A bad layout, sync flag or task details reads the same from a request and from create."""
    arguments: dict[str, Any] = {
        "name": "n",
        "workspace_id": WS,
        "task_details": DETAILS,
        **fields,
    }
    with pytest.raises(error, match=message):
        CreateBatchRequest(**arguments)
    with pytest.raises(error, match=message):
        await client.batches.create(**arguments)


async def test_create_and_create_many_send_the_same_body(
    client: ProlificClient, fake: FakeProlific
) -> None:
    """One request's POST body is the same from batches.create and from create_many."""
    fake.add_dataset("ds-1", total_datapoint_count=3)
    request = CreateBatchRequest(
        "laid out", WS, DETAILS, "ds-1", batch_items=[PAGE], auto_sync_enabled=True
    )
    single = await client.batches.create(
        name=request.name,
        workspace_id=request.workspace_id,
        task_details=request.task_details,
        dataset_id=request.dataset_id,
        batch_items=request.batch_items,
        auto_sync_enabled=request.auto_sync_enabled,
    )
    results = await collect(client.batches.create_many([request]))
    bodies = [r.json for r in fake.requests if r.method == "POST"]
    assert bodies[0] == bodies[1] == converter.unstructure(request)
    made = fake.batches[results[0].batch.id if results[0].batch else ""]
    assert made.auto_sync_enabled is True
    assert made.batch_items is not None
    assert fake.batches[single.id].batch_items is not None


# -- exactly once under faults -----------------------------------------------------------


async def test_drop_after_apply_on_creates_is_reconciled(
    client: ProlificClient, fake: FakeProlific
) -> None:
    """Creates whose connection dropped after the server made them are adopted, not resent."""
    fake.add_fault("POST", CREATE, "drop_after", times=6)
    results = await collect(client.batches.create_many(creates(20), concurrency=5))
    assert_exactly_once(results, fake)
    assert len(fake.batches) == 20
    assert sum(r.reconciled for r in results) == 6
    assert sum(r.attempts for r in results) == posts(fake) == 20


async def test_drop_after_apply_on_duplicates_is_reconciled(
    client: ProlificClient, fake: FakeProlific
) -> None:
    """Copies of one source with the default name survive dropped connections exactly once."""
    source = fake.add_batch(name="Source", workspace_id=WS, task_details=DETAILS)
    fake.add_fault("POST", DUPLICATE, "drop_after", times=5)
    requests = [DuplicateBatchRequest(source.id) for _ in range(12)]
    results = await collect(client.batches.duplicate_many(requests, concurrency=6))
    assert_exactly_once(results, fake)
    assert batches_named(fake)["Source (Copy)"] == 12
    assert len(fake.batches) == 13
    assert source.id not in {r.batch.id for r in results if r.batch}
    assert sum(r.reconciled for r in results) == 5


async def test_duplicate_named_like_its_source_never_adopts_the_source(
    client: ProlificClient, fake: FakeProlific
) -> None:
    """A copy that looks exactly like its source is found, and the source is left alone."""
    source = fake.add_batch(name="Same", workspace_id=WS, task_details=DETAILS)
    fake.add_fault("POST", DUPLICATE, "drop_after", times=1)
    results = await collect(
        client.batches.duplicate_many([DuplicateBatchRequest(source.id, "Same")])
    )
    assert_exactly_once(results, fake)
    assert results[0].reconciled
    assert results[0].batch is not None
    assert results[0].batch.id != source.id
    assert len(fake.batches) == 2


async def test_upload_new_dataset_copies_match_without_the_dataset(
    client: ProlificClient, fake: FakeProlific
) -> None:
    """A copy made without the source's dataset is still recognised when reconciling."""
    dataset = fake.add_dataset(total_datapoint_count=10)
    source = fake.add_batch(
        name="S", workspace_id=WS, task_details=DETAILS, dataset_ids=[dataset.id]
    )
    fake.add_fault("POST", DUPLICATE, "drop_after", times=2)
    requests = [DuplicateBatchRequest(source.id, upload_new_dataset=True) for _ in range(2)]
    requests.append(DuplicateBatchRequest(source.id))
    results = await collect(client.batches.duplicate_many(requests, concurrency=1))
    assert_exactly_once(results, fake)
    assert [len(r.batch.datasets) for r in results if r.batch] == [0, 0, 1]
    assert len(fake.batches) == 4


async def test_missing_source_fails_its_items(client: ProlificClient, fake: FakeProlific) -> None:
    """A duplicate of an unknown batch fails with NotFoundError and sends no POST."""
    results = await collect(
        client.batches.duplicate_many([DuplicateBatchRequest("missing-id")] * 2)
    )
    assert all(isinstance(r.error, NotFoundError) for r in results)
    assert posts(fake) == 0


@pytest.mark.parametrize(
    ("kind", "applied"), [("status_after", True), ("status", False)], ids=["applied", "not-applied"]
)
async def test_5xx_on_create_is_reconciled(
    client: ProlificClient, fake: FakeProlific, kind: str, applied: bool
) -> None:
    """A 503 on a create is checked by listing: adopted if it was applied, resent if not."""
    fake.add_fault("POST", CREATE, kind, times=4, status=503)
    results = await collect(client.batches.create_many(creates(10), concurrency=4))
    assert_exactly_once(results, fake)
    assert len(fake.batches) == 10
    assert sum(r.reconciled for r in results) == (4 if applied else 0)
    assert posts(fake) == (10 if applied else 14)


async def test_read_timeouts_on_creates_are_reconciled(fake: FakeProlific) -> None:
    """Creates whose answer never came (applied, then stalled) are adopted after listing."""
    fake.add_fault("POST", CREATE, "stall_after", times=3)
    async with fake.client(retry=FAST, timeout=0.05) as client:
        results = await collect(client.batches.create_many(creates(8), concurrency=4))
    assert_exactly_once(results, fake)
    assert len(fake.batches) == 8
    assert sum(r.reconciled for r in results) == 3


async def test_429_bursts_are_retried_and_counted(
    client: ProlificClient, fake: FakeProlific
) -> None:
    """A burst of 429s delays creates; every POST is counted in attempts, none doubles."""
    fake.add_fault("POST", CREATE, "status", times=15, status=429, headers={"Retry-After": "1"})
    results = await collect(client.batches.create_many(creates(10), concurrency=10))
    assert_exactly_once(results, fake)
    assert len(fake.batches) == 10
    assert sum(r.attempts for r in results) == posts(fake) == 25


async def test_identical_requests_hit_by_faults_are_counted(
    client: ProlificClient, fake: FakeProlific
) -> None:
    """Ten identical creates under random drops make exactly ten batches."""
    fake.add_fault("POST", CREATE, "drop_after", times=None, probability=0.4)
    fake.add_fault("POST", CREATE, "drop_before", times=None, probability=0.2)
    requests = creates(10, name="same name")
    results = await collect(client.batches.create_many(requests, concurrency=10))
    assert_exactly_once(results, fake)
    assert batches_named(fake)["same name"] == 10


async def test_unexplained_matches_fail_for_a_human(
    client: ProlificClient, fake: FakeProlific
) -> None:
    """More matching unclaimed batches than ambiguous items: fail, adopt nothing, send nothing."""
    stranger = fake.add_batch(name="contested", workspace_id=WS, task_details=DETAILS)
    fake.add_fault("POST", CREATE, "drop_after", times=1)
    results = await collect(client.batches.create_many(creates(1, name="contested")))
    error = results[0].error
    assert isinstance(error, ReconciliationError)
    assert stranger.id in error.candidates
    assert len(error.candidates) == 2
    assert "by hand" in str(error)
    assert posts(fake) == 1
    assert len(fake.batches) == 2


# -- the journal -------------------------------------------------------------------------


async def test_resume_reports_finished_items_without_requests(
    client: ProlificClient, fake: FakeProlific, tmp_path: Path
) -> None:
    """A run stopped early and run again finishes every item once, reusing the journal."""
    journal_path = tmp_path / "run.jsonl"
    requests = creates(20)
    async with contextlib.aclosing(
        client.batches.create_many(requests, concurrency=4, journal=Journal(journal_path))
    ) as results:
        first = [result async for result in results if result.index >= 0]
        # stop after eight results
        del first[8:]
    requests_before = posts(fake)
    second = await collect(
        client.batches.create_many(requests, concurrency=4, journal=Journal(journal_path))
    )
    assert_exactly_once(second, fake)
    assert len(fake.batches) == 20
    resumed = [r for r in second if r.resumed]
    assert len(resumed) >= 8
    assert all(r.attempts == 0 for r in resumed)
    assert posts(fake) - requests_before == 20 - len(resumed)


async def test_break_inside_aclosing_stops_new_work(
    client: ProlificClient, fake: FakeProlific, tmp_path: Path
) -> None:
    """Breaking out early cancels in-flight POSTs and starts nothing new; resume completes.

    The resume starts at once, while the abandoned POSTs are still inside the server:
    the reconcile delay makes the resumed run wait for them instead of sending again.
    """
    fake.latency = 0.05
    journal_path = tmp_path / "run.jsonl"
    requests = creates(200)
    seen = 0
    async with contextlib.aclosing(
        client.batches.create_many(requests, concurrency=8, journal=Journal(journal_path))
    ) as results:
        async for _ in results:
            seen += 1
            if seen == 5:
                break
    assert posts(fake) < 40
    second = await collect(
        client.batches.create_many(
            requests, concurrency=8, journal=Journal(journal_path), reconcile_delay=0.2
        )
    )
    assert_exactly_once(second, fake)
    assert len(fake.batches) == 200


async def test_in_flight_items_are_reconciled_on_resume(fake: FakeProlific, tmp_path: Path) -> None:
    """Items cancelled mid-POST (applied by the server) are adopted on resume, not resent."""
    journal_path = tmp_path / "run.jsonl"
    requests = creates(6)
    fake.add_fault("POST", CREATE, "stall_after", times=None)
    async with fake.client(retry=FAST, timeout=5.0) as client:
        run = asyncio.create_task(
            collect(
                client.batches.create_many(requests, concurrency=6, journal=Journal(journal_path))
            )
        )
        await wait_until(lambda: len(fake.batches) == 6)
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
    fake.clear_faults()
    entries = Journal(journal_path).read("create")
    assert sum(entry.started_at is not None for entry in entries.values()) == 6
    assert not any(entry.batch for entry in entries.values())
    async with fake.client(retry=FAST) as client:
        results = await collect(client.batches.create_many(requests, journal=Journal(journal_path)))
    assert_exactly_once(results, fake)
    assert len(fake.batches) == 6
    assert all(r.reconciled for r in results)
    assert posts(fake) == 6


async def test_journal_of_another_manifest_is_refused(
    client: ProlificClient, fake: FakeProlific, tmp_path: Path
) -> None:
    """A journal whose fingerprints disagree with the manifest names the first differing item."""
    journal_path = tmp_path / "run.jsonl"
    await collect(client.batches.create_many(creates(3), journal=Journal(journal_path)))
    changed = creates(3)
    changed[1] = CreateBatchRequest("something else", WS, DETAILS)
    with pytest.raises(JournalError, match="request 1"):
        await collect(client.batches.create_many(changed, journal=Journal(journal_path)))
    assert len(fake.batches) == 3


async def test_failures_stay_failed_unless_retried(
    client: ProlificClient, fake: FakeProlific, tmp_path: Path
) -> None:
    """A definitive failure is reported from the journal, or sent again with retry_failed."""
    journal_path = tmp_path / "run.jsonl"
    requests = [CreateBatchRequest("needs data", WS, DETAILS, "ds-1", key="k1")]
    first = await collect(client.batches.create_many(requests, journal=Journal(journal_path)))
    assert isinstance(first[0].error, BadRequestError)
    again = await collect(client.batches.create_many(requests, journal=Journal(journal_path)))
    assert again[0].resumed
    assert isinstance(again[0].error, BadRequestError)
    assert posts(fake) == 1
    fake.add_dataset("ds-1", total_datapoint_count=3)
    retried = await collect(
        client.batches.create_many(requests, journal=Journal(journal_path), retry_failed=True)
    )
    assert retried[0].ok
    assert not retried[0].resumed
    assert len(fake.batches) == 1


async def test_user_keys_must_be_unique(client: ProlificClient, fake: FakeProlific) -> None:
    """Two requests with the same key are refused before the second is sent."""
    requests = [
        CreateBatchRequest("a", WS, DETAILS, key="k"),
        CreateBatchRequest("b", WS, DETAILS, key="k"),
    ]
    with pytest.raises(ValueError, match="repeats the key 'k'"):
        await collect(client.batches.create_many(requests, concurrency=1))


async def test_wrong_request_type_is_refused(client: ProlificClient) -> None:
    """duplicate_many refuses a CreateBatchRequest with a TypeError naming its index."""
    with pytest.raises(TypeError, match="request 0 must be a DuplicateBatchRequest"):
        await collect(client.batches.duplicate_many(creates(1)))  # type: ignore[arg-type]


# -- streaming, cancellation, flow control -----------------------------------------------


def _streaming_benchmark() -> Any:
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "streaming.py"
    spec = importlib.util.spec_from_file_location("streaming_benchmark", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_a_long_stream_keeps_read_ahead_and_tasks_bounded() -> None:
    """The streaming benchmark at a small N: all made, read-ahead and tasks bounded by 16."""
    row = await _streaming_benchmark().measure(400, concurrency=16)
    assert row.made == 400
    assert row.peak_read_ahead <= 16 + 1
    # 16 item tasks, plus the emulator's handlers and the journal-free run's helpers
    assert row.peak_tasks <= 16 * 2 + 8


async def test_cancelling_the_run_leaks_nothing(fake: FakeProlific, tmp_path: Path) -> None:
    """A cancelled run leaves no task and no busy connection, and its journal resumes."""
    fake.latency = 0.02
    journal_path = tmp_path / "run.jsonl"
    requests = creates(100)
    async with fake.client(retry=FAST, max_connections=8) as client:
        baseline = set(asyncio.all_tasks())
        run = asyncio.create_task(
            collect(
                client.batches.create_many(requests, concurrency=8, journal=Journal(journal_path))
            )
        )
        await wait_until(lambda: posts(fake) >= 10)
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
        # Every request the emulator received has been answered or cut off.
        await wait_until(lambda: fake.stats.in_flight == 0)
        leftover = [t for t in asyncio.all_tasks() - baseline if not t.done()]
        # The emulator's own connection handlers may linger; none of the client's may.
        assert [t for t in leftover if not _is_server_task(t)] == []
        async with client.storage_session() as session:  # on the client's own connections
            assert session.connector is not None
            # aiohttp has no public count of the connections in use, so this one
            # private read stays: every connection was released.
            assert len(session.connector._acquired) == 0
        fake.latency = 0.0
        results = await collect(
            client.batches.create_many(requests, concurrency=8, journal=Journal(journal_path))
        )
    assert_exactly_once(results, fake)
    assert len(fake.batches) == 100


def _is_server_task(task: asyncio.Task[Any]) -> bool:
    code = getattr(task.get_coro(), "cr_code", None)
    filename = code.co_filename if code is not None else ""
    return "aiohttp/web" in filename or "prolific_async/testing" in filename


# -- late applies, shared listings, claims, windows, caps ------------------------------


async def test_a_request_applied_after_its_timeout_is_found_not_resent(
    fake: FakeProlific,
) -> None:
    """A create the server applies after the client gave up is adopted after the delay."""
    fake.add_fault("POST", CREATE, "delay", delay=0.3)
    async with fake.client(retry=FAST, timeout=0.1) as client:
        results = await collect(client.batches.create_many(creates(1), reconcile_delay=0.6))
    assert_exactly_once(results, fake)
    assert results[0].reconciled
    assert len(fake.batches) == 1


async def test_ambiguous_requests_share_listings(
    client: ProlificClient, fake: FakeProlific
) -> None:
    """Twenty dropped creates in one workspace cost far fewer than twenty listings."""
    fake.add_fault("POST", CREATE, "drop_after", times=20)
    results = await collect(
        client.batches.create_many(creates(20), concurrency=20, reconcile_delay=0.1)
    )
    assert_exactly_once(results, fake)
    listings = sum(1 for r in fake.requests if r.method == "GET" and r.query.get("workspace_id"))
    assert listings <= 10  # without sharing: one listing per dropped create, 20


async def test_batches_from_the_journal_are_claimed_on_resume(
    fake: FakeProlific, tmp_path: Path
) -> None:
    """An identical request resumed in flight adopts its own batch, not one the journal owns."""
    journal_path = tmp_path / "run.jsonl"
    requests = creates(2, name="twin")
    async with fake.client(retry=FAST) as client:
        first = await collect(
            client.batches.create_many(requests[:1], journal=Journal(journal_path))
        )
    assert first[0].ok
    fake.add_fault("POST", CREATE, "stall_after", times=None)
    async with fake.client(retry=FAST, timeout=5.0) as client:
        run = asyncio.create_task(
            collect(client.batches.create_many(requests, journal=Journal(journal_path)))
        )
        await wait_until(lambda: len(fake.batches) == 2)
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
    fake.clear_faults()
    async with fake.client(retry=FAST) as client:
        results = await collect(client.batches.create_many(requests, journal=Journal(journal_path)))
    assert_exactly_once(results, fake)
    assert results[0].resumed
    assert results[1].reconciled
    assert len(fake.batches) == 2


async def test_old_lookalike_batches_are_outside_the_window(
    client: ProlificClient, fake: FakeProlific
) -> None:
    """A matching batch created long before the request's first attempt is not adopted."""
    real_clock = fake.clock
    fake.clock = lambda: real_clock() - timedelta(hours=1)
    old = fake.add_batch(name="batch-0", workspace_id=WS, task_details=DETAILS)
    fake.clock = real_clock
    fake.add_fault("POST", CREATE, "drop_after", times=1)
    results = await collect(client.batches.create_many(creates(1)))
    assert_exactly_once(results, fake)
    assert results[0].batch is not None
    assert results[0].batch.id != old.id
    assert results[0].reconciled


async def test_retry_after_above_the_cap_fails_the_item(fake: FakeProlific) -> None:
    """A 429 asking for longer than retry_after_cap fails its item after one POST."""
    fake.add_fault(
        "POST", CREATE, "status", times=None, status=429, headers={"Retry-After": "3600"}
    )
    async with fake.client(retry=RetryPolicy(retry_after_cap=60.0)) as client:
        results = await collect(client.batches.create_many(creates(2), concurrency=1))
    assert all(isinstance(r.error, RateLimitError) for r in results)
    assert posts(fake) == 2


async def test_auth_failures_are_not_journaled_as_final(fake: FakeProlific, tmp_path: Path) -> None:
    """A wrong token fails every item, but a re-run with the right one tries them again."""
    journal_path = tmp_path / "run.jsonl"
    async with ProlificClient("wrong-token", base_url=fake.url, retry=FAST) as client:
        failed = await collect(
            client.batches.create_many(creates(3), journal=Journal(journal_path))
        )
    assert all(isinstance(r.error, AuthenticationError) for r in failed)
    async with fake.client(retry=FAST) as client:
        results = await collect(
            client.batches.create_many(creates(3), journal=Journal(journal_path))
        )
    assert_exactly_once(results, fake)
    assert not any(r.resumed for r in results)


@pytest.mark.parametrize("seed", range(4))
async def test_lookalike_creates_and_duplicates_under_every_fault(seed: int) -> None:
    """Creates and copies that all look alike, under drops, 5xx, stalls and 429s: exactly once.

    A send waits for a slot and for the 429 gate before it goes out; reconciliation must
    time its delay from the real send, or it adopts too early and sends again.
    """
    async with FakeProlific(seed=seed, latency=lambda rng: rng.uniform(0.0, 0.01)) as fake:
        first = fake.add_batch(name="T", workspace_id=WS, task_details=DETAILS)
        second = fake.add_batch(name="T", workspace_id=WS, task_details=DETAILS)
        for path in (CREATE, DUPLICATE):
            fake.add_fault("POST", path, "drop_after", times=None, probability=0.2)
            fake.add_fault("POST", path, "status_after", times=None, probability=0.1, status=502)
            fake.add_fault("POST", path, "status", times=None, probability=0.1, status=503)
            fake.add_fault("POST", path, "stall_after", times=None, probability=0.05, delay=0.5)
            fake.add_fault(
                "POST",
                path,
                "status",
                times=None,
                probability=0.1,
                status=429,
                headers={"Retry-After": "0"},
            )
        fake.add_fault("GET", CREATE, "status", times=None, probability=0.1, status=503)
        requests: list[CreateBatchRequest | DuplicateBatchRequest] = []
        for _ in range(20):
            requests += [
                CreateBatchRequest("T (Copy)", WS, DETAILS),
                DuplicateBatchRequest(first.id),
                DuplicateBatchRequest(second.id),
                DuplicateBatchRequest(first.id, name="T"),
            ]
        async with fake.client(retry=FAST, timeout=0.2) as client:
            results = await collect(
                run_bulk(
                    client,
                    client.batches,
                    "mixed",
                    requests,
                    concurrency=16,
                    journal=None,
                    retry_failed=False,
                    reconcile_margin=10.0,
                    reconcile_delay=None,
                )
            )
        # The stalled requests' batches exist already; wait for their answers to be sent.
        await wait_until(lambda: fake.stats.in_flight == 0)
        assert_exactly_once(results, fake)
        assert len(fake.batches) == 2 + 80


async def test_no_new_post_of_a_group_starts_while_it_is_reconciled(fake: FakeProlific) -> None:
    """A look-alike request arriving mid-reconciliation waits, so neither is misjudged.

    Without the wait, the newcomer's batch (made, answer held back) would sit in the
    listing as a second unexplained match, and both items would fail for a human.
    """
    dropped = fake.add_fault("POST", CREATE, "drop_after", times=1)
    fake.add_fault("POST", CREATE, "stall_after", times=1, delay=1.0)

    async def arriving() -> AsyncIterator[CreateBatchRequest]:
        yield CreateBatchRequest("same", WS, DETAILS)
        # The first was applied and its connection cut: it waits reconcile_delay to list.
        await wait_until(lambda: dropped.fired == 1)
        yield CreateBatchRequest("same", WS, DETAILS)

    async with fake.client(retry=FAST, timeout=0.2) as client:
        results = await collect(
            client.batches.create_many(arriving(), concurrency=2, reconcile_delay=0.3)
        )
    assert_exactly_once(results, fake)
    assert len(fake.batches) == 2
    assert all(r.reconciled for r in results)
