"""Batch setup, readiness, tasks, responses and report, checked with aioresponses."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aioresponses import aioresponses
from yarl import URL

from prolific_async import Batch, BatchStatus, ProlificClient, RetryPolicy, errors
from prolific_async import _polling as polling
from prolific_async.models import BatchReport, InstructionType, ResponseAnswer, TaskResponse

BASE = "https://api.test.invalid"
BATCHES = f"{BASE}/api/v1/data-collection/batches"
FIXTURES = Path(__file__).parent / "fixtures"
TOKEN = "secret-token-value-123"
FAST: dict[str, Any] = {"poll_interval": 0.001, "max_poll_interval": 0.002}


def batch_body(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / "get_batch_200.json").read_text())
    data.update(changes)
    return data


def task_response(**changes: Any) -> dict[str, Any]:
    """A task response in the contract's shape."""
    data: dict[str, Any] = {
        "id": "r1",
        "batch_id": "b1",
        "participant_id": "p1",
        "task_id": "t1",
        "correlation_id": "c1",
        "submission_id": "s1",
        "metadata": {"source": "web", "row": 3},
        "response": {
            "instruction_id": "i1",
            "type": "free_text",
            "answer": [{"value": "Looks right"}],
        },
        "created_at": "2025-03-01T12:00:00Z",
        "schema_version": 2,
    }
    data.update(changes)
    return data


#: One answer of every instruction type, as the contract lists its fields.
ANSWERS = [
    ("free_text", [{"value": "text"}]),
    ("multiple_choice", [{"value": "a"}, {"value": "b"}]),
    ("multiple_choice_with_free_text", [{"value": "pos", "explanation": "because"}]),
    ("free_text_with_unit", [{"value": "37.5", "unit": "celsius"}]),
    (
        "file_upload",
        [
            {
                "file_key": "uploads/f.png",
                "file_name": "f.png",
                "file_size_mb": 1.25,
                "content_type": "image/png",
            }
        ],
    ),
]


@pytest.fixture
async def client() -> AsyncIterator[ProlificClient]:
    async with ProlificClient(TOKEN, base_url=BASE, retry=RetryPolicy(attempts=1)) as c:
        yield c


@pytest.fixture
def mocked() -> Any:
    with aioresponses() as m:
        yield m


def calls(mocked: Any, method: str, url: str) -> list[Any]:
    return list(mocked.requests.get((method, URL(url)), []))


async def test_get_status_reads_the_status(client: ProlificClient, mocked: Any) -> None:
    """get_status GETs /batches/{id}/status and returns a BatchStatus."""
    mocked.get(f"{BATCHES}/b1/status", payload={"status": "PROCESSING"})
    assert await client.batches.get_status("b1") is BatchStatus.PROCESSING


async def test_get_status_keeps_an_unknown_status(client: ProlificClient, mocked: Any) -> None:
    """A status this library does not know comes back as the plain string."""
    mocked.get(f"{BATCHES}/b1/status", payload={"status": "ARCHIVED", "extra": 1})
    status = await client.batches.get_status("b1")
    assert status == "ARCHIVED"
    assert not isinstance(status, BatchStatus)


async def test_get_status_without_status_names_the_field(
    client: ProlificClient, mocked: Any
) -> None:
    """A status body without status raises ResponseValidationError naming $.status."""
    mocked.get(f"{BATCHES}/b1/status", payload={})
    with pytest.raises(errors.ResponseValidationError, match=r"\$\.status"):
        await client.batches.get_status("b1")


@pytest.mark.parametrize(
    ("kwargs", "body"),
    [
        ({}, {}),
        ({"dataset_id": "d1"}, {"dataset_id": "d1"}),
        ({"tasks_per_group": 5}, {"tasks_per_group": 5}),
        ({"dataset_id": "d1", "tasks_per_group": 1}, {"dataset_id": "d1", "tasks_per_group": 1}),
    ],
)
async def test_setup_sends_only_given_fields(
    client: ProlificClient, mocked: Any, kwargs: dict[str, Any], body: dict[str, Any]
) -> None:
    """Setup POSTs the given fields; the empty 202 body is fine."""
    mocked.post(f"{BATCHES}/b1/setup", status=202, body="")
    await client.batches.setup("b1", **kwargs)
    (call,) = calls(mocked, "POST", f"{BATCHES}/b1/setup")
    assert call.kwargs["json"] == body
    assert call.kwargs["headers"]["Authorization"] == f"Token {TOKEN}"


@pytest.mark.parametrize("tasks_per_group", [0, -1, 1.5, True, "2"])
async def test_setup_refuses_bad_tasks_per_group(
    client: ProlificClient, mocked: Any, tasks_per_group: Any
) -> None:
    """tasks_per_group must be an integer >= 1; nothing is sent otherwise."""
    with pytest.raises(ValueError, match="tasks_per_group"):
        await client.batches.setup("b1", tasks_per_group=tasks_per_group)
    assert mocked.requests == {}


async def test_setup_error_status_raises_its_class(client: ProlificClient, mocked: Any) -> None:
    """A 404 on setup raises NotFoundError with the server's detail."""
    mocked.post(
        f"{BATCHES}/b1/setup", status=404, payload={"error": {"title": "Not Found", "detail": "no"}}
    )
    with pytest.raises(errors.NotFoundError, match="Not Found: no"):
        await client.batches.setup("b1", dataset_id="d1")


async def test_wait_until_ready_polls_then_gets_the_batch(
    client: ProlificClient, mocked: Any
) -> None:
    """Statuses are polled until READY, then the batch is fetched once and returned."""
    for status in ("UNINITIALISED", "PROCESSING", "PROCESSING", "READY"):
        mocked.get(f"{BATCHES}/b1/status", payload={"status": status})
    mocked.get(f"{BATCHES}/b1", payload=batch_body(status="READY", total_task_count=42))
    batch = await client.batches.wait_until_ready("b1", timeout=5, **FAST)
    assert isinstance(batch, Batch)
    assert (batch.status, batch.total_task_count) == (BatchStatus.READY, 42)
    assert len(calls(mocked, "GET", f"{BATCHES}/b1/status")) == 4
    assert len(calls(mocked, "GET", f"{BATCHES}/b1")) == 1


async def test_wait_until_ready_raises_on_error(client: ProlificClient, mocked: Any) -> None:
    """A batch ending in ERROR raises BatchSetupError carrying the batch id."""
    mocked.get(f"{BATCHES}/b1/status", payload={"status": "PROCESSING"})
    mocked.get(f"{BATCHES}/b1/status", payload={"status": "ERROR"})
    with pytest.raises(errors.BatchSetupError, match="b1 ended setup in ERROR") as caught:
        await client.batches.wait_until_ready("b1", timeout=5, **FAST)
    assert (caught.value.batch_id, caught.value.status) == ("b1", "ERROR")
    assert calls(mocked, "GET", f"{BATCHES}/b1") == []


async def test_wait_until_ready_times_out(client: ProlificClient, mocked: Any) -> None:
    """A batch stuck PROCESSING raises WaitTimeoutError, also a TimeoutError, with its status."""
    mocked.get(f"{BATCHES}/b1/status", payload={"status": "PROCESSING"}, repeat=True)
    with pytest.raises(errors.WaitTimeoutError) as caught:
        await client.batches.wait_until_ready("b1", timeout=0.05, **FAST)
    assert isinstance(caught.value, TimeoutError)
    assert caught.value.last_status == "PROCESSING"
    assert caught.value.resource == "batch b1"
    assert "last status PROCESSING" in str(caught.value)


async def test_wait_until_ready_keeps_polling_an_unknown_status(
    client: ProlificClient, mocked: Any
) -> None:
    """An unknown status is not READY: polling goes on until READY comes."""
    mocked.get(f"{BATCHES}/b1/status", payload={"status": "QUEUED_FOR_SETUP"})
    mocked.get(f"{BATCHES}/b1/status", payload={"status": "READY"})
    mocked.get(f"{BATCHES}/b1", payload=batch_body(status="READY"))
    batch = await client.batches.wait_until_ready("b1", timeout=5, **FAST)
    assert batch.status is BatchStatus.READY


async def test_wait_until_ready_lets_request_errors_through(
    client: ProlificClient, mocked: Any
) -> None:
    """A failing poll (404) ends the wait with that error, not a timeout."""
    mocked.get(f"{BATCHES}/b1/status", status=404, payload={"error": {"title": "Not Found"}})
    with pytest.raises(errors.NotFoundError):
        await client.batches.wait_until_ready("b1", timeout=5, **FAST)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"timeout": 0},
        {"timeout": -1},
        {"poll_interval": 0},
        {"max_poll_interval": "1"},
        {"timeout": True},
    ],
)
async def test_wait_settings_are_checked(
    client: ProlificClient, mocked: Any, kwargs: dict[str, Any]
) -> None:
    """Non-positive or non-numeric wait settings raise ValueError before any request."""
    with pytest.raises(ValueError, match="positive number of seconds"):
        await client.batches.wait_until_ready("b1", **kwargs)
    assert mocked.requests == {}


async def test_polls_back_off_up_to_the_cap(
    client: ProlificClient, mocked: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each wait is 1.5 times the one before (plus up to 10% jitter), capped."""
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(polling, "sleep", record)
    for _ in range(6):
        mocked.get(f"{BATCHES}/b1/status", payload={"status": "PROCESSING"})
    mocked.get(f"{BATCHES}/b1/status", payload={"status": "READY"})
    mocked.get(f"{BATCHES}/b1", payload=batch_body(status="READY"))
    await client.batches.wait_until_ready("b1", poll_interval=1.0, max_poll_interval=3.0)
    expected = [1.0, 1.5, 2.25, 3.0, 3.0, 3.0]
    assert len(waits) == len(expected)
    for wait, base in zip(waits, expected, strict=True):
        assert base <= wait <= base * 1.1


async def test_tasks_and_task_groups_are_id_lists(client: ProlificClient, mocked: Any) -> None:
    """Tasks and task_groups GET their paths and return the id strings."""
    mocked.get(f"{BATCHES}/b1/tasks", payload=["t1", "t2"])
    mocked.get(f"{BATCHES}/b1/task-groups", payload=["g1"])
    assert await client.batches.tasks("b1") == ["t1", "t2"]
    assert await client.batches.task_groups("b1") == ["g1"]


async def test_tasks_bad_body_names_the_index(client: ProlificClient, mocked: Any) -> None:
    """A non-string task id raises ResponseValidationError naming its index."""
    mocked.get(f"{BATCHES}/b1/tasks", payload=["t1", 7])
    with pytest.raises(errors.ResponseValidationError, match=r"\$\[1\]"):
        await client.batches.tasks("b1")


async def test_responses_parse_the_contract_shape(client: ProlificClient, mocked: Any) -> None:
    """Responses returns typed TaskResponses with their answers and metadata."""
    mocked.get(
        f"{BATCHES}/b1/responses",
        payload={"results": [task_response()], "meta": {"count": 1}},
    )
    (response,) = await client.batches.responses("b1")
    assert isinstance(response, TaskResponse)
    assert (response.id, response.batch_id, response.participant_id) == ("r1", "b1", "p1")
    assert (response.task_id, response.submission_id, response.correlation_id) == (
        "t1",
        "s1",
        "c1",
    )
    assert response.metadata == {"source": "web", "row": 3}
    assert response.created_at == datetime(2025, 3, 1, 12, tzinfo=UTC)
    assert response.schema_version == 2
    assert response.response.instruction_id == "i1"
    assert response.response.type is InstructionType.FREE_TEXT
    assert response.response.answer == [ResponseAnswer(value="Looks right")]


@pytest.mark.parametrize(("kind", "answer"), ANSWERS)
async def test_responses_of_every_instruction_type(
    client: ProlificClient, mocked: Any, kind: str, answer: list[dict[str, Any]]
) -> None:
    """Answers of every instruction type parse, each value in its own field."""
    body = task_response(response={"instruction_id": "i1", "type": kind, "answer": answer})
    mocked.get(f"{BATCHES}/b1/responses", payload={"results": [body]})
    (response,) = await client.batches.responses("b1")
    assert response.response.type == kind
    assert isinstance(response.response.type, InstructionType)
    parsed = [
        {key: value for key, value in vars_of(item).items() if value is not None}
        for item in response.response.answer
    ]
    assert parsed == answer


def vars_of(answer: ResponseAnswer) -> dict[str, Any]:
    return {
        "value": answer.value,
        "unit": answer.unit,
        "explanation": answer.explanation,
        "file_key": answer.file_key,
        "file_name": answer.file_name,
        "file_size_mb": answer.file_size_mb,
        "content_type": answer.content_type,
    }


async def test_responses_keep_unknown_types_and_fields(client: ProlificClient, mocked: Any) -> None:
    """A new instruction type stays a str, and its unknown answer keys land in extra."""
    body = task_response(
        response={
            "instruction_id": "i9",
            "type": "video_narration",
            "answer": [{"video_key": "v/1.mp4", "duration_s": 31}],
            "new_field": True,
        },
        brand_new=[1],
    )
    body["response"]["type"] = "hologram_rating"
    mocked.get(f"{BATCHES}/b1/responses", payload={"results": [body]})
    (response,) = await client.batches.responses("b1")
    assert response.response.type == "hologram_rating"
    assert not isinstance(response.response.type, InstructionType)
    assert response.response.answer[0].extra == {"video_key": "v/1.mp4", "duration_s": 31}


@pytest.mark.parametrize("results", [None, []])
async def test_no_responses_is_an_empty_list(
    client: ProlificClient, mocked: Any, results: Any
) -> None:
    """A null or empty results list reads as no responses."""
    mocked.get(f"{BATCHES}/b1/responses", payload={"results": results, "meta": {"count": 0}})
    assert await client.batches.responses("b1") == []


async def test_bad_response_names_its_path(client: ProlificClient, mocked: Any) -> None:
    """A response with a missing field raises ResponseValidationError naming its path."""
    body = task_response()
    del body["response"]["instruction_id"]
    mocked.get(f"{BATCHES}/b1/responses", payload={"results": [task_response(), body]})
    with pytest.raises(
        errors.ResponseValidationError, match=r"\$\.results\[1\]\.response\.instruction_id"
    ):
        await client.batches.responses("b1")


async def test_report_uses_the_trailing_slash(client: ProlificClient, mocked: Any) -> None:
    """Report GETs /batches/{id}/report/ (with its slash) and returns the presigned link."""
    mocked.get(
        f"{BATCHES}/b1/report/",
        payload={
            "url": "https://s3.test.invalid/r.csv?X-Amz-Signature=s",
            "expires_at": "2025-03-01T13:00:00Z",
            "http_method": "GET",
            "size": 10,
        },
    )
    report = await client.batches.report("b1")
    assert report == BatchReport(
        url="https://s3.test.invalid/r.csv?X-Amz-Signature=s",
        expires_at=datetime(2025, 3, 1, 13, tzinfo=UTC),
        http_method="GET",
    )
    ((method, url),) = mocked.requests.keys()
    assert (method, url.path) == ("GET", "/api/v1/data-collection/batches/b1/report/")


@pytest.mark.parametrize("batch_id", ["", ".", "..", None])
async def test_every_batch_method_checks_the_id(
    client: ProlificClient, mocked: Any, batch_id: Any
) -> None:
    """Every new batch method refuses a bad id before sending anything."""
    batches = client.batches
    for call in (
        batches.get_status(batch_id),
        batches.setup(batch_id),
        batches.wait_until_ready(batch_id),
        batches.tasks(batch_id),
        batches.task_groups(batch_id),
        batches.responses(batch_id),
        batches.report(batch_id),
        batches.request_export(batch_id),
        batches.get_export(batch_id, "e1"),
        batches.get_export("b1", batch_id),
        batches.list_exports(batch_id),
        batches.delete_export(batch_id, "e1"),
        batches.delete_export("b1", batch_id),
        batches.wait_for_export(batch_id, "e1"),
        batches.wait_for_export("b1", batch_id),
    ):
        with pytest.raises(ValueError, match="_id"):
            await call
    assert mocked.requests == {}


async def test_ids_are_quoted_into_one_segment(client: ProlificClient, mocked: Any) -> None:
    """A batch id with a slash stays one quoted path segment."""
    mocked.get(URL(f"{BATCHES}/a%2Fb/status", encoded=True), payload={"status": "READY"})
    await client.batches.get_status("a/b")
    ((_, url),) = mocked.requests.keys()
    assert url.raw_path == "/api/v1/data-collection/batches/a%2Fb/status"
