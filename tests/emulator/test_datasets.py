"""Datasets in the emulator: V3 and V4, their uploads and imports, over raw requests."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from prolific_async.testing import FakeProlific

from .conftest import (
    CSV,
    DATASETS,
    REQUIRED,
    STRICT_SCHEMA,
    WORKSPACE,
    ManualClock,
    call,
    new_dataset,
    signed,
    until,
    upload,
)

STRICT_REJECTION = "This field is required by the strict schema."


# -- create and get --------------------------------------------------------------------


async def test_create_v3_dataset_answers_201_uninitialised(
    prolific_fake: FakeProlific, fake_http: aiohttp.ClientSession
) -> None:
    """A body without schema makes a V3 dataset: 201, UNINITIALISED, no datapoints."""
    status, body, _ = await call(
        fake_http, "POST", DATASETS, json={"name": "Reviews", "workspace_id": WORKSPACE}
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
    stored = prolific_fake.datasets[body["id"]]
    assert (stored.name, stored.schema, stored.schema_version) == ("Reviews", None, 3)


async def test_create_v4_dataset_keeps_the_schema_and_says_uninitialised(
    fake_http: aiohttp.ClientSession,
) -> None:
    """A schema makes a V4 dataset: schema_version 4, the schema echoed, the required status."""
    schema = {"fields": {"prompt": {"type": "text", "label": "Prompt"}}}
    status, body, _ = await call(
        fake_http,
        "POST",
        DATASETS,
        json={"name": "V4", "workspace_id": WORKSPACE, "schema": schema},
    )
    assert status == 201
    assert body["status"] == "UNINITIALISED"  # both specs require it in the create answer
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
    prolific_fake: FakeProlific, fake_http: aiohttp.ClientSession, body: dict[str, Any], detail: Any
) -> None:
    """A missing, null or wrongly typed name, workspace_id or schema answers 400 naming it."""
    full = {"name": "D", "workspace_id": WORKSPACE, **body}
    status, answer, _ = await call(fake_http, "POST", DATASETS, json=full)
    assert (status, answer["error"]["detail"]) == (400, detail)
    assert prolific_fake.datasets == {}


async def test_create_dataset_requires_name_and_workspace(fake_http: aiohttp.ClientSession) -> None:
    """An empty body answers 400 listing both required fields."""
    status, answer, _ = await call(fake_http, "POST", DATASETS, json={})
    assert (status, answer["error"]["detail"]) == (
        400,
        {"name": REQUIRED, "workspace_id": REQUIRED},
    )


async def test_get_dataset_answers_the_full_shape_or_404(
    prolific_fake: FakeProlific, fake_http: aiohttp.ClientSession
) -> None:
    """Get adds schema_version, filename and grouping (V3) or imports (V4); unknown: 404."""
    v3 = prolific_fake.add_dataset(total_datapoint_count=4, filename="rows.csv")
    status, body, _ = await call(fake_http, "GET", f"{DATASETS}/{v3.id}")
    assert status == 200
    assert (body["status"], body["schema_version"], body["filename"]) == ("READY", 3, "rows.csv")
    assert (body["total_datapoint_count"], body["has_predetermined_grouping_id"]) == (4, False)
    v4 = prolific_fake.add_dataset(schema=STRICT_SCHEMA, total_datapoint_count=2)
    _, body, _ = await call(fake_http, "GET", f"{DATASETS}/{v4.id}")
    assert "status" not in body
    assert [(job["status"], job["accepted_count"]) for job in body["imports"]] == [("complete", 2)]
    assert (await call(fake_http, "GET", f"{DATASETS}/nope"))[0] == 404
    assert (await call(fake_http, "GET", f"{DATASETS}/nope/status"))[0] == 404


@pytest.mark.parametrize(
    ("schema", "allowed", "refused"),
    [
        (None, {"a.csv": "text/csv", "b.ZIP": "application/zip"}, ["c.jsonl", "d.txt"]),
        (STRICT_SCHEMA, {"a.csv": "text/csv", "b.jsonl": "application/x-ndjson"}, ["c.zip"]),
    ],
)
async def test_upload_url_allows_the_file_types_of_each_version(
    prolific_fake: FakeProlific,
    fake_http: aiohttp.ClientSession,
    schema: Any,
    allowed: dict[str, str],
    refused: list[str],
) -> None:
    """V3 takes .csv/.zip and V4 .csv/.jsonl (201, signed for the type, an import); others 400."""
    dataset_id = await new_dataset(fake_http, schema)
    for filename, content_type in allowed.items():
        status, body, _ = await call(
            fake_http, "GET", f"{DATASETS}/{dataset_id}/upload-url/{filename}"
        )
        assert status == 201
        assert (body["http_method"], body["dataset_id"]) == ("PUT", dataset_id)
        assert body["upload_url"].startswith(f"{prolific_fake.url}/_storage/uploads/")
        assert isinstance(body["import_id"], str)  # V3 too: the official CLI requires it
        assert body["content_type"] == content_type
        assert body["file_key"].startswith(f"datasets/{dataset_id}/")
        assert body["file_key"].endswith(f"/{filename}")
    for filename in refused:
        status, body, _ = await call(
            fake_http, "GET", f"{DATASETS}/{dataset_id}/upload-url/{filename}"
        )
        assert (status, list(body["error"]["detail"])) == (400, ["filename"])


# -- uploads and imports ---------------------------------------------------------------


async def test_v3_upload_goes_processing_then_ready_with_the_row_count(
    prolific_fake: FakeProlific,
    manual_clock: ManualClock,
    fake_http: aiohttp.ClientSession,
    storage_http: aiohttp.ClientSession,
) -> None:
    """After the PUT a V3 dataset is PROCESSING, then READY with one datapoint per data row."""
    dataset_id = await new_dataset(fake_http)
    status_path = f"{DATASETS}/{dataset_id}/status"
    assert (await call(fake_http, "GET", status_path))[1] == {"status": "UNINITIALISED"}
    await upload(fake_http, storage_http, dataset_id, "rows.csv", CSV)
    assert (await call(fake_http, "GET", status_path))[1] == {"status": "PROCESSING"}
    manual_clock.advance(prolific_fake.processing_delay)
    await until(fake_http, status_path, "status", "READY")
    _, body, _ = await call(fake_http, "GET", f"{DATASETS}/{dataset_id}")
    assert (body["total_datapoint_count"], body["filename"]) == (3, "rows.csv")
    assert prolific_fake.datasets[dataset_id].records[2] == {"text": "again", "label": "c"}


async def test_a_v3_uploads_import_job_follows_its_dataset_to_complete(
    prolific_fake: FakeProlific,
    manual_clock: ManualClock,
    fake_http: aiohttp.ClientSession,
    storage_http: aiohttp.ClientSession,
) -> None:
    """A V3 upload URL's import job is processing, then complete with the row count."""
    dataset_id = await new_dataset(fake_http)
    answer = await upload(fake_http, storage_http, dataset_id, "rows.csv", CSV)
    assert answer["file_key"] == f"datasets/{dataset_id}/rows.csv"  # the V3 folder
    job_path = f"{DATASETS}/{dataset_id}/imports/{answer['import_id']}"
    assert (await call(fake_http, "GET", job_path))[1]["status"] == "processing"
    manual_clock.advance(prolific_fake.processing_delay)
    _, job, _ = await call(fake_http, "GET", job_path)
    assert job["status"] == "complete"
    assert (job["accepted_count"], job["rejected_count"], job["errors"]) == (3, 0, [])
    _, dataset, _ = await call(fake_http, "GET", f"{DATASETS}/{dataset_id}")
    assert (dataset["status"], dataset["filename"], "imports" in dataset) == (
        "READY",
        "rows.csv",
        False,  # a V3 dataset's answer keeps its own shape
    )


async def test_a_v3_uploads_import_job_fails_with_its_dataset(
    fake_http: aiohttp.ClientSession, storage_http: aiohttp.ClientSession
) -> None:
    """An unreadable V3 file fails its import job, with a reason, as the dataset goes ERROR."""
    dataset_id = await new_dataset(fake_http)
    answer = await upload(fake_http, storage_http, dataset_id, "bad.csv", b"")
    job = await until(
        fake_http, f"{DATASETS}/{dataset_id}/imports/{answer['import_id']}", "status", "failed"
    )
    assert (job["accepted_count"], job["rejected_count"], job["errors"]) == (0, 0, [])
    assert job["reason"] == "The file is empty or could not be read."
    assert (await call(fake_http, "GET", f"{DATASETS}/{dataset_id}/status"))[1] == {
        "status": "ERROR"
    }


async def test_a_v3_upload_replaced_by_a_later_one_fails_its_import_job(
    prolific_fake: FakeProlific,
    manual_clock: ManualClock,
    fake_http: aiohttp.ClientSession,
    storage_http: aiohttp.ClientSession,
) -> None:
    """Only a V3 dataset's latest file counts: the job of the one it replaced fails."""
    dataset_id = await new_dataset(fake_http)
    first = await upload(fake_http, storage_http, dataset_id, "one.csv", CSV)
    second = await upload(fake_http, storage_http, dataset_id, "two.csv", b"text\nonly\n")
    manual_clock.advance(prolific_fake.processing_delay)  # both arrived: now both are done
    jobs = f"{DATASETS}/{dataset_id}/imports/"
    _, done, _ = await call(fake_http, "GET", jobs + second["import_id"])
    _, replaced, _ = await call(fake_http, "GET", jobs + first["import_id"])
    assert (done["status"], replaced["status"]) == ("complete", "failed")
    assert (done["accepted_count"], replaced["accepted_count"]) == (1, 0)
    assert replaced["reason"] == "A later upload to the dataset replaced this file."
    assert prolific_fake.datasets[dataset_id].records == [{"text": "only"}]


async def test_a_v3_file_put_again_to_its_url_keeps_its_import_job(
    prolific_fake: FakeProlific,
    manual_clock: ManualClock,
    fake_http: aiohttp.ClientSession,
    storage_http: aiohttp.ClientSession,
) -> None:
    """A V3 URL put again while its file processes (a retried PUT): its job takes the second."""
    dataset_id = await new_dataset(fake_http)
    answer = await upload(fake_http, storage_http, dataset_id, "rows.csv", b"text\nx\n")
    async with storage_http.put(answer["upload_url"], data=CSV, headers=signed(answer)) as response:
        assert response.status == 200
    manual_clock.advance(prolific_fake.processing_delay)
    job_path = f"{DATASETS}/{dataset_id}/imports/{answer['import_id']}"
    _, job, _ = await call(fake_http, "GET", job_path)
    assert (job["status"], job["accepted_count"]) == ("complete", 3)


async def test_a_v3_dataset_gives_batches_its_name_until_a_file_arrives(
    prolific_fake: FakeProlific, fake_http: aiohttp.ClientSession
) -> None:
    """An unused upload URL leaves a V3 dataset's filename for batches its name."""
    dataset_id = await new_dataset(fake_http)
    await call(fake_http, "GET", f"{DATASETS}/{dataset_id}/upload-url/later.csv")
    assert prolific_fake.datasets[dataset_id].batch_filename == "Data"


async def test_legacy_v3_uploads_answer_without_an_import_job(
    prolific_fake: FakeProlific,
    fake_http: aiohttp.ClientSession,
    storage_http: aiohttp.ClientSession,
) -> None:
    """legacy_v3_uploads=True: a V3 upload URL as the docs describe it, no import_id."""
    prolific_fake.legacy_v3_uploads = True
    dataset_id = await new_dataset(fake_http)
    answer = await upload(fake_http, storage_http, dataset_id, "rows.csv", CSV)
    assert "import_id" not in answer
    assert answer["file_key"] == f"datasets/{dataset_id}/rows.csv"
    await until(fake_http, f"{DATASETS}/{dataset_id}/status", "status", "READY")
    assert prolific_fake.datasets[dataset_id].imports == []
    v4 = await new_dataset(fake_http, STRICT_SCHEMA)  # V4 upload URLs still name their job
    assert "import_id" in (await call(fake_http, "GET", f"{DATASETS}/{v4}/upload-url/a.jsonl"))[1]


async def test_v3_zip_counts_as_one_datapoint(
    fake_http: aiohttp.ClientSession, storage_http: aiohttp.ClientSession
) -> None:
    """A V3 .zip upload becomes READY with a single datapoint."""
    dataset_id = await new_dataset(fake_http)
    await upload(fake_http, storage_http, dataset_id, "images.zip", b"PK\x03\x04 any bytes")
    body = await until(fake_http, f"{DATASETS}/{dataset_id}", "status", "READY")
    assert body["total_datapoint_count"] == 1


@pytest.mark.parametrize(
    "data",
    [b"", b"text,label\n", b"\xff\xfe\x00bad", b"a,b\n1,2,3\n"],
    ids=["empty", "header-only", "not-utf8", "ragged"],
)
async def test_v3_empty_or_unparsable_csv_ends_in_error(
    fake_http: aiohttp.ClientSession, storage_http: aiohttp.ClientSession, data: bytes
) -> None:
    """An empty, header-only, undecodable or ragged CSV leaves the dataset in ERROR."""
    dataset_id = await new_dataset(fake_http)
    await upload(fake_http, storage_http, dataset_id, "bad.csv", data)
    body = await until(fake_http, f"{DATASETS}/{dataset_id}", "status", "ERROR")
    assert body["total_datapoint_count"] == 0


async def test_v4_import_goes_processing_then_complete(
    prolific_fake: FakeProlific,
    manual_clock: ManualClock,
    fake_http: aiohttp.ClientSession,
    storage_http: aiohttp.ClientSession,
) -> None:
    """A V4 import is uninitialised until the PUT, processing, then complete with counts."""
    dataset_id = await new_dataset(fake_http, STRICT_SCHEMA)
    answer = await call(fake_http, "GET", f"{DATASETS}/{dataset_id}/upload-url/data.jsonl")
    job_path = f"{DATASETS}/{dataset_id}/imports/{answer[1]['import_id']}"
    _, job, _ = await call(fake_http, "GET", job_path)
    assert (job["status"], job["filename"], job["updated_at"]) == (
        "uninitialised",
        "data.jsonl",
        None,
    )
    lines = b'{"prompt": "a", "group": "1"}\n{"prompt": "b", "group": "2"}\n'
    async with storage_http.put(
        answer[1]["upload_url"], data=lines, headers=signed(answer[1])
    ) as response:
        assert response.status == 200
    assert (await call(fake_http, "GET", job_path))[1]["status"] == "processing"
    assert (await call(fake_http, "GET", f"{DATASETS}/{dataset_id}/status"))[1][
        "status"
    ] == "PROCESSING"
    manual_clock.advance(prolific_fake.processing_delay)
    job = await until(fake_http, job_path, "status", "complete")
    assert (job["accepted_count"], job["rejected_count"], job["errors"]) == (2, 0, [])
    assert job["updated_at"].endswith("Z")
    assert (await call(fake_http, "GET", f"{DATASETS}/{dataset_id}/status"))[1]["status"] == "READY"
    _, dataset, _ = await call(fake_http, "GET", f"{DATASETS}/{dataset_id}")
    assert (dataset["total_datapoint_count"], len(dataset["imports"])) == (2, 1)


async def test_v4_strict_schema_rejects_records_and_reports_them(
    fake_http: aiohttp.ClientSession, storage_http: aiohttp.ClientSession
) -> None:
    """Strict: records missing a field, not objects or not JSON are rejected: partial."""
    dataset_id = await new_dataset(fake_http, STRICT_SCHEMA)
    lines = b'{"prompt": "a", "group": "1"}\n{"prompt": "b"}\n[1]\n\nnot json\n'
    answer = await upload(fake_http, storage_http, dataset_id, "data.jsonl", lines)
    job = await until(
        fake_http, f"{DATASETS}/{dataset_id}/imports/{answer['import_id']}", "status", "partial"
    )
    assert (job["accepted_count"], job["rejected_count"]) == (1, 3)
    assert job["errors"] == [
        {"record_index": 1, "field": "group", "reason": STRICT_REJECTION},
        {"record_index": 2, "field": None, "reason": "The record is not a JSON object."},
        {"record_index": 3, "field": None, "reason": "The line is not valid JSON."},
    ]
    assert "reason" not in job
    _, dataset, _ = await call(fake_http, "GET", f"{DATASETS}/{dataset_id}")
    assert dataset["total_datapoint_count"] == 1


@pytest.mark.parametrize(
    ("data", "reason"),
    [(b'{"prompt": "a"}\n', "Every record was rejected."), (b"\n\n", "The file is empty.")],
)
async def test_v4_import_with_nothing_accepted_fails_with_a_reason(
    fake_http: aiohttp.ClientSession, storage_http: aiohttp.ClientSession, data: bytes, reason: str
) -> None:
    """An import with no accepted record is failed, with reason; the dataset stays unusable."""
    dataset_id = await new_dataset(fake_http, STRICT_SCHEMA)
    answer = await upload(fake_http, storage_http, dataset_id, "data.jsonl", data)
    path = f"{DATASETS}/{dataset_id}/imports/{answer['import_id']}"
    job = await until(fake_http, path, "status", "failed")
    assert (job["reason"], job["accepted_count"]) == (reason, 0)
    status = await call(fake_http, "GET", f"{DATASETS}/{dataset_id}/status")
    assert status[1] == {"status": "UNINITIALISED"}


async def test_v4_csv_upload_without_strict_accepts_every_row(
    fake_http: aiohttp.ClientSession, storage_http: aiohttp.ClientSession
) -> None:
    """A V4 CSV upload (schema not strict) accepts each data row as a record."""
    dataset_id = await new_dataset(fake_http, {"fields": {"text": {"type": "text"}}})
    answer = await upload(fake_http, storage_http, dataset_id, "data.csv", CSV)
    path = f"{DATASETS}/{dataset_id}/imports/{answer['import_id']}"
    assert (await until(fake_http, path, "status", "complete"))["accepted_count"] == 3


async def test_uploading_again_to_the_same_url_replaces_the_upload(
    fake_http: aiohttp.ClientSession, storage_http: aiohttp.ClientSession
) -> None:
    """A second PUT to one URL (a retried upload) replaces the first: nothing counts twice."""
    v3 = await new_dataset(fake_http)
    answer = await upload(fake_http, storage_http, v3, "rows.csv", b"text\nx\n")
    await until(fake_http, f"{DATASETS}/{v3}/status", "status", "READY")
    async with storage_http.put(answer["upload_url"], data=CSV, headers=signed(answer)) as response:
        assert response.status == 200
    await until(fake_http, f"{DATASETS}/{v3}/status", "status", "READY")
    assert (await call(fake_http, "GET", f"{DATASETS}/{v3}"))[1]["total_datapoint_count"] == 3
    v3_job = f"{DATASETS}/{v3}/imports/{answer['import_id']}"  # the same job, not replaced
    assert (await until(fake_http, v3_job, "status", "complete"))["accepted_count"] == 3
    v4 = await new_dataset(fake_http, STRICT_SCHEMA)
    line = b'{"prompt": "p", "group": "g"}\n'
    answer = await upload(fake_http, storage_http, v4, "d.jsonl", line)
    job_path = f"{DATASETS}/{v4}/imports/{answer['import_id']}"
    await until(fake_http, job_path, "status", "complete")
    async with storage_http.put(
        answer["upload_url"], data=line * 2, headers=signed(answer)
    ) as response:
        assert response.status == 200
    assert (await until(fake_http, job_path, "status", "complete"))["accepted_count"] == 2
    assert (await call(fake_http, "GET", f"{DATASETS}/{v4}"))[1]["total_datapoint_count"] == 2


async def test_v4_imports_of_one_dataset_queue_behind_each_other(
    prolific_fake: FakeProlific,
    manual_clock: ManualClock,
    fake_http: aiohttp.ClientSession,
    storage_http: aiohttp.ClientSession,
) -> None:
    """Each upload URL is its own import; a second upload waits as queued, then completes."""
    dataset_id = await new_dataset(fake_http, STRICT_SCHEMA)
    lines = b'{"prompt": "a", "group": "1"}\n'
    first = await upload(fake_http, storage_http, dataset_id, "one.jsonl", lines)
    second = await upload(fake_http, storage_http, dataset_id, "two.jsonl", lines)
    assert first["import_id"] != second["import_id"]
    second_path = f"{DATASETS}/{dataset_id}/imports/{second['import_id']}"
    assert (await call(fake_http, "GET", second_path))[1]["status"] == "queued"
    manual_clock.advance(2 * prolific_fake.processing_delay)  # one after the other
    await until(fake_http, second_path, "status", "complete")
    _, dataset, _ = await call(fake_http, "GET", f"{DATASETS}/{dataset_id}")
    assert [job["status"] for job in dataset["imports"]] == ["complete", "complete"]
    assert dataset["total_datapoint_count"] == 2


async def test_unknown_imports_answer_404(
    prolific_fake: FakeProlific, fake_http: aiohttp.ClientSession
) -> None:
    """An unknown import id answers 404, on a V3 dataset as on a V4 one."""
    v3 = prolific_fake.add_dataset()
    v4 = prolific_fake.add_dataset(schema=STRICT_SCHEMA)
    for dataset_id in (v3.id, v4.id):
        assert (await call(fake_http, "GET", f"{DATASETS}/{dataset_id}/imports/nope"))[0] == 404


# -- seeding ---------------------------------------------------------------------------


def test_add_dataset_stages_v3_and_v4_datasets() -> None:
    """add_dataset stages a READY V3 dataset by default, and V4 statuses as import jobs."""
    fake = FakeProlific()
    legacy = fake.add_dataset("ds-1", total_datapoint_count=3)
    assert (legacy.status, legacy.filename, legacy.is_usable) == ("READY", "dataset.csv", True)
    counted = fake.add_dataset(records=[{"a": 1}, {"a": 2}])
    assert counted.total_datapoint_count == 2
    staged = {
        status: [
            job.status for job in fake.add_dataset(schema=STRICT_SCHEMA, status=status).imports
        ]
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
        fake.add_dataset(schema=STRICT_SCHEMA, status="DONE")
    with pytest.raises(ValueError, match="total_datapoint_count"):
        fake.add_dataset(total_datapoint_count=-1)
