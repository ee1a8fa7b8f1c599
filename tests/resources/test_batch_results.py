"""client.batches results: task responses, the report link, and id checks of every batch method.

Checked with aioresponses (``mocked``, one attempt per call): request shape and parsing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from prolific_async import ProlificClient, errors
from prolific_async.models import BatchReport, InstructionType, ResponseAnswer, TaskResponse

from ..conftest import BATCHES_PATH, MOCKED_BASE

BATCHES = f"{MOCKED_BASE}{BATCHES_PATH}"


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


async def test_responses_parse_the_contract_shape(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """Responses returns typed TaskResponses with their answers and metadata."""
    mocked.get(
        f"{BATCHES}/b1/responses",
        payload={"results": [task_response()], "meta": {"count": 1}},
    )
    (response,) = await mocked_client.batches.responses("b1")
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
    mocked_client: ProlificClient, mocked: Any, kind: str, answer: list[dict[str, Any]]
) -> None:
    """Answers of every instruction type parse, each value in its own field."""
    body = task_response(response={"instruction_id": "i1", "type": kind, "answer": answer})
    mocked.get(f"{BATCHES}/b1/responses", payload={"results": [body]})
    (response,) = await mocked_client.batches.responses("b1")
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


async def test_responses_keep_unknown_types_and_fields(
    mocked_client: ProlificClient, mocked: Any
) -> None:
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
    (response,) = await mocked_client.batches.responses("b1")
    assert response.response.type == "hologram_rating"
    assert not isinstance(response.response.type, InstructionType)
    assert response.response.answer[0].extra == {"video_key": "v/1.mp4", "duration_s": 31}


async def test_no_responses_is_an_empty_list(mocked_client: ProlificClient, mocked: Any) -> None:
    """An empty results array reads as no responses."""
    mocked.get(f"{BATCHES}/b1/responses", payload={"results": [], "meta": {"count": 0}})
    assert await mocked_client.batches.responses("b1") == []


@pytest.mark.parametrize(
    "payload", [{"results": None}, {"meta": {}}, {"responses": []}, []], ids=str
)
async def test_responses_without_a_results_array_are_an_error(
    mocked_client: ProlificClient, mocked: Any, payload: Any
) -> None:
    """A missing or null results, the old envelope or a bare array is not 'no responses'."""
    mocked.get(f"{BATCHES}/b1/responses", payload=payload)
    with pytest.raises(errors.ResponseValidationError):
        await mocked_client.batches.responses("b1")


async def test_bad_response_names_its_path(mocked_client: ProlificClient, mocked: Any) -> None:
    """A response with a missing field raises ResponseValidationError naming its path."""
    body = task_response()
    del body["response"]["instruction_id"]
    mocked.get(f"{BATCHES}/b1/responses", payload={"results": [task_response(), body]})
    with pytest.raises(
        errors.ResponseValidationError, match=r"\$\.results\[1\]\.response\.instruction_id"
    ):
        await mocked_client.batches.responses("b1")


async def test_report_uses_the_trailing_slash(mocked_client: ProlificClient, mocked: Any) -> None:
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
    report = await mocked_client.batches.report("b1")
    assert report == BatchReport(
        url="https://s3.test.invalid/r.csv?X-Amz-Signature=s",
        expires_at=datetime(2025, 3, 1, 13, tzinfo=UTC),
        http_method="GET",
    )
    ((method, url),) = mocked.requests.keys()
    assert (method, url.path) == ("GET", "/api/v1/data-collection/batches/b1/report/")


@pytest.mark.parametrize("batch_id", ["", ".", "..", None])
async def test_every_batch_method_checks_the_id(
    mocked_client: ProlificClient, mocked: Any, batch_id: Any
) -> None:
    """Every new batch method refuses a bad id before sending anything."""
    batches = mocked_client.batches
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
