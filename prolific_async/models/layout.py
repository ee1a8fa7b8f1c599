"""A batch's configurable layout (``batch_items``): pages of rows of columns of items.

``batch_items`` is an ordered list of :class:`Page`; each page is one participant
screen, holding rows; each row holds one or two :class:`Column` side by side; each column
holds items. An item is one of the classes in :data:`LayoutItem`, told apart on the wire
by its ``type``: a dataset field reference, a content block (image, rich text) or an
instruction (a question the participant answers).

An item type this library does not know yet parses as :class:`UnknownItem`, which keeps
the raw object, so a new server-side type never breaks reading a batch. Keys the library
does not model on a known item (or page, row, column) are kept in its ``extra``, so a
batch read, changed and sent back with ``update`` loses nothing.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeAlias

from attrs import Factory, frozen

from ._base import Model
from ._layout_kinds import (
    AnswerValue,
    ContentFormat,
    DisplayPosition,
    InstructionType,
    ItemType,
    UnitPosition,
)

__all__ = [
    "AnswerValue",
    "ChoiceOption",
    "Column",
    "ContentFormat",
    "DatasetFieldItem",
    "DisplayPosition",
    "FileUploadItem",
    "FreeTextItem",
    "FreeTextWithUnitItem",
    "ImageItem",
    "InstructionType",
    "ItemType",
    "LayoutItem",
    "MultipleChoiceItem",
    "MultipleChoiceWithFreeTextItem",
    "Page",
    "RichTextItem",
    "Row",
    "UnitOption",
    "UnitPosition",
    "UnknownItem",
    "ValidationRule",
    "VideoNarrationItem",
]


@frozen(kw_only=True)
class ValidationRule(Model):
    """Bounds on a free-text answer: its length for ``string``, its value for ``number``."""

    type: str
    """``"string"`` (min/max characters) or ``"number"`` (min/max value)."""
    min: float | None = None
    """The lower bound, if any."""
    max: float | None = None
    """The upper bound, if any."""


@frozen(kw_only=True)
class ChoiceOption(Model):
    """One option of a multiple-choice question."""

    label: str
    """What the participant sees."""
    value: AnswerValue
    """What the response records: a string, a number or a boolean."""
    heading: str | None = None
    """The free-text prompt shown for this option (``multiple_choice_with_free_text``)."""
    exclusive: bool | None = None
    """Whether choosing this option clears and excludes every other one."""


@frozen(kw_only=True)
class UnitOption(Model):
    """One unit a free-text-with-unit question offers (``kg``, ``lbs`` ...)."""

    label: str
    """What the participant sees (``"°C"``)."""
    value: str
    """What the response records (``"celsius"``)."""
    validation: ValidationRule | None = None
    """Bounds on the value when this unit is chosen."""


@frozen(kw_only=True)
class DatasetFieldItem(Model):
    """Shows one field of the current datapoint (V4 datasets with a schema only).

    Only schema fields of type ``text``, ``image_url``, ``audio_url`` or ``video_url``
    can be shown, and a field at most once per page.
    """

    type: ClassVar[str] = ItemType.DATASET_FIELD
    field: str
    """The name of the schema field to show."""
    id: str | None = None
    """The server-assigned id; keep it in an update to keep the item."""
    extra: dict[str, Any] = Factory(dict)
    """Keys this library does not model, sent back unchanged."""


@frozen(kw_only=True)
class ImageItem(Model):
    """A fixed image, the same for every datapoint."""

    type: ClassVar[str] = ItemType.IMAGE
    url: str
    """The image's URL."""
    alt_text: str | None = None
    """The image's text alternative."""
    caption: str | None = None
    """A caption shown under the image."""
    id: str | None = None
    """The server-assigned id; keep it in an update to keep the item."""
    extra: dict[str, Any] = Factory(dict)
    """Keys this library does not model, sent back unchanged."""


@frozen(kw_only=True)
class RichTextItem(Model):
    """A fixed block of text (HTML or Markdown), the same for every datapoint."""

    type: ClassVar[str] = ItemType.RICH_TEXT
    content: str
    """The text."""
    content_format: ContentFormat | str | None = None
    """How ``content`` is written; the server's default is HTML."""
    id: str | None = None
    """The server-assigned id; keep it in an update to keep the item."""
    extra: dict[str, Any] = Factory(dict)
    """Keys this library does not model, sent back unchanged."""


@frozen(kw_only=True)
class FreeTextItem(Model):
    """A question answered in free text."""

    type: ClassVar[str] = ItemType.FREE_TEXT
    description: str
    """The question."""
    placeholder_text_input: str | None = None
    """Placeholder text in the empty input."""
    helper_text: str | None = None
    """Guidance shown with the input."""
    validation: ValidationRule | None = None
    """Bounds on the answer."""
    id: str | None = None
    """The server-assigned id; keep it in an update to keep the item."""
    extra: dict[str, Any] = Factory(dict)
    """Keys this library does not model, sent back unchanged."""


@frozen(kw_only=True)
class FreeTextWithUnitItem(Model):
    """A question answered with a value and a unit chosen from a list."""

    type: ClassVar[str] = ItemType.FREE_TEXT_WITH_UNIT
    description: str
    """The question."""
    unit_options: list[UnitOption]
    """The units offered."""
    unit_position: UnitPosition | str | None = None
    """Where the unit is shown next to the input."""
    default_unit: str | None = None
    """The ``value`` of the unit selected at first."""
    placeholder_text_input: str | None = None
    """Placeholder text in the empty input."""
    helper_text: str | None = None
    """Guidance shown with the input."""
    validation: ValidationRule | None = None
    """Bounds on the answer, whatever the unit."""
    id: str | None = None
    """The server-assigned id; keep it in an update to keep the item."""
    extra: dict[str, Any] = Factory(dict)
    """Keys this library does not model, sent back unchanged."""


@frozen(kw_only=True)
class MultipleChoiceItem(Model):
    """A question answered by choosing up to ``answer_limit`` options."""

    type: ClassVar[str] = ItemType.MULTIPLE_CHOICE
    description: str
    """The question."""
    options: list[ChoiceOption]
    """The options offered."""
    answer_limit: int | None = None
    """How many options may be chosen (1 for a single choice); at most ``len(options)``."""
    disable_dropdown: bool | None = None
    """Show every option at once instead of a dropdown."""
    helper_text: str | None = None
    """Guidance shown with the options."""
    id: str | None = None
    """The server-assigned id; keep it in an update to keep the item."""
    extra: dict[str, Any] = Factory(dict)
    """Keys this library does not model, sent back unchanged."""


@frozen(kw_only=True)
class MultipleChoiceWithFreeTextItem(Model):
    """A multiple-choice question where each chosen option also asks for free text.

    Each option's ``heading`` is the free-text prompt shown once it is chosen.
    """

    type: ClassVar[str] = ItemType.MULTIPLE_CHOICE_WITH_FREE_TEXT
    description: str
    """The question."""
    options: list[ChoiceOption]
    """The options offered, each with a ``heading``."""
    answer_limit: int | None = None
    """How many options may be chosen; at most ``len(options)``."""
    disable_dropdown: bool | None = None
    """Show every option at once instead of a dropdown."""
    helper_text: str | None = None
    """Guidance shown with the options."""
    placeholder_text_input: str | None = None
    """Placeholder text in the empty free-text inputs."""
    id: str | None = None
    """The server-assigned id; keep it in an update to keep the item."""
    extra: dict[str, Any] = Factory(dict)
    """Keys this library does not model, sent back unchanged."""


@frozen(kw_only=True)
class FileUploadItem(Model):
    """A request for the participant to upload files."""

    type: ClassVar[str] = ItemType.FILE_UPLOAD
    description: str
    """What to upload."""
    accepted_file_types: list[str] | None = None
    """Accepted file extensions (``[".jpg", ".png"]``)."""
    max_file_size_mb: float | None = None
    """The largest file accepted, in megabytes."""
    min_file_count: int | None = None
    """The fewest files accepted."""
    max_file_count: int | None = None
    """The most files accepted."""
    helper_text: str | None = None
    """Guidance shown with the upload control."""
    id: str | None = None
    """The server-assigned id; keep it in an update to keep the item."""
    extra: dict[str, Any] = Factory(dict)
    """Keys this library does not model, sent back unchanged."""


@frozen(kw_only=True)
class VideoNarrationItem(Model):
    """A request for the participant to record a narrated video.

    The public documentation names this type but not its settings: any setting other
    than those below is kept, and sent back, in ``extra``.
    """

    type: ClassVar[str] = ItemType.VIDEO_NARRATION
    description: str
    """What to narrate."""
    helper_text: str | None = None
    """Guidance shown with the recorder."""
    id: str | None = None
    """The server-assigned id; keep it in an update to keep the item."""
    extra: dict[str, Any] = Factory(dict)
    """Keys this library does not model (its recording settings), sent back unchanged."""


@frozen(kw_only=True)
class UnknownItem(Model):
    """An item whose ``type`` this library does not know; its JSON is kept whole.

    It is sent back exactly as it came, so reading and updating a batch with a new
    server-side item type keeps that item.
    """

    type: str
    """The item's ``type`` as the server sent it."""
    raw: dict[str, Any]
    """The whole item object, ``type`` included."""

    @property
    def id(self) -> str | None:
        """The server-assigned id, when the raw object has a string one."""
        value = self.raw.get("id")
        return value if isinstance(value, str) else None


#: Any item of a column: tell them apart with ``isinstance`` or by ``item.type``.
LayoutItem: TypeAlias = (
    DatasetFieldItem
    | ImageItem
    | RichTextItem
    | FreeTextItem
    | FreeTextWithUnitItem
    | MultipleChoiceItem
    | MultipleChoiceWithFreeTextItem
    | FileUploadItem
    | VideoNarrationItem
    | UnknownItem
)


@frozen(kw_only=True)
class Column(Model):
    """One column of a row: its items, shown top to bottom."""

    items: list[LayoutItem]
    """The column's items (at least one)."""
    id: str | None = None
    """The server-assigned id; keep it in an update to keep the column."""
    extra: dict[str, Any] = Factory(dict)
    """Keys this library does not model, sent back unchanged."""


@frozen(kw_only=True)
class Row(Model):
    """One row of a page: one column, or two shown side by side."""

    columns: list[Column]
    """The row's columns (one or two)."""
    id: str | None = None
    """The server-assigned id; keep it in an update to keep the row."""
    extra: dict[str, Any] = Factory(dict)
    """Keys this library does not model, sent back unchanged."""


@frozen(kw_only=True)
class Page(Model):
    """One participant screen of a batch's layout."""

    rows: list[Row]
    """The page's rows, top to bottom (at least one)."""
    display_position: DisplayPosition | str | None = None
    """``intro``/``outro`` pages show once around the task loop; the default is ``body``."""
    id: str | None = None
    """The server-assigned id; keep it in an update to keep the page."""
    extra: dict[str, Any] = Factory(dict)
    """Keys this library does not model, sent back unchanged."""
