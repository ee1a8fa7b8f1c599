"""The layout item classes by their wire ``type``: how the converter picks a class."""

from __future__ import annotations

from typing import Any, Final

from .layout import (
    DatasetFieldItem,
    FileUploadItem,
    FreeTextItem,
    FreeTextWithUnitItem,
    ImageItem,
    ItemType,
    MultipleChoiceItem,
    MultipleChoiceWithFreeTextItem,
    RichTextItem,
    VideoNarrationItem,
)

__all__ = ["ITEM_CLASSES"]

#: The modelled item classes by their wire ``type``.
ITEM_CLASSES: Final[dict[str, type[Any]]] = {
    ItemType.DATASET_FIELD: DatasetFieldItem,
    ItemType.IMAGE: ImageItem,
    ItemType.RICH_TEXT: RichTextItem,
    ItemType.FREE_TEXT: FreeTextItem,
    ItemType.FREE_TEXT_WITH_UNIT: FreeTextWithUnitItem,
    ItemType.MULTIPLE_CHOICE: MultipleChoiceItem,
    ItemType.MULTIPLE_CHOICE_WITH_FREE_TEXT: MultipleChoiceWithFreeTextItem,
    ItemType.FILE_UPLOAD: FileUploadItem,
    ItemType.VIDEO_NARRATION: VideoNarrationItem,
}
