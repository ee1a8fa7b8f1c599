"""Why the API refused a batch layout: one :class:`LayoutIssue` per problem of a 422.

A create or update whose ``batch_items`` fail validation answers 422 with ``{"type":
"INVALID_BATCH_ITEMS", "issues": [...]}``;
:attr:`~prolific_async.UnprocessableEntityError.issues` holds them as these models.
"""

from __future__ import annotations

from typing import Any

from attrs import Factory, frozen

from ._base import Model

__all__ = ["LayoutIssue"]

#: Each level of a layout with the key its entries sit under (a page is under the list).
_LEVELS = (("page", ""), ("row", "rows"), ("column", "columns"), ("item", "items"))


@frozen(kw_only=True)
class LayoutIssue(Model):
    """One problem of a batch layout, located by 0-based indices.

    The indices go down to the entry at fault: a problem of a row has ``page`` and
    ``row`` and no ``column`` or ``item``. The official CLI shows them 1-based ("Page 1,
    Row 2").
    """

    message: str
    """What is wrong (``""`` when the server gave no message)."""
    page: int | None = None
    """The page's index in ``batch_items``."""
    row: int | None = None
    """The row's index in its page."""
    column: int | None = None
    """The column's index in its row."""
    item: int | None = None
    """The item's index in its column."""
    type: str | None = None
    """The item's type (``free_text``, ``dataset_field`` ...), or what else is at fault."""
    field: str | None = None
    """The dataset field a ``dataset_field`` item names, when the problem is about it."""
    extra: dict[str, Any] = Factory(dict)
    """Keys of the issue this library does not model."""

    @property
    def location(self) -> str:
        """Where the problem is, as a path: ``batch_items[0].rows[1].columns[0].items[2]``.

        The path stops at the level the issue's ``type`` names (``page``, ``row``,
        ``column``), as the server sends every index, 0 below the level at fault.
        """
        text = "batch_items"
        if self.type == "batch_items":
            return text
        for level, key in _LEVELS:
            index = getattr(self, level)
            if index is None:
                break
            text += f"{'.' + key if key else ''}[{index}]"
            if self.type == level:
                break
        return text
