"""Presigned transfers end within an overall deadline, however the storage host misbehaves."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from prolific_async import ProlificClient, TaskDetails, errors
from prolific_async.models import BatchExport
from prolific_async.models.provision import ProvisionRequest
from prolific_async.testing import FakeProlific, FaultKind

UPLOADS = "/_storage/uploads/*"
EXPORTS = "/_storage/exports/*"
#: Larger than loopback's socket buffers together: a body nobody reads blocks the write.
UNREAD_BODY = b"text\n" + b"x" * (16 * 1024 * 1024)
CSV = b"text\nI love it\nNot for me\n"
DETAILS = TaskDetails(task_name="Rate", task_introduction="<p>Hi</p>", task_steps="<ol></ol>")


async def _complete_export(fake: FakeProlific, client: ProlificClient) -> BatchExport:
    """A READY batch with one response, and its complete export (its URL on storage)."""
    fake.export_delay = 0.0
    batch = fake.add_batch(status="READY")
    fake.add_response(batch.id)
    export = await client.batches.request_export(batch.id)
    return await client.batches.wait_for_export(batch.id, export)


def _listing(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


async def test_a_trickled_download_fails_typed_at_the_clients_deadline(
    prolific_fake: FakeProlific, tmp_path: Path, testing_mode: None
) -> None:
    """One byte per 0.2 s never trips a read timeout; the 1 s deadline ends it, no file left."""
    async with prolific_fake.client(transfer_deadline=1.0) as client:
        export = await _complete_export(prolific_fake, client)
        fault = prolific_fake.add_fault("GET", EXPORTS, "trickle", delay=0.2)
        started = asyncio.get_running_loop().time()
        with pytest.raises(errors.APITimeoutError) as caught:
            await client.batches.download_export(export, tmp_path / "export.zip")
        elapsed = asyncio.get_running_loop().time() - started
    assert elapsed < 2.0
    assert fault.fired == 1
    message = str(caught.value)
    assert message.startswith("GET ")
    assert "download" in message
    assert "1 s" in message
    assert "transfer_deadline" in message
    assert caught.value.method == "GET"
    assert isinstance(caught.value, TimeoutError)
    assert _listing(tmp_path) == []


async def test_an_upload_whose_body_stops_being_read_fails_typed_at_the_calls_deadline(
    prolific_fake: FakeProlific, prolific_client: ProlificClient
) -> None:
    """A storage host that never reads the body blocks the write; transfer_deadline=1 ends it."""
    dataset = await prolific_client.datasets.create(name="stalled", workspace_id="ws-1")
    fault = prolific_fake.add_fault("PUT", UPLOADS, "stall_upload")
    started = asyncio.get_running_loop().time()
    with pytest.raises(errors.APITimeoutError) as caught:
        await prolific_client.datasets.upload(
            dataset.id, UNREAD_BODY, filename="rows.csv", transfer_deadline=1.0
        )
    elapsed = asyncio.get_running_loop().time() - started
    assert elapsed < 2.0
    assert fault.fired == 1
    assert str(caught.value).startswith("PUT ")
    assert "upload" in str(caught.value)
    assert "1 s" in str(caught.value)
    assert "?" not in caught.value.url  # the presigned signature stays out of it
    assert prolific_fake.datasets[dataset.id].total_datapoint_count == 0


async def test_a_call_deadline_overrides_the_clients(
    prolific_fake: FakeProlific, tmp_path: Path, testing_mode: None
) -> None:
    """transfer_deadline= on the call wins over the client's (here longer) one."""
    async with prolific_fake.client(transfer_deadline=60.0) as client:
        export = await _complete_export(prolific_fake, client)
        prolific_fake.add_fault("GET", EXPORTS, "trickle", delay=0.2)
        with pytest.raises(errors.APITimeoutError, match=r"0\.3 s"):
            await client.batches.download_export(
                export, tmp_path / "export.zip", transfer_deadline=0.3
            )
    assert _listing(tmp_path) == []


async def test_a_trickled_answer_arrives_whole_when_given_time(
    prolific_fake: FakeProlific, prolific_client: ProlificClient, tmp_path: Path, testing_mode: None
) -> None:
    """A trickle fault sends the real answer, its bytes unchanged, in chunk_size pieces."""
    export = await _complete_export(prolific_fake, prolific_client)
    whole = await prolific_client.batches.download_export(export, tmp_path / "whole.zip")
    fault = prolific_fake.add_fault("GET", EXPORTS, "trickle", delay=0.0, chunk_size=64)
    slow = await prolific_client.batches.download_export(export, tmp_path / "slow.zip")
    assert fault.fired == 1
    assert slow.read_bytes() == whole.read_bytes()


async def test_a_stalled_upload_cut_after_its_delay_is_retried(
    prolific_fake: FakeProlific, prolific_client: ProlificClient, testing_mode: None
) -> None:
    """stall_upload with delay= cuts the connection unread; the transfer's retry succeeds."""
    dataset = await prolific_client.datasets.create(name="retried", workspace_id="ws-1")
    fault = prolific_fake.add_fault("PUT", UPLOADS, "stall_upload", delay=0.05)
    await prolific_client.datasets.upload(dataset.id, b"text\nhello\n", filename="rows.csv")
    assert fault.fired == 1
    assert prolific_fake.datasets[dataset.id].total_datapoint_count == 1
    assert [r.method for r in prolific_fake.storage_requests] == ["PUT", "PUT"]


async def test_one_stalled_upload_fails_its_own_provisioning_only(
    prolific_fake: FakeProlific, testing_mode: None
) -> None:
    """provision_many: the stalled item fails at "upload dataset" in time, the other is READY."""
    prolific_fake.add_fault("PUT", UPLOADS, "stall_upload")
    requests = [
        ProvisionRequest(
            name=f"item {i}",
            workspace_id="ws-1",
            task_details=DETAILS,
            dataset=CSV,
            filename=f"d{i}.csv",
        )
        for i in range(2)
    ]
    async with prolific_fake.client(transfer_deadline=0.5) as client:
        results = [result async for result in client.provision_many(requests)]
    failed = [result for result in results if not result.ok]
    assert len(results) == 2
    assert len(failed) == 1
    error = failed[0].error
    assert error is not None
    assert error.step == "upload dataset"
    assert isinstance(error.__cause__, errors.APITimeoutError)
    assert failed[0].dataset is not None  # what exists is reported


async def test_provision_batch_takes_a_transfer_deadline(
    prolific_fake: FakeProlific, prolific_client: ProlificClient
) -> None:
    """provision_batch(transfer_deadline=...) bounds its upload; ProvisionRequest checks it."""
    prolific_fake.add_fault("PUT", UPLOADS, "stall_upload")
    with pytest.raises(errors.ProvisionError) as caught:
        await prolific_client.provision_batch(
            name="p",
            workspace_id="ws-1",
            task_details=DETAILS,
            dataset=CSV,
            filename="d.csv",
            transfer_deadline=0.3,
        )
    assert isinstance(caught.value.__cause__, errors.APITimeoutError)
    with pytest.raises(ValueError, match="transfer_deadline"):
        ProvisionRequest(
            name="p",
            workspace_id="ws-1",
            task_details=DETAILS,
            dataset=CSV,
            transfer_deadline=0,
        )


async def test_the_default_deadline_is_fifteen_minutes_and_timeouts_stay() -> None:
    """transfer_deadline defaults to 900 s; transfer_timeout is still the per-attempt one."""
    async with ProlificClient("token", base_url="http://127.0.0.1:9") as client:
        assert client.transfer_deadline == 900.0
        assert isinstance(client.transfer_timeout, aiohttp.ClientTimeout)
        assert client.transfer_timeout.sock_read == client.attempt_timeout


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), True])
def test_a_client_refuses_a_deadline_that_is_not_positive(bad: float) -> None:
    """ProlificClient(transfer_deadline=...) must be a positive number of seconds."""
    with pytest.raises(ValueError, match="transfer_deadline"):
        ProlificClient("token", base_url="http://127.0.0.1:9", transfer_deadline=bad)


@pytest.mark.parametrize("bad", [0, -1.0, True, "5"])
async def test_a_call_refuses_a_bad_deadline_before_any_request(
    prolific_fake: FakeProlific, prolific_client: ProlificClient, tmp_path: Path, bad: object
) -> None:
    """Both upload and download_export check transfer_deadline= before sending anything."""
    with pytest.raises(ValueError, match="transfer_deadline"):
        await prolific_client.datasets.upload(
            "d1",
            b"text\n",
            filename="rows.csv",
            transfer_deadline=bad,  # type: ignore[arg-type]
        )
    with pytest.raises(ValueError, match="transfer_deadline"):
        await prolific_client.batches.download_export(
            f"{prolific_fake.url}/_storage/exports/x.zip",
            tmp_path,
            transfer_deadline=bad,  # type: ignore[arg-type]
        )
    assert prolific_fake.requests == []
    assert prolific_fake.storage_requests == []


@pytest.mark.parametrize(
    ("kind", "chunk_size", "problem"),
    [
        (FaultKind.STATUS, 5, "only a 'trickle' fault takes chunk_size"),
        (FaultKind.TRICKLE, 0, "chunk_size must be an integer >= 1"),
        (FaultKind.TRICKLE, True, "chunk_size must be an integer >= 1"),
    ],
)
def test_add_fault_checks_chunk_size(
    prolific_fake: FakeProlific, kind: FaultKind, chunk_size: int, problem: str
) -> None:
    """chunk_size belongs to trickle alone and is a positive byte count."""
    with pytest.raises(ValueError, match=problem):
        prolific_fake.add_fault("GET", EXPORTS, kind, chunk_size=chunk_size)


async def test_trickle_slows_an_api_answer_without_changing_it(
    prolific_fake: FakeProlific, prolific_client: ProlificClient
) -> None:
    """A trickle fault on an API route sends the real JSON, a few bytes at a time."""
    batch = prolific_fake.add_batch(name="Slowly")
    path = f"/api/v1/data-collection/batches/{batch.id}"
    fault = prolific_fake.add_fault("GET", path, "trickle", delay=0.0, chunk_size=7)
    assert (await prolific_client.batches.get(batch.id)).name == "Slowly"
    assert fault.fired == 1
    assert prolific_fake.batches[batch.id].name == "Slowly"
