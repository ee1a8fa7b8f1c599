"""Models and the converter: the seeds' own examples, open enums, wire rules, bad bodies."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from prolific_async._body import structure_response
from prolific_async._converter import converter
from prolific_async.models import (
    Batch,
    BatchDataset,
    BatchStatus,
    ChoiceOption,
    MultipleChoiceItem,
    ResponseAnswer,
    TaskDetails,
    TaskResponse,
)

FIXTURES = Path(__file__).parent / "fixtures"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


def parse(data: Any, status: int = 200) -> Batch:
    return structure_response(data, Batch, status_code=status, method="GET", url="http://x/b")


def test_get_seed_parses_verbatim() -> None:
    """The Get a Batch page's example response parses into a full Batch."""
    batch = parse(load("get_batch_200.json"))
    assert batch.id == "a3f47c2e-9d4b-4f1a-8b2e-3c9d7f5a1b2c"
    assert batch.created_at == datetime(2024, 1, 15, 9, 30, tzinfo=UTC)
    assert batch.created_by == "6278cb09062dbb35bc4abebc"
    assert batch.datasets == [
        BatchDataset(
            id="d9f1e7a4-3c2b-4e5f-9a7d-8b6c4e2f1a0b",
            total_datapoint_count=1500,
            filename="user_responses_2024-01.csv",
        )
    ]
    assert batch.name == "Data Collection Batch"
    assert batch.status is BatchStatus.UNINITIALISED
    assert (batch.total_task_count, batch.total_instruction_count) == (120, 5)
    assert batch.workspace_id == "6278acb09062db3b35bcbeb0"
    assert batch.schema_version == 1
    assert batch.total_task_groups == 3
    assert batch.task_details.task_name == "Sentiment Analysis Task"
    assert batch.task_details.task_steps.startswith("<ol><li>Read the text carefully.")


def test_update_seed_parses_verbatim() -> None:
    """The Update a Batch page's example response parses, filename and all."""
    batch = parse(load("update_batch_200.json"))
    assert batch.datasets[0].filename == "customer_feedback_2024.csv"
    assert batch.total_task_count == 25
    assert batch.schema_version == 1
    assert batch.total_task_groups == 3


def test_duplicate_seed_omitted_fields_parse_as_none() -> None:
    """The Duplicate page's example omits schema_version, total_task_groups and filename."""
    batch = parse(load("duplicate_batch_201.json"), status=201)
    assert batch.schema_version is None
    assert batch.total_task_groups is None
    assert batch.datasets[0].filename is None
    assert batch.datasets[0].total_datapoint_count == 1500
    assert batch.task_details.task_name == "Image Classification Task"


def test_unknown_status_is_kept_as_plain_string() -> None:
    """A status the library does not know (ARCHIVED) is kept as str, not an error."""
    data = load("get_batch_200.json")
    data["status"] = "ARCHIVED"
    batch = parse(data)
    assert batch.status == "ARCHIVED"
    assert not isinstance(batch.status, BatchStatus)


@pytest.mark.parametrize("status", list(BatchStatus))
def test_known_statuses_become_enum_members(status: BatchStatus) -> None:
    """Every documented status parses to its BatchStatus member."""
    data = load("get_batch_200.json")
    data["status"] = status.value
    assert parse(data).status is status


def test_unknown_keys_are_ignored() -> None:
    """Fields the server adds later do not break parsing."""
    data = load("get_batch_200.json")
    data["batch_items"] = None
    data["brand_new_field"] = {"nested": [1, 2]}
    data["datasets"][0]["status"] = "READY"
    assert parse(data) == parse(load("get_batch_200.json"))


def test_non_uuid_ids_are_kept_as_strings() -> None:
    """Ids are opaque strings: the create example's 24-hex dataset id is accepted."""
    data = load("duplicate_batch_201.json")
    data["datasets"][0]["id"] = "1234acb09999db4b99bcded1"
    assert parse(data).datasets[0].id == "1234acb09999db4b99bcded1"


@pytest.mark.parametrize(
    "task_details",
    [
        {"task_name": "Only a name"},
        {"task_name": "Only a name", "task_introduction": None, "task_steps": None},
    ],
)
def test_missing_or_null_task_text_reads_as_empty(task_details: dict[str, Any]) -> None:
    """The create schema requires only task_name; missing or null intro/steps read as ''."""
    data = load("duplicate_batch_201.json")
    data["task_details"] = task_details
    assert parse(data, status=201).task_details == TaskDetails(
        task_name="Only a name", task_introduction="", task_steps=""
    )


def test_models_are_frozen() -> None:
    """Models are immutable values."""
    batch = parse(load("get_batch_200.json"))
    with pytest.raises(AttributeError):
        batch.name = "changed"  # type: ignore[misc]


def response(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "r1",
        "batch_id": "b1",
        "participant_id": "p1",
        "task_id": "t1",
        "submission_id": "s1",
        "created_at": "2024-01-15T09:30:00Z",
        "response": {"instruction_id": "i1", "type": "free_text", "answer": [{"value": "x"}]},
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not ...}


def parse_responses(items: list[dict[str, Any]]) -> list[TaskResponse]:
    return structure_response(
        items, list[TaskResponse], status_code=200, method="GET", url="http://x/b/responses"
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"submission_id": ...},
        {"submission_id": None},
        {"submission_id": None, "no_submission": True},
        {"submission_id": ..., "no_submission": True},
    ],
)
def test_response_without_a_submission_parses(changes: dict[str, Any]) -> None:
    """A response given outside a submission (no or null submission_id) parses."""
    (read,) = parse_responses([response(**changes)])
    assert read.submission_id is None
    assert read.no_submission is changes.get("no_submission")


def test_response_with_a_submission_keeps_it() -> None:
    """submission_id and no_submission=false are read as sent."""
    (read,) = parse_responses([response(no_submission=False)])
    assert (read.submission_id, read.no_submission) == ("s1", False)
    assert converter.unstructure(read)["no_submission"] is False


def test_numeric_and_boolean_answers_do_not_break_the_listing() -> None:
    """One numeric or boolean answer among text ones: every response still parses."""
    answers = [
        [{"value": "text"}],
        [{"value": 42}],
        [{"value": 1.5, "unit": "kg"}],
        [{"value": True}],
    ]
    items = [
        response(id=f"r{n}", response={"instruction_id": "i", "type": "free_text", "answer": a})
        for n, a in enumerate(answers)
    ]
    read = parse_responses(items)
    assert [r.response.answer for r in read] == [
        [ResponseAnswer(value="text")],
        [ResponseAnswer(value=42)],
        [ResponseAnswer(value=1.5, unit="kg")],
        [ResponseAnswer(value=True)],
    ]
    assert type(read[1].response.answer[0].value) is int
    assert read[3].response.answer[0].value is True


def test_multiple_choice_options_may_be_numbers_or_booleans() -> None:
    """Multiple-choice options with number or boolean values parse and write back as sent."""
    options = [
        {"label": "Yes", "value": True},
        {"label": "No", "value": False},
        {"label": "Five", "value": 5},
        {"label": "Half", "value": 0.5},
        {"label": "Text", "value": "text"},
    ]
    item = {"type": "multiple_choice", "description": "Pick", "options": options}
    data = load("get_batch_200.json")
    data["batch_items"] = [{"rows": [{"columns": [{"items": [item]}]}]}]
    batch = parse(data)
    assert batch.batch_items is not None
    read = batch.batch_items[0].rows[0].columns[0].items[0]
    assert isinstance(read, MultipleChoiceItem)
    assert read.options[0] == ChoiceOption(label="Yes", value=True)
    assert [type(o.value) for o in read.options] == [bool, bool, int, float, str]
    assert converter.unstructure(batch)["batch_items"][0]["rows"][0]["columns"][0]["items"] == [
        item
    ]


def test_an_undocumented_answer_field_of_another_type_goes_to_extra() -> None:
    """{"value": 3, "unit": 5}: the answer is read, the odd unit kept in extra, nothing lost."""
    from prolific_async.models import ResponseAnswer

    answer = converter.structure({"value": 3, "unit": 5, "file_size_mb": True}, ResponseAnswer)
    assert answer.value == 3
    assert answer.unit is None
    assert answer.extra == {"unit": 5, "file_size_mb": True}
    assert converter.unstructure(answer) == {"value": 3, "unit": 5, "file_size_mb": True}
