"""client.datasets: create, get, status, upload URLs, imports and the upload pipeline.

Request shape, parsing and how the pipeline reads a sequence of statuses are checked
with aioresponses (``mocked``, one attempt per call); the storage retry and what the
storage host receives are checked on real sockets (the emulator, a loopback app).
"""

from __future__ import annotations

import copy
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from yarl import URL

from prolific_async import (
    Dataset,
    DatasetSchema,
    DatasetStatus,
    ProlificClient,
    SchemaField,
    SchemaFieldType,
    errors,
)
from prolific_async.models import ImportJob, ImportRecordError, ImportStatus, UploadURL
from prolific_async.testing import FakeProlific

from ..conftest import DATASETS_PATH, MOCKED_BASE, TOKEN, StartServer, mocked_calls, server_url

DATASETS = f"{MOCKED_BASE}{DATASETS_PATH}"
STORAGE = "https://storage.test.invalid/uploads/tok-1?X-Amz-Signature=topsecretsig"
CSV = b"text,label\nhello,1\nworld,2\n"
FAST: dict[str, Any] = {"timeout": 5, "poll_interval": 0.001, "max_poll_interval": 0.002}

#: The contract's dataset shapes: V3 (no schema) and V4 (schema and imports).
V3_DATASET: dict[str, Any] = {
    "id": "d3",
    "name": "Reviews",
    "created_at": "2025-03-01T12:00:00Z",
    "created_by": "u1",
    "workspace_id": "w1",
    "total_datapoint_count": 0,
    "schema_version": 3,
    "status": "UNINITIALISED",
    "filename": None,
    "has_predetermined_grouping_id": False,
}
IMPORT_PARTIAL: dict[str, Any] = {
    "dataset_id": "d4",
    "import_id": "imp1",
    "filename": "records.jsonl",
    "created_at": "2025-03-01T12:00:00Z",
    "updated_at": "2025-03-01T12:01:00Z",
    "status": "partial",
    "accepted_count": 2,
    "rejected_count": 1,
    "errors": [{"record_index": 1, "field": "prompt", "reason": "missing field"}],
}
V4_DATASET: dict[str, Any] = {
    "id": "d4",
    "name": "Pairs",
    "created_at": "2025-03-01T12:00:00Z",
    "created_by": "u1",
    "workspace_id": "w1",
    "total_datapoint_count": 2,
    "schema_version": 4,
    "schema": {
        "strict": True,
        "fields": {
            "prompt": {"type": "text", "label": "Prompt"},
            "image": {"type": "image_url"},
            "group": {"type": "task_group_id"},
        },
    },
    "imports": [IMPORT_PARTIAL],
}
V3_URL: dict[str, Any] = {
    "upload_url": STORAGE,
    "http_method": "PUT",
    "expires_at": "2025-03-01T13:00:00Z",
    "dataset_id": "d3",
}
V4_URL = {**V3_URL, "dataset_id": "d4", "import_id": "imp1"}


def import_job(status: str, **changes: Any) -> dict[str, Any]:
    data = {**IMPORT_PARTIAL, "status": status, "errors": []}
    data.update(changes)
    return data


async def test_create_v3_sends_name_and_workspace(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """Create without a schema POSTs name and workspace_id only."""
    mocked.post(DATASETS, status=201, payload=V3_DATASET)
    dataset = await mocked_client.datasets.create(name="Reviews", workspace_id="w1")
    assert dataset.status is DatasetStatus.UNINITIALISED
    assert dataset.schema is None
    (sent,) = mocked_calls(mocked, "POST", DATASETS)
    assert sent["json"] == {"name": "Reviews", "workspace_id": "w1"}
    assert sent["headers"]["Authorization"] == f"Token {TOKEN}"


async def test_create_v4_sends_the_schema(mocked_client: ProlificClient, mocked: Any) -> None:
    """A schema is sent as {fields, strict?}, fields without their unset label."""
    mocked.post(DATASETS, status=201, payload={**V4_DATASET, "imports": None})
    schema = DatasetSchema(
        fields={
            "prompt": SchemaField(type=SchemaFieldType.TEXT, label="Prompt"),
            "meta": SchemaField(type="metadata"),
        },
        strict=True,
    )
    dataset = await mocked_client.datasets.create(name="Pairs", workspace_id="w1", schema=schema)
    assert dataset.schema is not None
    (sent,) = mocked_calls(mocked, "POST", DATASETS)
    assert sent["json"] == {
        "name": "Pairs",
        "workspace_id": "w1",
        "schema": {
            "fields": {"prompt": {"type": "text", "label": "Prompt"}, "meta": {"type": "metadata"}},
            "strict": True,
        },
    }


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"name": "", "workspace_id": "w"}, ValueError),
        ({"name": "n", "workspace_id": ""}, ValueError),
        ({"name": "n", "workspace_id": "w", "schema": {"fields": {}}}, TypeError),
    ],
)
async def test_create_refuses_bad_arguments(
    mocked_client: ProlificClient, mocked: Any, kwargs: dict[str, Any], error: type[Exception]
) -> None:
    """Empty strings and a dict schema are refused before sending."""
    with pytest.raises(error):
        await mocked_client.datasets.create(**kwargs)
    assert mocked.requests == {}


async def test_get_v3_dataset(mocked_client: ProlificClient, mocked: Any) -> None:
    """A V3 dataset has a status and no schema or imports."""
    mocked.get(f"{DATASETS}/d3", payload={**V3_DATASET, "status": "READY", "filename": "a.csv"})
    dataset = await mocked_client.datasets.get("d3")
    assert isinstance(dataset, Dataset)
    assert (dataset.status, dataset.filename) == (DatasetStatus.READY, "a.csv")
    assert dataset.has_predetermined_grouping_id is False
    assert (dataset.schema, dataset.imports) == (None, None)
    assert dataset.created_at == datetime(2025, 3, 1, 12, tzinfo=UTC)


async def test_get_v4_dataset_with_schema_and_imports(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """A V4 dataset parses its schema and import jobs and has no status."""
    mocked.get(f"{DATASETS}/d4", payload=V4_DATASET)
    dataset = await mocked_client.datasets.get("d4")
    assert dataset.status is None
    assert dataset.schema == DatasetSchema(
        strict=True,
        fields={
            "prompt": SchemaField(type=SchemaFieldType.TEXT, label="Prompt"),
            "image": SchemaField(type=SchemaFieldType.IMAGE_URL),
            "group": SchemaField(type=SchemaFieldType.TASK_GROUP_ID),
        },
    )
    assert dataset.imports is not None
    (job,) = dataset.imports
    assert job.status is ImportStatus.PARTIAL
    assert job.errors == [ImportRecordError(record_index=1, field="prompt", reason="missing field")]


async def test_unknown_values_and_fields_in_datasets(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """Unknown statuses and field types stay strings; unknown keys are ignored everywhere."""
    body = copy.deepcopy(V4_DATASET)
    body["status"] = "ARCHIVED"
    body["new_top_level"] = {"x": 1}
    body["schema"]["fields"]["clip"] = {"type": "point_cloud_url", "hint": "3d"}
    body["schema"]["version"] = 2
    body["imports"][0]["status"] = "deduplicating"
    body["imports"][0]["written_count"] = 7
    body["imports"][0]["errors"][0]["severity"] = "high"
    mocked.get(f"{DATASETS}/d4", payload=body)
    dataset = await mocked_client.datasets.get("d4")
    assert dataset.status == "ARCHIVED"
    assert dataset.schema is not None
    assert dataset.schema.fields["clip"] == SchemaField(type="point_cloud_url")
    assert dataset.imports is not None
    assert dataset.imports[0].status == "deduplicating"
    assert not isinstance(dataset.imports[0].status, ImportStatus)


async def test_bad_dataset_names_its_path(mocked_client: ProlificClient, mocked: Any) -> None:
    """A wrongly typed nested field raises ResponseValidationError naming its path."""
    body = copy.deepcopy(V4_DATASET)
    body["imports"][0]["errors"][0]["reason"] = None
    mocked.get(f"{DATASETS}/d4", payload=body)
    with pytest.raises(
        errors.ResponseValidationError, match=r"\$\.imports\[0\]\.errors\[0\]\.reason"
    ):
        await mocked_client.datasets.get("d4")


async def test_get_status(mocked_client: ProlificClient, mocked: Any) -> None:
    """get_status GETs /datasets/{id}/status; an unknown status stays a str."""
    mocked.get(f"{DATASETS}/d3/status", payload={"status": "PROCESSING"})
    mocked.get(f"{DATASETS}/d3/status", payload={"status": "VALIDATING"})
    assert await mocked_client.datasets.get_status("d3") is DatasetStatus.PROCESSING
    assert await mocked_client.datasets.get_status("d3") == "VALIDATING"


@pytest.mark.parametrize("status", [200, 201])
async def test_get_upload_url_accepts_any_2xx(
    mocked_client: ProlificClient, mocked: Any, status: int
) -> None:
    """The upload URL parses from a 200 or a 201, the filename quoted into the path."""
    url = f"{DATASETS}/d4/upload-url/my%20records.jsonl"
    mocked.get(URL(url, encoded=True), status=status, payload={**V4_URL, "file_key": "k"})
    target = await mocked_client.datasets.get_upload_url("d4", "my records.jsonl")
    assert target == UploadURL(
        upload_url=STORAGE,
        http_method="PUT",
        expires_at=datetime(2025, 3, 1, 13, tzinfo=UTC),
        dataset_id="d4",
        import_id="imp1",
        file_key="k",
    )


async def test_get_import(mocked_client: ProlificClient, mocked: Any) -> None:
    """get_import GETs /datasets/{id}/imports/{import_id} and parses the job."""
    mocked.get(f"{DATASETS}/d4/imports/imp1", payload=import_job("failed", reason="bad file"))
    job = await mocked_client.datasets.get_import("d4", "imp1")
    assert isinstance(job, ImportJob)
    assert (job.status, job.reason) == (ImportStatus.FAILED, "bad file")


@pytest.mark.parametrize("bad", ["", ".", "..", None])
async def test_every_dataset_method_checks_ids(
    mocked_client: ProlificClient, mocked: Any, bad: Any
) -> None:
    """Every id (and the filename) goes through path_id before anything is sent."""
    datasets = mocked_client.datasets
    for call in (
        datasets.get(bad),
        datasets.get_status(bad),
        datasets.get_upload_url(bad, "a.csv"),
        datasets.get_upload_url("d", bad),
        datasets.get_import(bad, "i"),
        datasets.get_import("d", bad),
        datasets.upload(bad, CSV, filename="a.csv"),
    ):
        with pytest.raises(ValueError, match=r"_id|filename"):
            await call
    assert mocked.requests == {}


# -- the upload pipeline, with aioresponses ----------------------------------------------


async def test_upload_v3_puts_without_token_then_waits_for_ready(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """A V3 upload PUTs the CSV without Authorization, then polls until READY."""
    mocked.get(f"{DATASETS}/d3/upload-url/data.csv", status=201, payload=V3_URL)
    mocked.put(STORAGE, status=200, body="")
    for status in ("UNINITIALISED", "PROCESSING", "READY"):
        mocked.get(f"{DATASETS}/d3/status", payload={"status": status})
    result = await mocked_client.datasets.upload("d3", CSV, filename="data.csv", **FAST)
    assert result.status is DatasetStatus.READY
    assert (result.dataset_id, result.filename, result.import_job) == ("d3", "data.csv", None)
    assert result.rejected_records == []
    (put,) = mocked_calls(mocked, "PUT", STORAGE)
    assert "Authorization" not in put["headers"]
    assert TOKEN not in str(put)
    assert put["headers"]["Content-Type"] == "text/csv"
    assert put["data"].getvalue() == CSV  # a fresh file-like body per attempt
    assert put["middlewares"] == ()
    assert len(mocked_calls(mocked, "GET", f"{DATASETS}/d3/status")) == 3


async def test_upload_v4_partial_reports_rejected_records(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """A V4 upload waits for its import job; partial comes back with the rejected records."""
    mocked.get(f"{DATASETS}/d4/upload-url/records.jsonl", status=201, payload=V4_URL)
    mocked.put(STORAGE, status=200)
    mocked.get(f"{DATASETS}/d4/imports/imp1", payload=import_job("uninitialised"))
    mocked.get(f"{DATASETS}/d4/imports/imp1", payload=import_job("processing"))
    mocked.get(f"{DATASETS}/d4/imports/imp1", payload=IMPORT_PARTIAL)
    result = await mocked_client.datasets.upload(
        "d4", b'{"prompt": "a"}\n{}\n', filename="records.jsonl", **FAST
    )
    assert result.is_partial
    assert result.status is ImportStatus.PARTIAL
    assert result.import_job is not None
    assert result.import_job.accepted_count == 2
    assert result.rejected_records == [
        ImportRecordError(record_index=1, field="prompt", reason="missing field")
    ]
    (put,) = mocked_calls(mocked, "PUT", STORAGE)
    assert put["headers"]["Content-Type"] == "application/jsonl"
    assert mocked_calls(mocked, "GET", f"{DATASETS}/d4/status") == []


async def test_upload_v4_complete(mocked_client: ProlificClient, mocked: Any) -> None:
    """A complete import returns its job, not partial, with no rejected records."""
    mocked.get(f"{DATASETS}/d4/upload-url/records.csv", status=201, payload=V4_URL)
    mocked.put(STORAGE, status=200)
    mocked.get(f"{DATASETS}/d4/imports/imp1", payload=import_job("complete", accepted_count=3))
    result = await mocked_client.datasets.upload("d4", CSV, filename="records.csv", **FAST)
    assert result.status is ImportStatus.COMPLETE
    assert not result.is_partial
    assert result.rejected_records == []


async def test_upload_v4_failed_raises_with_the_reason(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """A failed import raises DatasetProcessingError carrying the reason and the job."""
    mocked.get(f"{DATASETS}/d4/upload-url/r.jsonl", status=201, payload=V4_URL)
    mocked.put(STORAGE, status=200)
    mocked.get(
        f"{DATASETS}/d4/imports/imp1", payload=import_job("failed", reason="no valid records")
    )
    with pytest.raises(errors.DatasetProcessingError, match="no valid records") as caught:
        await mocked_client.datasets.upload("d4", b"{}\n", filename="r.jsonl", **FAST)
    assert not isinstance(caught.value, errors.DatasetSchemaPendingError)
    assert (caught.value.dataset_id, caught.value.import_id) == ("d4", "imp1")
    assert (caught.value.status, caught.value.reason) == ("failed", "no valid records")
    assert isinstance(caught.value.import_job, ImportJob)


async def test_upload_v4_pending_schema_raises(mocked_client: ProlificClient, mocked: Any) -> None:
    """An import paused for a schema raises DatasetSchemaPendingError."""
    mocked.get(f"{DATASETS}/d4/upload-url/r.csv", status=201, payload=V4_URL)
    mocked.put(STORAGE, status=200)
    mocked.get(f"{DATASETS}/d4/imports/imp1", payload=import_job("pending_schema"))
    with pytest.raises(errors.DatasetSchemaPendingError, match="pending_schema") as caught:
        await mocked_client.datasets.upload("d4", CSV, filename="r.csv", **FAST)
    assert caught.value.status == "pending_schema"


async def test_upload_v3_error_raises(mocked_client: ProlificClient, mocked: Any) -> None:
    """A V3 dataset ending in ERROR raises DatasetProcessingError without an import id."""
    mocked.get(f"{DATASETS}/d3/upload-url/a.csv", status=201, payload=V3_URL)
    mocked.put(STORAGE, status=200)
    mocked.get(f"{DATASETS}/d3/status", payload={"status": "PROCESSING"})
    mocked.get(f"{DATASETS}/d3/status", payload={"status": "ERROR"})
    with pytest.raises(errors.DatasetProcessingError, match="d3 ended in ERROR") as caught:
        await mocked_client.datasets.upload("d3", CSV, filename="a.csv", **FAST)
    assert (caught.value.import_id, caught.value.status) == (None, "ERROR")


@pytest.mark.parametrize("version", ["v3", "v4"])
async def test_upload_times_out(mocked_client: ProlificClient, mocked: Any, version: str) -> None:
    """Processing that never finishes raises WaitTimeoutError with the last status."""
    if version == "v3":
        mocked.get(f"{DATASETS}/d/upload-url/a.csv", status=201, payload=V3_URL)
        mocked.get(f"{DATASETS}/d/status", payload={"status": "PROCESSING"}, repeat=True)
        last = "PROCESSING"
    else:
        mocked.get(f"{DATASETS}/d/upload-url/a.csv", status=201, payload=V4_URL)
        mocked.get(f"{DATASETS}/d/imports/imp1", payload=import_job("queued"), repeat=True)
        last = "queued"
    mocked.put(STORAGE, status=200)
    with pytest.raises(errors.WaitTimeoutError) as caught:
        await mocked_client.datasets.upload(
            "d", CSV, filename="a.csv", timeout=0.05, poll_interval=0.001, max_poll_interval=0.002
        )
    assert caught.value.last_status == last
    assert isinstance(caught.value, TimeoutError)


async def test_upload_uses_the_signed_content_type(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """The Content-Type the URL was signed for wins over the extension's."""
    mocked.get(
        f"{DATASETS}/d4/upload-url/r.jsonl",
        status=201,
        payload={**V4_URL, "content_type": "application/x-ndjson"},
    )
    mocked.put(STORAGE, status=200)
    mocked.get(f"{DATASETS}/d4/imports/imp1", payload=import_job("complete"))
    await mocked_client.datasets.upload("d4", b"{}\n", filename="r.jsonl", **FAST)
    (put,) = mocked_calls(mocked, "PUT", STORAGE)
    assert put["headers"]["Content-Type"] == "application/x-ndjson"


@pytest.mark.parametrize(
    ("signed", "given", "sent"),
    [
        ("text/csv", "text/plain", "text/csv"),
        (None, "text/plain", "text/plain"),
        (None, None, "text/csv"),
    ],
    ids=["signed-wins", "given-without-signed", "by-extension"],
)
async def test_upload_sends_the_signed_type_else_the_given_else_the_extensions(
    mocked_client: ProlificClient,
    mocked: Any,
    signed: str | None,
    given: str | None,
    sent: str,
) -> None:
    """A signed type is always sent (storage refuses others); content_type= only without."""
    url = V3_URL if signed is None else {**V3_URL, "content_type": signed}
    mocked.get(f"{DATASETS}/d3/upload-url/a.csv", status=201, payload=url)
    mocked.put(STORAGE, status=200)
    mocked.get(f"{DATASETS}/d3/status", payload={"status": "READY"})
    await mocked_client.datasets.upload("d3", CSV, filename="a.csv", content_type=given, **FAST)
    (put,) = mocked_calls(mocked, "PUT", STORAGE)
    assert put["headers"]["Content-Type"] == sent


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({"upload_url": "http://[::1/u"}, "storage URL that cannot be used"),
        ({"upload_url": "http://127.0.0.1:99999/u"}, "storage URL that cannot be used"),
        ({"http_method": "P UT"}, "HTTP method that cannot be sent: 'P UT'"),
        ({"http_method": "PUT\r\nX-Evil: 1"}, "HTTP method that cannot be sent"),
        ({"content_type": "text/csv\r\nX-Evil: 1"}, "content type that cannot be sent"),
    ],
)
async def test_an_upload_url_answer_that_cannot_be_sent_is_a_connection_error(
    mocked_client: ProlificClient, mocked: Any, changes: dict[str, str], said: str
) -> None:
    """A URL, method or type in the upload-URL answer aiohttp would refuse: typed, no PUT."""
    mocked.get(f"{DATASETS}/d3/upload-url/a.csv", status=201, payload={**V3_URL, **changes})
    with pytest.raises(errors.APIConnectionError, match=re.escape(said)):
        await mocked_client.datasets.upload("d3", CSV, filename="a.csv", **FAST)
    assert [method for method, _ in mocked.requests] == ["GET"]


@pytest.mark.parametrize("import_id", ["..", ""])
async def test_an_import_id_no_path_can_hold_is_refused_before_the_file_is_sent(
    mocked_client: ProlificClient, mocked: Any, import_id: str
) -> None:
    """An upload URL naming the import '..': ResponseValidationError, and no PUT is made."""
    mocked.get(
        f"{DATASETS}/d4/upload-url/a.csv", status=201, payload={**V4_URL, "import_id": import_id}
    )
    with pytest.raises(
        errors.ResponseValidationError,
        match="expected import_id to be an id a request path can hold",
    ):
        await mocked_client.datasets.upload("d4", CSV, filename="a.csv", **FAST)
    assert [method for method, _ in mocked.requests] == ["GET"]


async def test_upload_reads_a_path_and_names_it(
    mocked_client: ProlificClient, mocked: Any, tmp_path: Path
) -> None:
    """A path is uploaded under its own name (zip here), streamed from disk."""
    archive = tmp_path / "images.zip"
    archive.write_bytes(b"PK\x03\x04data")
    mocked.get(f"{DATASETS}/d3/upload-url/images.zip", status=201, payload=V3_URL)
    mocked.put(STORAGE, status=200)
    mocked.get(f"{DATASETS}/d3/status", payload={"status": "READY"})
    result = await mocked_client.datasets.upload("d3", archive, **FAST)
    assert result.filename == "images.zip"
    (put,) = mocked_calls(mocked, "PUT", STORAGE)
    assert put["headers"]["Content-Type"] == "application/zip"


async def test_upload_buffers_an_async_stream(mocked_client: ProlificClient, mocked: Any) -> None:
    """An async byte stream is read whole and sent as one body."""

    async def chunks() -> AsyncIterator[bytes]:
        yield b"text,label\n"
        yield b"hello,1\n"

    mocked.get(f"{DATASETS}/d3/upload-url/s.csv", status=201, payload=V3_URL)
    mocked.put(STORAGE, status=200)
    mocked.get(f"{DATASETS}/d3/status", payload={"status": "READY"})
    await mocked_client.datasets.upload("d3", chunks(), filename="s.csv", **FAST)
    (put,) = mocked_calls(mocked, "PUT", STORAGE)
    assert put["data"].getvalue() == b"text,label\nhello,1\n"


@pytest.mark.parametrize(
    ("file", "kwargs", "error", "match"),
    [
        (CSV, {}, ValueError, "filename is required"),
        (123, {"filename": "a.csv"}, TypeError, "file must be"),
        (CSV, {"filename": ""}, ValueError, "filename"),
        (CSV, {"filename": "a.csv", "timeout": 0}, ValueError, "timeout"),
    ],
)
async def test_upload_refuses_bad_arguments(
    mocked_client: ProlificClient,
    mocked: Any,
    file: Any,
    kwargs: dict[str, Any],
    error: type[Exception],
    match: str,
) -> None:
    """Bytes without a filename, an unknown file kind or bad settings send nothing."""
    with pytest.raises(error, match=match):
        await mocked_client.datasets.upload("d3", file, **kwargs)
    assert mocked.requests == {}


async def test_upload_of_a_missing_path_sends_nothing(
    mocked_client: ProlificClient, mocked: Any, tmp_path: Path
) -> None:
    """A path to no file raises FileNotFoundError before an upload URL (import job) exists."""
    with pytest.raises(FileNotFoundError, match="no file to upload"):
        await mocked_client.datasets.upload("d4", tmp_path / "missing.jsonl")
    assert mocked.requests == {}


async def test_expired_upload_url_hides_the_signature(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """A 403 from storage raises PermissionDeniedError whose message has no signature."""
    mocked.get(f"{DATASETS}/d3/upload-url/a.csv", status=201, payload=V3_URL)
    mocked.put(STORAGE, status=403, body="<Error><Code>AccessDenied</Code></Error>")
    with pytest.raises(errors.PermissionDeniedError) as caught:
        await mocked_client.datasets.upload("d3", CSV, filename="a.csv", **FAST)
    assert "topsecretsig" not in str(caught.value)
    assert mocked_calls(mocked, "GET", f"{DATASETS}/d3/status") == []


# -- on real sockets: the emulator, and a loopback app with API and storage routes -------


async def test_a_v3_upload_naming_an_import_job_waits_for_that_job(
    prolific_fake: FakeProlific, prolific_client: ProlificClient
) -> None:
    """A V3 upload URL with an import_id (as the official CLI expects): its job's outcome."""
    dataset = prolific_fake.add_dataset(status="UNINITIALISED", filename=None)
    result = await prolific_client.datasets.upload(dataset.id, CSV, filename="a.csv", **FAST)
    assert result.status is ImportStatus.COMPLETE
    assert result.import_job is not None
    assert (result.import_job.accepted_count, result.rejected_records) == (2, [])
    polled = {r.path.rsplit("/", 2)[-2] for r in prolific_fake.requests if r.method == "GET"}
    assert "imports" in polled
    assert "status" not in {r.path.rsplit("/", 1)[-1] for r in prolific_fake.requests}


async def test_a_v3_upload_without_an_import_job_waits_for_the_dataset_status(
    prolific_fake: FakeProlific, prolific_client: ProlificClient
) -> None:
    """A V3 upload URL as the docs describe it (no import_id): the status is polled to READY."""
    prolific_fake.legacy_v3_uploads = True
    dataset = prolific_fake.add_dataset(status="UNINITIALISED", filename=None)
    result = await prolific_client.datasets.upload(dataset.id, CSV, filename="a.csv", **FAST)
    assert (result.status, result.import_job) == (DatasetStatus.READY, None)
    assert f"{DATASETS_PATH}/{dataset.id}/status" in {r.path for r in prolific_fake.requests}


async def test_storage_503_is_retried_with_the_same_bytes(
    prolific_fake: FakeProlific, prolific_client: ProlificClient, testing_mode: None
) -> None:
    """A 503 from storage is retried (test mode: no sleep) and the same body is resent."""
    dataset = prolific_fake.add_dataset(status="UNINITIALISED", filename=None)
    fault = prolific_fake.add_fault("PUT", "/_storage/*", "status", status=503)
    result = await prolific_client.datasets.upload(dataset.id, CSV, filename="a.csv", **FAST)
    assert result.status is ImportStatus.COMPLETE
    assert fault.fired == 1
    puts = [r for r in prolific_fake.storage_requests if r.method == "PUT"]
    assert len(puts) == 2
    assert dataset.records == [{"text": "hello", "label": "1"}, {"text": "world", "label": "2"}]


async def test_upload_to_the_emulator_sends_the_type_each_url_was_signed_for(
    prolific_fake: FakeProlific, prolific_client: ProlificClient
) -> None:
    """The emulator refuses any other type; V3 .csv and V4 .jsonl uploads both go through."""
    v3 = prolific_fake.add_dataset(status="UNINITIALISED", filename=None)
    v4 = prolific_fake.add_dataset(
        schema={"fields": {"text": {"type": "text"}}}, status="UNINITIALISED"
    )
    assert (await prolific_client.datasets.upload(v3.id, CSV, filename="a.csv", **FAST)).status
    line = b'{"text": "hello"}\n'
    result = await prolific_client.datasets.upload(v4.id, line, filename="b.jsonl", **FAST)
    assert result.status is ImportStatus.COMPLETE
    puts = [r for r in prolific_fake.storage_requests if r.method == "PUT"]
    assert [r.headers["Content-Type"] for r in puts] == ["text/csv", "application/x-ndjson"]


async def test_a_new_v4_dataset_reads_uninitialised_from_the_emulator(
    prolific_client: ProlificClient,
) -> None:
    """The create answer carries the status both specs require, for a V4 dataset too."""
    schema = DatasetSchema(fields={"text": SchemaField(type=SchemaFieldType.TEXT)})
    dataset = await prolific_client.datasets.create(name="D", workspace_id="w", schema=schema)
    assert (dataset.status, dataset.schema_version) == (DatasetStatus.UNINITIALISED, 4)


class FakeService:
    """A minimal API plus a storage route that records what each request carried."""

    def __init__(self) -> None:
        self.url = ""
        self.api_headers: list[dict[str, str]] = []
        self.storage: list[tuple[dict[str, str], bytes]] = []
        self.polls = 0
        self.app = web.Application()
        self.app.router.add_get(
            "/api/v1/data-collection/datasets/{dataset_id}/upload-url/{filename}", self.upload_url
        )
        self.app.router.add_get("/api/v1/data-collection/datasets/{dataset_id}/status", self.status)
        self.app.router.add_put("/_storage/uploads/{token}", self.store)

    async def upload_url(self, request: web.Request) -> web.Response:
        self.api_headers.append(dict(request.headers))
        return web.json_response(
            {
                "upload_url": f"{self.url}/_storage/uploads/t1?X-Amz-Signature=sig",
                "http_method": "PUT",
                "expires_at": "2030-01-01T00:00:00Z",
                "dataset_id": request.match_info["dataset_id"],
            },
            status=201,
        )

    async def status(self, request: web.Request) -> web.Response:
        self.api_headers.append(dict(request.headers))
        self.polls += 1
        return web.json_response({"status": "READY" if self.polls > 1 else "PROCESSING"})

    async def store(self, request: web.Request) -> web.Response:
        self.storage.append((dict(request.headers), await request.read()))
        return web.Response(status=200)


async def test_loopback_storage_never_sees_the_token(
    start_server: StartServer, tmp_path: Path
) -> None:
    """The storage route gets the file with a length and type but never Authorization."""
    service = FakeService()
    service.url = server_url(await start_server(service.app))
    source = tmp_path / "data.csv"
    source.write_bytes(CSV * 1000)
    async with ProlificClient(TOKEN, base_url=service.url) as c:
        result = await c.datasets.upload("d3", source, **FAST)
    assert result.status is DatasetStatus.READY
    ((headers, body),) = service.storage
    assert body == CSV * 1000
    assert "Authorization" not in headers
    assert TOKEN not in str(headers)
    assert headers["Content-Type"] == "text/csv"
    assert headers["Content-Length"] == str(len(CSV) * 1000)
    assert all(h["Authorization"] == f"Token {TOKEN}" for h in service.api_headers)
    assert len(service.api_headers) == 3
