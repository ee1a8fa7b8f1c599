"""client.datasets update, add_datapoints and schema migrations: shapes, parsing, waits.

Checked with aioresponses (``mocked``, one attempt per call); the emulator's behaviour
is in tests/emulator/test_dataset_changes.py.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from prolific_async import Dataset, DatasetSchema, ProlificClient, SchemaField, errors
from prolific_async.models import (
    DatapointsAppended,
    DatasetUpdate,
    ImportRecordError,
    MigrationStatus,
    SchemaMigration,
)

from ..conftest import DATASETS_PATH, MOCKED_BASE, mocked_call

DATASET = f"{MOCKED_BASE}{DATASETS_PATH}/d1"
DATAPOINTS = f"{DATASET}/datapoints"
MIGRATION = f"{DATASET}/schema-migrations/m1"
FAST: dict[str, Any] = {"timeout": 5, "poll_interval": 0.001, "max_poll_interval": 0.002}
SCHEMA = DatasetSchema(fields={"text": SchemaField(type="text", label="Text")}, strict=True)
UPDATED: dict[str, Any] = {
    "id": "d1",
    "name": "Reviews",
    "created_at": "2026-08-01T12:00:00Z",
    "created_by": "u1",
    "workspace_id": "w1",
    "total_datapoint_count": 2,
    "schema_version": 4,
    "schema": {"strict": True, "fields": {"text": {"type": "text", "label": "Text"}}},
    "migration_job_id": "m1",
}
PROCESSING = {
    "dataset_id": "d1",
    "job_id": "m1",
    "schema_version": 2,
    "status": "processing",
    "created_at": "2026-08-01T12:00:00Z",
}
PARTIAL = {
    **PROCESSING,
    "status": "partial",
    "reprocessed_count": 2,
    "failed_count": 1,
    "errors": [{"record_index": 1, "field": "text", "reason": "nulled"}],
}


async def test_update_sends_only_the_given_fields(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """update() PATCHes the name and the schema given, and returns the dataset and job id."""
    mocked.patch(DATASET, payload=UPDATED)
    update = await mocked_client.datasets.update("d1", name="Reviews", schema=SCHEMA)
    assert mocked_call(mocked, "PATCH", DATASET)["json"] == {
        "name": "Reviews",
        "schema": {"strict": True, "fields": {"text": {"type": "text", "label": "Text"}}},
    }
    assert isinstance(update, DatasetUpdate)
    assert (update.dataset.id, update.dataset.name) == ("d1", "Reviews")
    assert update.dataset.schema == SCHEMA
    assert update.migration_job_id == "m1"


async def test_update_without_a_migration_has_no_job_id(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """An answer without migration_job_id (a first schema) reads as None."""
    mocked.patch(DATASET, payload={k: v for k, v in UPDATED.items() if k != "migration_job_id"})
    update = await mocked_client.datasets.update("d1", name="Reviews")
    assert mocked_call(mocked, "PATCH", DATASET)["json"] == {"name": "Reviews"}
    assert update.migration_job_id is None
    with pytest.raises(ValueError, match="no schema migration"):
        await mocked_client.datasets.wait_for_schema_migration("d1", update)


@pytest.mark.parametrize("job_id", ["..", "."])
async def test_a_migration_job_id_no_path_can_hold_is_refused_as_read(
    mocked_client: ProlificClient, mocked: Any, job_id: str
) -> None:
    """An update answer naming the migration '..': a ResponseValidationError, no bare ValueError."""
    mocked.patch(DATASET, payload={**UPDATED, "migration_job_id": job_id})
    refused = "expected migration_job_id to be an id a request path can hold"
    with pytest.raises(errors.ResponseValidationError, match=refused):
        await mocked_client.datasets.update("d1", name="Reviews", schema=SCHEMA)


async def test_update_refuses_an_empty_or_wrong_update_before_sending(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """No field, a blank name or a schema that is not a DatasetSchema is refused locally."""
    with pytest.raises(ValueError, match="give name, schema or both"):
        await mocked_client.datasets.update("d1")
    with pytest.raises(ValueError, match="name"):
        await mocked_client.datasets.update("d1", name="")
    with pytest.raises(TypeError, match="DatasetSchema"):
        await mocked_client.datasets.update("d1", schema={"fields": {}})  # type: ignore[arg-type]
    assert mocked.requests == {}


async def test_add_datapoints_sends_json_lines_once(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """The records go as one JSON object per line, typed application/x-ndjson."""
    answer = {
        "dataset_id": "d1",
        "accepted_count": 1,
        "rejected_count": 1,
        "errors": [{"record_index": 1, "field": "text", "reason": "required"}],
    }
    mocked.post(DATAPOINTS, payload=answer)
    records = [{"text": "Großartig", "score": 5}, {"score": 1}]
    appended = await mocked_client.datasets.add_datapoints("d1", records)
    call = mocked_call(mocked, "POST", DATAPOINTS)
    assert call["headers"]["Content-Type"] == "application/x-ndjson"
    assert "json" not in call
    lines = call["data"].decode().splitlines()
    assert [json.loads(line) for line in lines] == records
    assert appended == DatapointsAppended(
        accepted_count=1,
        rejected_count=1,
        errors=[ImportRecordError(reason="required", record_index=1, field="text")],
        dataset_id="d1",
    )


@pytest.mark.parametrize(
    ("records", "error", "match"),
    [
        ([], ValueError, "1 to 1000 records"),
        ([{"n": n} for n in range(1001)], ValueError, "1 to 1000 records"),
        ({"text": "one"}, TypeError, "iterable of mappings"),
        ("text", TypeError, "iterable of mappings"),
        ([{"text": "ok"}, ["not", "a", "mapping"]], TypeError, r"records\[1\] must be a mapping"),
        ([{"when": object()}], TypeError, r"records\[0\] is not JSON"),
        ([{"score": float("nan")}], TypeError, r"records\[0\] is not JSON"),
    ],
)
async def test_add_datapoints_checks_the_records_before_sending(
    mocked_client: ProlificClient, mocked: Any, records: Any, error: type[Exception], match: str
) -> None:
    """Too few or too many records, or one that is no JSON object, is refused locally."""
    with pytest.raises(error, match=match):
        await mocked_client.datasets.add_datapoints("d1", records)
    assert mocked.requests == {}


async def test_get_schema_migration_parses_a_partial_job(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """The job's counts and errors are read; partial counts as finished."""
    mocked.get(MIGRATION, payload=PARTIAL)
    job = await mocked_client.datasets.get_schema_migration("d1", "m1")
    assert job.status == MigrationStatus.PARTIAL
    assert (job.reprocessed_count, job.failed_count, job.schema_version) == (2, 1, 2)
    assert job.errors == PARTIAL["errors"]
    assert job.is_finished


async def test_wait_for_schema_migration_polls_until_finished(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """The wait polls a processing job and returns it partial, not raised."""
    mocked.get(MIGRATION, payload=PROCESSING)
    mocked.get(MIGRATION, payload=PARTIAL)
    dataset = Dataset(
        id="d1",
        name="Reviews",
        created_at=datetime(2026, 8, 1, tzinfo=UTC),
        created_by="u1",
        workspace_id="w1",
        total_datapoint_count=2,
    )
    update = DatasetUpdate(dataset=dataset, migration_job_id="m1")
    job = await mocked_client.datasets.wait_for_schema_migration("d1", update, **FAST)
    assert job.status == MigrationStatus.PARTIAL


async def test_wait_for_schema_migration_raises_for_a_failed_job(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """A failed migration raises SchemaMigrationFailedError with the ids and reason."""
    mocked.get(MIGRATION, payload={**PROCESSING, "status": "failed", "reason": "Bad schema."})
    job = SchemaMigration(job_id="m1", status=MigrationStatus.PROCESSING)
    with pytest.raises(errors.SchemaMigrationFailedError) as caught:
        await mocked_client.datasets.wait_for_schema_migration("d1", job, **FAST)
    error = caught.value
    assert isinstance(error, errors.JobFailedError)
    assert (error.dataset_id, error.job_id, error.reason) == ("d1", "m1", "Bad schema.")


async def test_wait_for_schema_migration_times_out(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """A migration still processing at the deadline raises WaitTimeoutError."""
    mocked.get(MIGRATION, payload=PROCESSING, repeat=True)
    with pytest.raises(errors.WaitTimeoutError) as caught:
        await mocked_client.datasets.wait_for_schema_migration(
            "d1", "m1", timeout=0.05, poll_interval=0.001, max_poll_interval=0.002
        )
    assert caught.value.last_status == "processing"
