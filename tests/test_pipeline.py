"""The whole Task Builder pipeline against the emulator, V3 and V4, alone and 50 at once."""

from __future__ import annotations

import asyncio
import zipfile
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from prolific_async import (
    BatchSetupError,
    BatchStatus,
    DatasetSchema,
    ProlificClient,
    ProvisionError,
    ProvisionRequest,
    RetryPolicy,
    TaskDetails,
    set_testing,
)
from prolific_async.models.datasets import SchemaField
from prolific_async.models.layout import Column, Page, RichTextItem, Row
from prolific_async.testing import FakeProlific

WS = "6278acb09062db3b35bcbeb0"
DETAILS = TaskDetails(task_name="Rate", task_introduction="<p>Hi</p>", task_steps="<ol></ol>")
FAST = RetryPolicy(attempts=5, timeout=20.0, wait_initial=0.001, wait_max=0.01, wait_jitter=0.0)
CSV = b"text,label\nI love it,\nNot for me,\nIt is fine,\n"
SCHEMA = DatasetSchema(fields={"prompt": SchemaField(type="text")}, strict=True)
JSONL = b'{"prompt": "a"}\n{"prompt": "b"}\n{"other": "no prompt"}\n'


@pytest.fixture(autouse=True)
def _fast_waits() -> Iterator[None]:
    with set_testing():
        yield


@pytest.fixture
async def fake() -> AsyncIterator[FakeProlific]:
    async with FakeProlific(
        seed=9, processing_delay=0.01, setup_delay=0.01, export_delay=0.01
    ) as emulator:
        yield emulator


@pytest.fixture
async def client(fake: FakeProlific) -> AsyncIterator[ProlificClient]:
    async with fake.client(retry=FAST) as bound:
        yield bound


def assert_token_never_reached_storage(fake: FakeProlific) -> None:
    assert fake.storage_requests, "the pipeline used no presigned URL"
    for request in fake.storage_requests:
        assert "Authorization" not in request.headers, request.path


async def full_pipeline(
    client: ProlificClient, fake: FakeProlific, tmp_path: Path, n: int, *, v4: bool
) -> Path:
    """Dataset -> upload -> batch -> setup -> READY -> responses -> export download."""
    dataset = await client.datasets.create(
        name=f"data {n}", workspace_id=WS, schema=SCHEMA if v4 else None
    )
    source = tmp_path / (f"data{n}.jsonl" if v4 else f"data{n}.csv")
    source.write_bytes(JSONL if v4 else CSV)
    upload = await client.datasets.upload(dataset.id, source)
    assert upload.is_partial is v4  # the V4 file has one record without "prompt"
    batch = await client.batches.create(
        name=f"pipeline {n}", workspace_id=WS, task_details=DETAILS, dataset_id=dataset.id
    )
    await client.batches.setup(batch.id, tasks_per_group=2)
    ready = await client.batches.wait_until_ready(batch.id)
    assert ready.status is BatchStatus.READY
    assert ready.total_task_count == (2 if v4 else 3)
    fake.add_response(batch.id)
    responses = await client.batches.responses(batch.id)
    assert [r.batch_id for r in responses] == [batch.id]
    export = await client.batches.request_export(batch.id)
    export = await client.batches.wait_for_export(batch.id, export)
    return await client.batches.download_export(export, tmp_path / f"export{n}.zip")


@pytest.mark.parametrize("v4", [False, True], ids=["v3-csv", "v4-jsonl"])
async def test_full_pipeline(
    client: ProlificClient, fake: FakeProlific, tmp_path: Path, v4: bool
) -> None:
    """A file becomes a READY batch whose responses come back as a ZIP export."""
    archive = await full_pipeline(client, fake, tmp_path, 0, v4=v4)
    with zipfile.ZipFile(archive) as zipped:
        names = set(zipped.namelist())
        assert {"responses-by-submission.jsonl", "responses-by-task.jsonl"} <= names
        lines = zipped.read("responses-by-task.jsonl").decode().splitlines()
    assert len(lines) == 1
    assert_token_never_reached_storage(fake)


async def test_fifty_pipelines_run_concurrently(
    client: ProlificClient, fake: FakeProlific, tmp_path: Path
) -> None:
    """Fifty pipelines, V3 and V4 mixed, share one client and all finish."""
    archives = await asyncio.gather(
        *(full_pipeline(client, fake, tmp_path, n, v4=n % 2 == 1) for n in range(50))
    )
    assert len(set(archives)) == 50
    assert all(zipfile.is_zipfile(path) for path in archives)
    ready = [b for b in fake.batches.values() if b.status == BatchStatus.READY]
    assert len(ready) == 50
    assert_token_never_reached_storage(fake)


async def test_provision_batch_is_one_call(client: ProlificClient, fake: FakeProlific) -> None:
    """provision_batch turns bytes into a READY batch with its dataset attached."""
    batch = await client.provision_batch(
        name="One call",
        workspace_id=WS,
        task_details=DETAILS,
        dataset=CSV,
        filename="reviews.csv",
        tasks_per_group=3,
    )
    assert batch.status is BatchStatus.READY
    assert batch.total_task_count == 3
    assert [d.id for d in batch.datasets] == list(fake.datasets)
    assert_token_never_reached_storage(fake)


async def test_provision_failure_names_its_step_and_what_exists(
    client: ProlificClient, fake: FakeProlific
) -> None:
    """A dataset that ends in ERROR fails the upload step; the dataset is reported."""
    with pytest.raises(ProvisionError) as caught:
        await client.provision_batch(
            name="Broken", workspace_id=WS, task_details=DETAILS, dataset=b"", filename="e.csv"
        )
    error = caught.value
    assert error.step == "upload dataset"
    assert error.dataset is not None
    assert error.dataset.id in fake.datasets
    assert error.batch is None
    assert error.__cause__ is not None
    assert error.dataset.id in str(error)
    assert not fake.batches


async def test_setup_error_is_reported_with_the_batch(
    client: ProlificClient, fake: FakeProlific
) -> None:
    """A batch that ends setup in ERROR fails the wait step and is named in the error."""
    fake.add_fault("POST", "/api/v1/data-collection/batches/*/setup", "status", status=400)
    with pytest.raises(ProvisionError) as caught:
        await client.provision_batch(
            name="No setup", workspace_id=WS, task_details=DETAILS, dataset=CSV, filename="d.csv"
        )
    assert caught.value.step == "set up batch"
    assert caught.value.batch is not None
    assert caught.value.batch.id in fake.batches


async def test_a_bug_raising_value_error_in_setup_is_not_dressed_as_a_step_failure(
    client: ProlificClient, fake: FakeProlific, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only an unusable server id is a setup ProvisionError; another ValueError propagates."""

    async def broken(*_args: object, **_kwargs: object) -> None:
        raise ValueError("a bug in setup")

    monkeypatch.setattr(client.batches, "setup", broken)
    with pytest.raises(ValueError, match="a bug in setup") as caught:
        await client.provision_batch(
            name="Bug", workspace_id=WS, task_details=DETAILS, dataset=CSV, filename="d.csv"
        )
    assert not isinstance(caught.value, ProvisionError)


async def test_wait_until_ready_raises_on_error(client: ProlificClient, fake: FakeProlific) -> None:
    """Setting up a batch with no dataset ends in ERROR: BatchSetupError, not a hang."""
    batch = await client.batches.create(name="empty", workspace_id=WS, task_details=DETAILS)
    await client.batches.setup(batch.id)
    with pytest.raises(BatchSetupError):
        await client.batches.wait_until_ready(batch.id, timeout=5.0)


async def test_provision_many_is_exactly_once_under_faults(
    client: ProlificClient, fake: FakeProlific
) -> None:
    """Thirty pipelines with dropped batch creates: each ends with exactly one READY batch."""
    fake.add_fault("POST", "/api/v1/data-collection/batches", "drop_after", times=5)
    requests = [
        ProvisionRequest(
            name=f"bulk {i}",
            workspace_id=WS,
            task_details=DETAILS,
            dataset=CSV,
            filename=f"d{i}.csv",
            tasks_per_group=1,
        )
        for i in range(30)
    ]
    results = [result async for result in client.provision_many(requests, concurrency=6)]
    assert sorted(r.index for r in results) == list(range(30))
    assert all(r.ok for r in results), [str(r.error) for r in results if not r.ok]
    made = Counter(batch.name for batch in fake.batches.values())
    assert all(made[f"bulk {i}"] == 1 for i in range(30))
    assert all(r.batch is not None and r.batch.status is BatchStatus.READY for r in results)
    assert len(fake.datasets) == 30


async def test_provision_many_reports_failures_per_item(
    client: ProlificClient, fake: FakeProlific
) -> None:
    """One bad file fails its own pipeline at the upload step; the others finish."""
    requests = [
        ProvisionRequest(
            name="good", workspace_id=WS, task_details=DETAILS, dataset=CSV, filename="g.csv"
        ),
        ProvisionRequest(
            name="bad", workspace_id=WS, task_details=DETAILS, dataset=b"", filename="b.csv"
        ),
    ]
    results = sorted([r async for r in client.provision_many(requests)], key=lambda r: r.index)
    assert results[0].ok
    assert not results[1].ok
    assert results[1].error is not None
    assert results[1].error.step == "upload dataset"
    assert results[1].dataset is not None
    assert [b.name for b in fake.batches.values()] == ["good"]


async def test_a_bad_data_file_fails_before_anything_is_made(
    client: ProlificClient, fake: FakeProlific, tmp_path: Path
) -> None:
    """A missing file, or bytes without a filename, fail before a dataset is created."""
    for kwargs in ({"dataset": tmp_path / "missing.csv"}, {"dataset": CSV}):
        with pytest.raises(ProvisionError) as caught:
            await client.provision_batch(name="x", workspace_id=WS, task_details=DETAILS, **kwargs)
        assert caught.value.step == "read dataset file"
        assert caught.value.dataset is None
    assert not fake.datasets
    assert not fake.batches


@pytest.mark.parametrize("timeout", [0, -1.0, float("nan"), True, None, "900"])
def test_a_wait_timeout_that_is_not_positive_is_refused_as_the_request_is_made(
    timeout: object,
) -> None:
    """ProvisionRequest(timeout=...) is checked up front, not once a batch has been made."""
    with pytest.raises((ValueError, TypeError), match="timeout must be"):
        ProvisionRequest(
            name="x",
            workspace_id=WS,
            task_details=DETAILS,
            dataset=CSV,
            filename="d.csv",
            timeout=timeout,  # type: ignore[arg-type]
        )


async def test_provision_many_reports_a_bad_file_per_item(
    client: ProlificClient, fake: FakeProlific, tmp_path: Path
) -> None:
    """A missing file fails only its own pipeline; the others finish."""
    requests = [
        ProvisionRequest(
            name="ok", workspace_id=WS, task_details=DETAILS, dataset=CSV, filename="ok.csv"
        ),
        ProvisionRequest(
            name="missing", workspace_id=WS, task_details=DETAILS, dataset=tmp_path / "missing.csv"
        ),
    ]
    results = sorted([r async for r in client.provision_many(requests)], key=lambda r: r.index)
    assert results[0].ok
    assert results[1].error is not None
    assert results[1].error.step == "read dataset file"
    assert len(fake.datasets) == 1


async def test_provision_many_sets_the_layout(client: ProlificClient, fake: FakeProlific) -> None:
    """provision_many passes batch_items through create_many to each batch it makes."""
    page = Page(rows=[Row(columns=[Column(items=[RichTextItem(content="<p>Hi</p>")])])])
    request = ProvisionRequest(
        name="l",
        workspace_id=WS,
        task_details=DETAILS,
        dataset=CSV,
        filename="l.csv",
        batch_items=[page],
    )
    results = [r async for r in client.provision_many([request])]
    assert results[0].ok, results[0].error
    assert results[0].batch is not None
    stored = fake.batches[results[0].batch.id]
    assert stored.batch_items is not None
    assert stored.batch_items[0]["rows"][0]["columns"][0]["items"][0]["content"] == "<p>Hi</p>"


async def test_provision_batch_sets_the_layout(client: ProlificClient, fake: FakeProlific) -> None:
    """provision_batch passes batch_items through to the batch it creates."""
    page = Page(rows=[Row(columns=[Column(items=[RichTextItem(content="<p>Hi</p>")])])])
    batch = await client.provision_batch(
        name="Layout",
        workspace_id=WS,
        task_details=DETAILS,
        dataset=CSV,
        filename="d.csv",
        batch_items=[page],
    )
    assert batch.batch_items is not None
    assert batch.batch_items[0].rows[0].columns[0].items[0].id is not None


async def test_a_dataset_that_never_becomes_usable_fails_the_wait(
    client: ProlificClient, fake: FakeProlific
) -> None:
    """Setup on a dataset still processing ends in ERROR: the wait step fails, batch named."""
    dataset = fake.add_dataset(status="PROCESSING", total_datapoint_count=3)
    batch = await client.batches.create(
        name="stuck", workspace_id=WS, task_details=DETAILS, dataset_id=dataset.id
    )
    await client.batches.setup(batch.id)
    with pytest.raises(BatchSetupError):
        await client.batches.wait_until_ready(batch.id, timeout=5.0)


async def test_a_caller_session_default_token_never_reaches_storage(
    fake: FakeProlific,
) -> None:
    """A caller's session with a default Authorization header keeps it off storage hosts."""
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Token {fake.token}"}) as session,
        ProlificClient(fake.token, base_url=fake.url, session=session, retry=FAST) as client,
    ):
        dataset = await client.datasets.create(name="d", workspace_id=WS)
        await client.datasets.upload(dataset.id, CSV, filename="d.csv")
    assert_token_never_reached_storage(fake)


async def test_provision_sets_auto_sync_on_the_batch(
    client: ProlificClient, fake: FakeProlific
) -> None:
    """provision_batch and provision_many pass auto_sync_enabled to the batch they create."""
    batch = await client.provision_batch(
        name="Synced",
        workspace_id=WS,
        task_details=DETAILS,
        dataset=CSV,
        filename="s.csv",
        auto_sync_enabled=True,
    )
    assert fake.batches[batch.id].auto_sync_enabled is True
    request = ProvisionRequest(
        name="Synced too",
        workspace_id=WS,
        task_details=DETAILS,
        dataset=CSV,
        filename="t.csv",
        auto_sync_enabled=True,
    )
    (result,) = [r async for r in client.provision_many([request])]
    assert result.batch is not None, result.error
    assert fake.batches[result.batch.id].auto_sync_enabled is True
