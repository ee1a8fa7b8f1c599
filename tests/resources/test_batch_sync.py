"""client.batches sync methods: request shapes, parsing, and how wait_for_sync ends.

Checked with aioresponses (``mocked``, one attempt per call); the behaviour end to end
(appended datapoints becoming tasks) is in tests/emulator/test_sync.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from prolific_async import ProlificClient, errors
from prolific_async.models import BatchSync, SyncStatus

from ..conftest import BATCHES_PATH, MOCKED_BASE, mocked_call, mocked_calls

SYNC = f"{MOCKED_BASE}{BATCHES_PATH}/b1/sync"
JOB = f"{MOCKED_BASE}{BATCHES_PATH}/b1/syncs/s1"
FAST: dict[str, Any] = {"timeout": 5, "poll_interval": 0.001, "max_poll_interval": 0.002}

QUEUED = {
    "sync_id": "s1",
    "batch_id": "b1",
    "dataset_id": "d1",
    "status": "queued",
    "created_at": "2026-08-01T12:00:00Z",
}
COMPLETE = {
    **QUEUED,
    "status": "complete",
    "tasks_created": 3,
    "datapoints_processed": 3,
    "groups_created": 1,
    "groups_expanded": 1,
}
FAILED = {**QUEUED, "status": "failed", "reason": "The batch is not READY."}


async def test_sync_posts_no_body_and_parses_the_queued_job(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """sync() POSTs .../sync with no body and returns the queued job with its ids."""
    mocked.post(SYNC, status=202, payload=QUEUED)
    sync = await mocked_client.batches.sync("b1")
    assert sync.status == SyncStatus.QUEUED
    assert (sync.sync_id, sync.batch_id, sync.dataset_id) == ("s1", "b1", "d1")
    assert sync.created_at is not None
    assert sync.created_at.tzinfo is not None
    assert not sync.is_finished
    assert mocked_call(mocked, "POST", SYNC).get("json") is None


@pytest.mark.parametrize("sync_id", ["..", ".", ""])
async def test_a_sync_id_no_path_can_hold_is_refused_as_read(
    mocked_client: ProlificClient, mocked: Any, sync_id: str
) -> None:
    """A queued job whose sync_id would change the path: ResponseValidationError naming it."""
    mocked.post(SYNC, status=202, payload={**QUEUED, "sync_id": sync_id})
    with pytest.raises(
        errors.ResponseValidationError, match="expected sync_id to be an id a request path can hold"
    ):
        await mocked_client.batches.sync("b1")


async def test_sync_accepts_200_and_a_bare_status(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """The official CLI accepts 200 as well as 202, and reads every field but status as optional."""
    mocked.post(SYNC, status=200, payload={"status": "queued", "sync_id": "s1"})
    assert await mocked_client.batches.sync("b1") == BatchSync(status="queued", sync_id="s1")


async def test_get_sync_parses_the_counts_and_keeps_an_unknown_status(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """get_sync() reads the completion counts; a status this library does not know stays str."""
    mocked.get(JOB, payload=COMPLETE)
    mocked.get(JOB, payload={**QUEUED, "status": "rebalancing"})
    sync = await mocked_client.batches.get_sync("b1", "s1")
    assert (sync.tasks_created, sync.datapoints_processed) == (3, 3)
    assert (sync.groups_created, sync.groups_expanded) == (1, 1)
    unknown = await mocked_client.batches.get_sync("b1", "s1")
    assert unknown.status == "rebalancing"
    assert not isinstance(unknown.status, SyncStatus)


async def test_wait_for_sync_polls_until_complete(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """wait_for_sync() polls the job through queued and processing and returns it complete."""
    mocked.get(JOB, payload=QUEUED)
    mocked.get(JOB, payload={**QUEUED, "status": "processing"})
    mocked.get(JOB, payload=COMPLETE)
    queued = BatchSync(status=SyncStatus.QUEUED, sync_id="s1")
    sync = await mocked_client.batches.wait_for_sync("b1", queued, **FAST)
    assert sync.status == SyncStatus.COMPLETE
    assert len(mocked_calls(mocked, "GET", JOB)) == 3


async def test_wait_for_sync_raises_for_a_failed_job(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """A failed job raises BatchSyncFailedError, a JobFailedError with the ids and reason."""
    mocked.get(JOB, payload=FAILED)
    with pytest.raises(errors.BatchSyncFailedError) as caught:
        await mocked_client.batches.wait_for_sync("b1", "s1", **FAST)
    error = caught.value
    assert isinstance(error, errors.JobFailedError)
    assert (error.batch_id, error.sync_id, error.reason) == ("b1", "s1", "The batch is not READY.")
    assert error.sync.status == SyncStatus.FAILED
    assert "The batch is not READY." in str(error)


async def test_wait_for_sync_judges_a_finished_job_without_a_request(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """A complete BatchSync comes back at once; a failed one raises at once."""
    done = BatchSync(status=SyncStatus.COMPLETE, sync_id="s1", tasks_created=1)
    assert await mocked_client.batches.wait_for_sync("b1", done) is done
    with pytest.raises(errors.BatchSyncFailedError):
        await mocked_client.batches.wait_for_sync(
            "b1", BatchSync(status=SyncStatus.FAILED, sync_id="s1")
        )
    assert mocked.requests == {}


async def test_wait_for_sync_times_out_with_the_last_status(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """A job still processing at the deadline raises WaitTimeoutError naming its status."""
    mocked.get(JOB, payload={**QUEUED, "status": "processing"}, repeat=True)
    with pytest.raises(errors.WaitTimeoutError) as caught:
        await mocked_client.batches.wait_for_sync(
            "b1", "s1", timeout=0.05, poll_interval=0.001, max_poll_interval=0.002
        )
    assert caught.value.last_status == "processing"


@pytest.mark.parametrize("bad", ["", ".", None])
async def test_sync_methods_refuse_bad_ids_before_any_request(
    mocked_client: ProlificClient, mocked: Any, bad: Any
) -> None:
    """An empty, dot or missing id is a ValueError, and nothing is sent."""
    with pytest.raises(ValueError, match="batch_id"):
        await mocked_client.batches.sync(bad)
    with pytest.raises(ValueError, match="sync_id"):
        await mocked_client.batches.get_sync("b1", bad)
    with pytest.raises(ValueError, match="sync_id"):
        await mocked_client.batches.wait_for_sync("b1", bad)
    with pytest.raises(ValueError, match="no sync_id"):
        await mocked_client.batches.wait_for_sync("b1", BatchSync(status="queued"))
    assert mocked.requests == {}
