"""Changing a batch or a V4 dataset after setup: sync, dataset update, datapoints, migrations."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from prolific_async.testing import FakeProlific, StoredBatch

from ..conftest import wait_until
from .conftest import RunCli

SCHEMA = {"fields": {"text": {"type": "text"}, "group": {"type": "task_group_id"}}}
STRICTER = {
    "strict": True,
    "fields": {"text": {"type": "text", "label": "Text"}, "group": {"type": "task_group_id"}},
}
FAST = ("--poll-interval", "0.01")


@pytest.fixture
async def fake() -> AsyncIterator[FakeProlific]:
    async with FakeProlific(seed=11) as emulator:
        emulator.sync_delay = 0.02
        emulator.migration_delay = 0.02
        yield emulator


async def run_json(cli: RunCli, *args: str | Path) -> Any:
    code, out, err = await cli(*args, "--json")
    assert code == 0, err
    return json.loads(out)


def ready_v4_batch(fake: FakeProlific, *, auto_sync: bool = False) -> StoredBatch:
    """A READY batch with two tasks in one group, set up on a V4 dataset."""
    records = [{"text": "row 0", "group": "g"}, {"text": "row 1", "group": "g"}]
    dataset = fake.add_dataset(schema=SCHEMA, records=records)
    batch = fake.add_batch(dataset_ids=[dataset.id], status="READY", auto_sync_enabled=auto_sync)
    batch.total_task_count = 2
    batch.tasks_per_group = 2
    batch.total_task_groups = 1
    return batch


def write_lines(path: Path, records: list[Any]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path


# -- datasets add-datapoints and batches sync ----------------------------------------


async def test_appended_datapoints_become_tasks_through_sync_wait(
    fake: FakeProlific, cli: RunCli, tmp_path: Path
) -> None:
    """add-datapoints reports the counts; sync --wait shows the tasks the sync made."""
    batch = ready_v4_batch(fake)
    dataset_id = batch.dataset_ids[0]
    rows = write_lines(tmp_path / "more.jsonl", [{"text": "new 1"}, {"text": "new 2"}])
    code, out, err = await cli("datasets", "add-datapoints", dataset_id, rows)
    assert (code, err) == (0, "")
    assert out.strip() == f"Appended more.jsonl to dataset {dataset_id}: 2 accepted, 0 rejected."
    assert fake.datasets[dataset_id].total_datapoint_count == 4
    assert fake.batches[batch.id].total_task_count == 2  # not synced yet

    code, out, err = await cli("batches", "sync", batch.id, "--wait", *FAST)
    assert (code, err) == (0, "")
    assert f"of batch {batch.id}" in out
    assert "complete" in out
    assert "│ tasks created        │ 2" in out
    assert fake.batches[batch.id].total_task_count == 4
    assert len(await run_json(cli, "batches", "tasks", batch.id)) == 4


async def test_sync_without_wait_says_how_to_follow_it(fake: FakeProlific, cli: RunCli) -> None:
    """Without --wait, sync prints the job and how to follow it; sync-status shows it."""
    batch = ready_v4_batch(fake)
    code, out, err = await cli("batches", "sync", batch.id)
    assert (code, err) == (0, "")
    assert out.startswith("Sync ")
    assert f"of batch {batch.id} started (status queued)" in out
    follow = out.split("follow it with: ")[1].strip()
    assert follow.startswith(f"prolific-async batches sync-status {batch.id} ")
    sync_id = follow.split()[-1]

    code, out, err = await cli("batches", "sync-status", batch.id, sync_id)
    assert (code, err) == (0, "")
    assert f"Sync {sync_id} of batch {batch.id}" in out
    job = await run_json(cli, "batches", "sync-status", batch.id, sync_id)
    assert (job["sync_id"], job["batch_id"]) == (sync_id, batch.id)
    assert job["status"] in {"queued", "processing", "complete"}


async def test_sync_json_prints_the_job(fake: FakeProlific, cli: RunCli) -> None:
    """With --json, sync prints the queued job; with --wait too, the complete one."""
    batch = ready_v4_batch(fake)
    queued = await run_json(cli, "batches", "sync", batch.id)
    assert (queued["status"], queued["batch_id"]) == ("queued", batch.id)
    done = await run_json(cli, "batches", "sync", batch.id, "--wait", *FAST)
    assert done["status"] == "complete"
    assert done["tasks_created"] == 0  # nothing was appended


async def test_a_failed_sync_exits_1_with_its_reason(fake: FakeProlific, cli: RunCli) -> None:
    """A sync of a V3 batch ends failed: --wait exits 1 saying why, without a traceback."""
    dataset = fake.add_dataset(total_datapoint_count=2)
    batch = fake.add_batch(dataset_ids=[dataset.id], status="READY")
    code, out, err = await cli("batches", "sync", batch.id, "--wait", *FAST)
    assert (code, out) == (1, "")
    assert "V4" in err
    assert "Traceback" not in err


async def test_an_auto_sync_batch_gets_tasks_from_an_append_alone(
    fake: FakeProlific, cli: RunCli, tmp_path: Path
) -> None:
    """With --auto-sync on the batch, add-datapoints alone adds its tasks (no sync request)."""
    batch = ready_v4_batch(fake)
    code, _, err = await cli("batches", "update", batch.id, "--auto-sync")
    assert (code, err) == (0, "")
    rows = tmp_path / "more.json"
    rows.write_text(json.dumps([{"text": "late"}]))  # a JSON array works too
    appended = await run_json(cli, "datasets", "add-datapoints", batch.dataset_ids[0], rows)
    assert (appended["accepted_count"], appended["rejected_count"]) == (1, 0)
    await wait_until(lambda: fake.batches[batch.id].total_task_count == 3)  # sync_delay
    assert len(await run_json(cli, "batches", "tasks", batch.id)) == 3
    assert fake.stats.requests["POST", "sync_batch"] == 0


async def test_rejected_datapoints_are_listed_and_exit_0(
    fake: FakeProlific, cli: RunCli, tmp_path: Path
) -> None:
    """Records the strict schema rejects are listed with their line; the rest are in."""
    dataset = fake.add_dataset(schema=STRICTER, records=[{"text": "kept", "group": "g"}])
    rows = write_lines(tmp_path / "rows.jsonl", [{"text": "new", "group": "g"}, {"group": "g"}])
    code, out, err = await cli("datasets", "add-datapoints", dataset.id, rows)
    assert (code, err) == (0, "")
    assert "1 accepted, 1 rejected" in out
    assert "1 rejected record\n" in out
    assert "text" in out
    appended = await run_json(cli, "datasets", "add-datapoints", dataset.id, rows)
    assert [(e["record_index"], e["field"]) for e in appended["errors"]] == [(1, "text")]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "holds no records"),
        ('{"text": "a"}\n{"text": \n', "line 2 is not valid JSON"),
        ('{"text": "a"}\n\n[1]\n', "line 3: expected a JSON object, got an array"),
        ('[{"text": "a"}, 2]', "expected a JSON object, got a number @ $[1]"),
    ],
)
async def test_a_bad_datapoints_file_is_a_usage_error(
    fake: FakeProlific, cli: RunCli, tmp_path: Path, content: str, message: str
) -> None:
    """A datapoints file that is not JSON objects exits 2 naming the file and line."""
    rows = tmp_path / "rows.jsonl"
    rows.write_text(content)
    code, out, err = await cli("datasets", "add-datapoints", "d1", rows)
    assert (code, out) == (2, "")
    assert "Invalid value for 'FILE'" in err
    assert str(rows) in err
    assert message in err
    assert fake.requests == []


async def test_more_than_1000_datapoints_is_a_usage_error(
    fake: FakeProlific, cli: RunCli, tmp_path: Path
) -> None:
    """The client's limit on one append is a usage error that points to upload."""
    rows = write_lines(tmp_path / "rows.jsonl", [{"text": str(n)} for n in range(1001)])
    code, out, err = await cli("datasets", "add-datapoints", "d1", rows)
    assert (code, out) == (2, "")
    assert "upload a file for more" in err
    assert fake.requests == []


# -- datasets update and schema-migration --------------------------------------------


async def test_update_renames_a_dataset(fake: FakeProlific, cli: RunCli) -> None:
    """`datasets update --name` shows the renamed dataset and starts no migration."""
    dataset = fake.add_dataset(schema=SCHEMA, records=[{"text": "a", "group": "g"}])
    code, out, err = await cli("datasets", "update", dataset.id, "--name", "Renamed")
    assert (code, err) == (0, "")
    assert "Renamed" in out
    assert "Schema migration" not in out
    assert fake.datasets[dataset.id].name == "Renamed"
    update = await run_json(cli, "datasets", "update", dataset.id, "--name", "Again")
    assert (update["dataset"]["name"], update["migration_job_id"]) == ("Again", None)


async def test_a_new_schema_starts_a_migration_to_follow(
    fake: FakeProlific, cli: RunCli, tmp_path: Path
) -> None:
    """A --schema update sends the file and names the migration; --wait shows it partial."""
    records = [{"text": "a", "group": "g"}, {"group": "g"}]
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps(STRICTER))

    async def update(dataset_id: str) -> str:
        code, out, err = await cli("datasets", "update", dataset_id, "--schema", schema)
        assert (code, err) == (0, "")
        assert fake.requests[-1].json == {"schema": STRICTER}
        follow = out.split("follow it with: ")[1].strip()
        job_id = follow.split()[-2]
        assert follow == f"prolific-async datasets schema-migration {dataset_id} {job_id} --wait"
        return job_id

    fake.migration_delay = 3600.0  # still processing when looked at, however slow the machine
    held = fake.add_dataset(schema=SCHEMA, records=records)
    held_job = await update(held.id)
    running = await run_json(cli, "datasets", "schema-migration", held.id, held_job)
    assert (running["job_id"], running["status"]) == (held_job, "processing")

    fake.migration_delay = 0.02  # applies to migrations started from now on
    dataset = fake.add_dataset(schema=SCHEMA, records=records)
    job_id = await update(dataset.id)
    code, out, err = await cli("datasets", "schema-migration", dataset.id, job_id, "--wait", *FAST)
    assert (code, err) == (0, "")
    assert f"Schema migration {job_id} of dataset {dataset.id}" in out
    assert "partial" in out
    assert "1 problem\n" in out
    done = await run_json(cli, "datasets", "schema-migration", dataset.id, job_id)
    assert (done["status"], done["reprocessed_count"], done["failed_count"]) == ("partial", 2, 1)


async def test_an_update_with_nothing_to_change_is_a_usage_error(
    fake: FakeProlific, cli: RunCli, tmp_path: Path
) -> None:
    """An update with nothing to change or a bad schema file exits 2 and sends nothing."""
    code, out, err = await cli("datasets", "update", "d1")
    assert (code, out) == (2, "")
    assert "give --name, --schema or both" in err
    schema = tmp_path / "schema.json"
    schema.write_text('{"fields": {"p": {"type": "text", "max": 3}}}')
    code, out, err = await cli("datasets", "update", "d1", "--schema", schema)
    assert (code, out) == (2, "")
    assert "Invalid value for '--schema'" in err
    assert "field 'p' has unknown key(s) max" in err
    assert fake.requests == []


# -- usage and API errors ------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["batches", "sync"], "Missing argument 'BATCH_ID'"),
        (["batches", "sync", "b1", "--timeout", "0"], "--timeout"),
        (["batches", "sync-status", "b1"], "Missing argument 'SYNC_ID'"),
        (["batches", "sync-status", "b1", ".."], "sync_id must not be '..'"),
        (["datasets", "add-datapoints", "d1"], "Missing argument 'FILE'"),
        (["datasets", "add-datapoints", "d1", "missing.jsonl"], "does not exist"),
        (["datasets", "schema-migration", "d1"], "Missing argument 'JOB_ID'"),
        (["datasets", "schema-migration", "..", "j1"], "dataset_id must not be '..'"),
        (["datasets", "update", "..", "--name", "x"], "dataset_id must not be '..'"),
    ],
)
async def test_bad_arguments_are_usage_errors(
    fake: FakeProlific, cli: RunCli, args: list[str], message: str
) -> None:
    """Missing or bad arguments exit 2 with a usage message and send nothing."""
    code, out, err = await cli(*args)
    assert (code, out) == (2, "")
    assert message in err
    assert fake.requests == []


@pytest.mark.parametrize(
    "args",
    [
        ["batches", "sync", "missing"],
        ["batches", "sync-status", "missing", "s1"],
        ["datasets", "update", "missing", "--name", "x"],
        ["datasets", "schema-migration", "missing", "j1"],
        ["datasets", "schema-migration", "missing", "j1", "--wait"],
    ],
)
async def test_api_errors_exit_1(fake: FakeProlific, cli: RunCli, args: list[str]) -> None:
    """A 404 prints the error without a traceback or the token and exits 1."""
    code, out, err = await cli(*args)
    assert (code, out) == (1, "")
    assert "404" in err
    assert "Traceback" not in err
    assert fake.token not in err
