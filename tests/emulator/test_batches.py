"""Batches in the emulator: create, get, update, duplicate, list and add_batch.

Checked twice where it matters: through the real ProlificClient (what users see) and
through raw aiohttp requests (what goes over the wire, key order included).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from prolific_async import BadRequestError, ProlificClient, TaskDetails
from prolific_async.testing import FakeProlific, StoredBatch

from .conftest import (
    BATCHES,
    DATASETS,
    REQUIRED,
    STRICT_SCHEMA,
    TASK,
    TASK_DETAILS,
    WORKSPACE,
    call,
    create_body,
    upload,
)

FIXTURES = Path(__file__).parent.parent / "fixtures"


#: Keys the docs' current Batch object adds after the recorded fixtures' (null/false here).
LAYOUT_KEYS = ["batch_items", "auto_sync_enabled"]


def fixture_keys(name: str) -> list[str]:
    """The top-level keys, in order, of a recorded API response in tests/fixtures."""
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return list(data)


# -- shapes and state ------------------------------------------------------------------


async def test_create_answers_201_in_the_create_shape(
    prolific_fake: FakeProlific, fake_http: aiohttp.ClientSession
) -> None:
    """Create answers 201 with the seed's keys in order, without schema_version etc."""
    dataset = prolific_fake.add_dataset(total_datapoint_count=7, filename="rows.csv")
    status, body, _ = await call(
        fake_http, "POST", BATCHES, json=create_body(dataset_id=dataset.id)
    )
    assert status == 201
    assert list(body) == fixture_keys("duplicate_batch_201.json")
    assert body["datasets"] == [{"id": dataset.id, "total_datapoint_count": 7}]
    assert body["status"] == "UNINITIALISED"
    assert (body["total_task_count"], body["total_instruction_count"]) == (0, 0)
    stored = prolific_fake.batches[body["id"]]
    assert (stored.name, stored.workspace_id, stored.dataset_ids) == (
        "Batch A",
        WORKSPACE,
        [dataset.id],
    )
    assert stored.task_details == TASK_DETAILS


async def test_get_and_update_answer_200_in_the_full_shape(
    prolific_fake: FakeProlific, fake_http: aiohttp.ClientSession
) -> None:
    """Get and update answer 200 with every Batch field, dataset filename included."""
    dataset = prolific_fake.add_dataset(total_datapoint_count=3, filename="rows.csv")
    batch = prolific_fake.add_batch(dataset_ids=[dataset.id])
    status, got, _ = await call(fake_http, "GET", f"{BATCHES}/{batch.id}")
    assert status == 200
    assert list(got) == [*fixture_keys("get_batch_200.json"), *LAYOUT_KEYS]
    assert got["datasets"] == [
        {"id": dataset.id, "total_datapoint_count": 3, "filename": "rows.csv"}
    ]
    assert (got["schema_version"], got["total_task_groups"]) == (1, 0)
    status, updated, _ = await call(fake_http, "PATCH", f"{BATCHES}/{batch.id}", json={"name": "B"})
    assert status == 200
    assert list(updated) == [*fixture_keys("update_batch_200.json"), *LAYOUT_KEYS]
    assert updated == {**got, "name": "B"}


async def test_a_datasets_filename_is_always_a_string(
    prolific_fake: FakeProlific,
    fake_http: aiohttp.ClientSession,
    storage_http: aiohttp.ClientSession,
) -> None:
    """A V4 dataset's entry shows its latest upload's name, or the dataset's name before one."""
    body = {"name": "Prompts", "workspace_id": WORKSPACE, "schema": STRICT_SCHEMA}
    dataset_id = (await call(fake_http, "POST", DATASETS, json=body))[1]["id"]
    blank = prolific_fake.add_dataset(filename=None, status="UNINITIALISED", name="Empty V3")
    batch = prolific_fake.add_batch(dataset_ids=[dataset_id, blank.id])

    async def filenames() -> list[str]:
        got = (await call(fake_http, "GET", f"{BATCHES}/{batch.id}"))[1]
        return [entry["filename"] for entry in got["datasets"]]

    assert await filenames() == ["Prompts", "Empty V3"]
    await upload(fake_http, storage_http, dataset_id, "prompts.jsonl", b'{"prompt": "p"}\n')
    assert await filenames() == ["prompts.jsonl", "Empty V3"]


async def test_client_round_trip_matches_the_stored_state(
    prolific_fake: FakeProlific, prolific_client: ProlificClient
) -> None:
    """create, get, update, duplicate and list through the client agree with fake.batches."""
    dataset = prolific_fake.add_dataset()
    created = await prolific_client.batches.create(
        name="A", workspace_id=WORKSPACE, task_details=TASK_DETAILS, dataset_id=dataset.id
    )
    assert created.schema_version is None  # the create response leaves it out
    assert prolific_fake.batches[created.id].created_at == created.created_at
    fetched = await prolific_client.batches.get(created.id)
    assert (fetched.name, fetched.schema_version, fetched.datasets[0].filename) == (
        "A",
        1,
        "dataset.csv",
    )
    updated = await prolific_client.batches.update(created.id, name="A2")
    assert updated.name == prolific_fake.batches[created.id].name == "A2"
    copy = await prolific_client.batches.duplicate(created.id)
    assert copy.name == "A2 (Copy)"
    listed = await prolific_client.batches.list(WORKSPACE)
    assert [batch.id for batch in listed] == [created.id, copy.id]


async def test_ids_are_uuid4_and_created_by_is_a_user_id(prolific_fake: FakeProlific) -> None:
    """Batch ids are UUID4 strings and created_by is 24 hex characters, like the API's."""
    batch = prolific_fake.add_batch()
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", batch.id
    )
    assert re.fullmatch(r"[0-9a-f]{24}", batch.created_by)


async def test_created_at_comes_from_the_clock_in_whole_seconds(
    prolific_fake: FakeProlific, fake_http: aiohttp.ClientSession
) -> None:
    """created_at is the (skewable) clock's time, rendered with Z at whole seconds."""
    prolific_fake.clock = lambda: (
        datetime(2024, 1, 15, 9, 30, 0, 987654, tzinfo=UTC) - timedelta(hours=1)
    )
    _, body, _ = await call(fake_http, "POST", BATCHES, json=create_body())
    assert body["created_at"] == "2024-01-15T08:30:00Z"
    assert prolific_fake.batches[body["id"]].created_at == datetime(2024, 1, 15, 8, 30, tzinfo=UTC)


async def test_fractional_seconds_keeps_microseconds() -> None:
    """fractional_seconds=True renders created_at with microseconds."""
    moment = datetime(2024, 1, 15, 9, 30, 0, 123456, tzinfo=UTC)
    fake = FakeProlific(clock=lambda: moment, fractional_seconds=True)
    async with fake, fake.client() as client:
        batch = await client.batches.create(
            name="A", workspace_id=WORKSPACE, task_details=TASK_DETAILS
        )
    assert batch.created_at == moment


# -- validation ------------------------------------------------------------------------


NOT_STRING = ["Not a valid string."]


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"name": None}, {"name": ["This field may not be null."]}),
        ({"name": 5}, {"name": NOT_STRING}),
        ({"name": "  "}, {"name": ["This field may not be blank."]}),
        ({"workspace_id": ["w"]}, {"workspace_id": NOT_STRING}),
        ({"task_details": "text"}, {"task_details": {"non_field_errors": [
            "Invalid data. Expected a dictionary, but got str."]}}),
        ({"task_details": {**TASK, "task_name": 1}}, {"task_details": {"task_name": NOT_STRING}}),
        ({"task_details": {**TASK, "task_introduction": None}},
         {"task_details": {"task_introduction": ["This field may not be null."]}}),
        ({"task_details": {"task_name": "n", "task_introduction": "i"}},
         {"task_details": {"task_steps": REQUIRED}}),
        ({"dataset_id": 12}, {"dataset_id": NOT_STRING}),
    ],
)  # fmt: skip
async def test_create_rejects_a_wrongly_typed_field_with_400(
    prolific_fake: FakeProlific, fake_http: aiohttp.ClientSession, body: dict[str, Any], detail: Any
) -> None:
    """A wrongly typed field answers 400 with the nested error body naming it."""
    status, answer, _ = await call(fake_http, "POST", BATCHES, json=create_body(**body))
    assert status == 400
    assert answer == {
        "error": {"status": 400, "error_code": 140100, "title": "Bad Request", "detail": detail}
    }
    assert prolific_fake.batches == {}


@pytest.mark.parametrize("missing", ["name", "workspace_id", "task_details"])
async def test_create_rejects_a_missing_required_field_with_400(
    fake_http: aiohttp.ClientSession, missing: str
) -> None:
    """Leaving out name, workspace_id or task_details answers 400 naming the field."""
    body = create_body()
    del body[missing]
    status, answer, _ = await call(fake_http, "POST", BATCHES, json=body)
    assert (status, answer["error"]["detail"]) == (400, {missing: REQUIRED})


@pytest.mark.parametrize("missing", ["task_name", "task_introduction", "task_steps"])
async def test_create_rejects_a_missing_task_detail_with_400(
    fake_http: aiohttp.ClientSession, missing: str
) -> None:
    """Each of task_name, task_introduction and task_steps is required."""
    task = {key: value for key, value in TASK.items() if key != missing}
    status, answer, _ = await call(fake_http, "POST", BATCHES, json=create_body(task_details=task))
    assert (status, answer["error"]["detail"]) == (400, {"task_details": {missing: REQUIRED}})


async def test_create_reports_every_bad_field_at_once(fake_http: aiohttp.ClientSession) -> None:
    """An empty body answers 400 listing all three required fields."""
    status, answer, _ = await call(fake_http, "POST", BATCHES, json={})
    assert status == 400
    assert answer["error"]["detail"] == {
        "name": REQUIRED,
        "workspace_id": REQUIRED,
        "task_details": REQUIRED,
    }


@pytest.mark.parametrize(
    ("data", "detail_start"),
    [(b"{not json", "JSON parse error - "), (b"[1, 2]", "{'non_field_errors'")],
)
async def test_a_body_that_is_not_a_json_object_answers_400(
    fake_http: aiohttp.ClientSession, data: bytes, detail_start: str
) -> None:
    """Unparseable JSON and a JSON array both answer 400."""
    headers = {"Content-Type": "application/json"}
    status, answer, _ = await call(fake_http, "POST", BATCHES, data=data, headers=headers)
    assert status == 400
    assert str(answer["error"]["detail"]).startswith(detail_start)


async def test_an_unknown_dataset_id_answers_400(
    prolific_fake: FakeProlific, prolific_client: ProlificClient
) -> None:
    """A dataset_id the fake does not know answers 400 on dataset_id (documented choice)."""
    with pytest.raises(BadRequestError, match="dataset_id") as caught:
        await prolific_client.batches.create(
            name="A", workspace_id=WORKSPACE, task_details=TASK_DETAILS, dataset_id="nope"
        )
    assert caught.value.body["error"]["detail"] == {
        "dataset_id": ['Invalid pk "nope" - object does not exist.']
    }
    assert prolific_fake.batches == {}


async def test_update_applies_only_the_given_fields(
    prolific_fake: FakeProlific, prolific_client: ProlificClient
) -> None:
    """PATCH changes exactly the fields it sends; an empty body changes nothing."""
    first, second = prolific_fake.add_dataset(), prolific_fake.add_dataset()
    batch = prolific_fake.add_batch(name="Old", dataset_ids=[first.id])
    unchanged = await prolific_client.batches.update(batch.id)
    assert (unchanged.name, unchanged.datasets[0].id) == ("Old", first.id)
    new_task = TaskDetails(task_name="N", task_introduction="", task_steps="")
    updated = await prolific_client.batches.update(
        batch.id, task_details=new_task, dataset_id=second.id
    )
    assert (updated.name, updated.task_details, [d.id for d in updated.datasets]) == (
        "Old",
        new_task,
        [second.id],
    )
    assert prolific_fake.batches[batch.id].dataset_ids == [second.id]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": 1}, "name"),
        ({"task_details": {"task_name": "only"}}, "task_details"),
        ({"dataset_id": False}, "dataset_id"),
        ({"dataset_id": "unknown"}, "dataset_id"),
    ],
)
async def test_update_rejects_bad_fields_with_400_and_changes_nothing(
    prolific_fake: FakeProlific, fake_http: aiohttp.ClientSession, body: dict[str, Any], field: str
) -> None:
    """A bad field in a PATCH answers 400 naming it, and the batch is left as it was."""
    batch = prolific_fake.add_batch(name="Keep")
    status, answer, _ = await call(
        fake_http, "PATCH", f"{BATCHES}/{batch.id}", json={"name": "X", **body}
    )
    assert status == 400
    assert list(answer["error"]["detail"]) == [field]
    assert prolific_fake.batches[batch.id].name == "Keep"


async def test_duplicate_shares_the_dataset_and_names_the_copy(
    prolific_fake: FakeProlific, fake_http: aiohttp.ClientSession
) -> None:
    """Duplicate answers 201 named "<name> (Copy)", sharing the original's dataset."""
    dataset = prolific_fake.add_dataset(total_datapoint_count=9)
    original = prolific_fake.add_batch(name="Orig", dataset_ids=[dataset.id])
    original.total_instruction_count = 4
    status, body, _ = await call(fake_http, "POST", f"{BATCHES}/{original.id}/duplicate")
    assert status == 201
    assert list(body) == fixture_keys("duplicate_batch_201.json")
    assert (body["name"], body["datasets"], body["total_instruction_count"]) == (
        "Orig (Copy)",
        [{"id": dataset.id, "total_datapoint_count": 9}],
        4,
    )
    assert body["id"] != original.id
    assert prolific_fake.batches[body["id"]].dataset_ids == [dataset.id]


async def test_duplicate_with_upload_new_dataset_leaves_the_dataset_behind(
    prolific_fake: FakeProlific, prolific_client: ProlificClient
) -> None:
    """upload_new_dataset=True gives a copy with no dataset; name= overrides the default."""
    dataset = prolific_fake.add_dataset()
    original = prolific_fake.add_batch(name="Orig", dataset_ids=[dataset.id])
    copy = await prolific_client.batches.duplicate(
        original.id, name="Fresh", upload_new_dataset=True
    )
    assert (copy.name, copy.datasets) == ("Fresh", [])
    assert prolific_fake.batches[original.id].dataset_ids == [dataset.id]


@pytest.mark.parametrize(
    ("body", "field"),
    [({"upload_new_dataset": "yes"}, "upload_new_dataset"), ({"name": 3}, "name")],
)
async def test_duplicate_rejects_bad_types_with_400(
    prolific_fake: FakeProlific, fake_http: aiohttp.ClientSession, body: dict[str, Any], field: str
) -> None:
    """A wrongly typed name or upload_new_dataset answers 400 and copies nothing."""
    original = prolific_fake.add_batch()
    status, answer, _ = await call(
        fake_http, "POST", f"{BATCHES}/{original.id}/duplicate", json=body
    )
    assert (status, list(answer["error"]["detail"])) == (400, [field])
    assert list(prolific_fake.batches) == [original.id]


# -- list ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [BATCHES, BATCHES + "/"])
async def test_list_returns_the_workspace_batches_in_full(
    prolific_fake: FakeProlific, fake_http: aiohttp.ClientSession, path: str
) -> None:
    """List (with or without the trailing slash) returns results and meta.count."""
    mine = [prolific_fake.add_batch(name="1"), prolific_fake.add_batch(name="2")]
    prolific_fake.add_batch(workspace_id="other")
    status, body, _ = await call(fake_http, "GET", path, params={"workspace_id": WORKSPACE})
    assert status == 200
    assert body["meta"] == {"count": 2}
    assert [item["id"] for item in body["results"]] == [batch.id for batch in mine]
    assert list(body["results"][0]) == [*fixture_keys("get_batch_200.json"), *LAYOUT_KEYS]


@pytest.mark.parametrize(
    ("params", "message"),
    [({}, "This field is required."), ({"workspace_id": ""}, "This field may not be blank.")],
)
async def test_list_without_a_workspace_answers_400(
    fake_http: aiohttp.ClientSession, params: dict[str, str], message: str
) -> None:
    """List requires workspace_id."""
    status, body, _ = await call(fake_http, "GET", BATCHES, params=params)
    assert (status, body["error"]["detail"]) == (400, {"workspace_id": [message]})


# -- seeding ---------------------------------------------------------------------------


def test_add_batch_stores_a_batch_and_rejects_unknown_ids() -> None:
    """add_batch stores under a given or drawn id; unknown datasets and taken ids are errors."""
    fake = FakeProlific()
    staged = fake.add_batch(batch_id="template-1", name="Template")
    assert fake.batches == {"template-1": staged}
    assert isinstance(staged, StoredBatch)
    with pytest.raises(ValueError, match="add_dataset"):
        fake.add_batch(dataset_ids=["nope"])
    with pytest.raises(ValueError, match="already"):
        fake.add_batch(batch_id="template-1")
    assert list(fake.batches) == ["template-1"]
