"""Updating a dataset and its schema migration on the emulator, through the public client."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from prolific_async import DatasetSchema, ProlificClient, SchemaField, errors
from prolific_async.models import MigrationStatus
from prolific_async.testing import FakeProlific

from .conftest import DATASETS, call

FAST: dict[str, Any] = {"timeout": 5, "poll_interval": 0.005, "max_poll_interval": 0.01}
SCHEMA = {"fields": {"text": {"type": "text"}, "group": {"type": "task_group_id"}}}
STRICTER = DatasetSchema(
    fields={
        "text": SchemaField(type="text", label="Text"),
        "group": SchemaField(type="task_group_id"),
    },
    strict=True,
)


@pytest.fixture
def prolific_fake(prolific_fake: FakeProlific) -> FakeProlific:
    """The emulator fake, its migrations taking 20 ms."""
    prolific_fake.migration_delay = 0.02
    return prolific_fake


async def test_a_name_update_changes_the_name_and_starts_no_migration(
    prolific_fake: FakeProlific, prolific_client: ProlificClient
) -> None:
    """update(name=...) renames the dataset; no schema, so no migration job."""
    dataset = prolific_fake.add_dataset(schema=SCHEMA, records=[{"text": "a", "group": "g"}])
    update = await prolific_client.datasets.update(dataset.id, name="Renamed")
    assert update.dataset.name == "Renamed"
    assert update.migration_job_id is None
    assert (await prolific_client.datasets.get(dataset.id)).name == "Renamed"


async def test_a_schema_update_migrates_and_the_wait_returns_the_outcome(
    prolific_fake: FakeProlific, prolific_client: ProlificClient
) -> None:
    """A new schema starts a migration; it ends partial for datapoints the strict schema lacks."""
    records = [{"text": "a", "group": "g"}, {"group": "g"}, {"text": "c", "group": "h"}]
    dataset = prolific_fake.add_dataset(schema=SCHEMA, records=records)
    update = await prolific_client.datasets.update(dataset.id, schema=STRICTER)
    assert update.dataset.schema == STRICTER
    assert update.migration_job_id is not None
    running = await prolific_client.datasets.get_schema_migration(
        dataset.id, update.migration_job_id
    )
    assert running.status == MigrationStatus.PROCESSING
    assert running.schema_version == 2
    job = await prolific_client.datasets.wait_for_schema_migration(dataset.id, update, **FAST)
    assert job.status == MigrationStatus.PARTIAL
    assert (job.reprocessed_count, job.failed_count) == (3, 1)
    assert [entry["record_index"] for entry in job.errors] == [1]


async def test_a_migration_of_complete_records_is_complete(
    prolific_fake: FakeProlific, prolific_client: ProlificClient
) -> None:
    """When every datapoint has the strict schema's fields the migration is complete."""
    dataset = prolific_fake.add_dataset(schema=SCHEMA, records=[{"text": "a", "group": "g"}])
    update = await prolific_client.datasets.update(dataset.id, schema=STRICTER)
    job = await prolific_client.datasets.wait_for_schema_migration(dataset.id, update, **FAST)
    assert (job.status, job.reprocessed_count) == (MigrationStatus.COMPLETE, 1)


async def test_a_running_migration_blocks_appends_and_times_a_wait_out(
    prolific_fake: FakeProlific, prolific_client: ProlificClient
) -> None:
    """While a migration runs an append is a 409, and a short wait times out."""
    dataset = prolific_fake.add_dataset(schema=SCHEMA, records=[{"text": "a", "group": "g"}])
    prolific_fake.migration_delay = 60
    update = await prolific_client.datasets.update(dataset.id, schema=STRICTER)
    with pytest.raises(errors.ConflictError):
        await prolific_client.datasets.add_datapoints(dataset.id, [{"text": "b", "group": "g"}])
    with pytest.raises(errors.WaitTimeoutError):
        await prolific_client.datasets.wait_for_schema_migration(
            dataset.id, update, timeout=0.05, poll_interval=0.005, max_poll_interval=0.01
        )


async def test_update_answers_400_and_404_in_the_emulators_style(
    prolific_fake: FakeProlific, fake_http: aiohttp.ClientSession
) -> None:
    """A V3 dataset, an empty body, a bad schema or a changed grouping field: 400; unknown: 404."""
    v3 = prolific_fake.add_dataset()
    status, data, _ = await call(fake_http, "PATCH", f"{DATASETS}/{v3.id}", json={"name": "x"})
    assert (status, data["error"]["title"]) == (400, "Bad Request")
    v4 = prolific_fake.add_dataset(schema=SCHEMA, records=[{"text": "a", "group": "g"}])
    path = f"{DATASETS}/{v4.id}"
    status, data, _ = await call(fake_http, "PATCH", path, json={})
    assert (status, data["error"]["detail"]) == (400, {"schema": ["This field is required."]})
    status, data, _ = await call(fake_http, "PATCH", path, json={"schema": {"strict": True}})
    assert (status, data["error"]["detail"]) == (
        400,
        {"schema": {"fields": ["This field is required."]}},
    )
    regrouped = {"schema": {"fields": {"text": {"type": "text"}, "group": {"type": "text"}}}}
    status, data, _ = await call(fake_http, "PATCH", path, json=regrouped)
    assert status == 400
    assert "task_group_id" in str(data["error"]["detail"])
    status, _, _ = await call(fake_http, "PATCH", f"{DATASETS}/nope", json={"name": "x"})
    assert status == 404
    status, _, _ = await call(fake_http, "GET", f"{path}/schema-migrations/nope")
    assert status == 404
