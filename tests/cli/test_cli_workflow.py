"""The workflow commands end to end: datasets, setup, readiness, responses, report, export."""

from __future__ import annotations

import asyncio
import json
import os
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from prolific_async import BatchStatus
from prolific_async import _polling as polling
from prolific_async.testing import FakeProlific

from .conftest import WS, RunCli

CSV = "text,label\nhello,a\nworld,b\nagain,c\n"
SCHEMA = {"strict": True, "fields": {"prompt": {"type": "text"}, "group": {"type": "text"}}}
#: Polls of the commands under test: fast, as the emulator's state machines are.
FAST = ("--poll-interval", "0.02")


@pytest.fixture
async def fake() -> AsyncIterator[FakeProlific]:
    async with FakeProlific(
        seed=6, processing_delay=0.05, setup_delay=0.05, export_delay=0.05
    ) as emulator:
        yield emulator


async def run_json(cli: RunCli, *args: str) -> Any:
    code, out, err = await cli(*args, "--json")
    assert code == 0, err
    return json.loads(out)


async def new_batch(cli: RunCli, dataset_id: str) -> str:
    code, out, err = await cli(
        "batches",
        "create",
        "--name",
        "Labelling",
        "--workspace-id",
        WS,
        "--task-name",
        "Label",
        "--task-introduction",
        "<p>Label each text.</p>",
        "--task-steps",
        "<ol><li>Read</li></ol>",
        "--dataset-id",
        dataset_id,
    )
    assert code == 0, err
    batch_id: str = json.loads(out)["id"]
    return batch_id


def assert_no_token_sent_to_storage(fake: FakeProlific) -> None:
    assert fake.storage_requests
    for record in fake.storage_requests:
        assert "Authorization" not in record.headers
        assert fake.token not in repr(record)


async def test_pipeline_from_csv_to_export_zip_with_tables(
    fake: FakeProlific, cli: RunCli, tmp_path: Path
) -> None:
    """Create, upload, set up, wait, read and export a batch, every step printing a table."""
    data = tmp_path / "rows.csv"
    data.write_text(CSV)
    code, out, err = await cli("datasets", "create", "--name", "Texts", "--workspace-id", WS)
    assert code == 0, err
    assert "Texts" in out
    assert "V3" in out
    assert "UNINITIALISED" in out
    (dataset_id,) = fake.datasets
    assert f"Dataset {dataset_id}" in out

    code, out, err = await cli("datasets", "upload", dataset_id, str(data), *FAST)
    assert (code, err) == (0, "")
    (job,) = fake.datasets[dataset_id].imports  # a V3 upload's import job, as the CLI's
    expected = f"import {job.import_id} complete (3 accepted, 0 rejected)"
    assert out.strip() == f"Uploaded rows.csv to dataset {dataset_id}: {expected}."
    code, out, _ = await cli("datasets", "status", dataset_id)
    assert "READY" in out
    assert "datapoints" in out
    assert fake.datasets[dataset_id].total_datapoint_count == 3

    batch_id = await new_batch(cli, dataset_id)
    code, out, err = await cli(
        "batches", "setup", batch_id, "--tasks-per-group", "1", "--wait", *FAST
    )
    assert (code, err) == (0, "")
    assert f"Batch {batch_id}" in out
    assert "READY" in out
    assert "│ tasks        │ 3" in out
    assert fake.batches[batch_id].status == BatchStatus.READY

    code, out, _ = await cli("batches", "status", batch_id)
    assert (code, out.strip()) == (0, f"Batch {batch_id}: READY")

    code, out, _ = await cli("batches", "responses", batch_id)
    assert (code, out.strip()) == (0, f"No responses for batch {batch_id} yet.")
    first = fake.add_response(batch_id, participant_id="participant-1")
    fake.add_response(batch_id, participant_id="participant-2")
    code, out, _ = await cli("batches", "responses", batch_id)
    assert code == 0
    assert f"2 responses of batch {batch_id}" in out
    assert "participant-1" in out
    assert "participant-2" in out
    assert first["task_id"] in out
    assert "An example answer." in out

    code, out, _ = await cli("batches", "report", batch_id)
    assert code == 0
    assert f"Report of batch {batch_id} (CSV, link expires " in out
    assert f"{fake.url}/_storage/reports/" in out

    archive = tmp_path / "results.zip"
    code, out, err = await cli("batches", "export", batch_id, "--output", str(archive))
    assert (code, err) == (0, "")
    assert f"of batch {batch_id}: saved to {archive}" in out
    assert zipfile.is_zipfile(archive)
    with zipfile.ZipFile(archive) as exported:
        assert exported.testzip() is None
        by_task = exported.read("responses-by-task.jsonl").decode().splitlines()
    assert len(by_task) == 2
    assert sorted(os.listdir(tmp_path)) == ["results.zip", "rows.csv"]  # no temporary file


async def test_json_output_of_every_command_parses(
    fake: FakeProlific, cli: RunCli, tmp_path: Path
) -> None:
    """With --json each command prints the converter's form of its model(s)."""
    data = tmp_path / "rows.csv"
    data.write_text(CSV)
    dataset = await run_json(cli, "datasets", "create", "--name", "Texts", "--workspace-id", WS)
    assert (dataset["name"], dataset["status"], dataset["schema"]) == (
        "Texts",
        "UNINITIALISED",
        None,
    )
    upload = await run_json(cli, "datasets", "upload", dataset["id"], str(data), *FAST)
    assert {key: upload[key] for key in ("dataset_id", "filename", "status")} == {
        "dataset_id": dataset["id"],
        "filename": "rows.csv",
        "status": "complete",
    }
    assert (upload["import_job"]["status"], upload["import_job"]["accepted_count"]) == (
        "complete",
        3,
    )
    status = await run_json(cli, "datasets", "status", dataset["id"])
    assert (status["status"], status["total_datapoint_count"]) == ("READY", 3)

    batch_id = await new_batch(cli, dataset["id"])
    fake.setup_delay = 60.0  # still PROCESSING when `status` asks
    started = await run_json(cli, "batches", "setup", batch_id)
    assert started == {"batch_id": batch_id, "status": "PROCESSING"}
    assert await run_json(cli, "batches", "status", batch_id) == started
    fake.setup_delay = 0.0
    await cli("batches", "setup", batch_id)  # restarted with no delay
    batch = await run_json(cli, "batches", "wait", batch_id, "--timeout", "10", *FAST)
    assert (batch["id"], batch["status"], batch["total_task_count"]) == (batch_id, "READY", 3)

    seeded = fake.add_response(batch_id, participant_id="participant-1")
    (response,) = await run_json(cli, "batches", "responses", batch_id)
    assert (response["id"], response["participant_id"]) == (seeded["id"], "participant-1")
    assert response["response"]["answer"] == [{"value": "An example answer."}]

    report = await run_json(cli, "batches", "report", batch_id)
    assert report["url"].startswith(f"{fake.url}/_storage/reports/")
    assert report["path"] is None
    export = await run_json(cli, "batches", "export", batch_id, *FAST)
    assert export["status"] == "complete"
    assert export["url"].startswith(fake.url)
    assert export["path"] is None


async def test_v4_schema_and_partial_upload_show_the_rejected_records(
    fake: FakeProlific, cli: RunCli, tmp_path: Path
) -> None:
    """--schema makes a V4 dataset; a partial JSONL import lists each rejected record."""
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps(SCHEMA))
    dataset = await run_json(
        cli, "datasets", "create", "--name", "V4", "--workspace-id", WS, "--schema", str(schema)
    )
    assert dataset["schema"] == SCHEMA
    assert fake.datasets[dataset["id"]].schema == SCHEMA
    records = tmp_path / "records.jsonl"
    records.write_text(
        '{"prompt": "a", "group": "g1"}\n'
        '{"group": "g1"}\n'
        "not json\n"
        '{"prompt": "b", "group": "g2"}\n'
    )
    code, out, err = await cli("datasets", "upload", dataset["id"], str(records), *FAST)
    assert (code, err) == (0, "")
    assert "partial (2 accepted, 2 rejected)" in out
    assert "2 rejected records" in out
    lines = out.splitlines()
    assert any(
        "1" in line and "prompt" in line and "required by the strict schema" in line
        for line in lines
    )
    assert any("2" in line and "The line is not valid JSON." in line for line in lines)

    code, out, _ = await cli("datasets", "status", dataset["id"])
    assert code == 0
    assert "V4 (schema)" in out
    assert "prompt: text" in out
    assert "Imports" in out
    assert "partial" in out


async def test_failed_v4_import_exits_1_with_its_rejected_records(
    fake: FakeProlific, cli: RunCli, tmp_path: Path
) -> None:
    """An import that accepts nothing exits 1, printing the reason and the records."""
    dataset = fake.add_dataset(schema=SCHEMA, status="UNINITIALISED")
    records = tmp_path / "records.jsonl"
    records.write_text('{"group": "g1"}\n')
    code, out, err = await cli("datasets", "upload", dataset.id, str(records), *FAST)
    assert code == 1
    assert out == ""
    assert "failed: Every record was rejected." in err
    assert "1 rejected record\n" in err
    assert "required by the strict schema" in err
    assert "Traceback" not in err
    code, out, _ = await cli("datasets", "upload", dataset.id, str(records), *FAST, "--json")
    assert code == 1
    job = json.loads(out)
    assert (job["status"], job["reason"]) == ("failed", "Every record was rejected.")
    assert job["errors"][0]["field"] == "prompt"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ('["prompt"]', 'expected a JSON object {"strict"'),
        ('{"strict": true, "feilds": {}}', "expected a JSON object"),
        ('{"fields": {}, "colour": 1}', "unknown key(s) colour"),
        ('{"fields": {"p": {"type": "text", "max": 3}}}', "field 'p' has unknown key(s) max"),
        ('{"strict": "yes", "fields": {}}', "@ $.strict"),
        ('{"fields": {"p": {"label": "P"}}}', "$.fields['p'].type"),
    ],
)
async def test_an_invalid_schema_file_is_a_usage_error(
    fake: FakeProlific, cli: RunCli, tmp_path: Path, content: str, message: str
) -> None:
    """A bad --schema file exits 2 saying what is wrong, before any request."""
    schema = tmp_path / "schema.json"
    schema.write_text(content)
    code, out, err = await cli(
        "datasets", "create", "--name", "V4", "--workspace-id", WS, "--schema", str(schema)
    )
    assert (code, out) == (2, "")
    assert "Invalid value for '--schema'" in err
    assert message in err
    assert fake.requests == []


async def test_setup_without_a_dataset_ends_in_error_and_wait_exits_1(
    fake: FakeProlific,
    cli: RunCli,
) -> None:
    """Setup is accepted, the batch ends in ERROR, and wait exits 1 with the message."""
    batch = fake.add_batch()
    code, out, _ = await cli("batches", "setup", batch.id)
    assert code == 0
    assert f"Setup of batch {batch.id} started (status PROCESSING)" in out
    code, out, err = await cli("batches", "wait", batch.id, "--timeout", "10", *FAST)
    assert (code, out) == (1, "")
    assert f"Batch {batch.id} ended setup in ERROR" in err
    assert "Traceback" not in err
    code, out, err = await cli("batches", "setup", batch.id, "--wait", *FAST)
    assert (code, out) == (1, "")
    assert "ended setup in ERROR" in err
    code, out, _ = await cli("batches", "status", batch.id)
    assert out.strip() == f"Batch {batch.id}: ERROR"


async def test_wait_on_a_batch_stuck_in_processing_times_out_with_exit_1(
    fake: FakeProlific,
    cli: RunCli,
) -> None:
    """Wait with a small --timeout exits 1 naming the timeout and the last status."""
    batch = fake.add_batch(status=BatchStatus.PROCESSING)
    code, out, err = await cli(
        "batches", "wait", batch.id, "--timeout", "0.3", "--poll-interval", "0.05"
    )
    assert (code, out) == (1, "")
    assert f"batch {batch.id} was not READY after 0.3 s (last status PROCESSING)" in err
    assert "Traceback" not in err
    polls = [r for r in fake.requests if r.path.endswith(f"{batch.id}/status")]
    assert 2 <= len(polls) <= 10


async def test_setup_wait_reports_an_error_reached_during_the_last_wait(
    fake: FakeProlific, cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch that went ERROR while the wait slept past --timeout is the setup error."""
    batch = fake.add_batch()
    fake.setup_delay = 3600.0  # setup would stay PROCESSING: the test ends it in ERROR

    async def error_then_sleep_past_the_deadline(_seconds: float) -> None:
        fake.batches[batch.id].status = BatchStatus.ERROR
        await asyncio.Event().wait()

    monkeypatch.setattr(polling, "sleep", error_then_sleep_past_the_deadline)
    code, out, err = await cli("batches", "setup", batch.id, "--wait", "--timeout", "0.3")
    assert (code, out) == (1, "")
    assert f"Batch {batch.id} ended setup in ERROR" in err
    assert "not READY" not in err


async def test_no_storage_request_carries_the_token(
    fake: FakeProlific, cli: RunCli, tmp_path: Path
) -> None:
    """The upload PUT and the report and export downloads reach storage without the token."""
    dataset = fake.add_dataset(status="UNINITIALISED", filename=None)
    data = tmp_path / "rows.csv"
    data.write_text(CSV)
    code, _, err = await cli("datasets", "upload", dataset.id, str(data), *FAST)
    assert code == 0, err
    batch = fake.add_batch(status=BatchStatus.READY)
    fake.add_response(batch.id)
    code, out, err = await cli("batches", "report", batch.id, "-o", str(tmp_path))
    assert code == 0, err
    assert "Saved the report" in out
    code, _, err = await cli("batches", "export", batch.id, "-o", str(tmp_path / "e.zip"), *FAST)
    assert code == 0, err
    assert [r.method for r in fake.storage_requests] == ["PUT", "GET", "GET"]
    assert_no_token_sent_to_storage(fake)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["batches", "wait", "b1", "--timeout", "0"], "--timeout"),
        (["batches", "setup", "b1", "--tasks-per-group", "0"], "--tasks-per-group"),
        (["batches", "wait", "b1", "--poll-interval", "-1"], "--poll-interval"),
        (["datasets", "upload", "d1", "no-such-file.csv"], "does not exist"),
        (["batches", "status", ".."], "batch_id must not be '..'"),
        (["batches", "get", ".."], "batch_id must not be '..'"),
    ],
)
async def test_bad_arguments_are_usage_errors(
    fake: FakeProlific, cli: RunCli, args: list[str], message: str
) -> None:
    """Bad options or arguments exit 2 with a usage message and send nothing."""
    code, out, err = await cli(*args)
    assert (code, out) == (2, "")
    assert message in err
    assert fake.requests == []


async def test_api_errors_exit_1_with_the_message(fake: FakeProlific, cli: RunCli) -> None:
    """A 404 from any workflow command prints the error and exits 1, without the token."""
    for args in (["datasets", "status", "missing"], ["batches", "responses", "missing"]):
        code, out, err = await cli(*args)
        assert (code, out) == (1, "")
        assert "404" in err
        assert fake.token not in err
