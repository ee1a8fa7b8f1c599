"""Appending datapoints and syncing batches on the emulator, through the public client.

The point is ``auto_sync_enabled`` end to end: appended datapoints become a batch's
tasks when a sync completes, or with no sync at all when the batch has auto-sync on.
"""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import pytest

from prolific_async import ProlificClient, errors
from prolific_async.models import DatasetSchema, SchemaField, SyncStatus
from prolific_async.testing import FakeProlific, StoredBatch

from ..conftest import wait_until
from .conftest import BATCHES, DATASETS, TASK_DETAILS, WORKSPACE, call

FAST: dict[str, Any] = {"timeout": 5, "poll_interval": 0.005, "max_poll_interval": 0.01}
SCHEMA = {"fields": {"text": {"type": "text"}}}


@pytest.fixture
def prolific_fake(prolific_fake: FakeProlific) -> FakeProlific:
    """The emulator fake, its syncs and migrations taking 20 ms."""
    prolific_fake.sync_delay = 0.02
    prolific_fake.migration_delay = 0.02
    return prolific_fake


def ready_v4_batch(
    fake: FakeProlific, *, records: int = 2, per_group: int = 2, auto_sync: bool = False
) -> StoredBatch:
    """A READY batch with ``records`` tasks, set up on a V4 dataset."""
    dataset = fake.add_dataset(
        schema=SCHEMA, records=[{"text": f"row {n}"} for n in range(records)]
    )
    batch = fake.add_batch(dataset_ids=[dataset.id], status="READY", auto_sync_enabled=auto_sync)
    batch.total_task_count = records
    batch.tasks_per_group = per_group
    batch.total_task_groups = -(-records // per_group)
    return batch


async def test_appended_datapoints_become_tasks_when_a_sync_completes(
    prolific_fake: FakeProlific, prolific_client: ProlificClient
) -> None:
    """Tasks appear only after the sync: the partial group is topped up, then new ones made."""
    batch = ready_v4_batch(prolific_fake, records=3, per_group=2)
    dataset_id = batch.dataset_ids[0]
    appended = await prolific_client.datasets.add_datapoints(
        dataset_id, [{"text": "new 1"}, {"text": "new 2"}, {"text": "new 3"}]
    )
    assert (appended.accepted_count, appended.rejected_count) == (3, 0)
    assert len(await prolific_client.batches.tasks(batch.id)) == 3  # not synced yet
    sync = await prolific_client.batches.sync(batch.id)
    assert sync.status == SyncStatus.QUEUED
    assert (sync.batch_id, sync.dataset_id) == (batch.id, dataset_id)
    done = await prolific_client.batches.wait_for_sync(batch.id, sync, **FAST)
    assert done.status == SyncStatus.COMPLETE
    assert (done.tasks_created, done.datapoints_processed) == (3, 3)
    assert (done.groups_created, done.groups_expanded) == (1, 1)  # 3+3 tasks in pairs
    tasks = await prolific_client.batches.tasks(batch.id)
    assert len(tasks) == 6
    assert len(await prolific_client.batches.task_groups(batch.id)) == 3
    assert (await prolific_client.batches.get(batch.id)).total_task_count == 6


async def test_an_auto_sync_batch_gets_its_tasks_without_a_sync_request(
    prolific_fake: FakeProlific, prolific_client: ProlificClient
) -> None:
    """With auto_sync_enabled the append itself starts a sync; the tasks follow sync_delay later."""
    batch = ready_v4_batch(prolific_fake, records=2, auto_sync=True)
    await prolific_client.datasets.add_datapoints(batch.dataset_ids[0], [{"text": "late"}])
    assert len(await prolific_client.batches.tasks(batch.id)) == 2
    await wait_until(lambda: prolific_fake.batches[batch.id].total_task_count == 3)
    assert len(await prolific_client.batches.tasks(batch.id)) == 3
    assert prolific_fake.stats.requests["POST", "sync_batch"] == 0


async def test_auto_sync_end_to_end_through_the_client(
    prolific_fake: FakeProlific, prolific_client: ProlificClient
) -> None:
    """Created with auto_sync_enabled, set up, appended to: tasks grow after sync_delay alone."""
    datasets, batches = prolific_client.datasets, prolific_client.batches
    dataset = await datasets.create(
        name="V4",
        workspace_id=WORKSPACE,
        schema=DatasetSchema(fields={"text": SchemaField(type="text")}),
    )
    await datasets.upload(dataset.id, b'{"text": "a"}\n{"text": "b"}\n', filename="d.jsonl", **FAST)
    batch = await batches.create(
        name="Auto",
        workspace_id=WORKSPACE,
        task_details=TASK_DETAILS,
        dataset_id=dataset.id,
        auto_sync_enabled=True,
    )
    assert batch.auto_sync_enabled is True
    await batches.setup(batch.id, tasks_per_group=1)
    await batches.wait_until_ready(batch.id, **FAST)
    assert len(await batches.tasks(batch.id)) == 2
    prolific_fake.sync_delay = 0.05
    appended = await datasets.add_datapoints(dataset.id, [{"text": "c"}, {"text": "d"}])
    assert appended.accepted_count == 2
    started = time.monotonic()
    assert len(await batches.tasks(batch.id)) == 2  # the sync takes sync_delay
    await wait_until(lambda: prolific_fake.batches[batch.id].total_task_count == 4)
    assert time.monotonic() - started >= 0.04
    assert len(await batches.tasks(batch.id)) == 4
    assert len(await batches.task_groups(batch.id)) == 4
    assert prolific_fake.stats.requests["POST", "sync_batch"] == 0
    assert not [r for r in prolific_fake.requests if "/sync" in r.path]


async def test_an_append_is_idempotent_and_reports_rejected_records(
    prolific_fake: FakeProlific, prolific_client: ProlificClient
) -> None:
    """An identical record counts as accepted but is written once; a strict miss is rejected."""
    dataset = prolific_fake.add_dataset(
        schema={"strict": True, "fields": {"text": {"type": "text"}}},
        records=[{"text": "kept"}],
    )
    appended = await prolific_client.datasets.add_datapoints(
        dataset.id, [{"text": "kept"}, {"text": "new"}, {"other": "x"}]
    )
    assert (appended.accepted_count, appended.rejected_count) == (2, 1)
    assert [(e.record_index, e.field) for e in appended.errors] == [(2, "text")]
    assert prolific_fake.datasets[dataset.id].total_datapoint_count == 2


async def test_a_sync_of_a_v3_batch_fails_and_the_wait_raises(
    prolific_fake: FakeProlific, prolific_client: ProlificClient
) -> None:
    """Syncs are V4-only: the job ends failed and wait_for_sync raises BatchSyncFailedError."""
    dataset = prolific_fake.add_dataset(total_datapoint_count=2)
    batch = prolific_fake.add_batch(dataset_ids=[dataset.id], status="READY")
    sync = await prolific_client.batches.sync(batch.id)
    with pytest.raises(errors.BatchSyncFailedError) as caught:
        await prolific_client.batches.wait_for_sync(batch.id, sync, **FAST)
    assert caught.value.reason is not None
    assert "V4" in caught.value.reason
    assert caught.value.sync_id == sync.sync_id


async def test_wait_for_sync_times_out_while_the_sync_runs(
    prolific_fake: FakeProlific, prolific_client: ProlificClient
) -> None:
    """A sync slower than the wait's timeout raises WaitTimeoutError; the job keeps running."""
    batch = ready_v4_batch(prolific_fake)
    prolific_fake.sync_delay = 60
    sync = await prolific_client.batches.sync(batch.id)
    with pytest.raises(errors.WaitTimeoutError) as caught:
        await prolific_client.batches.wait_for_sync(
            batch.id, sync, timeout=0.05, poll_interval=0.005, max_poll_interval=0.01
        )
    assert caught.value.last_status == "processing"


async def test_syncs_of_one_batch_run_one_after_another(
    prolific_fake: FakeProlific, prolific_client: ProlificClient
) -> None:
    """A second sync is queued behind the first; together they create each task once."""
    batch = ready_v4_batch(prolific_fake)
    prolific_fake.sync_delay = 60
    await prolific_client.datasets.add_datapoints(batch.dataset_ids[0], [{"text": "x"}])
    first = await prolific_client.batches.sync(batch.id)
    second = await prolific_client.batches.sync(batch.id)
    assert (await prolific_client.batches.get_sync(batch.id, first.sync_id or "")).status == (
        SyncStatus.PROCESSING
    )
    assert (await prolific_client.batches.get_sync(batch.id, second.sync_id or "")).status == (
        SyncStatus.QUEUED
    )


async def test_a_sync_is_sent_once_when_the_connection_drops_after_it(
    prolific_fake: FakeProlific, prolific_client: ProlificClient
) -> None:
    """A POST cut after it took effect is not resent: OutcomeUnknownError, one job."""
    batch = ready_v4_batch(prolific_fake)
    prolific_fake.add_fault("POST", f"{BATCHES}/{batch.id}/sync", "drop_after")
    with pytest.raises(errors.OutcomeUnknownError):
        await prolific_client.batches.sync(batch.id)
    assert prolific_fake.stats.requests["POST", "sync_batch"] == 1


async def test_sync_answers_400_before_setup_and_404_for_unknown_ids(
    prolific_fake: FakeProlific, fake_http: aiohttp.ClientSession
) -> None:
    """A batch not READY cannot sync (400); an unknown batch or job is a 404."""
    dataset = prolific_fake.add_dataset(schema=SCHEMA)
    batch = prolific_fake.add_batch(dataset_ids=[dataset.id])
    status, data, _ = await call(fake_http, "POST", f"{BATCHES}/{batch.id}/sync")
    assert status == 400
    assert "READY" in data["error"]["detail"]
    status, _, _ = await call(fake_http, "POST", f"{BATCHES}/nope/sync")
    assert status == 404
    status, _, _ = await call(fake_http, "GET", f"{BATCHES}/{batch.id}/syncs/nope")
    assert status == 404


async def test_append_answers_415_400_409_in_the_emulators_style(
    prolific_fake: FakeProlific, fake_http: aiohttp.ClientSession
) -> None:
    """Not JSON Lines: 415; a V3 dataset or no records: 400; an import running: 409."""
    v4 = prolific_fake.add_dataset(schema=SCHEMA)
    path = f"{DATASETS}/{v4.id}/datapoints"
    jsonl = {"Content-Type": "application/x-ndjson"}
    status, _, _ = await call(fake_http, "POST", path, json=[{"text": "a"}])
    assert status == 415
    status, data, _ = await call(fake_http, "POST", path, data=b"\n\n", headers=jsonl)
    assert (status, data["error"]["title"]) == (400, "Bad Request")
    v3 = prolific_fake.add_dataset()
    status, _, _ = await call(
        fake_http, "POST", f"{DATASETS}/{v3.id}/datapoints", data=b'{"a": 1}\n', headers=jsonl
    )
    assert status == 400
    busy = prolific_fake.add_dataset(schema=SCHEMA, status="PROCESSING")
    status, _, _ = await call(
        fake_http, "POST", f"{DATASETS}/{busy.id}/datapoints", data=b'{"a": 1}\n', headers=jsonl
    )
    assert status == 409
    status, _, _ = await call(
        fake_http, "POST", f"{DATASETS}/nope/datapoints", data=b'{"a": 1}\n', headers=jsonl
    )
    assert status == 404
