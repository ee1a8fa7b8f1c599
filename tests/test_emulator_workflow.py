"""The emulator's Task Builder workflow, over raw aiohttp requests against the wire contract.

Datasets (V3 and V4) and their uploads, batch setup and its state machine, tasks, seeded
responses, the report, exports, and the storage stand-in under ``/_storage/`` that must
never need (or be sent) the Prolific token.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import zipfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from prolific_async.testing import FakeProlific, RateLimit

BATCHES = "/api/v1/data-collection/batches"
DATASETS = "/api/v1/data-collection/datasets"
WORKSPACE = "6278acb09062db3b35bcbeb0"
TASK = {"task_name": "Rate it", "task_introduction": "<p>Hi</p>", "task_steps": "<ol></ol>"}
CSV = b"text,label\nhello,a\nworld,b\n\nagain,c\n"
SCHEMA = {"strict": True, "fields": {"prompt": {"type": "text"}, "group": {"type": "text"}}}
REQUIRED = ["This field is required."]
STRICT_REJECTION = "This field is required by the strict schema."
NOT_INTEGER = ["A valid integer is required."]


@pytest.fixture
async def fake() -> AsyncIterator[FakeProlific]:
    """A started emulator whose state machines take 20 ms."""
    async with FakeProlific(processing_delay=0.02, setup_delay=0.02, export_delay=0.02) as fake:
        yield fake


@pytest.fixture
async def http(fake: FakeProlific) -> AsyncIterator[aiohttp.ClientSession]:
    """A raw session sending the fake's token; no keep-alive, so no hidden resends."""
    async with aiohttp.ClientSession(
        base_url=fake.url,
        headers={"Authorization": f"Token {fake.token}"},
        connector=aiohttp.TCPConnector(force_close=True),
    ) as session:
        yield session


@pytest.fixture
async def storage() -> AsyncIterator[aiohttp.ClientSession]:
    """A session without the token, as a client must use for presigned URLs."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
        yield session


async def call(
    http: aiohttp.ClientSession, method: str, path: str, **kwargs: Any
) -> tuple[int, Any, aiohttp.ClientResponse]:
    """Send one raw request; return the status, the decoded body and the response."""
    async with http.request(method, path, **kwargs) as response:
        data = await response.read()
    if response.content_type == "application/json" and data:
        return response.status, json.loads(data), response
    return response.status, data, response


async def until(http: aiohttp.ClientSession, path: str, key: str, expected: str) -> Any:
    """Poll ``GET path`` every few ms until ``body[key] == expected``; return the body."""
    body: Any = None
    for _ in range(400):
        _, body, _ = await call(http, "GET", path)
        if body[key] == expected:
            return body
        await asyncio.sleep(0.005)
    raise AssertionError(f"{path}: {key} is still {body[key]!r}, not {expected!r}")


async def new_dataset(http: aiohttp.ClientSession, schema: Any = None) -> str:
    """Create a dataset (V4 with a schema); return its id."""
    body: dict[str, Any] = {"name": "Data", "workspace_id": WORKSPACE}
    if schema is not None:
        body["schema"] = schema
    status, answer, _ = await call(http, "POST", DATASETS, json=body)
    assert status == 201, answer
    return str(answer["id"])


async def upload(
    http: aiohttp.ClientSession,
    storage: aiohttp.ClientSession,
    dataset_id: str,
    filename: str,
    data: bytes,
) -> dict[str, Any]:
    """Get an upload URL and PUT ``data`` to it without the token; return the URL answer."""
    status, answer, _ = await call(http, "GET", f"{DATASETS}/{dataset_id}/upload-url/{filename}")
    assert status == 201, answer
    async with storage.put(answer["upload_url"], data=data) as response:
        assert (response.status, await response.read()) == (200, b"")
    return dict(answer)


async def new_batch(http: aiohttp.ClientSession, **extra: Any) -> str:
    """Create a batch; return its id."""
    body = {"name": "Batch", "workspace_id": WORKSPACE, "task_details": TASK, **extra}
    status, answer, _ = await call(http, "POST", BATCHES, json=body)
    assert status == 201, answer
    return str(answer["id"])


async def ready_batch(
    http: aiohttp.ClientSession, fake: FakeProlific, *, rows: int = 3, per_group: int = 1
) -> str:
    """A batch set up on a seeded READY dataset of ``rows`` rows, polled until READY."""
    dataset = fake.add_dataset(records=[{"text": f"row {n}"} for n in range(rows)])
    batch_id = await new_batch(http)
    body = {"dataset_id": dataset.id, "tasks_per_group": per_group}
    assert (await call(http, "POST", f"{BATCHES}/{batch_id}/setup", json=body))[0] == 202
    await until(http, f"{BATCHES}/{batch_id}/status", "status", "READY")
    return batch_id


# -- datasets ------------------------------------------------------------------------


async def test_create_v3_dataset_answers_201_uninitialised(
    fake: FakeProlific, http: aiohttp.ClientSession
) -> None:
    """A body without schema makes a V3 dataset: 201, UNINITIALISED, no datapoints."""
    status, body, _ = await call(
        http, "POST", DATASETS, json={"name": "Reviews", "workspace_id": WORKSPACE}
    )
    assert status == 201
    assert list(body) == [
        "id",
        "name",
        "created_at",
        "created_by",
        "status",
        "total_datapoint_count",
        "workspace_id",
    ]
    assert (body["status"], body["total_datapoint_count"]) == ("UNINITIALISED", 0)
    assert body["created_at"].endswith("Z")
    stored = fake.datasets[body["id"]]
    assert (stored.name, stored.schema, stored.schema_version) == ("Reviews", None, 3)


async def test_create_v4_dataset_keeps_the_schema_and_has_no_status(
    http: aiohttp.ClientSession,
) -> None:
    """A schema makes a V4 dataset: schema_version 4, the schema echoed, no status."""
    schema = {"fields": {"prompt": {"type": "text", "label": "Prompt"}}}
    status, body, _ = await call(
        http, "POST", DATASETS, json={"name": "V4", "workspace_id": WORKSPACE, "schema": schema}
    )
    assert status == 201
    assert "status" not in body
    assert (body["schema_version"], body["schema"]) == (4, {"strict": False, **schema})


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"name": None}, {"name": ["This field may not be null."]}),
        ({"workspace_id": 5}, {"workspace_id": ["Not a valid string."]}),
        ({"schema": None}, {"schema": ["This field may not be null."]}),
        ({"schema": "text"}, {"schema": {"non_field_errors": [
            "Invalid data. Expected a dictionary, but got str."]}}),
        ({"schema": {}}, {"schema": {"fields": REQUIRED}}),
        ({"schema": {"fields": ["a"]}}, {"schema": {"fields": [
            'Expected a dictionary of items but got type "list".']}}),
        ({"schema": {"fields": {"a": {}}}}, {"schema": {"fields": {"a": {"type": REQUIRED}}}}),
        ({"schema": {"fields": {}, "strict": "yes"}},
         {"schema": {"strict": ["Must be a valid boolean."]}}),
        ({"schema": {"fields": {"a": {"type": "task_group_id"}, "b": {"type": "task_group_id"}}}},
         {"schema": {"fields": ["At most one field may have the type task_group_id."]}}),
    ],
)  # fmt: skip
async def test_create_dataset_rejects_bad_fields_with_400(
    fake: FakeProlific, http: aiohttp.ClientSession, body: dict[str, Any], detail: Any
) -> None:
    """A missing, null or wrongly typed name, workspace_id or schema answers 400 naming it."""
    full = {"name": "D", "workspace_id": WORKSPACE, **body}
    status, answer, _ = await call(http, "POST", DATASETS, json=full)
    assert (status, answer["error"]["detail"]) == (400, detail)
    assert fake.datasets == {}


async def test_create_dataset_requires_name_and_workspace(http: aiohttp.ClientSession) -> None:
    """An empty body answers 400 listing both required fields."""
    status, answer, _ = await call(http, "POST", DATASETS, json={})
    assert (status, answer["error"]["detail"]) == (
        400,
        {"name": REQUIRED, "workspace_id": REQUIRED},
    )


async def test_get_dataset_answers_the_full_shape_or_404(
    fake: FakeProlific, http: aiohttp.ClientSession
) -> None:
    """Get adds schema_version, filename and grouping (V3) or imports (V4); unknown: 404."""
    v3 = fake.add_dataset(total_datapoint_count=4, filename="rows.csv")
    status, body, _ = await call(http, "GET", f"{DATASETS}/{v3.id}")
    assert status == 200
    assert (body["status"], body["schema_version"], body["filename"]) == ("READY", 3, "rows.csv")
    assert (body["total_datapoint_count"], body["has_predetermined_grouping_id"]) == (4, False)
    v4 = fake.add_dataset(schema=SCHEMA, total_datapoint_count=2)
    _, body, _ = await call(http, "GET", f"{DATASETS}/{v4.id}")
    assert "status" not in body
    assert [(job["status"], job["accepted_count"]) for job in body["imports"]] == [("complete", 2)]
    assert (await call(http, "GET", f"{DATASETS}/nope"))[0] == 404
    assert (await call(http, "GET", f"{DATASETS}/nope/status"))[0] == 404


@pytest.mark.parametrize(
    ("schema", "allowed", "refused"),
    [(None, ["a.csv", "b.ZIP"], ["c.jsonl", "d.txt"]), (SCHEMA, ["a.csv", "b.jsonl"], ["c.zip"])],
)
async def test_upload_url_allows_the_file_types_of_each_version(
    fake: FakeProlific,
    http: aiohttp.ClientSession,
    schema: Any,
    allowed: list[str],
    refused: list[str],
) -> None:
    """V3 takes .csv/.zip and V4 .csv/.jsonl (201); any other extension answers 400."""
    dataset_id = await new_dataset(http, schema)
    for filename in allowed:
        status, body, _ = await call(http, "GET", f"{DATASETS}/{dataset_id}/upload-url/{filename}")
        assert status == 201
        assert (body["http_method"], body["dataset_id"]) == ("PUT", dataset_id)
        assert body["upload_url"].startswith(f"{fake.url}/_storage/uploads/")
        assert ("import_id" in body) is (schema is not None)
    for filename in refused:
        status, body, _ = await call(http, "GET", f"{DATASETS}/{dataset_id}/upload-url/{filename}")
        assert (status, list(body["error"]["detail"])) == (400, ["filename"])


async def test_v3_upload_goes_processing_then_ready_with_the_row_count(
    fake: FakeProlific, http: aiohttp.ClientSession, storage: aiohttp.ClientSession
) -> None:
    """After the PUT a V3 dataset is PROCESSING, then READY with one datapoint per data row."""
    fake.processing_delay = 0.1  # ample time to observe PROCESSING
    dataset_id = await new_dataset(http)
    status_path = f"{DATASETS}/{dataset_id}/status"
    assert (await call(http, "GET", status_path))[1] == {"status": "UNINITIALISED"}
    await upload(http, storage, dataset_id, "rows.csv", CSV)
    assert (await call(http, "GET", status_path))[1] == {"status": "PROCESSING"}
    await until(http, status_path, "status", "READY")
    _, body, _ = await call(http, "GET", f"{DATASETS}/{dataset_id}")
    assert (body["total_datapoint_count"], body["filename"]) == (3, "rows.csv")
    assert fake.datasets[dataset_id].records[2] == {"text": "again", "label": "c"}


async def test_v3_zip_counts_as_one_datapoint(
    http: aiohttp.ClientSession, storage: aiohttp.ClientSession
) -> None:
    """A V3 .zip upload becomes READY with a single datapoint."""
    dataset_id = await new_dataset(http)
    await upload(http, storage, dataset_id, "images.zip", b"PK\x03\x04 any bytes")
    body = await until(http, f"{DATASETS}/{dataset_id}", "status", "READY")
    assert body["total_datapoint_count"] == 1


@pytest.mark.parametrize(
    "data",
    [b"", b"text,label\n", b"\xff\xfe\x00bad", b"a,b\n1,2,3\n"],
    ids=["empty", "header-only", "not-utf8", "ragged"],
)
async def test_v3_empty_or_unparsable_csv_ends_in_error(
    http: aiohttp.ClientSession, storage: aiohttp.ClientSession, data: bytes
) -> None:
    """An empty, header-only, undecodable or ragged CSV leaves the dataset in ERROR."""
    dataset_id = await new_dataset(http)
    await upload(http, storage, dataset_id, "bad.csv", data)
    body = await until(http, f"{DATASETS}/{dataset_id}", "status", "ERROR")
    assert body["total_datapoint_count"] == 0


async def test_v4_import_goes_processing_then_complete(
    fake: FakeProlific, http: aiohttp.ClientSession, storage: aiohttp.ClientSession
) -> None:
    """A V4 import is uninitialised until the PUT, processing, then complete with counts."""
    fake.processing_delay = 0.1  # ample time to observe "processing"
    dataset_id = await new_dataset(http, SCHEMA)
    answer = await call(http, "GET", f"{DATASETS}/{dataset_id}/upload-url/data.jsonl")
    job_path = f"{DATASETS}/{dataset_id}/imports/{answer[1]['import_id']}"
    _, job, _ = await call(http, "GET", job_path)
    assert (job["status"], job["filename"], job["updated_at"]) == (
        "uninitialised",
        "data.jsonl",
        None,
    )
    lines = b'{"prompt": "a", "group": "1"}\n{"prompt": "b", "group": "2"}\n'
    async with storage.put(answer[1]["upload_url"], data=lines) as response:
        assert response.status == 200
    assert (await call(http, "GET", job_path))[1]["status"] == "processing"
    assert (await call(http, "GET", f"{DATASETS}/{dataset_id}/status"))[1]["status"] == "PROCESSING"
    job = await until(http, job_path, "status", "complete")
    assert (job["accepted_count"], job["rejected_count"], job["errors"]) == (2, 0, [])
    assert job["updated_at"].endswith("Z")
    assert (await call(http, "GET", f"{DATASETS}/{dataset_id}/status"))[1]["status"] == "READY"
    _, dataset, _ = await call(http, "GET", f"{DATASETS}/{dataset_id}")
    assert (dataset["total_datapoint_count"], len(dataset["imports"])) == (2, 1)


async def test_v4_strict_schema_rejects_records_and_reports_them(
    http: aiohttp.ClientSession, storage: aiohttp.ClientSession
) -> None:
    """Strict: records missing a field, not objects or not JSON are rejected: partial."""
    dataset_id = await new_dataset(http, SCHEMA)
    lines = b'{"prompt": "a", "group": "1"}\n{"prompt": "b"}\n[1]\n\nnot json\n'
    answer = await upload(http, storage, dataset_id, "data.jsonl", lines)
    job = await until(
        http, f"{DATASETS}/{dataset_id}/imports/{answer['import_id']}", "status", "partial"
    )
    assert (job["accepted_count"], job["rejected_count"]) == (1, 3)
    assert job["errors"] == [
        {"record_index": 1, "field": "group", "reason": STRICT_REJECTION},
        {"record_index": 2, "field": None, "reason": "The record is not a JSON object."},
        {"record_index": 3, "field": None, "reason": "The line is not valid JSON."},
    ]
    assert "reason" not in job
    _, dataset, _ = await call(http, "GET", f"{DATASETS}/{dataset_id}")
    assert dataset["total_datapoint_count"] == 1


@pytest.mark.parametrize(
    ("data", "reason"),
    [(b'{"prompt": "a"}\n', "Every record was rejected."), (b"\n\n", "The file is empty.")],
)
async def test_v4_import_with_nothing_accepted_fails_with_a_reason(
    http: aiohttp.ClientSession, storage: aiohttp.ClientSession, data: bytes, reason: str
) -> None:
    """An import with no accepted record is failed, with reason; the dataset stays unusable."""
    dataset_id = await new_dataset(http, SCHEMA)
    answer = await upload(http, storage, dataset_id, "data.jsonl", data)
    path = f"{DATASETS}/{dataset_id}/imports/{answer['import_id']}"
    job = await until(http, path, "status", "failed")
    assert (job["reason"], job["accepted_count"]) == (reason, 0)
    status = await call(http, "GET", f"{DATASETS}/{dataset_id}/status")
    assert status[1] == {"status": "UNINITIALISED"}


async def test_v4_csv_upload_without_strict_accepts_every_row(
    http: aiohttp.ClientSession, storage: aiohttp.ClientSession
) -> None:
    """A V4 CSV upload (schema not strict) accepts each data row as a record."""
    dataset_id = await new_dataset(http, {"fields": {"text": {"type": "text"}}})
    answer = await upload(http, storage, dataset_id, "data.csv", CSV)
    path = f"{DATASETS}/{dataset_id}/imports/{answer['import_id']}"
    assert (await until(http, path, "status", "complete"))["accepted_count"] == 3


async def test_uploading_again_to_the_same_url_replaces_the_upload(
    http: aiohttp.ClientSession, storage: aiohttp.ClientSession
) -> None:
    """A second PUT to one URL (a retried upload) replaces the first: nothing counts twice."""
    v3 = await new_dataset(http)
    answer = await upload(http, storage, v3, "rows.csv", b"text\nx\n")
    await until(http, f"{DATASETS}/{v3}/status", "status", "READY")
    async with storage.put(answer["upload_url"], data=CSV) as response:
        assert response.status == 200
    await until(http, f"{DATASETS}/{v3}/status", "status", "READY")
    assert (await call(http, "GET", f"{DATASETS}/{v3}"))[1]["total_datapoint_count"] == 3
    v4 = await new_dataset(http, SCHEMA)
    line = b'{"prompt": "p", "group": "g"}\n'
    answer = await upload(http, storage, v4, "d.jsonl", line)
    job_path = f"{DATASETS}/{v4}/imports/{answer['import_id']}"
    await until(http, job_path, "status", "complete")
    async with storage.put(answer["upload_url"], data=line * 2) as response:
        assert response.status == 200
    assert (await until(http, job_path, "status", "complete"))["accepted_count"] == 2
    assert (await call(http, "GET", f"{DATASETS}/{v4}"))[1]["total_datapoint_count"] == 2


async def test_v4_imports_of_one_dataset_queue_behind_each_other(
    fake: FakeProlific, http: aiohttp.ClientSession, storage: aiohttp.ClientSession
) -> None:
    """Each upload URL is its own import; a second upload waits as queued, then completes."""
    fake.processing_delay = 0.1
    dataset_id = await new_dataset(http, SCHEMA)
    lines = b'{"prompt": "a", "group": "1"}\n'
    first = await upload(http, storage, dataset_id, "one.jsonl", lines)
    second = await upload(http, storage, dataset_id, "two.jsonl", lines)
    assert first["import_id"] != second["import_id"]
    second_path = f"{DATASETS}/{dataset_id}/imports/{second['import_id']}"
    assert (await call(http, "GET", second_path))[1]["status"] == "queued"
    await until(http, second_path, "status", "complete")
    _, dataset, _ = await call(http, "GET", f"{DATASETS}/{dataset_id}")
    assert [job["status"] for job in dataset["imports"]] == ["complete", "complete"]
    assert dataset["total_datapoint_count"] == 2


async def test_unknown_imports_answer_404(fake: FakeProlific, http: aiohttp.ClientSession) -> None:
    """An unknown import id, or any import of a V3 dataset, answers 404."""
    v3 = fake.add_dataset()
    v4 = fake.add_dataset(schema=SCHEMA)
    for dataset_id in (v3.id, v4.id):
        assert (await call(http, "GET", f"{DATASETS}/{dataset_id}/imports/nope"))[0] == 404


# -- the storage stand-in ------------------------------------------------------------


async def test_storage_needs_no_token_and_records_what_it_received(
    fake: FakeProlific, http: aiohttp.ClientSession, storage: aiohttp.ClientSession
) -> None:
    """Uploads succeed without Authorization; storage_requests shows none was sent."""
    dataset_id = await new_dataset(http)
    answer = await upload(http, storage, dataset_id, "rows.csv", CSV)
    (record,) = fake.storage_requests
    assert (record.method, record.path) == ("PUT", answer["upload_url"].removeprefix(fake.url))
    assert "Authorization" not in record.headers
    assert all(not r.path.startswith("/_storage/") for r in fake.requests)
    assert fake.stats.requests["PUT", "storage_upload"] == 1


async def test_storage_redacts_a_token_sent_by_mistake(
    fake: FakeProlific, http: aiohttp.ClientSession
) -> None:
    """A client that leaks its token to storage is caught (Token ***), never logged raw."""
    dataset_id = await new_dataset(http)
    _, answer, _ = await call(http, "GET", f"{DATASETS}/{dataset_id}/upload-url/rows.csv")
    assert (await call(http, "PUT", answer["upload_url"], data=CSV))[0] == 200
    assert fake.storage_requests[0].headers["Authorization"] == "Token ***"
    assert fake.token not in repr(fake.storage_requests)


async def test_unknown_or_expired_storage_urls_answer_403(
    fake: FakeProlific, http: aiohttp.ClientSession, storage: aiohttp.ClientSession
) -> None:
    """An unknown token answers S3's 403 XML; expire_storage_urls() expires issued URLs."""
    async with storage.put(f"{fake.url}/_storage/uploads/nope", data=b"x") as response:
        assert (response.status, response.content_type) == (403, "application/xml")
        assert "<Code>AccessDenied</Code>" in await response.text()
    dataset_id = await new_dataset(http)
    _, answer, _ = await call(http, "GET", f"{DATASETS}/{dataset_id}/upload-url/rows.csv")
    fake.expire_storage_urls()
    async with storage.put(answer["upload_url"], data=CSV) as response:
        assert response.status == 403
    assert fake.datasets[dataset_id].status == "UNINITIALISED"


async def test_storage_routes_skip_latency_and_rate_limit_but_not_faults(
    fake: FakeProlific, http: aiohttp.ClientSession, storage: aiohttp.ClientSession
) -> None:
    """Storage is another host: latency and the rate limit stay off; scripted faults apply."""
    dataset_id = await new_dataset(http)
    _, answer, _ = await call(http, "GET", f"{DATASETS}/{dataset_id}/upload-url/rows.csv")
    fake.rate_limit = RateLimit(rate=0.01, burst=1)
    fake.latency = 1.0
    fault = fake.add_fault("PUT", "/_storage/uploads/*", "status", status=503)
    loop = asyncio.get_running_loop()
    started = loop.time()
    statuses = []
    for _ in range(3):
        async with storage.put(answer["upload_url"], data=CSV) as response:
            statuses.append(response.status)
    assert (statuses, fault.fired) == ([503, 200, 200], 1)
    assert loop.time() - started < 0.5


async def test_drop_after_on_an_upload_still_processes_it(
    fake: FakeProlific, http: aiohttp.ClientSession, storage: aiohttp.ClientSession
) -> None:
    """A storage PUT cut after it was applied leaves the upload processing, as S3 would."""
    dataset_id = await new_dataset(http)
    _, answer, _ = await call(http, "GET", f"{DATASETS}/{dataset_id}/upload-url/rows.csv")
    # aiohttp resends an idempotent PUT once after a disconnect: cut both.
    fake.add_fault("PUT", "/_storage/uploads/*", "drop_after", times=2)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await storage.put(answer["upload_url"], data=CSV)
    body = await until(http, f"{DATASETS}/{dataset_id}", "status", "READY")
    assert (body["total_datapoint_count"], len(fake.storage_requests)) == (3, 2)


# -- setup ---------------------------------------------------------------------------


async def test_setup_answers_202_empty_then_processing_then_ready(
    fake: FakeProlific, http: aiohttp.ClientSession, storage: aiohttp.ClientSession
) -> None:
    """Setup: 202 with no body, PROCESSING at once, READY with tasks and groups later."""
    dataset_id = await new_dataset(http)
    await upload(http, storage, dataset_id, "rows.csv", CSV)
    await until(http, f"{DATASETS}/{dataset_id}/status", "status", "READY")
    batch_id = await new_batch(http)
    assert (await call(http, "GET", f"{BATCHES}/{batch_id}/tasks"))[1] == []
    fake.setup_delay = 0.1  # ample time to observe PROCESSING
    body = {"dataset_id": dataset_id, "tasks_per_group": 2}
    status, data, response = await call(http, "POST", f"{BATCHES}/{batch_id}/setup", json=body)
    assert (status, data, response.content_length) == (202, b"", 0)
    assert (await call(http, "GET", f"{BATCHES}/{batch_id}/status"))[1] == {"status": "PROCESSING"}
    assert (await call(http, "GET", f"{BATCHES}/{batch_id}/tasks"))[1] == []
    batch = await until(http, f"{BATCHES}/{batch_id}", "status", "READY")
    assert (batch["total_task_count"], batch["total_task_groups"]) == (3, 2)
    assert batch["datasets"] == [
        {"id": dataset_id, "total_datapoint_count": 3, "filename": "rows.csv"}
    ]
    _, tasks, _ = await call(http, "GET", f"{BATCHES}/{batch_id}/tasks")
    _, groups, _ = await call(http, "GET", f"{BATCHES}/{batch_id}/task-groups")
    assert (len(set(tasks)), len(set(groups))) == (3, 2)
    assert (await call(http, "GET", f"{BATCHES}/{batch_id}/tasks"))[1] == tasks  # stable
    assert fake.batches[batch_id].tasks_per_group == 2


async def test_setup_uses_the_dataset_already_attached(
    fake: FakeProlific, http: aiohttp.ClientSession
) -> None:
    """Without dataset_id, setup uses the batch's dataset; tasks_per_group defaults to 1."""
    dataset = fake.add_dataset(total_datapoint_count=5)
    batch_id = await new_batch(http, dataset_id=dataset.id)
    assert (await call(http, "POST", f"{BATCHES}/{batch_id}/setup"))[0] == 202
    batch = await until(http, f"{BATCHES}/{batch_id}", "status", "READY")
    assert (batch["total_task_count"], batch["total_task_groups"]) == (5, 5)


async def test_setup_groups_v4_datapoints_by_their_task_group_id_field(
    fake: FakeProlific, http: aiohttp.ClientSession
) -> None:
    """A V4 schema field of type task_group_id makes one group per distinct value."""
    schema = {"fields": {"text": {"type": "text"}, "session": {"type": "task_group_id"}}}
    records = [{"text": str(n), "session": "s1" if n < 3 else "s2"} for n in range(5)]
    dataset = fake.add_dataset(schema=schema, records=records)
    batch = fake.add_batch(dataset_ids=[dataset.id])
    await call(http, "POST", f"{BATCHES}/{batch.id}/setup", json={"tasks_per_group": 4})
    body = await until(http, f"{BATCHES}/{batch.id}", "status", "READY")
    assert (body["total_task_count"], body["total_task_groups"]) == (5, 2)


@pytest.mark.parametrize(
    "dataset_kwargs",
    [
        {"status": "UNINITIALISED"},
        {"status": "ERROR"},
        {"schema": SCHEMA, "status": "UNINITIALISED"},
        None,
    ],
    ids=["v3-uninitialised", "v3-error", "v4-no-import", "no-dataset"],
)
async def test_setup_without_a_usable_dataset_ends_in_error(
    fake: FakeProlific, http: aiohttp.ClientSession, dataset_kwargs: dict[str, Any] | None
) -> None:
    """A batch without a dataset, or with one not READY (V3) / not imported (V4), ends ERROR."""
    ids = [] if dataset_kwargs is None else [fake.add_dataset(**dataset_kwargs).id]
    batch = fake.add_batch(dataset_ids=ids)
    assert (await call(http, "POST", f"{BATCHES}/{batch.id}/setup"))[0] == 202
    body = await until(http, f"{BATCHES}/{batch.id}/status", "status", "ERROR")
    assert body == {"status": "ERROR"}
    assert fake.batches[batch.id].total_task_count == 0


async def test_setup_waits_for_the_dataset_until_its_own_end(
    fake: FakeProlific, http: aiohttp.ClientSession, storage: aiohttp.ClientSession
) -> None:
    """Readiness is checked when setup ends: a dataset READY by then is fine."""
    fake.setup_delay = 0.1
    dataset_id = await new_dataset(http)
    await upload(http, storage, dataset_id, "rows.csv", CSV)
    batch_id = await new_batch(http)
    await call(http, "POST", f"{BATCHES}/{batch_id}/setup", json={"dataset_id": dataset_id})
    body = await until(http, f"{BATCHES}/{batch_id}", "status", "READY")
    assert body["total_task_count"] == 3


async def test_setup_again_restarts_the_processing(
    fake: FakeProlific, http: aiohttp.ClientSession
) -> None:
    """Setup of a PROCESSING batch is accepted (202) and restarts: READY after the new one."""
    dataset = fake.add_dataset(total_datapoint_count=2)
    batch = fake.add_batch(dataset_ids=[dataset.id])
    fake.setup_delay = 60.0
    await call(http, "POST", f"{BATCHES}/{batch.id}/setup")
    fake.setup_delay = 0.0
    assert (await call(http, "POST", f"{BATCHES}/{batch.id}/setup"))[0] == 202
    await until(http, f"{BATCHES}/{batch.id}/status", "status", "READY")
    assert fake.batches[batch.id].status == "READY"


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"tasks_per_group": 0}, {"tasks_per_group": [
            "Ensure this value is greater than or equal to 1."]}),
        ({"tasks_per_group": "2"}, {"tasks_per_group": NOT_INTEGER}),
        ({"tasks_per_group": True}, {"tasks_per_group": NOT_INTEGER}),
        ({"tasks_per_group": None}, {"tasks_per_group": ["This field may not be null."]}),
        ({"dataset_id": 5}, {"dataset_id": ["Not a valid string."]}),
        ({"dataset_id": "nope"}, {"dataset_id": ['Invalid pk "nope" - object does not exist.']}),
    ],
)  # fmt: skip
async def test_setup_rejects_bad_fields_with_400_and_changes_nothing(
    fake: FakeProlific, http: aiohttp.ClientSession, body: dict[str, Any], detail: Any
) -> None:
    """A wrongly typed dataset_id or tasks_per_group answers 400; the batch is untouched."""
    batch = fake.add_batch()
    status, answer, _ = await call(http, "POST", f"{BATCHES}/{batch.id}/setup", json=body)
    assert (status, answer["error"]["detail"]) == (400, detail)
    assert (fake.batches[batch.id].status, fake.batches[batch.id].dataset_ids) == (
        "UNINITIALISED",
        [],
    )


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("GET", "/status"),
        ("POST", "/setup"),
        ("GET", "/tasks"),
        ("GET", "/task-groups"),
        ("GET", "/responses"),
        ("GET", "/report/"),
        ("POST", "/export"),
        ("GET", "/export"),
        ("GET", "/export/some-id"),
        ("DELETE", "/export/some-id"),
    ],
)
async def test_batch_workflow_routes_answer_404_for_an_unknown_batch(
    http: aiohttp.ClientSession, method: str, suffix: str
) -> None:
    """Every per-batch route answers 404 with the nested error body for an unknown batch."""
    status, body, _ = await call(http, method, f"{BATCHES}/missing{suffix}", json={})
    assert (status, body["error"]["status"]) == (404, 404)


async def test_state_views_apply_transitions_without_a_request(
    fake: FakeProlific, http: aiohttp.ClientSession
) -> None:
    """fake.batches applies due transitions itself: no background task, no request needed."""
    dataset = fake.add_dataset(total_datapoint_count=1)
    batch = fake.add_batch(dataset_ids=[dataset.id])
    await call(http, "POST", f"{BATCHES}/{batch.id}/setup")
    assert batch.status == "PROCESSING"
    await asyncio.sleep(0.05)
    assert batch.status == "PROCESSING"  # nothing ran in the background
    assert fake.batches[batch.id].status == "READY"


# -- responses and report ------------------------------------------------------------


async def test_responses_are_seeded_with_defaults_and_served(
    fake: FakeProlific, http: aiohttp.ClientSession
) -> None:
    """add_response fills every field; the list answers {results, meta.count}."""
    batch_id = await ready_batch(http, fake, rows=2)
    first = fake.add_response(batch_id)
    moment = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    second = fake.add_response(batch_id, created_at=moment, future_field=1)
    third = fake.add_response(
        batch_id, response={"instruction_id": "i", "type": "ranking", "answer": []}
    )
    status, body, _ = await call(http, "GET", f"{BATCHES}/{batch_id}/responses")
    assert status == 200
    assert body == {"results": [first, second, third], "meta": {"count": 3}}
    assert list(first) == [
        "id",
        "batch_id",
        "participant_id",
        "task_id",
        "correlation_id",
        "submission_id",
        "metadata",
        "response",
        "created_at",
        "schema_version",
    ]
    assert first["response"] == {
        "instruction_id": first["response"]["instruction_id"],
        "type": "free_text",
        "answer": [{"value": "An example answer."}],
    }
    _, tasks, _ = await call(http, "GET", f"{BATCHES}/{batch_id}/tasks")
    assert [first["task_id"], second["task_id"], third["task_id"]] == [*tasks, tasks[0]]
    assert (second["created_at"], second["future_field"]) == ("2024-05-01T12:00:00Z", 1)


def test_add_response_refuses_an_unknown_batch() -> None:
    """add_response needs a known batch."""
    with pytest.raises(ValueError, match="add_batch"):
        FakeProlific().add_response("nope")


async def test_report_path_has_a_trailing_slash_and_links_a_csv(
    fake: FakeProlific, http: aiohttp.ClientSession, storage: aiohttp.ClientSession
) -> None:
    """GET .../report/ answers a presigned CSV link (dataset rows + responses); no slash: 404."""
    batch_id = await ready_batch(http, fake, rows=2)
    response = fake.add_response(batch_id, participant_id="p1")
    assert (await call(http, "GET", f"{BATCHES}/{batch_id}/report"))[0] == 404
    status, body, _ = await call(http, "GET", f"{BATCHES}/{batch_id}/report/")
    assert (status, list(body), body["http_method"]) == (
        200,
        ["url", "expires_at", "http_method"],
        "GET",
    )
    assert body["url"].startswith(f"{fake.url}/_storage/reports/")
    async with storage.get(body["url"]) as download:
        assert (download.status, download.content_type) == (200, "text/csv")
        rows = list(csv.DictReader(io.StringIO(await download.text())))
    assert [(row["text"], row["participant_id"]) for row in rows] == [
        ("row 0", "p1"),
        ("row 1", ""),
    ]
    assert rows[0]["task_id"] == response["task_id"]
    assert json.loads(rows[0]["answer"]) == [{"value": "An example answer."}]
    assert "Authorization" not in fake.storage_requests[-1].headers


# -- exports -------------------------------------------------------------------------


async def test_export_goes_generating_then_complete_with_a_zip(
    fake: FakeProlific, http: aiohttp.ClientSession, storage: aiohttp.ClientSession
) -> None:
    """202 generating, then complete with a URL; the ZIP holds both JSONL files and files/."""
    batch_id = await ready_batch(http, fake, rows=2)
    upload_answer = {"file_key": "k1", "file_name": "a.png", "content_type": "image/png"}
    fake.add_response(batch_id, submission_id="s1")
    fake.add_response(
        batch_id,
        submission_id="s1",
        response={"instruction_id": "i", "type": "file_upload", "answer": [upload_answer]},
    )
    status, body, _ = await call(http, "POST", f"{BATCHES}/{batch_id}/export")
    assert (status, body["status"]) == (202, "generating")
    job_path = f"{BATCHES}/{batch_id}/export/{body['export_id']}"
    assert (await call(http, "GET", job_path))[1] == body
    job = await until(http, job_path, "status", "complete")
    assert list(job) == ["status", "export_id", "url", "expires_at"]
    async with storage.get(job["url"]) as download:
        assert (download.status, download.content_type) == (200, "application/zip")
        archive = zipfile.ZipFile(io.BytesIO(await download.read()))
    assert archive.namelist() == [
        "responses-by-submission.jsonl",
        "responses-by-task.jsonl",
        "files/",
        "files/k1",
    ]
    submissions = archive.read("responses-by-submission.jsonl").decode().splitlines()
    assert [len(json.loads(line)["responses"]) for line in submissions] == [2]
    assert len(archive.read("responses-by-task.jsonl").decode().splitlines()) == 2
    assert "Authorization" not in fake.storage_requests[-1].headers


async def test_export_with_the_same_filter_while_generating_reuses_the_job(
    fake: FakeProlific, http: aiohttp.ClientSession
) -> None:
    """The same filter while generating returns the same export_id; another filter does not."""
    batch = fake.add_batch()
    path = f"{BATCHES}/{batch.id}/export"
    fake.export_delay = 60.0
    first = (await call(http, "POST", path, params={"study_id": "s"}))[1]["export_id"]
    again = (await call(http, "POST", path, params={"study_id": "s"}))[1]["export_id"]
    other = (await call(http, "POST", path, params={"study_id": "t"}))[1]["export_id"]
    assert first == again != other
    fake.exports[batch.id][0].status = "complete"  # finished jobs are never reused
    later = (await call(http, "POST", path, params={"study_id": "s"}))[1]["export_id"]
    assert later not in (first, other)
    assert len(fake.exports[batch.id]) == 3


async def test_export_cap_of_10_jobs_answers_409_until_one_is_deleted(
    fake: FakeProlific, http: aiohttp.ClientSession
) -> None:
    """An 11th job answers 409 with an error body; deleting a finished job frees a slot."""
    batch = fake.add_batch()
    path = f"{BATCHES}/{batch.id}/export"
    ids = [
        (await call(http, "POST", path, params={"study_id": str(n)}))[1]["export_id"]
        for n in range(10)
    ]
    status, body, _ = await call(http, "POST", path, params={"study_id": "10"})
    assert (status, body["error"]["status"]) == (409, 409)
    assert "at most 10" in body["error"]["detail"]
    await until(http, f"{path}/{ids[0]}", "status", "complete")
    assert (await call(http, "DELETE", f"{path}/{ids[0]}"))[:2] == (204, b"")
    assert (await call(http, "POST", path, params={"study_id": "10"}))[0] == 202
    assert len(fake.exports[batch.id]) == 10


async def test_delete_export_conflicts_while_generating_and_revokes_the_zip(
    fake: FakeProlific, http: aiohttp.ClientSession, storage: aiohttp.ClientSession
) -> None:
    """DELETE: 409 while generating, 204 once complete (its URL then 403), 404 after."""
    batch = fake.add_batch()
    path = f"{BATCHES}/{batch.id}/export"
    export_id = (await call(http, "POST", path))[1]["export_id"]
    status, body, _ = await call(http, "DELETE", f"{path}/{export_id}")
    assert (status, body["error"]["title"]) == (409, "Conflict")
    job = await until(http, f"{path}/{export_id}", "status", "complete")
    assert (await call(http, "DELETE", f"{path}/{export_id}"))[0] == 204
    assert (await call(http, "DELETE", f"{path}/{export_id}"))[0] == 404
    assert (await call(http, "GET", f"{path}/{export_id}"))[0] == 404
    assert (await call(http, "GET", path))[1] == {"results": []}
    async with storage.get(job["url"]) as download:
        assert download.status == 403


async def test_list_exports_newest_first_with_their_filters(
    fake: FakeProlific, http: aiohttp.ClientSession
) -> None:
    """The list answers every job newest first, each with its filter, url and expiry."""
    batch = fake.add_batch()
    path = f"{BATCHES}/{batch.id}/export"
    old = (await call(http, "POST", path))[1]["export_id"]
    await until(http, f"{path}/{old}", "status", "complete")
    params = {"study_id": "st", "from": "2024-01-01", "to": "2024-02-01T00:00:00Z"}
    new = (await call(http, "POST", path, params=params))[1]["export_id"]
    status, body, _ = await call(http, "GET", path)
    assert status == 200
    assert [job["export_id"] for job in body["results"]] == [new, old]
    latest, oldest = body["results"]
    assert list(latest) == [
        "export_id",
        "status",
        "created_at",
        "study_id",
        "from",
        "to",
        "url",
        "expires_at",
    ]
    filters = (latest["study_id"], latest["from"], latest["to"], latest["url"])
    assert filters == ("st", "2024-01-01", "2024-02-01T00:00:00Z", None)
    assert (oldest["status"], oldest["study_id"]) == ("complete", None)
    assert oldest["url"].startswith(fake.url)


async def test_export_filters_select_the_responses_exported(
    fake: FakeProlific, http: aiohttp.ClientSession, storage: aiohttp.ClientSession
) -> None:
    """study_id matches a response's study_id; from/to bound its created_at (inclusive)."""
    batch = fake.add_batch()
    for day, study in ((1, "a"), (5, "a"), (9, "b")):
        fake.add_response(batch.id, study_id=study, created_at=datetime(2024, 3, day, tzinfo=UTC))
    params = {"study_id": "a", "from": "2024-03-02", "to": "2024-03-09"}
    export_id = (await call(http, "POST", f"{BATCHES}/{batch.id}/export", params=params))[1][
        "export_id"
    ]
    job = await until(http, f"{BATCHES}/{batch.id}/export/{export_id}", "status", "complete")
    async with storage.get(job["url"]) as download:
        archive = zipfile.ZipFile(io.BytesIO(await download.read()))
    lines = archive.read("responses-by-task.jsonl").decode().splitlines()
    exported = [r["created_at"] for line in lines for r in json.loads(line)["responses"]]
    assert exported == ["2024-03-05T00:00:00Z"]


@pytest.mark.parametrize(
    ("params", "field"),
    [({"from": "yesterday"}, "from"), ({"to": "2024-13-01"}, "to"),
     ({"from": "2024-02-01", "to": "2024-01-01"}, "non_field_errors")],
)  # fmt: skip
async def test_export_rejects_bad_dates_with_400(
    fake: FakeProlific, http: aiohttp.ClientSession, params: dict[str, str], field: str
) -> None:
    """from/to must be ISO-8601 dates or datetimes, from not after to; else 400, no job."""
    batch = fake.add_batch()
    status, body, _ = await call(http, "POST", f"{BATCHES}/{batch.id}/export", params=params)
    assert (status, list(body["error"]["detail"])) == (400, [field])
    assert fake.exports == {}


async def test_legacy_exports_answer_200_complete_at_once(
    fake: FakeProlific, http: aiohttp.ClientSession, storage: aiohttp.ClientSession
) -> None:
    """legacy_exports=True: 200 {status: complete, url, expires_at}, no export_id, no job."""
    fake.legacy_exports = True
    batch = fake.add_batch()
    status, body, _ = await call(http, "POST", f"{BATCHES}/{batch.id}/export")
    assert (status, list(body), body["status"]) == (
        200,
        ["status", "url", "expires_at"],
        "complete",
    )
    async with storage.get(body["url"]) as download:
        assert zipfile.ZipFile(io.BytesIO(await download.read())).namelist()[0].endswith(".jsonl")
    assert (await call(http, "GET", f"{BATCHES}/{batch.id}/export"))[1] == {"results": []}


async def test_a_failed_export_can_be_staged(
    fake: FakeProlific, http: aiohttp.ClientSession
) -> None:
    """Setting a job's status to failed sticks: it never completes, and has no URL."""
    batch = fake.add_batch()
    export_id = (await call(http, "POST", f"{BATCHES}/{batch.id}/export"))[1]["export_id"]
    fake.exports[batch.id][0].status = "failed"
    await asyncio.sleep(0.03)
    _, body, _ = await call(http, "GET", f"{BATCHES}/{batch.id}/export/{export_id}")
    assert body == {"status": "failed", "export_id": export_id}


async def test_an_expired_export_url_is_refreshed_by_the_next_get(
    fake: FakeProlific, http: aiohttp.ClientSession, storage: aiohttp.ClientSession
) -> None:
    """Once its URL has expired (403), getting the job again issues a fresh, working URL."""
    batch = fake.add_batch()
    path = f"{BATCHES}/{batch.id}/export"
    export_id = (await call(http, "POST", path))[1]["export_id"]
    old = (await until(http, f"{path}/{export_id}", "status", "complete"))["url"]
    fake.expire_storage_urls()
    async with storage.get(old) as download:
        assert download.status == 403
    new = (await call(http, "GET", f"{path}/{export_id}"))[1]["url"]
    async with storage.get(new) as download:
        assert (new != old, download.status) == (True, 200)


# -- the pipeline around the new routes ----------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", DATASETS),
        ("GET", f"{DATASETS}/x/upload-url/a.csv"),
        ("POST", f"{BATCHES}/x/setup"),
        ("GET", f"{BATCHES}/x/report/"),
        ("POST", f"{BATCHES}/x/export"),
    ],
)
async def test_the_new_api_routes_require_the_token(
    fake: FakeProlific, storage: aiohttp.ClientSession, method: str, path: str
) -> None:
    """Every new API route answers 401 without the token (storage routes never do)."""
    async with storage.request(method, fake.url + path) as response:
        assert response.status == 401
    assert fake.storage_requests == []


async def test_faults_and_the_rate_limit_apply_to_the_new_routes(
    fake: FakeProlific, http: aiohttp.ClientSession
) -> None:
    """A status fault on setup is not applied, status_after is; the rate limit answers 429."""
    batch = fake.add_batch()
    setup = f"{BATCHES}/{batch.id}/setup"
    fake.add_fault("POST", f"{BATCHES}/*/setup", "status", status=503)
    assert (await call(http, "POST", setup))[0] == 503
    assert fake.batches[batch.id].status == "UNINITIALISED"
    fake.add_fault("POST", f"{BATCHES}/*/setup", "status_after")
    assert (await call(http, "POST", setup))[0] == 500
    assert fake.batches[batch.id].status in ("PROCESSING", "ERROR")
    fake.rate_limit = RateLimit(rate=0.01, burst=1)
    statuses = [(await call(http, "POST", DATASETS, json={}))[0] for _ in range(2)]
    assert statuses == [400, 429]


async def test_stats_name_each_new_route(fake: FakeProlific, http: aiohttp.ClientSession) -> None:
    """fake.stats counts the new endpoints under descriptive route names."""
    batch_id = await ready_batch(http, fake, rows=1)
    await call(http, "GET", f"{BATCHES}/{batch_id}/responses")
    await call(http, "POST", f"{BATCHES}/{batch_id}/export")
    assert {
        "setup_batch",
        "get_batch_status",
        "list_responses",
        "request_export",
        "create_batch",
    } <= {route for _, route in fake.stats.requests}


async def test_full_v3_and_v4_pipelines_run_concurrently(
    fake: FakeProlific, http: aiohttp.ClientSession, storage: aiohttp.ClientSession
) -> None:
    """20 pipelines (create dataset, upload, batch, setup, READY, export) run side by side."""

    async def pipeline(n: int) -> int:
        v4 = n % 2 == 1
        dataset_id = await new_dataset(http, SCHEMA if v4 else None)
        if v4:
            await upload(
                http, storage, dataset_id, "d.jsonl", b'{"prompt": "p", "group": "g"}\n' * n
            )
        else:
            await upload(http, storage, dataset_id, "d.csv", b"text\n" + b"x\n" * n)
        await until(http, f"{DATASETS}/{dataset_id}/status", "status", "READY")
        batch_id = await new_batch(http)
        await call(http, "POST", f"{BATCHES}/{batch_id}/setup", json={"dataset_id": dataset_id})
        batch = await until(http, f"{BATCHES}/{batch_id}", "status", "READY")
        path = f"{BATCHES}/{batch_id}/export"
        export_id = (await call(http, "POST", path))[1]["export_id"]
        await until(http, f"{path}/{export_id}", "status", "complete")
        return int(batch["total_task_count"])

    counts = await asyncio.gather(*(pipeline(n) for n in range(1, 21)))
    assert counts == list(range(1, 21))
    assert all("Authorization" not in record.headers for record in fake.storage_requests)


# -- seeding and knobs ---------------------------------------------------------------


def test_add_dataset_stages_v3_and_v4_datasets() -> None:
    """add_dataset keeps its old defaults and stages V4 statuses as import jobs."""
    fake = FakeProlific()
    legacy = fake.add_dataset("ds-1", total_datapoint_count=3)
    assert (legacy.status, legacy.filename, legacy.is_usable) == ("READY", "dataset.csv", True)
    counted = fake.add_dataset(records=[{"a": 1}, {"a": 2}])
    assert counted.total_datapoint_count == 2
    staged = {
        status: [job.status for job in fake.add_dataset(schema=SCHEMA, status=status).imports]
        for status in ("READY", "PROCESSING", "ERROR", "UNINITIALISED")
    }
    assert staged == {
        "READY": ["complete"],
        "PROCESSING": ["processing"],
        "ERROR": ["failed"],
        "UNINITIALISED": [],
    }
    with pytest.raises(ValueError, match="invalid schema"):
        fake.add_dataset(schema={"fields": []})
    with pytest.raises(ValueError, match="status"):
        fake.add_dataset(schema=SCHEMA, status="DONE")
    with pytest.raises(ValueError, match="total_datapoint_count"):
        fake.add_dataset(total_datapoint_count=-1)


@pytest.mark.parametrize("knob", ["processing_delay", "setup_delay", "export_delay"])
def test_delays_default_to_50_ms_and_refuse_negative_values(knob: str) -> None:
    """The three delays default to 0.05 s, are settable, and are never negative."""
    fake = FakeProlific()
    assert getattr(fake, knob) == 0.05
    setattr(fake, knob, 0.0)
    assert getattr(fake, knob) == 0.0
    with pytest.raises(ValueError, match=knob):
        setattr(fake, knob, -1.0)
    kwargs: dict[str, Any] = {knob: -0.5}
    with pytest.raises(ValueError, match=knob):
        FakeProlific(**kwargs)
    assert FakeProlific(legacy_exports=True).legacy_exports is True
