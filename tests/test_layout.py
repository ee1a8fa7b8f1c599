"""The batch layout (batch_items): typed models, round trips, create/update bodies, 422s."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aioresponses import aioresponses
from yarl import URL

from prolific_async import (
    NOT_GIVEN,
    Batch,
    ProlificClient,
    ResponseValidationError,
    RetryPolicy,
    TaskDetails,
    errors,
)
from prolific_async._converter import converter, structure_response
from prolific_async.models import (
    ChoiceOption,
    Column,
    ContentFormat,
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
    UnitPosition,
    UnknownItem,
    ValidationRule,
    VideoNarrationItem,
)

BASE = "https://api.test.invalid"
BATCHES = f"{BASE}/api/v1/data-collection/batches"
FIXTURES = Path(__file__).parent / "fixtures"
DETAILS = TaskDetails(task_name="Rate it", task_introduction="<p>Hi</p>", task_steps="<ol></ol>")

#: A layout using every item type, in the shapes of the Task Builder docs and examples
#: (configurable-layout, create-task-builder-batch; prolific-oss/cli docs/examples).
LAYOUT: list[dict[str, Any]] = [
    {
        "id": "page-intro",
        "display_position": "intro",
        "rows": [
            {
                "id": "row-0",
                "columns": [
                    {
                        "id": "col-0",
                        "items": [
                            {
                                "id": "item-rt",
                                "type": "rich_text",
                                "content": "**Welcome**",
                                "content_format": "markdown",
                            },
                            {
                                "id": "item-img",
                                "type": "image",
                                "url": "https://cdn.test.invalid/a.png",
                                "alt_text": "A chart",
                                "caption": "Figure 1",
                            },
                        ],
                    }
                ],
            }
        ],
    },
    {
        "rows": [
            {
                "columns": [
                    {"items": [{"type": "dataset_field", "field": "option_a"}]},
                    {"items": [{"type": "dataset_field", "field": "option_b"}]},
                ]
            },
            {
                "columns": [
                    {
                        "items": [
                            {
                                "type": "multiple_choice",
                                "description": "Which is better?",
                                "answer_limit": 1,
                                "disable_dropdown": True,
                                "helper_text": "Pick one",
                                "options": [
                                    {"label": "A", "value": "a"},
                                    {"label": "Neither", "value": "none", "exclusive": True},
                                ],
                            },
                            {
                                "type": "multiple_choice_with_free_text",
                                "description": "Sentiment?",
                                "answer_limit": 1,
                                "options": [
                                    {"label": "Positive", "value": "pos", "heading": "Why?"},
                                ],
                            },
                            {
                                "type": "free_text",
                                "description": "Explain.",
                                "placeholder_text_input": "Type here",
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
                                    },
                                    {"label": "°F", "value": "fahrenheit"},
                                ],
                                "default_unit": "celsius",
                                "unit_position": "suffix",
                            },
                            {
                                "type": "file_upload",
                                "description": "Upload photos.",
                                "accepted_file_types": [".jpg", ".png"],
                                "max_file_size_mb": 10.5,
                                "min_file_count": 1,
                                "max_file_count": 3,
                            },
                            {
                                "type": "video_narration",
                                "description": "Narrate the video.",
                                "max_duration_seconds": 120,
                            },
                        ]
                    }
                ]
            },
        ]
    },
    {
        "display_position": "outro",
        "rows": [{"columns": [{"items": [{"type": "rich_text", "content": "<p>Thanks</p>"}]}]}],
    },
]


def parse_layout(data: Any) -> list[Page]:
    pages: list[Page] = converter.structure(data, list[Page])
    return pages


def batch_body(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / "get_batch_200.json").read_text())
    data.update(changes)
    return data


def parse_batch(data: Any) -> Batch:
    return structure_response(data, Batch, status_code=200, method="GET", url="http://x/b")


@pytest.fixture
async def client() -> AsyncIterator[ProlificClient]:
    async with ProlificClient("tok", base_url=BASE, retry=RetryPolicy(attempts=1)) as c:
        yield c


@pytest.fixture
def mocked() -> Any:
    with aioresponses() as m:
        yield m


def sent_json(mocked: Any, method: str, url: str) -> Any:
    (call,) = mocked.requests[(method, URL(url))]
    return call.kwargs["json"]


def test_every_item_type_parses_into_its_class() -> None:
    """Each documented item type becomes its own typed model with its fields."""
    intro, body, outro = parse_layout(LAYOUT)
    assert intro.display_position is DisplayPosition.INTRO
    assert intro.id == "page-intro"
    rich, image = intro.rows[0].columns[0].items
    assert rich == RichTextItem(
        content="**Welcome**", content_format=ContentFormat.MARKDOWN, id="item-rt"
    )
    assert image == ImageItem(
        url="https://cdn.test.invalid/a.png", alt_text="A chart", caption="Figure 1", id="item-img"
    )
    left, right = body.rows[0].columns
    assert left.items == [DatasetFieldItem(field="option_a")]
    assert right.items == [DatasetFieldItem(field="option_b")]
    choice, choice_text, free, unit, upload, video = body.rows[1].columns[0].items
    assert isinstance(choice, MultipleChoiceItem)
    assert choice.answer_limit == 1
    assert choice.disable_dropdown is True
    assert choice.options[1] == ChoiceOption(label="Neither", value="none", exclusive=True)
    assert isinstance(choice_text, MultipleChoiceWithFreeTextItem)
    assert choice_text.options[0].heading == "Why?"
    assert free == FreeTextItem(
        description="Explain.",
        placeholder_text_input="Type here",
        validation=ValidationRule(type="string", min=10, max=500),
    )
    assert isinstance(unit, FreeTextWithUnitItem)
    assert unit.unit_position is UnitPosition.SUFFIX
    assert unit.unit_options[0] == UnitOption(
        label="°C", value="celsius", validation=ValidationRule(type="number", min=30, max=45)
    )
    assert isinstance(upload, FileUploadItem)
    assert (upload.max_file_size_mb, upload.min_file_count, upload.max_file_count) == (10.5, 1, 3)
    assert isinstance(video, VideoNarrationItem)
    assert video.extra == {"max_duration_seconds": 120}
    assert outro.display_position is DisplayPosition.OUTRO
    assert [item.type for item in body.rows[1].columns[0].items] == [
        "multiple_choice",
        "multiple_choice_with_free_text",
        "free_text",
        "free_text_with_unit",
        "file_upload",
        "video_narration",
    ]


def test_layout_round_trips_to_the_same_json() -> None:
    """Parsing and writing a layout back gives exactly the JSON that came in."""
    assert converter.unstructure(parse_layout(LAYOUT)) == LAYOUT


def test_unknown_item_type_is_kept_whole() -> None:
    """An item type this library does not know parses as UnknownItem and is sent back as is."""
    data = copy.deepcopy(LAYOUT)
    new_item = {"type": "audio_rating", "id": "x1", "scale": [1, 5], "nested": {"a": None}}
    data[1]["rows"][0]["columns"][0]["items"].append(new_item)
    pages = parse_layout(data)
    item = pages[1].rows[0].columns[0].items[-1]
    assert isinstance(item, UnknownItem)
    assert (item.type, item.id) == ("audio_rating", "x1")
    assert item.raw == new_item
    assert converter.unstructure(pages) == data


def test_unknown_keys_are_kept_on_every_level() -> None:
    """Keys the models do not know on pages, rows, columns and items survive a round trip."""
    data = copy.deepcopy(LAYOUT)
    data[2]["order"] = 2
    data[2]["rows"][0]["layout_hint"] = "wide"
    data[2]["rows"][0]["columns"][0]["width"] = 0.5
    data[2]["rows"][0]["columns"][0]["items"][0]["created_at"] = "2025-01-01T00:00:00Z"
    outro = parse_layout(data)[2]
    assert outro.extra == {"order": 2}
    assert outro.rows[0].extra == {"layout_hint": "wide"}
    assert outro.rows[0].columns[0].extra == {"width": 0.5}
    assert outro.rows[0].columns[0].items[0].extra == {  # type: ignore[union-attr]
        "created_at": "2025-01-01T00:00:00Z"
    }
    assert converter.unstructure(parse_layout(data)) == data


@pytest.mark.parametrize(
    ("key", "raw", "where", "read"),
    [
        ("display_position", "sidebar", lambda d: d[0], lambda p: p[0].display_position),
        (
            "content_format",
            "latex",
            lambda d: d[0]["rows"][0]["columns"][0]["items"][0],
            lambda p: p[0].rows[0].columns[0].items[0].content_format,
        ),
        (
            "unit_position",
            "above",
            lambda d: d[1]["rows"][1]["columns"][0]["items"][3],
            lambda p: p[1].rows[1].columns[0].items[3].unit_position,
        ),
    ],
)
def test_unknown_enum_values_are_kept_as_strings(key: str, raw: str, where: Any, read: Any) -> None:
    """A display position, content format or unit position this library lacks stays a str."""
    data = copy.deepcopy(LAYOUT)
    where(data)[key] = raw
    pages = parse_layout(data)
    assert read(pages) == raw
    assert type(read(pages)) is str
    assert converter.unstructure(pages) == data


def test_models_built_in_python_are_written_without_none_fields() -> None:
    """A layout built from the models sends each item's type and only the fields given."""
    page = Page(
        rows=[
            Row(
                columns=[
                    Column(
                        items=[
                            DatasetFieldItem(field="prompt"),
                            MultipleChoiceItem(
                                description="Good?",
                                options=[ChoiceOption(label="Yes", value="y")],
                                answer_limit=1,
                            ),
                        ]
                    )
                ]
            )
        ]
    )
    assert converter.unstructure([page], list[Page]) == [
        {
            "rows": [
                {
                    "columns": [
                        {
                            "items": [
                                {"type": "dataset_field", "field": "prompt"},
                                {
                                    "type": "multiple_choice",
                                    "description": "Good?",
                                    "options": [{"label": "Yes", "value": "y"}],
                                    "answer_limit": 1,
                                },
                            ]
                        }
                    ]
                }
            ]
        }
    ]


def test_batch_carries_layout_and_auto_sync() -> None:
    """A Batch with batch_items and auto_sync_enabled parses both; without them they are None."""
    batch = parse_batch(batch_body(batch_items=LAYOUT, auto_sync_enabled=True))
    assert batch.auto_sync_enabled is True
    assert batch.batch_items is not None
    assert len(batch.batch_items) == 3
    assert isinstance(batch.batch_items[1].rows[0].columns[0].items[0], DatasetFieldItem)
    plain = parse_batch(batch_body())
    assert (plain.batch_items, plain.auto_sync_enabled) == (None, None)
    assert parse_batch(batch_body(batch_items=None)).batch_items is None


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (
            lambda d: d[1]["rows"][0]["columns"][0].update(items=5),
            "$.batch_items[1].rows[0].columns[0].items",
        ),
        (
            lambda d: d[1]["rows"][0]["columns"][0]["items"][0].pop("type"),
            "$.batch_items[1].rows[0].columns[0].items[0]",
        ),
        (
            lambda d: d[1]["rows"][0]["columns"][0]["items"][0].pop("field"),
            "$.batch_items[1].rows[0].columns[0].items[0].field",
        ),
        (
            lambda d: d[1]["rows"][1]["columns"][0]["items"][0].update(answer_limit="1"),
            "$.batch_items[1].rows[1].columns[0].items[0].answer_limit",
        ),
        (lambda d: d[0].pop("rows"), "$.batch_items[0].rows"),
        (lambda d: d.append("page"), "$.batch_items[3]"),
    ],
)
def test_bad_layout_names_the_path(mutate: Any, path: str) -> None:
    """A malformed layout in a batch body raises ResponseValidationError naming the spot."""
    layout = copy.deepcopy(LAYOUT)
    mutate(layout)
    with pytest.raises(ResponseValidationError) as caught:
        parse_batch(batch_body(batch_items=layout))
    assert any(line.endswith(f"@ {path}") for line in caught.value.errors), caught.value.errors


async def test_create_sends_layout_and_auto_sync(client: ProlificClient, mocked: Any) -> None:
    """Create sends batch_items as the wire JSON and auto_sync_enabled when given."""
    mocked.post(BATCHES, status=201, payload=batch_body(batch_items=LAYOUT))
    batch = await client.batches.create(
        name="B",
        workspace_id="w",
        task_details=DETAILS,
        batch_items=parse_layout(LAYOUT),
        auto_sync_enabled=False,
    )
    body = sent_json(mocked, "POST", BATCHES)
    assert body["batch_items"] == LAYOUT
    assert body["auto_sync_enabled"] is False
    assert batch.batch_items == parse_layout(LAYOUT)


async def test_create_leaves_out_layout_and_auto_sync_when_none(
    client: ProlificClient, mocked: Any
) -> None:
    """Create sends neither batch_items nor auto_sync_enabled when they are None."""
    mocked.post(BATCHES, status=201, payload=batch_body())
    await client.batches.create(name="B", workspace_id="w", task_details=DETAILS)
    body = sent_json(mocked, "POST", BATCHES)
    assert "batch_items" not in body
    assert "auto_sync_enabled" not in body


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, {}),
        ({"batch_items": NOT_GIVEN, "name": "n"}, {"name": "n"}),
        ({"batch_items": None}, {"batch_items": None}),
        ({"batch_items": "layout"}, {"batch_items": LAYOUT}),
        ({"auto_sync_enabled": True}, {"auto_sync_enabled": True}),
        ({"auto_sync_enabled": False}, {"auto_sync_enabled": False}),
    ],
)
async def test_update_sends_layout_only_when_given(
    client: ProlificClient, mocked: Any, kwargs: dict[str, Any], expected: dict[str, Any]
) -> None:
    """Update leaves the layout alone by default, clears it with None, replaces it with pages."""
    if kwargs.get("batch_items") == "layout":
        kwargs["batch_items"] = parse_layout(LAYOUT)
    mocked.patch(f"{BATCHES}/b1", payload=batch_body())
    await client.batches.update("b1", **kwargs)
    assert sent_json(mocked, "PATCH", f"{BATCHES}/b1") == expected


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"batch_items": LAYOUT}, TypeError),
        ({"batch_items": []}, ValueError),
        ({"batch_items": Page(rows=[])}, TypeError),
        ({"auto_sync_enabled": 1}, TypeError),
        ({"auto_sync_enabled": "yes"}, TypeError),
    ],
)
async def test_bad_layout_arguments_are_refused_before_sending(
    client: ProlificClient, mocked: Any, kwargs: dict[str, Any], error: type[Exception]
) -> None:
    """Raw dicts, an empty layout or a non-bool auto_sync are refused; nothing is sent."""
    with pytest.raises(error):
        await client.batches.create(name="B", workspace_id="w", task_details=DETAILS, **kwargs)
    with pytest.raises(error):
        await client.batches.update("b1", **kwargs)
    assert mocked.requests == {}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {
                "error": {
                    "status": 422,
                    "error_code": 140200,
                    "title": "Unprocessable Entity",
                    "detail": [
                        {
                            "loc": [
                                "body",
                                "batch_items",
                                1,
                                "rows",
                                1,
                                "columns",
                                0,
                                "items",
                                0,
                                "answer_limit",
                            ],
                            "msg": "answer_limit (3) exceeds the number of options (2)",
                            "type": "value_error",
                        },
                        {
                            "loc": ["batch_items", 0],
                            "msg": "intro pages may only hold rich_text and image items",
                        },
                    ],
                }
            },
            [
                "batch_items[1].rows[1].columns[0].items[0].answer_limit: answer_limit (3) "
                "exceeds the number of options (2)",
                "batch_items[0]: intro pages may only hold rich_text and image items",
            ],
        ),
        (
            {"detail": [{"loc": ["body", "batch_items", 2, "rows"], "msg": "at least 1 row"}]},
            ["batch_items[2].rows: at least 1 row"],
        ),
        (
            {
                "type": "INVALID_BATCH_ITEMS",
                "issues": [
                    {
                        "page": 0,
                        "row": 1,
                        "column": 0,
                        "item": 2,
                        "type": "dataset_field",
                        "field": "field",
                        "message": "no schema field 'option_c'",
                    }
                ],
            },
            [
                "INVALID_BATCH_ITEMS",
                "batch_items[0].rows[1].columns[0].items[2].field (dataset_field): "
                "no schema field 'option_c'",
            ],
        ),
    ],
)
async def test_layout_422_names_every_location(
    client: ProlificClient, mocked: Any, body: dict[str, Any], expected: list[str]
) -> None:
    """A 422 layout validation error raises with each problem's location in the message."""
    mocked.post(BATCHES, status=422, payload=body)
    with pytest.raises(errors.UnprocessableEntityError) as caught:
        await client.batches.create(
            name="B", workspace_id="w", task_details=DETAILS, batch_items=parse_layout(LAYOUT)
        )
    for fragment in expected:
        assert fragment in str(caught.value)
    assert caught.value.body == body
