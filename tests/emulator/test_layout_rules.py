"""The emulator's layout rules: one 422 per rule, at its location, on create and update.

Each case names its problem's full path (``loc``). Checked over raw aiohttp requests (the
flat 422 body, located by page, row, column and item), through ``add_batch`` (a
ValueError naming the full path) and through the real client (UnprocessableEntityError
with one typed issue at that location).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from prolific_async import ProlificClient, UnprocessableEntityError
from prolific_async.models import (
    Column,
    DatasetFieldItem,
    LayoutIssue,
    MultipleChoiceItem,
    Page,
    Row,
    UnknownItem,
)
from prolific_async.testing import FakeProlific, StoredDataset

from .conftest import BATCHES, TASK_DETAILS, WORKSPACE, create_body, one_item, send

FT = {"type": "free_text", "description": "Explain."}
#: The real payloads (other people's data: read from ../shared/real-payloads, never copied).
REAL_PAYLOADS = Path(__file__).resolve().parents[3] / "shared" / "real-payloads"
#: The CLI's INVALID_BATCH_ITEMS bodies.
REAL_ERRORS = REAL_PAYLOADS / "fixtures" / "cli_invalid_batch_items_errors.json"


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
    """A ``loc`` as a path: ``batch_items[0].rows[1].field``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else part
    return text


def indices(loc: list[Any]) -> dict[str, int]:
    """The page, row, column and item a flat issue names for a ``loc`` (0 below its level)."""
    found = dict.fromkeys(("page", "row", "column", "item"), 0)
    rest = loc[1:]  # after "batch_items"
    for level, key in (("page", None), ("row", "rows"), ("column", "columns"), ("item", "items")):
        if key is not None:
            if rest[:1] != [key] or len(rest) < 2 or not isinstance(rest[1], int):
                break
            rest = rest[1:]
        if not rest or not isinstance(rest[0], int):
            break
        found[level], rest = rest[0], rest[1:]
    return found


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
        ITEM,
        "intro pages may only hold rich_text and image items",
    ),
    "outro-dataset-field": (
        one_item({"type": "dataset_field", "field": "prompt"}, display_position="outro"),
        ITEM,
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
    """Create and update answer the flat 422 INVALID_BATCH_ITEMS at the problem's entry."""
    status, answer = await send(
        fake_http, "POST", BATCHES, create_body(dataset_id=v4_dataset.id, batch_items=layout)
    )
    assert (status, list(answer)) == (422, ["type", "issues"])
    assert answer["type"] == "INVALID_BATCH_ITEMS"
    (issue,) = answer["issues"]
    where = indices(loc)
    assert {key: issue[key] for key in ("page", "row", "column", "item")} == where
    assert isinstance(issue["type"], str)
    assert message in issue["message"]
    assert prolific_fake.batches == {}
    batch = prolific_fake.add_batch(dataset_ids=[v4_dataset.id])
    status, answer = await send(
        fake_http, "PATCH", f"{BATCHES}/{batch.id}", {"batch_items": layout}
    )
    assert (status, answer["issues"]) == (422, [issue])
    with pytest.raises(ValueError, match=re.escape(dotted(loc))):
        prolific_fake.add_batch(dataset_ids=[v4_dataset.id], batch_items=layout)


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
    """Through the client, create and update raise with one typed issue at the location."""
    pages = as_pages(layout)
    with pytest.raises(UnprocessableEntityError) as created:
        await prolific_client.batches.create(
            name="A",
            workspace_id=WORKSPACE,
            task_details=TASK_DETAILS,
            dataset_id=v4_dataset.id,
            batch_items=pages,
        )
    assert created.value.status_code == 422
    (issue,) = created.value.issues
    where = indices(loc)
    assert (issue.page, issue.row, issue.column, issue.item) == tuple(
        where[level] for level in ("page", "row", "column", "item")
    )
    assert message in issue.message
    assert re.search(
        f"{re.escape(issue.location)}[^:]*: [^;]*{re.escape(message)}", str(created.value)
    )
    batch = prolific_fake.add_batch(dataset_ids=[v4_dataset.id])
    with pytest.raises(UnprocessableEntityError) as updated:
        await prolific_client.batches.update(batch.id, batch_items=pages)
    assert updated.value.issues == created.value.issues


async def test_every_problem_is_reported_at_once(
    v4_dataset: StoredDataset, fake_http: aiohttp.ClientSession
) -> None:
    """A layout with several problems gets one issue for each, in layout order."""
    layout = [
        {"display_position": "intro", "rows": [{"columns": [{"items": [FT]}]}]},
        {"rows": [{"columns": [{"items": [{**MC, "answer_limit": 3}]}, {"items": []}]}]},
    ]
    status, answer = await send(
        fake_http, "POST", BATCHES, create_body(dataset_id=v4_dataset.id, batch_items=layout)
    )
    assert status == 422
    assert answer == {
        "type": "INVALID_BATCH_ITEMS",
        "issues": [
            {
                "page": 0,
                "row": 0,
                "column": 0,
                "item": 0,
                "type": "free_text",
                "message": "intro pages may only hold rich_text and image items",
            },
            {
                "page": 1,
                "row": 0,
                "column": 0,
                "item": 0,
                "type": "multiple_choice",
                "message": "answer_limit (3) exceeds the number of options (1)",
            },
            {
                "page": 1,
                "row": 0,
                "column": 1,
                "item": 0,
                "type": "column",
                "message": "a column needs at least one item",
            },
        ],
    }


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        (
            {"type": "dataset_field", "field": "nope"},
            {"type": "dataset_field", "field": "nope", "message": "field 'nope' is not in the"},
        ),
        (
            {**MC, "options": [{"value": "a"}]},
            {"type": "multiple_choice", "message": "options[0].label: label is required"},
        ),
        ({"type": "slider"}, {"type": "slider", "message": "unknown item type 'slider'"}),
        ({"description": "x"}, {"type": "item", "message": "an item needs a string type"}),
    ],
    ids=["dataset-field", "option-path", "unknown-type", "no-type"],
)
async def test_an_items_issue_names_its_type_field_and_inner_path(
    v4_dataset: StoredDataset,
    fake_http: aiohttp.ClientSession,
    item: dict[str, Any],
    expected: dict[str, str],
) -> None:
    """An item's issue has the item's type, a dataset_field's field, and deeper paths."""
    body = create_body(dataset_id=v4_dataset.id, batch_items=one_item(item))
    status, answer = await send(fake_http, "POST", BATCHES, body)
    (issue,) = answer["issues"]
    assert status == 422
    assert list(issue) == ["page", "row", "column", "item", *expected]
    assert issue["message"].startswith(expected.pop("message"))
    assert issue | expected == issue


async def test_the_422_matches_the_real_bodies_the_official_cli_parses(
    v4_dataset: StoredDataset, fake_http: aiohttp.ClientSession
) -> None:
    """For the problems of the CLI's real 422 bodies, the emulator answers the same issues."""
    if not REAL_ERRORS.is_file():
        pytest.skip(f"the reference payloads are absent: {REAL_PAYLOADS} (../shared/real-payloads)")
    real = [issue for body in json.loads(REAL_ERRORS.read_text()) for issue in body["issues"]]
    missing_description = next(i for i in real if i["message"] == "description is required")
    missing_field = next(i for i in real if i.get("field") == "missing_col")
    intro = next(i for i in real if "intro" in i["message"])
    no_description = {"type": "free_text"}
    field_item = {"type": "dataset_field", "field": "missing_col"}
    layout = [
        {
            "rows": [
                {"columns": [{"items": [no_description]}]},
                {"columns": [{"items": [FT, FT, field_item]}]},
            ]
        }
    ]
    body = create_body(dataset_id=v4_dataset.id, batch_items=layout)
    status, answer = await send(fake_http, "POST", BATCHES, body)
    assert (status, answer["type"]) == (422, "INVALID_BATCH_ITEMS")
    first, second = answer["issues"]
    assert first == missing_description
    assert list(second) == list(missing_field)  # the same keys, in the same order
    assert second | {"message": missing_field["message"]} == missing_field
    # An instruction on an intro page is reported at the item, as the real API does.
    body = create_body(batch_items=one_item(FT, display_position="intro"))
    (issue,) = (await send(fake_http, "POST", BATCHES, body))[1]["issues"]
    assert issue | {"message": intro["message"]} == intro


async def test_option_values_may_be_strings_numbers_or_booleans(
    v4_dataset: StoredDataset, fake_http: aiohttp.ClientSession, prolific_client: ProlificClient
) -> None:
    """The spec's answer value is a string, number or boolean; True and 1 are distinct."""
    options = [
        {"label": label, "value": value}
        for label, value in (("One", 1), ("Yes", True), ("Half", 0.5), ("Text", "1"))
    ]
    item = {**MC, "options": options, "answer_limit": 4}
    body = create_body(dataset_id=v4_dataset.id, batch_items=one_item(item))
    status, created = await send(fake_http, "POST", BATCHES, body)
    assert status == 201, created
    batch = await prolific_client.batches.get(created["id"])
    assert batch.batch_items is not None
    (choice,) = batch.batch_items[0].rows[0].columns[0].items
    assert isinstance(choice, MultipleChoiceItem)
    assert [option.value for option in choice.options] == [1, True, 0.5, "1"]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([1, 1.0], "option value 1.0 is used twice"),
        ([None], "value must be a non-empty string"),
        ([[1]], "value must be a string, a number or a boolean"),
        ([{"a": 1}], "value must be a string, a number or a boolean"),
    ],
    ids=["equal-numbers", "null", "list", "object"],
)
async def test_option_values_stay_unique_and_scalar(
    v4_dataset: StoredDataset, fake_http: aiohttp.ClientSession, values: list[Any], message: str
) -> None:
    """Equal numbers are one value twice; null, lists and objects are refused."""
    options = [{"label": f"L{n}", "value": value} for n, value in enumerate(values)]
    body = create_body(dataset_id=v4_dataset.id, batch_items=one_item({**MC, "options": options}))
    status, answer = await send(fake_http, "POST", BATCHES, body)
    assert status == 422
    (issue,) = answer["issues"]
    assert issue["message"].endswith(message)
    assert issue["message"].startswith(f"options[{len(values) - 1}].value: ")


async def test_unit_option_values_stay_strings(
    v4_dataset: StoredDataset, fake_http: aiohttp.ClientSession
) -> None:
    """A unit's value is what default_unit names: a number there is refused."""
    item = {**UNIT, "unit_options": [{"label": "kg", "value": 1}]}
    body = create_body(dataset_id=v4_dataset.id, batch_items=one_item(item))
    status, answer = await send(fake_http, "POST", BATCHES, body)
    assert status == 422
    assert (
        answer["issues"][0]["message"] == "unit_options[0].value: value must be a non-empty string"
    )


# -- dataset fields --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        (None, "dataset_field requires a V4 dataset with a schema"),
        ({"fields": {}}, "field 'prompt' is not in the dataset's schema"),
    ],
    ids=["v3-dataset", "v4-without-the-field"],
)
async def test_dataset_field_without_a_v4_schema_dataset_is_422(
    prolific_fake: FakeProlific,
    prolific_client: ProlificClient,
    schema: dict[str, Any] | None,
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
    where = 'batch_items[0].rows[0].columns[0].items[0] (dataset_field "prompt")'
    assert f"{where}: {message}" in str(raised.value)
    assert raised.value.issues == (
        LayoutIssue(
            page=0, row=0, column=0, item=0, type="dataset_field", field="prompt", message=message
        ),
    )
    assert prolific_fake.batches == {}


async def test_dataset_field_without_any_dataset_is_422(prolific_client: ProlificClient) -> None:
    """A dataset_field on a batch with no dataset at all is refused at the item."""
    pages = [Page(rows=[Row(columns=[Column(items=[DatasetFieldItem(field="prompt")])])])]
    with pytest.raises(UnprocessableEntityError, match="V4 dataset with a schema") as raised:
        await prolific_client.batches.create(
            name="A", workspace_id=WORKSPACE, task_details=TASK_DETAILS, batch_items=pages
        )
    (issue,) = raised.value.issues
    assert (issue.location, issue.type, issue.field) == (
        "batch_items[0].rows[0].columns[0].items[0]",
        "dataset_field",
        "prompt",
    )
