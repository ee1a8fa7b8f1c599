"""The converter's wire rules: strict scalars, timestamps, answer values, nulls, bad bodies."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from prolific_async._body import structure_response
from prolific_async._converter import converter
from prolific_async.errors import ResponseValidationError
from prolific_async.models import (
    Batch,
    BatchReport,
    ChoiceOption,
    ResponseAnswer,
    TaskDetails,
    TaskResponse,
    ValidationRule,
)
from prolific_async.models.layout import AnswerValue

FIXTURES = Path(__file__).parent / "fixtures"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


def parse(data: Any, cls: type[Any] = Batch, status: int = 200) -> Any:
    return structure_response(data, cls, status_code=status, method="GET", url="http://x/b")


def response_with_answer(answer: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": "r1",
        "batch_id": "b1",
        "participant_id": "p1",
        "task_id": "t1",
        "submission_id": "s1",
        "created_at": "2024-01-15T09:30:00Z",
        "response": {"instruction_id": "i1", "type": "free_text", "answer": answer},
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-15T09:30:00Z", datetime(2024, 1, 15, 9, 30, tzinfo=UTC)),
        ("2024-01-15T09:30:00", datetime(2024, 1, 15, 9, 30, tzinfo=UTC)),
        ("2024-01-15T09:30:00.123456", datetime(2024, 1, 15, 9, 30, 0, 123456, tzinfo=UTC)),
        ("2024-01-15T10:30:00+01:00", datetime(2024, 1, 15, 9, 30, tzinfo=UTC)),
    ],
)
def test_timestamps_are_timezone_aware(text: str, expected: datetime) -> None:
    """created_at is aware; a timestamp without an offset is taken as UTC."""
    data = load("get_batch_200.json")
    data["created_at"] = text
    created_at = parse(data).created_at
    assert created_at.tzinfo is not None
    assert created_at == expected


def test_datetimes_unstructure_as_utc_with_z() -> None:
    """Datetimes are written as ISO-8601 UTC with a Z suffix."""
    batch = parse(load("get_batch_200.json"))
    assert converter.unstructure(batch)["created_at"] == "2024-01-15T09:30:00Z"


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda d: d["datasets"][0].update(id=None), "$.datasets[0].id"),
        (
            lambda d: d["datasets"][0].pop("total_datapoint_count"),
            "$.datasets[0].total_datapoint_count",
        ),
        (lambda d: d.update(total_task_count="12"), "$.total_task_count"),
        (lambda d: d.update(total_task_count=True), "$.total_task_count"),
        (lambda d: d.update(created_at=1705311000), "$.created_at"),
        (lambda d: d.update(created_at="yesterday"), "$.created_at"),
        (lambda d: d.pop("id"), "$.id"),
        (lambda d: d.update(status=3), "$.status"),
        (lambda d: d["task_details"].update(task_name=None), "$.task_details.task_name"),
        (lambda d: d.update(task_details="a name"), "$.task_details"),
        (lambda d: d.update(datasets={"id": "x"}), "$.datasets"),
    ],
)
def test_bad_field_raises_with_its_path(mutate: Any, path: str) -> None:
    """A wrongly typed or missing field raises ResponseValidationError naming its path."""
    data = copy.deepcopy(load("get_batch_200.json"))
    mutate(data)
    with pytest.raises(ResponseValidationError) as caught:
        parse(data, status=200)
    assert path in str(caught.value)
    assert any(path in line for line in caught.value.errors)
    assert caught.value.status_code == 200
    assert "200" in str(caught.value)


@pytest.mark.parametrize("value", ["ds_1", None, 3])
def test_a_nested_model_that_is_not_an_object_is_named_at_its_own_path(value: Any) -> None:
    """A nested model given as a string or null is an error at its path, not at its first field."""
    data = copy.deepcopy(load("get_batch_200.json"))
    data["datasets"][0] = value
    with pytest.raises(ResponseValidationError) as caught:
        parse(data, status=200)
    assert [line.rsplit(" @ ", 1)[1] for line in caught.value.errors] == ["$.datasets[0]"]


@pytest.mark.parametrize("body", [[1, 2], None, "text", 5])
def test_non_object_body_is_a_validation_error(body: Any) -> None:
    """A body that is not a JSON object raises ResponseValidationError at $."""
    with pytest.raises(ResponseValidationError, match=r"expected a JSON object.*@ \$"):
        parse(body, status=201)


def test_task_details_round_trip_to_wire_dict() -> None:
    """TaskDetails unstructures to exactly the three wire fields."""
    details = TaskDetails(task_name="n", task_introduction="<p>i</p>", task_steps="<ol></ol>")
    assert converter.unstructure(details) == {
        "task_name": "n",
        "task_introduction": "<p>i</p>",
        "task_steps": "<ol></ol>",
    }


@pytest.mark.parametrize("absent", ["missing", "null"])
@pytest.mark.parametrize("key", ["task_introduction", "task_steps"])
def test_missing_or_null_task_text_reads_as_empty(key: str, absent: str) -> None:
    """A create answer's task_introduction / task_steps, missing or null, reads as ''."""
    data = load("duplicate_batch_201.json")
    if absent == "missing":
        del data["task_details"][key]
    else:
        data["task_details"][key] = None
    details = parse(data, status=201).task_details
    assert getattr(details, key) == ""
    other = "task_steps" if key == "task_introduction" else "task_introduction"
    assert getattr(details, other) == load("duplicate_batch_201.json")["task_details"][other]


def test_null_task_name_is_still_an_error() -> None:
    """Only the nullable task texts read null as ''; a null task_name is refused."""
    data = load("duplicate_batch_201.json")
    data["task_details"] = {"task_name": None, "task_introduction": None}
    with pytest.raises(ResponseValidationError, match=r"\$\.task_details\.task_name"):
        parse(data, status=201)


def test_null_means_default_for_defaulted_fields() -> None:
    """A null for a field with a default (the report's http_method) reads as the default."""
    report = parse({"url": "https://r", "expires_at": None, "http_method": None}, BatchReport)
    assert report == BatchReport(url="https://r", expires_at=None, http_method="GET")


@pytest.mark.parametrize("value", ["yes", "", True, False, 0, 1, -7, 1.5, 0.0, 2.5e-3])
def test_answer_value_keeps_its_json_type(value: AnswerValue) -> None:
    """A string, number or boolean answer stays that type: true is not 1, 1 is not 1.0."""
    (response,) = parse([response_with_answer([{"value": value}])], list[TaskResponse])
    read = response.response.answer[0].value
    assert type(read) is type(value)
    assert read == value
    unstructured = converter.unstructure(response)["response"]["answer"][0]["value"]
    assert type(unstructured) is type(value)


@pytest.mark.parametrize("value", ["a", True, 2, 2.5])
def test_option_value_keeps_its_json_type(value: AnswerValue) -> None:
    """A multiple-choice option's value may be a string, a number or a boolean, kept as is."""
    option = parse({"label": "L", "value": value}, ChoiceOption)
    assert type(option.value) is type(value)
    assert converter.unstructure(option) == {"label": "L", "value": value}


@pytest.mark.parametrize("value", [[1], {"a": 1}, [], {}])
def test_answer_value_of_another_type_is_an_error(value: Any) -> None:
    """An answer value that is an object or a list is refused, naming its path."""
    with pytest.raises(ResponseValidationError) as caught:
        parse([response_with_answer([{"value": value}])], list[TaskResponse])
    assert "expected a string, a number or a boolean" in str(caught.value)
    assert "$[0].response.answer[0].value" in str(caught.value)


def test_null_answer_value_reads_as_none() -> None:
    """The spec marks an answer's value nullable: null reads as None."""
    assert parse({"value": None}, ResponseAnswer) == ResponseAnswer(value=None)


@pytest.mark.parametrize("value", [None, [True], {"v": 1}])
def test_option_value_is_required_and_strict(value: Any) -> None:
    """An option's value is required: null, a list or an object is refused at $.value."""
    with pytest.raises(ResponseValidationError, match=r"\$\.value"):
        parse({"label": "L", "value": value}, ChoiceOption)


def test_answer_value_hook_does_not_depend_on_union_order() -> None:
    """The hook is found for the union however it is spelt (str | bool | int | float)."""
    reordered: Any = bool | int | float | str
    optional: Any = float | int | None | bool | str
    assert converter.structure(True, reordered) is True
    assert type(converter.structure(1, optional)) is int


def test_a_boolean_is_not_a_number() -> None:
    """A JSON true is refused where a float (a size, a bound) is expected, as for ints."""
    assert converter.structure({"type": "number", "min": 1, "max": 2.5}, ValidationRule).max == 2.5
    with pytest.raises(ResponseValidationError, match="expected a number"):
        structure_response(
            {"type": "number", "min": True}, ValidationRule, status_code=200, method="GET", url="u"
        )
