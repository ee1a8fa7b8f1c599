"""A batch's layout (batch_items) and auto_sync_enabled on create, update, get and list.

Checked over raw aiohttp requests (the wire contract: ids, echoed keys) and through the
real client (typed pages); the layout's validation rules are in test_layout_rules.py.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import aiohttp
import pytest

from prolific_async import ProlificClient
from prolific_async.models import (
    ChoiceOption,
    Column,
    DatasetFieldItem,
    DisplayPosition,
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
from prolific_async.testing import FakeProlific, StoredDataset

from .conftest import BATCHES, TASK_DETAILS, WORKSPACE, create_body, one_item, send

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


# -- create, get, list, duplicate ------------------------------------------------------


async def test_every_item_type_round_trips_with_ids(
    prolific_fake: FakeProlific, v4_dataset: StoredDataset, fake_http: aiohttp.ClientSession
) -> None:
    """A layout of every item type is stored and echoed whole, with a uuid4 on each entry."""
    status, created = await send(
        fake_http, "POST", BATCHES, create_body(dataset_id=v4_dataset.id, batch_items=LAYOUT)
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
    status, got = await send(fake_http, "GET", f"{BATCHES}/{created['id']}")
    assert (status, got["batch_items"], got["auto_sync_enabled"]) == (200, layout, False)
    assert prolific_fake.batches[created["id"]].batch_items == layout
    _, listed = await send(fake_http, "GET", f"{BATCHES}?workspace_id={WORKSPACE}")
    assert listed["results"][0]["batch_items"] == layout


async def test_create_without_layout_keys_leaves_them_out(
    fake_http: aiohttp.ClientSession,
) -> None:
    """Without layout keys, create answers the older shape; get shows null and false."""
    status, created = await send(fake_http, "POST", BATCHES, create_body())
    assert status == 201
    assert "batch_items" not in created
    assert "auto_sync_enabled" not in created
    _, got = await send(fake_http, "GET", f"{BATCHES}/{created['id']}")
    assert (got["batch_items"], got["auto_sync_enabled"]) == (None, False)
    assert list(got)[-2:] == ["batch_items", "auto_sync_enabled"]


async def test_auto_sync_enabled_is_stored_and_rendered(
    prolific_fake: FakeProlific, fake_http: aiohttp.ClientSession
) -> None:
    """auto_sync_enabled given on create comes back there and on get; update flips it."""
    status, created = await send(fake_http, "POST", BATCHES, create_body(auto_sync_enabled=True))
    assert (status, created["auto_sync_enabled"], created["batch_items"]) == (201, True, None)
    path = f"{BATCHES}/{created['id']}"
    status, updated = await send(fake_http, "PATCH", path, {"auto_sync_enabled": False})
    assert (status, updated["auto_sync_enabled"]) == (200, False)
    assert prolific_fake.batches[created["id"]].auto_sync_enabled is False
    _, got = await send(fake_http, "GET", path)
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
    fake_http: aiohttp.ClientSession, body: dict[str, Any], detail: dict[str, Any]
) -> None:
    """batch_items that is not an array, or a non-bool auto_sync_enabled, is a 400."""
    status, answer = await send(fake_http, "POST", BATCHES, create_body(**body))
    assert (status, answer["error"]["detail"]) == (400, detail)
    _, created = await send(fake_http, "POST", BATCHES, create_body())
    status, answer = await send(fake_http, "PATCH", f"{BATCHES}/{created['id']}", body)
    assert (status, answer["error"]["detail"]) == (400, detail)


async def test_null_batch_items_on_create_is_absent(fake_http: aiohttp.ClientSession) -> None:
    """batch_items: null on create is taken as absent: no layout, the older shape."""
    status, created = await send(fake_http, "POST", BATCHES, create_body(batch_items=None))
    assert status == 201
    assert "batch_items" not in created


async def test_field_errors_answer_400_before_the_layout_422(
    prolific_fake: FakeProlific, fake_http: aiohttp.ClientSession
) -> None:
    """A body with a bad field and a bad layout gets the 400; nothing is stored."""
    body = create_body(name="", batch_items=[])
    status, answer = await send(fake_http, "POST", BATCHES, body)
    assert (status, answer["error"]["detail"]) == (400, {"name": ["This field may not be blank."]})
    assert prolific_fake.batches == {}


async def test_unknown_fields_are_ignored(
    prolific_fake: FakeProlific, v4_dataset: StoredDataset, fake_http: aiohttp.ClientSession
) -> None:
    """Unknown top-level body fields are ignored; unknown layout keys are kept and echoed."""
    layout = one_item({"type": "dataset_field", "field": "clip", "autoplay": True}, theme="x")
    body = create_body(dataset_id=v4_dataset.id, batch_items=layout, colour="red", priority=3)
    status, created = await send(fake_http, "POST", BATCHES, body)
    assert status == 201
    assert "colour" not in created
    assert without_ids(created["batch_items"]) == layout
    status, updated = await send(
        fake_http, "PATCH", f"{BATCHES}/{created['id']}", {"colour": "blue", "name": "B"}
    )
    assert (status, updated["name"], "colour" in updated) == (200, "B", False)
    assert updated["batch_items"] == created["batch_items"]


async def test_duplicate_copies_the_layout_with_new_ids(
    prolific_fake: FakeProlific, v4_dataset: StoredDataset, fake_http: aiohttp.ClientSession
) -> None:
    """A duplicate has the same layout and auto-sync, every entry under a new id."""
    body = create_body(dataset_id=v4_dataset.id, batch_items=LAYOUT, auto_sync_enabled=True)
    _, created = await send(fake_http, "POST", BATCHES, body)
    status, copied = await send(fake_http, "POST", f"{BATCHES}/{created['id']}/duplicate", {})
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
    assert prolific_fake.batches[created["id"]].batch_items == created["batch_items"]


async def test_duplicate_of_a_legacy_batch_keeps_the_older_shape(
    prolific_fake: FakeProlific, fake_http: aiohttp.ClientSession
) -> None:
    """Duplicating a batch without layout or auto-sync answers without the two keys."""
    batch = prolific_fake.add_batch()
    status, copied = await send(fake_http, "POST", f"{BATCHES}/{batch.id}/duplicate", {})
    assert status == 201
    assert "batch_items" not in copied
    assert prolific_fake.batches[copied["id"]].batch_items is None


# -- update ----------------------------------------------------------------------------


async def test_update_keeps_given_ids_and_drops_omitted_entries(
    prolific_fake: FakeProlific, v4_dataset: StoredDataset, fake_http: aiohttp.ClientSession
) -> None:
    """Entries keeping their id stay, entries without one get a new id, omitted ones go."""
    _, created = await send(
        fake_http, "POST", BATCHES, create_body(dataset_id=v4_dataset.id, batch_items=LAYOUT)
    )
    before = created["batch_items"]
    page = copy.deepcopy(before[1])
    page["rows"] = [page["rows"][1]]  # drop the dataset-field row
    column = page["rows"][0]["columns"][0]
    kept = column["items"][2]  # free_text, edited in place
    kept["description"] = "Explain more."
    column["items"] = [kept, {"type": "rich_text", "content": "<p>New</p>"}]
    status, updated = await send(
        fake_http, "PATCH", f"{BATCHES}/{created['id']}", {"batch_items": [page]}
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
    assert prolific_fake.batches[created["id"]].batch_items == updated["batch_items"]


async def test_update_null_clears_the_layout(
    prolific_fake: FakeProlific, v4_dataset: StoredDataset, fake_http: aiohttp.ClientSession
) -> None:
    """batch_items: null removes the layout and its instructions, and nothing else."""
    body = create_body(dataset_id=v4_dataset.id, batch_items=LAYOUT, auto_sync_enabled=True)
    _, created = await send(fake_http, "POST", BATCHES, body)
    status, updated = await send(
        fake_http, "PATCH", f"{BATCHES}/{created['id']}", {"batch_items": None}
    )
    assert status == 200
    assert (updated["batch_items"], updated["total_instruction_count"]) == (None, 0)
    assert (updated["name"], updated["auto_sync_enabled"]) == ("Batch A", True)
    assert prolific_fake.batches[created["id"]].batch_items is None


async def test_update_without_batch_items_leaves_the_layout(
    v4_dataset: StoredDataset, fake_http: aiohttp.ClientSession
) -> None:
    """An update that does not name batch_items keeps the layout and its ids."""
    _, created = await send(
        fake_http, "POST", BATCHES, create_body(dataset_id=v4_dataset.id, batch_items=LAYOUT)
    )
    _, updated = await send(fake_http, "PATCH", f"{BATCHES}/{created['id']}", {"name": "Renamed"})
    assert updated["batch_items"] == created["batch_items"]
    assert updated["total_instruction_count"] == INSTRUCTIONS


async def test_update_with_unknown_or_repeated_ids_answers_422(
    prolific_fake: FakeProlific, v4_dataset: StoredDataset, fake_http: aiohttp.ClientSession
) -> None:
    """An id not in the current layout at that level, or given twice, is a 422 at its id."""
    _, created = await send(
        fake_http, "POST", BATCHES, create_body(dataset_id=v4_dataset.id, batch_items=LAYOUT)
    )
    layout = copy.deepcopy(created["batch_items"])
    row_id = layout[0]["rows"][0]["id"]
    layout[0]["id"] = row_id  # a row's id given to a page
    layout[1]["rows"][1]["columns"][0]["items"][1]["id"] = layout[1]["rows"][1]["columns"][0][
        "items"
    ][0]["id"]
    status, answer = await send(
        fake_http, "PATCH", f"{BATCHES}/{created['id']}", {"batch_items": layout, "name": "New"}
    )
    assert status == 422
    first, second = answer["issues"]
    assert first == {
        "page": 0,
        "row": 0,
        "column": 0,
        "item": 0,
        "type": "page",
        "message": first["message"],
    }
    assert "unknown id" in first["message"]
    item = layout[1]["rows"][1]["columns"][0]["items"][1]
    assert second == {
        "page": 1,
        "row": 1,
        "column": 0,
        "item": 1,
        "type": item["type"],
        "message": second["message"],
    }
    assert "another item" in second["message"]
    assert prolific_fake.batches[created["id"]].name == "Batch A"  # a 422 applies nothing
    assert prolific_fake.batches[created["id"]].batch_items == created["batch_items"]


async def test_update_checks_dataset_fields_against_the_dataset_it_attaches(
    prolific_fake: FakeProlific, v4_dataset: StoredDataset, fake_http: aiohttp.ClientSession
) -> None:
    """A dataset_field is checked against the dataset_id the same request attaches."""
    legacy = prolific_fake.add_dataset()
    _, created = await send(fake_http, "POST", BATCHES, create_body(dataset_id=legacy.id))
    layout = one_item({"type": "dataset_field", "field": "movie"})
    path = f"{BATCHES}/{created['id']}"
    status, _ = await send(fake_http, "PATCH", path, {"batch_items": layout})
    assert status == 422
    status, updated = await send(
        fake_http, "PATCH", path, {"batch_items": layout, "dataset_id": v4_dataset.id}
    )
    assert status == 200
    assert updated["datasets"][0]["id"] == v4_dataset.id


# -- through the client ----------------------------------------------------------------


async def test_client_create_update_get_round_trip(
    prolific_fake: FakeProlific, v4_dataset: StoredDataset, prolific_client: ProlificClient
) -> None:
    """Typed pages go in; create, get and update give them back with ids, as stored."""
    created = await prolific_client.batches.create(
        name="A",
        workspace_id=WORKSPACE,
        task_details=TASK_DETAILS,
        dataset_id=v4_dataset.id,
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
    fetched = await prolific_client.batches.get(created.id)
    assert (fetched.batch_items, fetched.auto_sync_enabled) == (created.batch_items, True)

    # Keep the body page (and its first row) by id, edit one question, drop the intro.
    first_row = body.rows[0]
    question = body.rows[1].columns[0].items[0]
    assert isinstance(question, MultipleChoiceItem)
    edited = MultipleChoiceItem(
        description="Which one?", options=question.options, answer_limit=1, id=question.id
    )
    new_page = Page(id=body.id, rows=[first_row, Row(columns=[Column(items=[edited])])])
    updated = await prolific_client.batches.update(
        created.id, batch_items=[new_page], auto_sync_enabled=False
    )
    assert updated.batch_items is not None
    (page,) = updated.batch_items
    assert (page.id, page.rows[0]) == (body.id, first_row)
    assert page.rows[1].id not in {None, body.rows[1].id}
    assert page.rows[1].columns[0].items == [edited]
    assert (updated.auto_sync_enabled, updated.total_instruction_count) == (False, 1)
    stored = prolific_fake.batches[created.id].batch_items
    assert stored is not None
    assert stored[0]["id"] == body.id

    cleared = await prolific_client.batches.update(created.id, batch_items=None)
    assert (cleared.batch_items, cleared.total_instruction_count) == (None, 0)
    assert (await prolific_client.batches.get(created.id)).batch_items is None


async def test_client_duplicate_and_list_carry_the_layout(
    v4_dataset: StoredDataset, prolific_client: ProlificClient
) -> None:
    """duplicate() returns the layout under new ids; list() shows every batch's layout."""
    created = await prolific_client.batches.create(
        name="A",
        workspace_id=WORKSPACE,
        task_details=TASK_DETAILS,
        dataset_id=v4_dataset.id,
        batch_items=PAGES,
    )
    copied = await prolific_client.batches.duplicate(created.id)
    assert copied.batch_items is not None
    assert created.batch_items is not None
    assert [page.id for page in copied.batch_items] != [page.id for page in created.batch_items]
    assert len(copied.batch_items[1].rows[1].columns[0].items) == 6
    listed = await prolific_client.batches.list(WORKSPACE)
    assert [batch.batch_items for batch in listed] == [created.batch_items, copied.batch_items]


# -- seeding ---------------------------------------------------------------------------


async def test_add_batch_seeds_a_checked_layout(
    prolific_fake: FakeProlific, v4_dataset: StoredDataset, prolific_client: ProlificClient
) -> None:
    """add_batch(batch_items=...) takes pages or JSON, assigns ids and refuses bad ones."""
    batch = prolific_fake.add_batch(
        dataset_ids=[v4_dataset.id], batch_items=PAGES, auto_sync_enabled=True
    )
    assert batch.batch_items is not None
    assert all(UUID4.fullmatch(entry["id"]) for entry in entries(batch.batch_items))
    assert batch.total_instruction_count == INSTRUCTIONS
    fetched = await prolific_client.batches.get(batch.id)
    assert fetched.batch_items is not None
    assert fetched.auto_sync_enabled is True
    assert fetched.batch_items[0].id == batch.batch_items[0]["id"]
    seeded = prolific_fake.add_batch(
        batch_items=one_item({"type": "free_text", "description": "Explain."})
    )
    assert seeded.batch_items is not None
    assert seeded.total_instruction_count == 1
    with pytest.raises(
        ValueError, match=r"batch_items\[0\]\.rows\[0\]\.columns\[0\]\.items\[0\]: "
    ):
        prolific_fake.add_batch(batch_items=one_item({"type": "dataset_field", "field": "prompt"}))


async def test_add_batch_stores_typed_pages_as_a_create_sends_them(
    prolific_fake: FakeProlific, v4_dataset: StoredDataset, prolific_client: ProlificClient
) -> None:
    """add_batch turns typed pages (enums, extra keys, raw items) into the JSON a create sends."""
    raw = {"type": "rich_text", "content": "Bye", "tone": "warm"}
    outro = Page(
        display_position=DisplayPosition.OUTRO,
        rows=[
            Row(columns=[Column(items=[UnknownItem(type="rich_text", raw=raw)], extra={"w": 2})])
        ],
    )
    pages = [*PAGES, outro]
    seeded = prolific_fake.add_batch(dataset_ids=[v4_dataset.id], batch_items=pages)
    created = await prolific_client.batches.create(
        name="A",
        workspace_id=WORKSPACE,
        task_details=TASK_DETAILS,
        dataset_id=v4_dataset.id,
        batch_items=pages,
    )
    sent_by_client = prolific_fake.batches[created.id].batch_items
    assert seeded.batch_items is not None
    assert without_ids(seeded.batch_items) == without_ids(sent_by_client)
    assert type(seeded.batch_items[-1]["display_position"]) is str
    assert without_ids(seeded.batch_items[-1]["rows"][0]["columns"][0]) == {"items": [raw], "w": 2}
