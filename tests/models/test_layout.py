"""The batch layout models (batch_items): typed items, round trips, unknown values, bad paths.

Pure conversions through the converter; the layout in create and update bodies and the
API's 422s are in tests/resources/test_batches.py.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from prolific_async import Batch, ResponseValidationError
from prolific_async._body import structure_response
from prolific_async._converter import converter
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

from ..conftest import fixture_json

#: A layout using every item type, in the shapes of the Task Builder docs and examples
#: (configurable-layout, create-task-builder-batch; prolific-oss/cli docs/examples).
LAYOUT: list[dict[str, Any]] = fixture_json("layout_every_item_type.json")


def batch_body(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = fixture_json("get_batch_200.json")
    data.update(changes)
    return data


def parse_layout(data: Any) -> list[Page]:
    pages: list[Page] = converter.structure(data, list[Page])
    return pages


def parse_batch(data: Any) -> Batch:
    return structure_response(data, Batch, status_code=200, method="GET", url="http://x/b")


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
