"""A batch's life after creation: setup and its state machine, tasks, responses, report."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from prolific_async import ProlificClient
from prolific_async.testing import FakeProlific

from .conftest import (
    BATCHES,
    CSV,
    DATASETS,
    STRICT_SCHEMA,
    ManualClock,
    call,
    new_batch,
    new_dataset,
    ready_batch,
    until,
    upload,
)

NOT_INTEGER = ["A valid integer is required."]


# -- setup -----------------------------------------------------------------------------


async def test_setup_answers_202_empty_then_processing_then_ready(
    prolific_fake: FakeProlific,
    manual_clock: ManualClock,
    fake_http: aiohttp.ClientSession,
    storage_http: aiohttp.ClientSession,
) -> None:
    """Setup: 202 with no body, PROCESSING at once, READY with tasks and groups later."""
    dataset_id = await new_dataset(fake_http)
    await upload(fake_http, storage_http, dataset_id, "rows.csv", CSV)
    manual_clock.advance(prolific_fake.processing_delay)
    await until(fake_http, f"{DATASETS}/{dataset_id}/status", "status", "READY")
    batch_id = await new_batch(fake_http)
    assert (await call(fake_http, "GET", f"{BATCHES}/{batch_id}/tasks"))[1] == []
    body = {"dataset_id": dataset_id, "tasks_per_group": 2}
    status, data, response = await call(fake_http, "POST", f"{BATCHES}/{batch_id}/setup", json=body)
    assert (status, data, response.content_length) == (202, b"", 0)
    assert (await call(fake_http, "GET", f"{BATCHES}/{batch_id}/status"))[1] == {
        "status": "PROCESSING"
    }
    assert (await call(fake_http, "GET", f"{BATCHES}/{batch_id}/tasks"))[1] == []
    manual_clock.advance(prolific_fake.setup_delay)
    batch = await until(fake_http, f"{BATCHES}/{batch_id}", "status", "READY")
    assert (batch["total_task_count"], batch["total_task_groups"]) == (3, 2)
    assert batch["datasets"] == [
        {"id": dataset_id, "total_datapoint_count": 3, "filename": "rows.csv"}
    ]
    _, tasks, _ = await call(fake_http, "GET", f"{BATCHES}/{batch_id}/tasks")
    _, groups, _ = await call(fake_http, "GET", f"{BATCHES}/{batch_id}/task-groups")
    assert (len(set(tasks)), len(set(groups))) == (3, 2)
    assert (await call(fake_http, "GET", f"{BATCHES}/{batch_id}/tasks"))[1] == tasks  # stable
    assert prolific_fake.batches[batch_id].tasks_per_group == 2


async def test_setup_uses_the_dataset_already_attached(
    prolific_fake: FakeProlific, fake_http: aiohttp.ClientSession
) -> None:
    """Without dataset_id, setup uses the batch's dataset; tasks_per_group defaults to 1."""
    dataset = prolific_fake.add_dataset(total_datapoint_count=5)
    batch_id = await new_batch(fake_http, dataset_id=dataset.id)
    assert (await call(fake_http, "POST", f"{BATCHES}/{batch_id}/setup"))[0] == 202
    batch = await until(fake_http, f"{BATCHES}/{batch_id}", "status", "READY")
    assert (batch["total_task_count"], batch["total_task_groups"]) == (5, 5)


async def test_setup_groups_v4_datapoints_by_their_task_group_id_field(
    prolific_fake: FakeProlific, fake_http: aiohttp.ClientSession
) -> None:
    """A V4 schema field of type task_group_id makes one group per distinct value."""
    schema = {"fields": {"text": {"type": "text"}, "session": {"type": "task_group_id"}}}
    records = [{"text": str(n), "session": "s1" if n < 3 else "s2"} for n in range(5)]
    dataset = prolific_fake.add_dataset(schema=schema, records=records)
    batch = prolific_fake.add_batch(dataset_ids=[dataset.id])
    await call(fake_http, "POST", f"{BATCHES}/{batch.id}/setup", json={"tasks_per_group": 4})
    body = await until(fake_http, f"{BATCHES}/{batch.id}", "status", "READY")
    assert (body["total_task_count"], body["total_task_groups"]) == (5, 2)


@pytest.mark.parametrize(
    "dataset_kwargs",
    [
        {"status": "UNINITIALISED"},
        {"status": "ERROR"},
        {"schema": STRICT_SCHEMA, "status": "UNINITIALISED"},
        None,
    ],
    ids=["v3-uninitialised", "v3-error", "v4-no-import", "no-dataset"],
)
async def test_setup_without_a_usable_dataset_ends_in_error(
    prolific_fake: FakeProlific,
    fake_http: aiohttp.ClientSession,
    dataset_kwargs: dict[str, Any] | None,
) -> None:
    """A batch without a dataset, or with one not READY (V3) / not imported (V4), ends ERROR."""
    ids = [] if dataset_kwargs is None else [prolific_fake.add_dataset(**dataset_kwargs).id]
    batch = prolific_fake.add_batch(dataset_ids=ids)
    assert (await call(fake_http, "POST", f"{BATCHES}/{batch.id}/setup"))[0] == 202
    body = await until(fake_http, f"{BATCHES}/{batch.id}/status", "status", "ERROR")
    assert body == {"status": "ERROR"}
    assert prolific_fake.batches[batch.id].total_task_count == 0


async def test_setup_waits_for_the_dataset_until_its_own_end(
    prolific_fake: FakeProlific,
    fake_http: aiohttp.ClientSession,
    storage_http: aiohttp.ClientSession,
) -> None:
    """Readiness is checked when setup ends: a dataset READY by then is fine."""
    prolific_fake.setup_delay = 0.1
    dataset_id = await new_dataset(fake_http)
    await upload(fake_http, storage_http, dataset_id, "rows.csv", CSV)
    batch_id = await new_batch(fake_http)
    await call(fake_http, "POST", f"{BATCHES}/{batch_id}/setup", json={"dataset_id": dataset_id})
    body = await until(fake_http, f"{BATCHES}/{batch_id}", "status", "READY")
    assert body["total_task_count"] == 3


async def test_setup_again_restarts_the_processing(
    prolific_fake: FakeProlific, fake_http: aiohttp.ClientSession
) -> None:
    """Setup of a PROCESSING batch is accepted (202) and restarts: READY after the new one."""
    dataset = prolific_fake.add_dataset(total_datapoint_count=2)
    batch = prolific_fake.add_batch(dataset_ids=[dataset.id])
    prolific_fake.setup_delay = 60.0
    await call(fake_http, "POST", f"{BATCHES}/{batch.id}/setup")
    prolific_fake.setup_delay = 0.0
    assert (await call(fake_http, "POST", f"{BATCHES}/{batch.id}/setup"))[0] == 202
    await until(fake_http, f"{BATCHES}/{batch.id}/status", "status", "READY")
    assert prolific_fake.batches[batch.id].status == "READY"


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
    prolific_fake: FakeProlific, fake_http: aiohttp.ClientSession, body: dict[str, Any], detail: Any
) -> None:
    """A wrongly typed dataset_id or tasks_per_group answers 400; the batch is untouched."""
    batch = prolific_fake.add_batch()
    status, answer, _ = await call(fake_http, "POST", f"{BATCHES}/{batch.id}/setup", json=body)
    assert (status, answer["error"]["detail"]) == (400, detail)
    assert (
        prolific_fake.batches[batch.id].status,
        prolific_fake.batches[batch.id].dataset_ids,
    ) == (
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
    fake_http: aiohttp.ClientSession, method: str, suffix: str
) -> None:
    """Every per-batch route answers 404 with the nested error body for an unknown batch."""
    status, body, _ = await call(fake_http, method, f"{BATCHES}/missing{suffix}", json={})
    assert (status, body["error"]["status"]) == (404, 404)


async def test_state_views_apply_transitions_without_a_request(
    prolific_fake: FakeProlific, fake_http: aiohttp.ClientSession
) -> None:
    """fake.batches applies due transitions itself: no background task, no request needed."""
    dataset = prolific_fake.add_dataset(total_datapoint_count=1)
    batch = prolific_fake.add_batch(dataset_ids=[dataset.id])
    await call(fake_http, "POST", f"{BATCHES}/{batch.id}/setup")
    assert batch.status == "PROCESSING"
    await asyncio.sleep(0.05)
    assert batch.status == "PROCESSING"  # nothing ran in the background
    assert prolific_fake.batches[batch.id].status == "READY"


# -- responses and report --------------------------------------------------------------


async def test_responses_are_seeded_with_defaults_and_served(
    prolific_fake: FakeProlific, fake_http: aiohttp.ClientSession
) -> None:
    """add_response fills every field; the list answers {results, meta.count}."""
    batch_id = await ready_batch(fake_http, prolific_fake, rows=2)
    first = prolific_fake.add_response(batch_id)
    moment = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    second = prolific_fake.add_response(batch_id, created_at=moment, future_field=1)
    third = prolific_fake.add_response(
        batch_id, response={"instruction_id": "i", "type": "ranking", "answer": []}
    )
    status, body, _ = await call(fake_http, "GET", f"{BATCHES}/{batch_id}/responses")
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
    _, tasks, _ = await call(fake_http, "GET", f"{BATCHES}/{batch_id}/tasks")
    assert [first["task_id"], second["task_id"], third["task_id"]] == [*tasks, tasks[0]]
    assert (second["created_at"], second["future_field"]) == ("2024-05-01T12:00:00Z", 1)


async def test_responses_without_a_submission_and_with_typed_values_parse(
    prolific_fake: FakeProlific, prolific_client: ProlificClient
) -> None:
    """no_submission, a null submission_id and number/boolean answers read through the client."""
    batch = prolific_fake.add_batch()
    prolific_fake.add_response(batch.id, submission_id=None, no_submission=True)
    answers = [{"value": 4}, {"value": 2.5}, {"value": True}, {"value": "4"}]
    prolific_fake.add_response(
        batch.id, response={"instruction_id": "i1", "type": "multiple_choice", "answer": answers}
    )
    outside, typed = await prolific_client.batches.responses(batch.id)
    assert (outside.submission_id, outside.no_submission) == (None, True)
    assert typed.submission_id is not None
    assert typed.no_submission is None
    values = [answer.value for answer in typed.response.answer]
    assert values == [4, 2.5, True, "4"]
    assert [type(value) for value in values] == [int, float, bool, str]  # True is not 1


def test_add_response_refuses_an_unknown_batch() -> None:
    """add_response needs a known batch."""
    with pytest.raises(ValueError, match="add_batch"):
        FakeProlific().add_response("nope")


async def test_report_path_has_a_trailing_slash_and_links_a_csv(
    prolific_fake: FakeProlific,
    fake_http: aiohttp.ClientSession,
    storage_http: aiohttp.ClientSession,
) -> None:
    """GET .../report/ answers a presigned CSV link (dataset rows + responses); no slash: 404."""
    batch_id = await ready_batch(fake_http, prolific_fake, rows=2)
    response = prolific_fake.add_response(batch_id, participant_id="p1")
    assert (await call(fake_http, "GET", f"{BATCHES}/{batch_id}/report"))[0] == 404
    status, body, _ = await call(fake_http, "GET", f"{BATCHES}/{batch_id}/report/")
    assert (status, list(body), body["http_method"]) == (
        200,
        ["url", "expires_at", "http_method"],
        "GET",
    )
    assert body["url"].startswith(f"{prolific_fake.url}/_storage/reports/")
    async with storage_http.get(body["url"]) as download:
        assert (download.status, download.content_type) == (200, "text/csv")
        rows = list(csv.DictReader(io.StringIO(await download.text())))
    assert [(row["text"], row["participant_id"]) for row in rows] == [
        ("row 0", "p1"),
        ("row 1", ""),
    ]
    assert rows[0]["task_id"] == response["task_id"]
    assert json.loads(rows[0]["answer"]) == [{"value": "An example answer."}]
    assert "Authorization" not in prolific_fake.storage_requests[-1].headers


# -- end to end ------------------------------------------------------------------------


async def test_full_v3_and_v4_pipelines_run_concurrently(
    prolific_fake: FakeProlific,
    fake_http: aiohttp.ClientSession,
    storage_http: aiohttp.ClientSession,
) -> None:
    """20 pipelines (create dataset, upload, batch, setup, READY, export) run side by side."""

    async def pipeline(n: int) -> int:
        v4 = n % 2 == 1
        dataset_id = await new_dataset(fake_http, STRICT_SCHEMA if v4 else None)
        if v4:
            await upload(
                fake_http,
                storage_http,
                dataset_id,
                "d.jsonl",
                b'{"prompt": "p", "group": "g"}\n' * n,
            )
        else:
            await upload(fake_http, storage_http, dataset_id, "d.csv", b"text\n" + b"x\n" * n)
        await until(fake_http, f"{DATASETS}/{dataset_id}/status", "status", "READY")
        batch_id = await new_batch(fake_http)
        await call(
            fake_http, "POST", f"{BATCHES}/{batch_id}/setup", json={"dataset_id": dataset_id}
        )
        batch = await until(fake_http, f"{BATCHES}/{batch_id}", "status", "READY")
        path = f"{BATCHES}/{batch_id}/export"
        export_id = (await call(fake_http, "POST", path))[1]["export_id"]
        await until(fake_http, f"{path}/{export_id}", "status", "complete")
        return int(batch["total_task_count"])

    counts = await asyncio.gather(*(pipeline(n) for n in range(1, 21)))
    assert counts == list(range(1, 21))
    assert all("Authorization" not in record.headers for record in prolific_fake.storage_requests)
