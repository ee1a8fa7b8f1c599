"""Batch layouts (``batch_items``): validation, id assignment and copies, as the API does.

Pure functions on plain JSON values, no state: :mod:`._batches` calls them from batch
create, update and duplicate, and from ``add_batch``.

* A layout is a non-empty list of pages → rows → columns (1 or 2) → items, each item one
  of nine ``type`` values. :func:`check_layout` returns every problem at once, each as a
  ``{"loc": ["batch_items", 0, "rows", 0, ...], "msg", "type"}`` entry (its full path,
  for ``add_batch``'s ValueError); the batch endpoints answer them with the flat 422
  ``{"type": "INVALID_BATCH_ITEMS", "issues": [...]}`` of :mod:`._layout_issues`.
* A multiple-choice option's ``value`` is a non-empty string, a number or a boolean (the
  spec's and the docs' answer value); values are unique within an item, ``true`` and
  ``1`` being different values. A unit option's ``value`` is a non-empty string.
* Every key of a page, row, column or item is stored and echoed as given (unknown keys
  included); :func:`assign_ids` gives an ``id`` (first key) to each entry without one
  and keeps given ones. On create a given id is kept as is; on update it must name an
  entry of the same level (page, row, column, item) in the batch's current layout
  ("unknown id"), and an entry may move (an item to another column) and keep its id.
  Decided here, the docs being silent: one id given to two entries of a level is a 422.
* ``dataset_field`` items are checked against the V4 schema of the batch's dataset (the
  one the same request attaches, if it does). Changing only ``dataset_id`` later does
  not re-check a stored layout.
* ``total_instruction_count`` is the number of instruction items (``free_text`` …
  ``video_narration``) once a layout is set, and 0 after ``batch_items: null`` clears it.
* Responses: get, update and list always carry ``batch_items`` (``null`` without a
  layout) and ``auto_sync_enabled``. Create and duplicate answers follow the docs'
  older create schema and leave both out, except when the create request gave either
  of them, or the duplicated batch has a layout or auto-sync on: then both are there.
  A duplicate copies the layout with new ids everywhere, and ``auto_sync_enabled``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

__all__ = [
    "INSTRUCTION_TYPES",
    "ITEM_TYPES",
    "LAYOUT_ERROR_TYPE",
    "assign_ids",
    "check_layout",
    "copy_layout",
    "instruction_count",
    "layout_ids",
    "schema_fields",
]

#: The ``type`` of the 422 error object for a layout that fails validation.
LAYOUT_ERROR_TYPE: Final = "INVALID_BATCH_ITEMS"
#: The item types participants answer.
INSTRUCTION_TYPES: Final = (
    "free_text",
    "free_text_with_unit",
    "multiple_choice",
    "multiple_choice_with_free_text",
    "file_upload",
    "video_narration",
)
#: The item types intro and outro pages may hold.
CONTENT_TYPES: Final = ("rich_text", "image")
ITEM_TYPES: Final = ("dataset_field", *CONTENT_TYPES, *INSTRUCTION_TYPES)
BODY_ONLY_TYPES: Final = ("dataset_field", *INSTRUCTION_TYPES)
#: The schema field types a ``dataset_field`` item may show.
SHOWABLE_FIELD_TYPES: Final = ("text", "image_url", "audio_url", "video_url")
DISPLAY_POSITIONS: Final = ("intro", "body", "outro")
#: Each level of the layout: its name in messages and the key of its children.
LEVELS: Final = (("page", "rows"), ("row", "columns"), ("column", "items"), ("item", None))
#: The children key of the entries under each children key: a row's children are columns.
_CHILD_KEYS: Final[dict[str, str | None]] = {"rows": "columns", "columns": "items", "items": None}
#: The level of the entries each children key holds.
_LEVEL_OF: Final = {"rows": "row", "columns": "column", "items": "item"}

Loc = tuple[str | int, ...]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _children(entry: Any, key: str | None) -> list[Any]:
    return (
        entry[key] if key and isinstance(entry, dict) and isinstance(entry.get(key), list) else []
    )


def schema_fields(schemas: Iterable[Mapping[str, Any] | None]) -> dict[str, str] | None:
    """The ``{field: type}`` of the V4 ``schemas`` (``None`` for a V3 dataset or none).

    Returns ``None`` when none of them is a schema: no ``dataset_field`` can be shown.
    """
    fields: dict[str, str] | None = None
    for schema in schemas:
        if schema is None:
            continue
        fields = fields if fields is not None else {}
        for name, definition in schema.get("fields", {}).items():
            fields[str(name)] = str(definition.get("type"))
    return fields


def layout_ids(pages: list[dict[str, Any]] | None) -> dict[str, set[str]]:
    """The ids of a stored layout at each level (``"page"`` … ``"item"``)."""
    found: dict[str, set[str]] = {}
    entries: list[Any] = list(pages or [])
    for level, key in LEVELS:
        found[level] = {e["id"] for e in entries if isinstance(e, dict) and "id" in e}
        entries = [child for entry in entries for child in _children(entry, key)]
    return found


def instruction_count(pages: list[dict[str, Any]]) -> int:
    """How many instruction items (``free_text`` … ``video_narration``) a layout holds."""
    rows = [row for page in pages for row in _children(page, "rows")]
    columns = [column for row in rows for column in _children(row, "columns")]
    items = [item for column in columns for item in _children(column, "items")]
    return sum(1 for item in items if item.get("type") in INSTRUCTION_TYPES)


def assign_ids(
    pages: list[Any], new_id: Callable[[], str], *, fresh: bool = False
) -> list[dict[str, Any]]:
    """A deep copy of a valid layout where every entry has an ``id`` (its first key).

    Given ids are kept, unless ``fresh`` (a duplicate), which replaces every one.
    """

    def with_id(entry: dict[str, Any], key: str | None) -> dict[str, Any]:
        given = entry.get("id")
        out: dict[str, Any] = {"id": new_id() if fresh or given is None else given}
        for name, value in entry.items():
            if name == key:
                out[name] = [with_id(child, _CHILD_KEYS[name]) for child in value]
            elif name != "id":
                out[name] = copy.deepcopy(value)
        return out

    return [with_id(page, "rows") for page in pages]


def copy_layout(pages: list[dict[str, Any]], new_id: Callable[[], str]) -> list[dict[str, Any]]:
    """A copy of a stored layout with a new id on every page, row, column and item."""
    return assign_ids(pages, new_id, fresh=True)


def check_layout(
    pages: list[Any],
    *,
    fields: Mapping[str, str] | None,
    known_ids: Mapping[str, set[str]] | None,
) -> list[dict[str, Any]]:
    """Every problem of a ``batch_items`` list, as ``{"loc", "msg", "type"}`` entries.

    Args:
        pages: the request's ``batch_items`` (a list; its type was checked before).
        fields: the batch's V4 schema fields by name (their type); ``None`` when its
            dataset is missing or V3, which every ``dataset_field`` item is refused for.
        known_ids: on update, the current layout's ids per level (:func:`layout_ids`);
            ``None`` on create, where ids are not checked against anything.
    """
    checker = _Checker(fields=fields, known_ids=known_ids)
    if not pages:
        checker.add((), "batch_items must hold at least one page")
    for index, page in enumerate(pages):
        checker.page(page, (index,))
    return checker.issues


class _Checker:
    """Walks one layout, collecting its problems in :attr:`issues`."""

    def __init__(
        self, *, fields: Mapping[str, str] | None, known_ids: Mapping[str, set[str]] | None
    ) -> None:
        self.fields = fields
        self.known_ids = known_ids
        self.seen_ids: dict[str, set[str]] = {level: set() for level, _ in LEVELS}
        self.issues: list[dict[str, Any]] = []

    def add(self, loc: Loc, message: str) -> None:
        self.issues.append({"loc": ["batch_items", *loc], "msg": message, "type": "value_error"})

    def entry(self, value: Any, level: str, loc: Loc) -> bool:
        """Check that an entry is an object with a valid ``id`` if any; False if not an object."""
        article = "an" if level == "item" else "a"
        if not isinstance(value, dict):
            self.add(loc, f"{article} {level} must be an object")
            return False
        given = value.get("id")
        if given is None:
            return True
        if not _text(given):
            self.add((*loc, "id"), "id must be a non-empty string")
        elif self.known_ids is not None and given not in self.known_ids[level]:
            self.add((*loc, "id"), f"unknown id {given!r}: no {level} of this batch has it")
        elif given in self.seen_ids[level]:
            self.add((*loc, "id"), f"id {given!r} is given to another {level} too")
        else:
            self.seen_ids[level].add(given)
        return True

    def children(self, value: dict[str, Any], key: str, level: str, loc: Loc) -> list[Any]:
        """The entry's list of children (``rows`` …), or ``[]`` after recording why not."""
        children = value.get(key)
        if not isinstance(children, list):
            self.add((*loc, key), f"a {level} needs a {key} array")
            return []
        if not children:
            self.add((*loc, key), f"a {level} needs at least one {_LEVEL_OF[key]}")
        return children

    def page(self, page: Any, loc: Loc) -> None:
        if not self.entry(page, "page", loc):
            return
        position = page.get("display_position")
        if position is not None and position not in DISPLAY_POSITIONS:
            self.add(
                (*loc, "display_position"),
                f"display_position must be one of intro, body, outro, not {position!r}",
            )
        shown: set[str] = set()  # the dataset fields this page shows so far
        for r, row in enumerate(self.children(page, "rows", "page", loc)):
            row_loc = (*loc, "rows", r)
            if not self.entry(row, "row", row_loc):
                continue
            columns = self.children(row, "columns", "row", row_loc)
            if len(columns) > 2:
                self.add((*row_loc, "columns"), f"a row holds 1 or 2 columns, not {len(columns)}")
            for c, column in enumerate(columns):
                column_loc = (*row_loc, "columns", c)
                if not self.entry(column, "column", column_loc):
                    continue
                for i, item in enumerate(self.children(column, "items", "column", column_loc)):
                    self.item(item, (*column_loc, "items", i), shown)
                    # Reported at each item, as the real API does (the CLI's tests show it).
                    kind = item.get("type") if isinstance(item, dict) else None
                    if position in ("intro", "outro") and kind in BODY_ONLY_TYPES:
                        self.add(
                            (*column_loc, "items", i),
                            f"{position} pages may only hold rich_text and image items",
                        )

    def item(self, item: Any, loc: Loc, shown: set[str]) -> None:
        if not self.entry(item, "item", loc):
            return
        kind = item.get("type")
        if not isinstance(kind, str):
            self.add((*loc, "type"), "an item needs a string type")
            return
        if kind not in ITEM_TYPES:
            self.add((*loc, "type"), f"unknown item type {kind!r}; one of {', '.join(ITEM_TYPES)}")
            return
        if kind == "dataset_field":
            self.dataset_field(item, loc, shown)
        elif kind == "image":
            self.text(item, "url", loc)
        elif kind == "rich_text":
            self.text(item, "content", loc)
            self.choice(item, "content_format", ("html", "markdown"), loc, required=False)
        else:
            self.instruction(item, kind, loc)

    def text(self, entry: Mapping[str, Any], key: str, loc: Loc) -> str | None:
        """Check a required non-empty string; return it when valid."""
        value = entry.get(key)
        if key not in entry:
            self.add((*loc, key), f"{key} is required")
        elif not _text(value):
            self.add((*loc, key), f"{key} must be a non-empty string")
        else:
            return str(value)
        return None

    def choice(
        self,
        entry: Mapping[str, Any],
        key: str,
        allowed: tuple[str, ...],
        loc: Loc,
        *,
        required: bool,
    ) -> None:
        value = entry.get(key)
        if value is None:
            if required:
                self.add((*loc, key), f"{key} is required")
        elif value not in allowed:
            self.add((*loc, key), f"{key} must be one of {', '.join(allowed)}, not {value!r}")

    def dataset_field(self, item: dict[str, Any], loc: Loc, shown: set[str]) -> None:
        name = self.text(item, "field", loc)
        if self.fields is None:
            self.add(loc, "dataset_field requires a V4 dataset with a schema")
        elif name is not None and name not in self.fields:
            self.add((*loc, "field"), f"field {name!r} is not in the dataset's schema")
        elif name is not None and self.fields[name] not in SHOWABLE_FIELD_TYPES:
            self.add(
                (*loc, "field"),
                f"field {name!r} has type {self.fields[name]!r}; dataset_field shows only "
                f"{', '.join(SHOWABLE_FIELD_TYPES)} fields",
            )
        if name is not None and name in shown:
            self.add((*loc, "field"), f"field {name!r} is already shown on this page")
        elif name is not None:
            shown.add(name)

    def instruction(self, item: dict[str, Any], kind: str, loc: Loc) -> None:
        self.text(item, "description", loc)
        if item.get("validation") is not None:  # null: left out, as every optional key
            self.validation(item["validation"], (*loc, "validation"))
        if kind in ("multiple_choice", "multiple_choice_with_free_text"):
            self.options(item, loc, heading=kind == "multiple_choice_with_free_text")
        elif kind == "free_text_with_unit":
            self.units(item, loc)
        elif kind == "file_upload":
            self.file_upload(item, loc)

    def validation(self, rule: Any, loc: Loc) -> None:
        if not isinstance(rule, dict):
            self.add(loc, "validation must be an object")
            return
        self.choice(rule, "type", ("string", "number"), loc, required=True)
        bounds: list[Any] = [rule.get("min"), rule.get("max")]
        for key, value in zip(("min", "max"), bounds, strict=True):
            if value is not None and not _is_number(value):
                self.add((*loc, key), f"{key} must be a number or null")
        low, high = bounds
        if _is_number(low) and _is_number(high) and low > high:
            self.add(loc, f"min ({low}) exceeds max ({high})")

    def option_list(self, item: dict[str, Any], key: str, loc: Loc, extra: Iterable[str]) -> int:
        """Check a list of ``{label, value, *extra}`` options; return its length."""
        options = item.get(key)
        if not isinstance(options, list) or not options:
            self.add((*loc, key), f"{key} must be a non-empty list")
            return 0
        values: set[tuple[bool, Any]] = set()  # (is it a bool, value): True is not 1
        for index, option in enumerate(options):
            option_loc = (*loc, key, index)
            if not isinstance(option, dict):
                self.add(option_loc, "an option must be an object")
                continue
            for name in ("label", *extra):
                self.text(option, name, option_loc)
            value = option.get("value")
            if key != "options" or isinstance(value, str) or value is None:
                value = self.text(option, "value", option_loc)
            elif not (_is_number(value) or isinstance(value, bool)):
                self.add((*option_loc, "value"), "value must be a string, a number or a boolean")
                continue
            if value is not None and (isinstance(value, bool), value) in values:
                self.add((*option_loc, "value"), f"option value {value!r} is used twice")
            elif value is not None:
                values.add((isinstance(value, bool), value))
        return len(options)

    def options(self, item: dict[str, Any], loc: Loc, *, heading: bool) -> None:
        count = self.option_list(item, "options", loc, ("heading",) if heading else ())
        limit = item.get("answer_limit")
        if limit is None:
            return
        if not _is_int(limit):
            self.add((*loc, "answer_limit"), "answer_limit must be an integer")
        elif limit < 1:
            self.add((*loc, "answer_limit"), f"answer_limit ({limit}) must be at least 1")
        elif count and limit > count:
            self.add(
                (*loc, "answer_limit"),
                f"answer_limit ({limit}) exceeds the number of options ({count})",
            )

    def units(self, item: dict[str, Any], loc: Loc) -> None:
        self.option_list(item, "unit_options", loc, ())
        units = [unit if isinstance(unit, dict) else {} for unit in _children(item, "unit_options")]
        for index, unit in enumerate(units):
            if unit.get("validation") is not None:
                self.validation(unit["validation"], (*loc, "unit_options", index, "validation"))
        self.choice(item, "unit_position", ("prefix", "suffix"), loc, required=True)
        default = item.get("default_unit")
        if default is not None and default not in [unit.get("value") for unit in units]:
            self.add((*loc, "default_unit"), f"default_unit {default!r} is not a unit option value")

    def file_upload(self, item: dict[str, Any], loc: Loc) -> None:
        size = item.get("max_file_size_mb")
        if size is not None and not (_is_number(size) and size > 0):
            self.add((*loc, "max_file_size_mb"), "max_file_size_mb must be a number above 0")
        counts: dict[str, int] = {}
        for key in ("min_file_count", "max_file_count"):
            value = item.get(key)
            if value is not None and not (_is_int(value) and value >= 0):
                self.add((*loc, key), f"{key} must be an integer of at least 0")
            elif value is not None:
                counts[key] = value
        if len(counts) == 2 and counts["min_file_count"] > counts["max_file_count"]:
            self.add(
                (*loc, "min_file_count"),
                f"min_file_count ({counts['min_file_count']}) exceeds max_file_count "
                f"({counts['max_file_count']})",
            )
