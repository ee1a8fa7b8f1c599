"""The emulator's layout rules: one 422 per rule, at its location, on create and update.

Checked over raw aiohttp requests (the 422 body and its ``loc``) and through the real
client (UnprocessableEntityError naming the location).
"""

from __future__ import annotations

import re
from typing import Any

import aiohttp
import pytest

from prolific_async import ProlificClient, UnprocessableEntityError
from prolific_async.models import Column, DatasetFieldItem, Page, Row, UnknownItem
from prolific_async.testing import FakeProlific, StoredDataset

from .conftest import BATCHES, TASK_DETAILS, WORKSPACE, create_body, one_item, send

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


def dotted(loc: list[Any]) -> str:
    """A 422 ``loc`` as the client words it: ``batch_items[0].rows[1].field``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else part
    return text


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


# -- one 422 per rule ------------------------------------------------------------------


@pytest.mark.parametrize(("layout", "loc", "message"), CASES.values(), ids=list(CASES))
async def test_each_rule_answers_422_at_its_location(
    prolific_fake: FakeProlific,
    v4_dataset: StoredDataset,
    fake_http: aiohttp.ClientSession,
    layout: list[Any],
    loc: list[Any],
    message: str,
) -> None:
    """Create and update answer 422 INVALID_BATCH_ITEMS naming the problem's location."""
    status, answer = await send(
        fake_http, "POST", BATCHES, create_body(dataset_id=v4_dataset.id, batch_items=layout)
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
    assert prolific_fake.batches == {}
    batch = prolific_fake.add_batch(dataset_ids=[v4_dataset.id])
    status, answer = await send(
        fake_http, "PATCH", f"{BATCHES}/{batch.id}", {"batch_items": layout}
    )
    assert (status, [issue["loc"] for issue in answer["error"]["detail"]]) == (422, [loc])


@pytest.mark.parametrize(
    ("layout", "loc", "message"),
    [case for name, case in CASES.items() if name not in RAW_ONLY],
    ids=[name for name in CASES if name not in RAW_ONLY],
)
async def test_client_error_names_the_location(
    prolific_fake: FakeProlific,
    v4_dataset: StoredDataset,
    prolific_client: ProlificClient,
    layout: list[dict[str, Any]],
    loc: list[Any],
    message: str,
) -> None:
    """Through the client, create and update raise UnprocessableEntityError naming it."""
    pages = as_pages(layout)
    with pytest.raises(UnprocessableEntityError) as created:
        await prolific_client.batches.create(
            name="A",
            workspace_id=WORKSPACE,
            task_details=TASK_DETAILS,
            dataset_id=v4_dataset.id,
            batch_items=pages,
        )
    assert re.search(f"{re.escape(dotted(loc))}: [^;]*{re.escape(message)}", str(created.value))
    assert created.value.status_code == 422
    batch = prolific_fake.add_batch(dataset_ids=[v4_dataset.id])
    with pytest.raises(UnprocessableEntityError) as updated:
        await prolific_client.batches.update(batch.id, batch_items=pages)
    assert re.search(f"{re.escape(dotted(loc))}: [^;]*{re.escape(message)}", str(updated.value))


async def test_every_problem_is_reported_at_once(
    v4_dataset: StoredDataset, fake_http: aiohttp.ClientSession
) -> None:
    """A layout with several problems gets one detail entry for each, in layout order."""
    layout = [
        {"display_position": "intro", "rows": [{"columns": [{"items": [FT]}]}]},
        {"rows": [{"columns": [{"items": [{**MC, "answer_limit": 3}]}, {"items": []}]}]},
    ]
    status, answer = await send(
        fake_http, "POST", BATCHES, create_body(dataset_id=v4_dataset.id, batch_items=layout)
    )
    assert status == 422
    assert [issue["loc"] for issue in answer["error"]["detail"]] == [
        ["batch_items", 0],
        ["batch_items", 1, "rows", 0, "columns", 0, "items", 0, "answer_limit"],
        ["batch_items", 1, "rows", 0, "columns", 1, "items"],
    ]


# -- dataset fields --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "location", "message"),
    [
        (None, "", "dataset_field requires a V4 dataset with a schema"),
        ({"fields": {}}, ".field", "field 'prompt' is not in the dataset's schema"),
    ],
    ids=["v3-dataset", "v4-without-the-field"],
)
async def test_dataset_field_without_a_v4_schema_dataset_is_422(
    prolific_fake: FakeProlific,
    prolific_client: ProlificClient,
    schema: dict[str, Any] | None,
    location: str,
    message: str,
) -> None:
    """A dataset_field needs a V4 dataset whose schema has the field."""
    dataset = prolific_fake.add_dataset(schema=schema)
    pages = [Page(rows=[Row(columns=[Column(items=[DatasetFieldItem(field="prompt")])])])]
    with pytest.raises(UnprocessableEntityError) as raised:
        await prolific_client.batches.create(
            name="A",
            workspace_id=WORKSPACE,
            task_details=TASK_DETAILS,
            dataset_id=dataset.id,
            batch_items=pages,
        )
    assert f"batch_items[0].rows[0].columns[0].items[0]{location}: {message}" in str(raised.value)
    assert prolific_fake.batches == {}


async def test_dataset_field_without_any_dataset_is_422(prolific_client: ProlificClient) -> None:
    """A dataset_field on a batch with no dataset at all is refused at the item."""
    pages = [Page(rows=[Row(columns=[Column(items=[DatasetFieldItem(field="prompt")])])])]
    with pytest.raises(UnprocessableEntityError, match="V4 dataset with a schema") as raised:
        await prolific_client.batches.create(
            name="A", workspace_id=WORKSPACE, task_details=TASK_DETAILS, batch_items=pages
        )
    assert "batch_items[0].rows[0].columns[0].items[0]: dataset_field" in str(raised.value)
