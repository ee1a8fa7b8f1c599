"""The closed vocabularies of a layout: item types, positions, formats, answer values.

Kept apart from :mod:`prolific_async.models.layout`, which re-exports them, so the
layout module holds the item and page classes themselves.
"""

from __future__ import annotations

import enum
from typing import TypeAlias

__all__ = [
    "AnswerValue",
    "ContentFormat",
    "DisplayPosition",
    "InstructionType",
    "ItemType",
    "UnitPosition",
]


class ItemType(enum.StrEnum):
    """The ``type`` of every layout item this library models."""

    DATASET_FIELD = "dataset_field"
    IMAGE = "image"
    RICH_TEXT = "rich_text"
    FREE_TEXT = "free_text"
    FREE_TEXT_WITH_UNIT = "free_text_with_unit"
    MULTIPLE_CHOICE = "multiple_choice"
    MULTIPLE_CHOICE_WITH_FREE_TEXT = "multiple_choice_with_free_text"
    FILE_UPLOAD = "file_upload"
    VIDEO_NARRATION = "video_narration"


class InstructionType(enum.StrEnum):
    """The item types participants answer; a task response names one of them.

    An instruction type this library does not know yet is kept as a plain ``str``.
    """

    FREE_TEXT = "free_text"
    FREE_TEXT_WITH_UNIT = "free_text_with_unit"
    MULTIPLE_CHOICE = "multiple_choice"
    MULTIPLE_CHOICE_WITH_FREE_TEXT = "multiple_choice_with_free_text"
    FILE_UPLOAD = "file_upload"
    VIDEO_NARRATION = "video_narration"


class DisplayPosition(enum.StrEnum):
    """When a page is shown: once before the task loop, once after it, or per datapoint.

    ``intro`` and ``outro`` pages may hold only content blocks (``rich_text``,
    ``image``), no instructions or dataset fields.
    """

    INTRO = "intro"
    BODY = "body"
    OUTRO = "outro"


class ContentFormat(enum.StrEnum):
    """How a rich text block's ``content`` is written (Markdown is rendered server-side)."""

    HTML = "html"
    MARKDOWN = "markdown"


#: What an answer records: a string, a number or a boolean, as JSON sent it. ``bool`` is a
#: member of its own (a JSON ``true`` stays ``True``, never ``1``), and an integer stays an
#: ``int`` (``1`` is not read as ``1.0``).
AnswerValue: TypeAlias = str | bool | int | float


class UnitPosition(enum.StrEnum):
    """Where a free-text-with-unit question shows the unit next to the input."""

    PREFIX = "prefix"
    SUFFIX = "suffix"
