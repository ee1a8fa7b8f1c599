"""Models and the converter: the seeds' own examples, open enums, wire rules, bad bodies."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from prolific_async import Batch, BatchDataset, BatchStatus, ResponseValidationError, TaskDetails
from prolific_async._converter import converter, structure_response

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


def test_missing_task_text_reads_as_empty() -> None:
    """The create schema requires only task_name; missing intro/steps read as ''."""
    data = load("duplicate_batch_201.json")
    data["task_details"] = {"task_name": "Only a name"}
    assert parse(data).task_details == TaskDetails(
        task_name="Only a name", task_introduction="", task_steps=""
    )


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


def test_datetimes_unstructure_as_utc_with_z() -> None:
    """Datetimes are written as ISO-8601 UTC with a Z suffix."""
    batch = parse(load("get_batch_200.json"))
    assert converter.unstructure(batch)["created_at"] == "2024-01-15T09:30:00Z"


def test_models_are_frozen() -> None:
    """Models are immutable values."""
    batch = parse(load("get_batch_200.json"))
    with pytest.raises(AttributeError):
        batch.name = "changed"  # type: ignore[misc]
