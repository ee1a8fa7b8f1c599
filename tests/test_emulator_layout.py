"""The emulator's batch layout (batch_items) and auto_sync_enabled on create, update, get.

Checked over raw aiohttp requests (the wire contract: ids, echoed keys, the 422 body with
its locations) and through the real client (typed pages, UnprocessableEntityError).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from prolific_async import ProlificClient, TaskDetails, UnprocessableEntityError
from prolific_async.models import (
    ChoiceOption,
    Column,
    DatasetFieldItem,
    FileUploadItem,
    FreeTextItem,
    FreeTextWithUnitItem,
    ImageItem,
    MultipleChoiceItem,
    MultipleChoiceWithFreeTextItem,
    Page,
    RichTextItem,
    Row,
    UnitOption,
    UnknownItem,
    ValidationRule,
    VideoNarrationItem,
)
from prolific_async.testing import FAST_RETRY_POLICY, FakeProlific, StoredDataset

BATCHES = "/api/v1/data-collection/batches"
WORKSPACE = "6278acb09062db3b35bcbeb0"
TASK = {"task_name": "Rate it", "task_introduction": "<p>Hi</p>", "task_steps": "<ol></ol>"}
TASK_DETAILS = TaskDetails(**TASK)
SCHEMA = {
    "fields": {
        "prompt": {"type": "text"},
        "picture": {"type": "image_url"},
        "clip": {"type": "audio_url"},
        "movie": {"type": "video_url"},
        "notes": {"type": "metadata"},
        "group": {"type": "task_group_id"},
    }
}
UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
INSTRUCTIONS = 6  # the instruction items of LAYOUT

#: A layout with every item type, an unknown key on a page and on an item, and no ids.
LAYOUT: list[dict[str, Any]] = [
    {
        "display_position": "intro",
        "rows": [
            {
                "columns": [
                    {
                        "items": [
                            {
                                "type": "rich_text",
                                "content": "**Hi**",
                                "content_format": "markdown",
                            },
                            {"type": "image", "url": "https://cdn.test.invalid/a.png"},
                        ]
                    }
                ]
            }
        ],
    },
    {
        "theme": "dark",
        "rows": [
            {
                "columns": [
                    {"items": [{"type": "dataset_field", "field": "prompt"}]},
                    {"items": [{"type": "dataset_field", "field": "picture", "zoom": 2}]},
                ]
            },
            {
                "columns": [
                    {
                        "items": [
                            {
                                "type": "multiple_choice",
                                "description": "Which?",
                                "answer_limit": 2,
                                "options": [
                                    {"label": "A", "value": "a"},
                                    {"label": "B", "value": "b", "exclusive": True},
                                ],
                            },
                            {
                                "type": "multiple_choice_with_free_text",
                                "description": "Sentiment?",
                                "options": [{"label": "Good", "value": "g", "heading": "Why?"}],
                            },
                            {
                                "type": "free_text",
                                "description": "Explain.",
                                "validation": {"type": "string", "min": 10, "max": 500},
                            },
                            {
                                "type": "free_text_with_unit",
                                "description": "Temperature?",
                                "unit_options": [
                                    {
                                        "label": "°C",
                                        "value": "celsius",
                                        "validation": {"type": "number", "min": 30, "max": 45},
                                    }
                                ],
                                "unit_position": "suffix",
                                "default_unit": "celsius",
                            },
                            {
                                "type": "file_upload",
                                "description": "Upload.",
                                "max_file_size_mb": 10.5,
                                "min_file_count": 1,
                                "max_file_count": 3,
                            },
                            {"type": "video_narration", "description": "Narrate."},
                        ]
                    }
                ]
            },
        ],
    },
]

#: The same layout as the client's typed pages.
PAGES = [
    Page(
        display_position="intro",
        rows=[Row(columns=[Column(items=[RichTextItem(content="<p>Welcome</p>")])])],
    ),
    Page(
        rows=[
            Row(
                columns=[
                    Column(items=[DatasetFieldItem(field="prompt")]),
                    Column(items=[DatasetFieldItem(field="movie"), ImageItem(url="https://x/a")]),
                ]
            ),
            Row(
                columns=[
                    Column(
                        items=[
                            MultipleChoiceItem(
                                description="Which?",
                                options=[ChoiceOption(label="A", value="a")],
                                answer_limit=1,
                            ),
                            MultipleChoiceWithFreeTextItem(
                                description="Why?",
                                options=[ChoiceOption(label="B", value="b", heading="Say")],
                            ),
                            FreeTextItem(
                                description="Explain.",
                                validation=ValidationRule(type="string", min=1, max=9),
                            ),
                            FreeTextWithUnitItem(
                                description="Weight?",
                                unit_options=[UnitOption(label="kg", value="kg")],
                                unit_position="prefix",
                            ),
                            FileUploadItem(description="Upload.", max_file_count=2),
                            VideoNarrationItem(description="Narrate.", extra={"max_s": 60}),
                        ]
                    )
                ]
            ),
        ]
    ),
]


@pytest.fixture
async def fake() -> AsyncIterator[FakeProlific]:
    """A started emulator with the default seed."""
    async with FakeProlific() as fake:
        yield fake


@pytest.fixture
def dataset(fake: FakeProlific) -> StoredDataset:
    """A processed V4 dataset whose schema has every field type."""
    return fake.add_dataset(schema=SCHEMA, records=[{"prompt": "p", "group": "g1"}])


@pytest.fixture
async def http(fake: FakeProlific) -> AsyncIterator[aiohttp.ClientSession]:
    """A raw session sending the fake's token; no keep-alive, so no hidden resends."""
    async with aiohttp.ClientSession(
        base_url=fake.url,
        headers={"Authorization": f"Token {fake.token}"},
        connector=aiohttp.TCPConnector(force_close=True),
    ) as session:
        yield session


@pytest.fixture
async def client(fake: FakeProlific) -> AsyncIterator[ProlificClient]:
    """The real client, bound to the emulator, with millisecond backoff."""
    async with fake.client(retry=FAST_RETRY_POLICY) as client:
        yield client


async def call(
    http: aiohttp.ClientSession, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    """Send one raw request with a JSON body; return the status and the decoded body."""
    async with http.request(method, path, json=body) as response:
        return response.status, json.loads(await response.text())


def create_body(**overrides: Any) -> dict[str, Any]:
    """A valid Create a Batch body, with some fields replaced."""
    return {"name": "Batch A", "workspace_id": WORKSPACE, "task_details": dict(TASK), **overrides}


def entries(pages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every page, row, column and item of a layout, outermost first."""
    rows = [row for page in pages for row in page["rows"]]
    columns = [column for row in rows for column in row["columns"]]
    items = [item for column in columns for item in column["items"]]
    return [*pages, *rows, *columns, *items]


def without_ids(value: Any) -> Any:
    """A layout with every ``id`` key removed, to compare it with what was sent."""
    if isinstance(value, dict):
        return {key: without_ids(item) for key, item in value.items() if key != "id"}
    if isinstance(value, list):
        return [without_ids(item) for item in value]
    return value


def dotted(loc: list[Any]) -> str:
    """A 422 ``loc`` as the client words it: ``batch_items[0].rows[1].field``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else part
    return text


def one_item(item: dict[str, Any], **page: Any) -> list[dict[str, Any]]:
    """A one-page layout holding one item (and the page's extra keys)."""
    return [{**page, "rows": [{"columns": [{"items": [item]}]}]}]


# -- create, get, list, duplicate ------------------------------------------------------


async def test_every_item_type_round_trips_with_ids(
    fake: FakeProlific, dataset: StoredDataset, http: aiohttp.ClientSession
) -> None:
    """A layout of every item type is stored and echoed whole, with a uuid4 on each entry."""
    status, created = await call(
        http, "POST", BATCHES, create_body(dataset_id=dataset.id, batch_items=LAYOUT)
    )
    assert status == 201
    layout = created["batch_items"]
    assert without_ids(layout) == LAYOUT
    ids = [entry["id"] for entry in entries(layout)]
    assert len(ids) == len(set(ids)) == 2 + 3 + 4 + 10
    assert all(UUID4.fullmatch(key) for key in ids)
    assert all(next(iter(entry)) == "id" for entry in entries(layout))
    assert (created["auto_sync_enabled"], created["total_instruction_count"]) == (
        False,
        INSTRUCTIONS,
    )
    status, got = await call(http, "GET", f"{BATCHES}/{created['id']}")
    assert (status, got["batch_items"], got["auto_sync_enabled"]) == (200, layout, False)
    assert fake.batches[created["id"]].batch_items == layout
    _, listed = await call(http, "GET", f"{BATCHES}?workspace_id={WORKSPACE}")
    assert listed["results"][0]["batch_items"] == layout


async def test_create_without_layout_keys_leaves_them_out(
    http: aiohttp.ClientSession,
) -> None:
    """A create without the new fields answers the older shape; get shows null and false."""
    status, created = await call(http, "POST", BATCHES, create_body())
    assert status == 201
    assert "batch_items" not in created
    assert "auto_sync_enabled" not in created
    _, got = await call(http, "GET", f"{BATCHES}/{created['id']}")
    assert (got["batch_items"], got["auto_sync_enabled"]) == (None, False)
    assert list(got)[-2:] == ["batch_items", "auto_sync_enabled"]


async def test_auto_sync_enabled_is_stored_and_rendered(
    fake: FakeProlific, http: aiohttp.ClientSession
) -> None:
    """auto_sync_enabled given on create comes back there and on get; update flips it."""
    status, created = await call(http, "POST", BATCHES, create_body(auto_sync_enabled=True))
    assert (status, created["auto_sync_enabled"], created["batch_items"]) == (201, True, None)
    path = f"{BATCHES}/{created['id']}"
    status, updated = await call(http, "PATCH", path, {"auto_sync_enabled": False})
    assert (status, updated["auto_sync_enabled"]) == (200, False)
    assert fake.batches[created["id"]].auto_sync_enabled is False
    _, got = await call(http, "GET", path)
    assert got["auto_sync_enabled"] is False


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (
            {"batch_items": "pages"},
            {"batch_items": ['Expected a list of items but got type "str".']},
        ),
        (
            {"batch_items": {"rows": []}},
            {"batch_items": ['Expected a list of items but got type "dict".']},
        ),
        ({"auto_sync_enabled": "yes"}, {"auto_sync_enabled": ["Must be a valid boolean."]}),
        ({"auto_sync_enabled": None}, {"auto_sync_enabled": ["This field may not be null."]}),
    ],
    ids=["items-str", "items-object", "sync-str", "sync-null"],
)
async def test_wrong_top_level_types_answer_400(
    http: aiohttp.ClientSession, body: dict[str, Any], detail: dict[str, Any]
) -> None:
    """batch_items that is not an array, or a non-bool auto_sync_enabled, is a 400."""
    status, answer = await call(http, "POST", BATCHES, create_body(**body))
    assert (status, answer["error"]["detail"]) == (400, detail)
    _, created = await call(http, "POST", BATCHES, create_body())
    status, answer = await call(http, "PATCH", f"{BATCHES}/{created['id']}", body)
    assert (status, answer["error"]["detail"]) == (400, detail)


async def test_null_batch_items_on_create_is_absent(http: aiohttp.ClientSession) -> None:
    """batch_items: null on create is taken as absent: no layout, the older shape."""
    status, created = await call(http, "POST", BATCHES, create_body(batch_items=None))
    assert status == 201
    assert "batch_items" not in created


async def test_field_errors_answer_400_before_the_layout_422(
    fake: FakeProlific, http: aiohttp.ClientSession
) -> None:
    """A body with a bad field and a bad layout gets the 400; nothing is stored."""
    body = create_body(name="", batch_items=[])
    status, answer = await call(http, "POST", BATCHES, body)
    assert (status, answer["error"]["detail"]) == (400, {"name": ["This field may not be blank."]})
    assert fake.batches == {}


async def test_unknown_fields_are_ignored(
    fake: FakeProlific, dataset: StoredDataset, http: aiohttp.ClientSession
) -> None:
    """Unknown top-level body fields are ignored; unknown layout keys are kept and echoed."""
    layout = one_item({"type": "dataset_field", "field": "clip", "autoplay": True}, theme="x")
    body = create_body(dataset_id=dataset.id, batch_items=layout, colour="red", priority=3)
    status, created = await call(http, "POST", BATCHES, body)
    assert status == 201
    assert "colour" not in created
    assert without_ids(created["batch_items"]) == layout
    status, updated = await call(
        http, "PATCH", f"{BATCHES}/{created['id']}", {"colour": "blue", "name": "B"}
    )
    assert (status, updated["name"], "colour" in updated) == (200, "B", False)
    assert updated["batch_items"] == created["batch_items"]


async def test_duplicate_copies_the_layout_with_new_ids(
    fake: FakeProlific, dataset: StoredDataset, http: aiohttp.ClientSession
) -> None:
    """A duplicate has the same layout and auto-sync, every entry under a new id."""
    body = create_body(dataset_id=dataset.id, batch_items=LAYOUT, auto_sync_enabled=True)
    _, created = await call(http, "POST", BATCHES, body)
    status, copied = await call(http, "POST", f"{BATCHES}/{created['id']}/duplicate", {})
    assert status == 201
    assert without_ids(copied["batch_items"]) == LAYOUT
    assert (copied["auto_sync_enabled"], copied["total_instruction_count"]) == (
        True,
        INSTRUCTIONS,
    )
    old = {entry["id"] for entry in entries(created["batch_items"])}
    new = {entry["id"] for entry in entries(copied["batch_items"])}
    assert len(new) == len(old)
    assert not old & new
    assert fake.batches[created["id"]].batch_items == created["batch_items"]


async def test_duplicate_of_a_legacy_batch_keeps_the_older_shape(
    fake: FakeProlific, http: aiohttp.ClientSession
) -> None:
    """Duplicating a batch without layout or auto-sync answers without the two keys."""
    batch = fake.add_batch()
    status, copied = await call(http, "POST", f"{BATCHES}/{batch.id}/duplicate", {})
    assert status == 201
    assert "batch_items" not in copied
    assert fake.batches[copied["id"]].batch_items is None


# -- update ----------------------------------------------------------------------------


async def test_update_keeps_given_ids_and_drops_omitted_entries(
    fake: FakeProlific, dataset: StoredDataset, http: aiohttp.ClientSession
) -> None:
    """Entries keeping their id stay, entries without one get a new id, omitted ones go."""
    _, created = await call(
        http, "POST", BATCHES, create_body(dataset_id=dataset.id, batch_items=LAYOUT)
    )
    before = created["batch_items"]
    page = copy.deepcopy(before[1])
    page["rows"] = [page["rows"][1]]  # drop the dataset-field row
    column = page["rows"][0]["columns"][0]
    kept = column["items"][2]  # free_text, edited in place
    kept["description"] = "Explain more."
    column["items"] = [kept, {"type": "rich_text", "content": "<p>New</p>"}]
    status, updated = await call(
        http, "PATCH", f"{BATCHES}/{created['id']}", {"batch_items": [page]}
    )
    assert status == 200
    (new_page,) = updated["batch_items"]  # the intro page was omitted: removed
    assert new_page["id"] == before[1]["id"]
    assert new_page["rows"][0]["id"] == before[1]["rows"][1]["id"]
    new_kept, added = new_page["rows"][0]["columns"][0]["items"]
    assert new_kept == {**kept, "description": "Explain more."}
    old_ids = {entry["id"] for entry in entries(before)}
    assert UUID4.fullmatch(added["id"])
    assert added["id"] not in old_ids
    assert added == {"id": added["id"], "type": "rich_text", "content": "<p>New</p>"}
    assert updated["total_instruction_count"] == 1
    assert fake.batches[created["id"]].batch_items == updated["batch_items"]


async def test_update_null_clears_the_layout(
    fake: FakeProlific, dataset: StoredDataset, http: aiohttp.ClientSession
) -> None:
    """batch_items: null removes the layout and its instructions, and nothing else."""
    body = create_body(dataset_id=dataset.id, batch_items=LAYOUT, auto_sync_enabled=True)
    _, created = await call(http, "POST", BATCHES, body)
    status, updated = await call(http, "PATCH", f"{BATCHES}/{created['id']}", {"batch_items": None})
    assert status == 200
    assert (updated["batch_items"], updated["total_instruction_count"]) == (None, 0)
    assert (updated["name"], updated["auto_sync_enabled"]) == ("Batch A", True)
    assert fake.batches[created["id"]].batch_items is None


async def test_update_without_batch_items_leaves_the_layout(
    dataset: StoredDataset, http: aiohttp.ClientSession
) -> None:
    """An update that does not name batch_items keeps the layout and its ids."""
    _, created = await call(
        http, "POST", BATCHES, create_body(dataset_id=dataset.id, batch_items=LAYOUT)
    )
    _, updated = await call(http, "PATCH", f"{BATCHES}/{created['id']}", {"name": "Renamed"})
    assert updated["batch_items"] == created["batch_items"]
    assert updated["total_instruction_count"] == INSTRUCTIONS


async def test_update_with_unknown_or_repeated_ids_answers_422(
    fake: FakeProlific, dataset: StoredDataset, http: aiohttp.ClientSession
) -> None:
    """An id not in the current layout at that level, or given twice, is a 422 at its id."""
    _, created = await call(
        http, "POST", BATCHES, create_body(dataset_id=dataset.id, batch_items=LAYOUT)
    )
    layout = copy.deepcopy(created["batch_items"])
    row_id = layout[0]["rows"][0]["id"]
    layout[0]["id"] = row_id  # a row's id given to a page
    layout[1]["rows"][1]["columns"][0]["items"][1]["id"] = layout[1]["rows"][1]["columns"][0][
        "items"
    ][0]["id"]
    status, answer = await call(
        http, "PATCH", f"{BATCHES}/{created['id']}", {"batch_items": layout, "name": "New"}
    )
    assert status == 422
    assert [(issue["loc"], issue["type"]) for issue in answer["error"]["detail"]] == [
        (["batch_items", 0, "id"], "value_error"),
        (["batch_items", 1, "rows", 1, "columns", 0, "items", 1, "id"], "value_error"),
    ]
    assert "unknown id" in answer["error"]["detail"][0]["msg"]
    assert "another item" in answer["error"]["detail"][1]["msg"]
    assert fake.batches[created["id"]].name == "Batch A"  # a 422 applies nothing
    assert fake.batches[created["id"]].batch_items == created["batch_items"]


async def test_update_checks_dataset_fields_against_the_dataset_it_attaches(
    fake: FakeProlific, dataset: StoredDataset, http: aiohttp.ClientSession
) -> None:
    """A dataset_field is checked against the dataset_id the same request attaches."""
    legacy = fake.add_dataset()
    _, created = await call(http, "POST", BATCHES, create_body(dataset_id=legacy.id))
    layout = one_item({"type": "dataset_field", "field": "movie"})
    path = f"{BATCHES}/{created['id']}"
    status, _ = await call(http, "PATCH", path, {"batch_items": layout})
    assert status == 422
    status, updated = await call(
        http, "PATCH", path, {"batch_items": layout, "dataset_id": dataset.id}
    )
    assert status == 200
    assert updated["datasets"][0]["id"] == dataset.id


# -- validation: one 422 per rule ------------------------------------------------------

FT = {"type": "free_text", "description": "Explain."}
MC = {"type": "multiple_choice", "description": "Which?", "options": [{"label": "A", "value": "a"}]}
UNIT = {
    "type": "free_text_with_unit",
    "description": "Weight?",
    "unit_options": [{"label": "kg", "value": "kg"}],
    "unit_position": "suffix",
}
ITEM = ["batch_items", 0, "rows", 0, "columns", 0, "items", 0]
ROW = ["batch_items", 0, "rows", 0]


def item_case(item: dict[str, Any], key: str | None, message: str) -> tuple[Any, ...]:
    """A case whose one item is wrong: its layout, the issue's loc and a message part."""
    return (one_item(item), [*ITEM, key] if key else ITEM, message)


#: (layout, loc, part of the message); every case names one problem.
CASES: dict[str, tuple[Any, ...]] = {
    "empty-layout": ([], ["batch_items"], "at least one page"),
    "page-not-object": (["page"], ["batch_items", 0], "a page must be an object"),
    "page-without-rows": ([{}], ["batch_items", 0, "rows"], "needs a rows array"),
    "page-with-no-row": ([{"rows": []}], ["batch_items", 0, "rows"], "at least one row"),
    "display-position": (
        one_item(FT, display_position="sidebar"),
        ["batch_items", 0, "display_position"],
        "intro, body, outro",
    ),
    "row-without-columns": ([{"rows": [{}]}], [*ROW, "columns"], "needs a columns array"),
    "row-with-no-column": ([{"rows": [{"columns": []}]}], [*ROW, "columns"], "at least one"),
    "row-with-3-columns": (
        [{"rows": [{"columns": [{"items": [FT]}] * 3}]}],
        [*ROW, "columns"],
        "1 or 2 columns, not 3",
    ),
    "column-without-items": (
        [{"rows": [{"columns": [{}]}]}],
        [*ROW, "columns", 0, "items"],
        "items array",
    ),
    "column-with-no-item": (
        [{"rows": [{"columns": [{"items": []}]}]}],
        [*ROW, "columns", 0, "items"],
        "at least one item",
    ),
    "item-not-object": ([{"rows": [{"columns": [{"items": [3]}]}]}], ITEM, "must be an object"),
    "item-without-type": item_case({"description": "x"}, "type", "string type"),
    "item-unknown-type": item_case({"type": "slider"}, "type", "unknown item type 'slider'"),
    "dataset-field-no-field": item_case({"type": "dataset_field"}, "field", "field is required"),
    "image-no-url": item_case({"type": "image", "url": ""}, "url", "non-empty string"),
    "rich-text-no-content": item_case({"type": "rich_text"}, "content", "content is required"),
    "rich-text-format": item_case(
        {"type": "rich_text", "content": "x", "content_format": "pdf"}, "content_format", "html"
    ),
    "instruction-no-description": item_case({"type": "video_narration"}, "description", "required"),
    "choice-no-options": item_case({**MC, "options": []}, "options", "non-empty list"),
    "choice-option-label": (
        one_item({**MC, "options": [{"value": "a"}]}),
        [*ITEM, "options", 0, "label"],
        "label is required",
    ),
    "choice-heading": (
        one_item({**MC, "type": "multiple_choice_with_free_text"}),
        [*ITEM, "options", 0, "heading"],
        "heading is required",
    ),
    "choice-values-unique": (
        one_item({**MC, "options": [{"label": "A", "value": "a"}, {"label": "B", "value": "a"}]}),
        [*ITEM, "options", 1, "value"],
        "used twice",
    ),
    "answer-limit-too-big": item_case(
        {**MC, "answer_limit": 3},
        "answer_limit",
        "answer_limit (3) exceeds the number of options (1)",
    ),
    "answer-limit-zero": item_case({**MC, "answer_limit": 0}, "answer_limit", "at least 1"),
    "answer-limit-not-int": item_case({**MC, "answer_limit": True}, "answer_limit", "an integer"),
    "unit-options-empty": item_case({**UNIT, "unit_options": []}, "unit_options", "non-empty"),
    "unit-position-missing": item_case(
        {key: value for key, value in UNIT.items() if key != "unit_position"},
        "unit_position",
        "unit_position is required",
    ),
    "unit-position-bad": item_case({**UNIT, "unit_position": "above"}, "unit_position", "prefix"),
    "default-unit": item_case({**UNIT, "default_unit": "lb"}, "default_unit", "not a unit option"),
    "validation-type": (
        one_item({**FT, "validation": {"type": "date"}}),
        [*ITEM, "validation", "type"],
        "string, number",
    ),
    "validation-min-max": item_case(
        {**FT, "validation": {"type": "number", "min": 5, "max": 1}},
        "validation",
        "min (5) exceeds max (1)",
    ),
    "validation-bound-type": (
        one_item({**FT, "validation": {"type": "string", "max": "9"}}),
        [*ITEM, "validation", "max"],
        "a number or null",
    ),
    "unit-option-validation": (
        one_item({**UNIT, "unit_options": [{"label": "kg", "value": "kg", "validation": {}}]}),
        [*ITEM, "unit_options", 0, "validation", "type"],
        "type is required",
    ),
    "file-size": item_case(
        {"type": "file_upload", "description": "U", "max_file_size_mb": 0},
        "max_file_size_mb",
        "above 0",
    ),
    "file-count-negative": item_case(
        {"type": "file_upload", "description": "U", "min_file_count": -1},
        "min_file_count",
        "at least 0",
    ),
    "file-count-order": item_case(
        {"type": "file_upload", "description": "U", "min_file_count": 3, "max_file_count": 2},
        "min_file_count",
        "exceeds max_file_count (2)",
    ),
    "intro-instruction": (
        one_item(FT, display_position="intro"),
        ["batch_items", 0],
        "intro pages may only hold rich_text and image items",
    ),
    "outro-dataset-field": (
        one_item({"type": "dataset_field", "field": "prompt"}, display_position="outro"),
        ["batch_items", 0],
        "outro pages may only hold rich_text and image items",
    ),
    "field-not-in-schema": item_case(
        {"type": "dataset_field", "field": "nope"}, "field", "'nope' is not in the dataset's schema"
    ),
    "field-metadata": item_case(
        {"type": "dataset_field", "field": "notes"}, "field", "has type 'metadata'"
    ),
    "field-task-group": item_case(
        {"type": "dataset_field", "field": "group"}, "field", "has type 'task_group_id'"
    ),
    "field-twice-on-a-page": (
        [
            {
                "rows": [
                    {"columns": [{"items": [{"type": "dataset_field", "field": "prompt"}]}]},
                    {"columns": [{"items": [FT, {"type": "dataset_field", "field": "prompt"}]}]},
                ]
            }
        ],
        ["batch_items", 0, "rows", 1, "columns", 0, "items", 1, "field"],
        "'prompt' is already shown on this page",
    ),
}

#: Cases the client's typed pages cannot express (it refuses an empty layout itself).
RAW_ONLY = {
    "empty-layout",
    "page-not-object",
    "page-without-rows",
    "row-without-columns",
    "column-without-items",
    "item-not-object",
}


def as_pages(layout: list[dict[str, Any]]) -> list[Page]:
    """A layout as the client's pages, each item sent verbatim as an UnknownItem."""
    return [
        Page(
            display_position=page.get("display_position"),
            rows=[
                Row(
                    columns=[
                        Column(
                            items=[
                                UnknownItem(type=str(item.get("type")), raw=item)
                                for item in column["items"]
                            ]
                        )
                        for column in row["columns"]
                    ]
                )
                for row in page["rows"]
            ],
        )
        for page in layout
    ]


@pytest.mark.parametrize(("layout", "loc", "message"), CASES.values(), ids=list(CASES))
async def test_each_rule_answers_422_at_its_location(
    fake: FakeProlific,
    dataset: StoredDataset,
    http: aiohttp.ClientSession,
    layout: list[Any],
    loc: list[Any],
    message: str,
) -> None:
    """Create and update answer 422 INVALID_BATCH_ITEMS naming the problem's location."""
    status, answer = await call(
        http, "POST", BATCHES, create_body(dataset_id=dataset.id, batch_items=layout)
    )
    assert status == 422
    assert answer["error"] | {"detail": None} == {
        "status": 422,
        "error_code": 140122,
        "title": "Unprocessable Entity",
        "type": "INVALID_BATCH_ITEMS",
        "detail": None,
    }
    (issue,) = answer["error"]["detail"]
    assert (issue["loc"], issue["type"]) == (loc, "value_error")
    assert message in issue["msg"]
    assert fake.batches == {}
    batch = fake.add_batch(dataset_ids=[dataset.id])
    status, answer = await call(http, "PATCH", f"{BATCHES}/{batch.id}", {"batch_items": layout})
    assert (status, [issue["loc"] for issue in answer["error"]["detail"]]) == (422, [loc])


@pytest.mark.parametrize(
    ("layout", "loc", "message"),
    [case for name, case in CASES.items() if name not in RAW_ONLY],
    ids=[name for name in CASES if name not in RAW_ONLY],
)
async def test_client_error_names_the_location(
    fake: FakeProlific,
    dataset: StoredDataset,
    client: ProlificClient,
    layout: list[dict[str, Any]],
    loc: list[Any],
    message: str,
) -> None:
    """Through the client, create and update raise UnprocessableEntityError naming it."""
    pages = as_pages(layout)
    with pytest.raises(UnprocessableEntityError) as created:
        await client.batches.create(
            name="A",
            workspace_id=WORKSPACE,
            task_details=TASK_DETAILS,
            dataset_id=dataset.id,
            batch_items=pages,
        )
    assert re.search(f"{re.escape(dotted(loc))}: [^;]*{re.escape(message)}", str(created.value))
    assert created.value.status_code == 422
    batch = fake.add_batch(dataset_ids=[dataset.id])
    with pytest.raises(UnprocessableEntityError) as updated:
        await client.batches.update(batch.id, batch_items=pages)
    assert re.search(f"{re.escape(dotted(loc))}: [^;]*{re.escape(message)}", str(updated.value))


async def test_every_problem_is_reported_at_once(
    dataset: StoredDataset, http: aiohttp.ClientSession
) -> None:
    """A layout with several problems gets one detail entry for each, in layout order."""
    layout = [
        {"display_position": "intro", "rows": [{"columns": [{"items": [FT]}]}]},
        {"rows": [{"columns": [{"items": [{**MC, "answer_limit": 3}]}, {"items": []}]}]},
    ]
    status, answer = await call(
        http, "POST", BATCHES, create_body(dataset_id=dataset.id, batch_items=layout)
    )
    assert status == 422
    assert [issue["loc"] for issue in answer["error"]["detail"]] == [
        ["batch_items", 0],
        ["batch_items", 1, "rows", 0, "columns", 0, "items", 0, "answer_limit"],
        ["batch_items", 1, "rows", 0, "columns", 1, "items"],
    ]


@pytest.mark.parametrize(
    ("schema", "location", "message"),
    [
        (None, "", "dataset_field requires a V4 dataset with a schema"),
        ({"fields": {}}, ".field", "field 'prompt' is not in the dataset's schema"),
    ],
    ids=["v3-dataset", "v4-without-the-field"],
)
async def test_dataset_field_without_a_v4_schema_dataset_is_422(
    fake: FakeProlific,
    client: ProlificClient,
    schema: dict[str, Any] | None,
    location: str,
    message: str,
) -> None:
    """A dataset_field needs a V4 dataset whose schema has the field."""
    dataset = fake.add_dataset(schema=schema)
    pages = [Page(rows=[Row(columns=[Column(items=[DatasetFieldItem(field="prompt")])])])]
    with pytest.raises(UnprocessableEntityError) as raised:
        await client.batches.create(
            name="A",
            workspace_id=WORKSPACE,
            task_details=TASK_DETAILS,
            dataset_id=dataset.id,
            batch_items=pages,
        )
    assert f"batch_items[0].rows[0].columns[0].items[0]{location}: {message}" in str(raised.value)
    assert fake.batches == {}


async def test_dataset_field_without_any_dataset_is_422(client: ProlificClient) -> None:
    """A dataset_field on a batch with no dataset at all is refused at the item."""
    pages = [Page(rows=[Row(columns=[Column(items=[DatasetFieldItem(field="prompt")])])])]
    with pytest.raises(UnprocessableEntityError, match="V4 dataset with a schema") as raised:
        await client.batches.create(
            name="A", workspace_id=WORKSPACE, task_details=TASK_DETAILS, batch_items=pages
        )
    assert "batch_items[0].rows[0].columns[0].items[0]: dataset_field" in str(raised.value)


# -- through the client ---------------------------------------------------------------


async def test_client_create_update_get_round_trip(
    fake: FakeProlific, dataset: StoredDataset, client: ProlificClient
) -> None:
    """Typed pages go in; create, get and update give them back with ids, as stored."""
    created = await client.batches.create(
        name="A",
        workspace_id=WORKSPACE,
        task_details=TASK_DETAILS,
        dataset_id=dataset.id,
        batch_items=PAGES,
        auto_sync_enabled=True,
    )
    assert created.auto_sync_enabled is True
    assert created.total_instruction_count == INSTRUCTIONS
    assert created.batch_items is not None
    intro, body = created.batch_items
    assert intro.id is not None
    assert intro.display_position == "intro"
    assert intro.rows[0].columns[0].items == [
        RichTextItem(content="<p>Welcome</p>", id=intro.rows[0].columns[0].items[0].id)
    ]
    video = body.rows[1].columns[0].items[-1]
    assert isinstance(video, VideoNarrationItem)
    assert (video.description, video.extra, video.id is not None) == (
        "Narrate.",
        {"max_s": 60},
        True,
    )
    fetched = await client.batches.get(created.id)
    assert (fetched.batch_items, fetched.auto_sync_enabled) == (created.batch_items, True)

    # Keep the body page (and its first row) by id, edit one question, drop the intro.
    first_row = body.rows[0]
    question = body.rows[1].columns[0].items[0]
    assert isinstance(question, MultipleChoiceItem)
    edited = MultipleChoiceItem(
        description="Which one?", options=question.options, answer_limit=1, id=question.id
    )
    new_page = Page(id=body.id, rows=[first_row, Row(columns=[Column(items=[edited])])])
    updated = await client.batches.update(
        created.id, batch_items=[new_page], auto_sync_enabled=False
    )
    assert updated.batch_items is not None
    (page,) = updated.batch_items
    assert (page.id, page.rows[0]) == (body.id, first_row)
    assert page.rows[1].id not in {None, body.rows[1].id}
    assert page.rows[1].columns[0].items == [edited]
    assert (updated.auto_sync_enabled, updated.total_instruction_count) == (False, 1)
    stored = fake.batches[created.id].batch_items
    assert stored is not None
    assert stored[0]["id"] == body.id

    cleared = await client.batches.update(created.id, batch_items=None)
    assert (cleared.batch_items, cleared.total_instruction_count) == (None, 0)
    assert (await client.batches.get(created.id)).batch_items is None


async def test_client_duplicate_and_list_carry_the_layout(
    dataset: StoredDataset, client: ProlificClient
) -> None:
    """duplicate() returns the layout under new ids; list() shows every batch's layout."""
    created = await client.batches.create(
        name="A",
        workspace_id=WORKSPACE,
        task_details=TASK_DETAILS,
        dataset_id=dataset.id,
        batch_items=PAGES,
    )
    copied = await client.batches.duplicate(created.id)
    assert copied.batch_items is not None
    assert created.batch_items is not None
    assert [page.id for page in copied.batch_items] != [page.id for page in created.batch_items]
    assert len(copied.batch_items[1].rows[1].columns[0].items) == 6
    listed = await client.batches.list(WORKSPACE)
    assert [batch.batch_items for batch in listed] == [created.batch_items, copied.batch_items]


# -- seeding ---------------------------------------------------------------------------


async def test_add_batch_seeds_a_checked_layout(
    fake: FakeProlific, dataset: StoredDataset, client: ProlificClient
) -> None:
    """add_batch(batch_items=...) takes pages or JSON, assigns ids and refuses bad ones."""
    batch = fake.add_batch(dataset_ids=[dataset.id], batch_items=PAGES, auto_sync_enabled=True)
    assert batch.batch_items is not None
    assert all(UUID4.fullmatch(entry["id"]) for entry in entries(batch.batch_items))
    assert batch.total_instruction_count == INSTRUCTIONS
    fetched = await client.batches.get(batch.id)
    assert fetched.batch_items is not None
    assert fetched.auto_sync_enabled is True
    assert fetched.batch_items[0].id == batch.batch_items[0]["id"]
    seeded = fake.add_batch(batch_items=one_item(FT))
    assert seeded.batch_items is not None
    assert seeded.total_instruction_count == 1
    with pytest.raises(
        ValueError, match=r"batch_items\[0\]\.rows\[0\]\.columns\[0\]\.items\[0\]: "
    ):
        fake.add_batch(batch_items=one_item({"type": "dataset_field", "field": "prompt"}))
