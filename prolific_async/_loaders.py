"""Reading a layout file and a dataset-schema file: JSON on disk to the models the client sends.

The files are the ones Prolific's official CLI takes (``--batch-items-file``,
``--schema``): a layout is a JSON array of pages, or an object whose ``batch_items``
key holds that array (a batch as ``batches get`` prints it, a create body); a schema is
``{"strict": ..., "fields": {"NAME": {"type": ..., "label": ...}}}``. Anything else is an
:class:`~prolific_async.errors.InputFileError` naming the file and where in it the
problem is: a line and column for JSON that does not parse, a JSON path
(``$[0].rows[0].columns[0].items[1].options[0].value``) for a value of the wrong shape.
Datapoints to append (:func:`load_records`) are JSON Lines, or one JSON array.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Final, TypeVar

import cattrs
from cattrs.errors import BaseValidationError
from cattrs.v import format_exception

from ._converter import converter
from ._json import FINITE_ONLY, NonFiniteNumberError, long_integer_at, non_finite_at
from .errors import InputFileError
from .models.datasets import DatasetSchema
from .models.layout import Page

__all__ = ["load_layout", "load_records", "load_schema"]

T = TypeVar("T")

#: The keys a schema file may hold, at the top and in each field. The model has no
#: extra mapping, so an unknown key (a typo, a newer option) would be silently dropped.
SCHEMA_KEYS: Final = frozenset({"strict", "fields"})
FIELD_KEYS: Final = frozenset({"type", "label"})
SCHEMA_SHAPE: Final = 'a JSON object {"strict": true|false, "fields": {"NAME": {"type": ...}}}'
FIELDS_SHAPE: Final = '"fields" to be an object {"NAME": {"type": ..., "label": ...}}'
FIELD_SHAPE: Final = 'an object {"type": ..., "label": ...}'
LAYOUT_SHAPE: Final = 'a JSON array of pages, or an object {"batch_items": [...]}'


def load_layout(path: str | os.PathLike[str]) -> list[Page]:
    """Read a batch layout (``batch_items``) from a JSON file.

    Keys the library does not model are kept in each page's, row's, column's or item's
    ``extra`` (an unknown item type as an :class:`~prolific_async.models.UnknownItem`),
    so the layout sent is the file's.

    Args:
        path: a JSON file holding an array of pages, or an object with a
            ``batch_items`` key holding one.

    Returns:
        The pages, for ``client.batches.create(batch_items=...)`` or ``update``.

    Raises:
        InputFileError: the file cannot be read, is not JSON, holds no pages, or a
            value has the wrong shape (the message names the JSON path).
    """
    file = Path(path)
    data = _read_json(file)
    where = "$"
    if isinstance(data, dict) and "batch_items" in data:
        data, where = data["batch_items"], "$.batch_items"
    if not isinstance(data, list):
        raise _problem(file, f"expected {LAYOUT_SHAPE}, got {_kind(data)} @ {where}")
    if not data:
        raise _problem(file, f"a layout needs at least one page, got an empty array @ {where}")
    return _structure(file, data, list[Page], where)


def load_schema(path: str | os.PathLike[str]) -> DatasetSchema:
    """Read a V4 dataset schema from a JSON file.

    Args:
        path: a JSON file ``{"strict": true|false, "fields": {"NAME": {"type": ...,
            "label": ...}}}`` (``strict`` and ``label`` optional).

    Returns:
        The schema, for ``client.datasets.create(schema=...)``.

    Raises:
        InputFileError: the file cannot be read, is not JSON, has unknown keys, or a
            value has the wrong shape (the message names the JSON path).
    """
    file = Path(path)
    data = _read_json(file)
    if not isinstance(data, dict) or "fields" not in data:
        raise _problem(file, f"expected {SCHEMA_SHAPE} @ $")
    unknown = sorted(set(data) - SCHEMA_KEYS)
    if unknown:
        raise _problem(file, f"unknown key(s) {', '.join(unknown)}: expected {SCHEMA_SHAPE} @ $")
    fields = data["fields"]
    if not isinstance(fields, dict):
        raise _problem(file, f"expected {FIELDS_SHAPE}, got {_kind(fields)} @ $.fields")
    for name, field in fields.items():
        if not isinstance(field, dict):
            raise _problem(
                file,
                f"expected field {name!r} to be {FIELD_SHAPE}, got {_kind(field)} "
                f"@ $.fields[{name!r}]",
            )
        extra = sorted(set(field) - FIELD_KEYS)
        if extra:
            raise _problem(
                file,
                f"field {name!r} has unknown key(s) {', '.join(extra)} (type, label) "
                f"@ $.fields[{name!r}]",
            )
    return _structure(file, data, DatasetSchema, "$")


def load_records(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read datapoints to append to a V4 dataset: JSON Lines, or one JSON array of objects.

    Blank lines are skipped. The records are not checked against a schema here: the
    server does that, record by record.

    Args:
        path: a ``.jsonl`` file (one JSON object per line) or a JSON array of objects.

    Returns:
        The records, for ``client.datasets.add_datapoints``.

    Raises:
        InputFileError: the file cannot be read, a line is not JSON or not an object
            (the message names the line), or it holds no records.
    """
    file = Path(path)
    text = _read_text(file)
    if text.lstrip().startswith("["):
        records: list[Any] = _parse(file, text)
        for index, record in enumerate(records):
            if not isinstance(record, dict):
                raise _problem(file, f"expected a JSON object, got {_kind(record)} @ $[{index}]")
    else:
        records = []
        # On "\n" only (text mode turned "\r\n" into it): str.splitlines() would also
        # split inside a string holding U+2028, U+2029 or U+0085, which JSON allows.
        for number, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            record = _loads(file, line, f"line {number} ")
            if not isinstance(record, dict):
                raise _problem(file, f"line {number}: expected a JSON object, got {_kind(record)}")
            records.append(record)
    if not records:
        raise _problem(file, "holds no records: expected one JSON object per line")
    return records


def _read_json(file: Path) -> Any:
    return _parse(file, _read_text(file))


def _read_text(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except OSError as exc:
        raise _problem(file, f"cannot be read ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise _problem(file, f"is not UTF-8 text (byte {exc.start})") from exc


def _parse(file: Path, text: str) -> Any:
    return _loads(file, text)


def _loads(file: Path, text: str, line: str = "") -> Any:
    """``json.loads(text)``; what it cannot read is an :class:`InputFileError`.

    ``line``: ``"line N "`` when ``text`` is one line of the file.
    """
    verb = f"{line}is " if line else ""
    try:
        return json.loads(text, **FINITE_ONLY)
    except json.JSONDecodeError as exc:
        at = f"column {exc.colno}" if line else f"line {exc.lineno}, column {exc.colno}"
        raise _problem(file, f"{verb}not valid JSON: {exc.msg} ({at})") from exc
    except NonFiniteNumberError as exc:  # NaN, Infinity, 1e999: no server reads them
        at = non_finite_at(text)
        raise _problem(file, f"{verb}not valid JSON: {exc} (at {at})") from None
    except RecursionError:
        raise _problem(file, f"{verb}nested too deeply to read") from None
    except ValueError as exc:  # Python's cap on the digits of an integer
        limit = sys.get_int_max_str_digits()
        at = long_integer_at(text) or "$"
        raise _problem(
            file, f"{line}holds an integer too long to read (over {limit} digits, at {at})"
        ) from exc


def _structure(file: Path, data: Any, cls: type[T], where: str) -> T:
    try:
        return converter.structure(data, cls)
    except (BaseValidationError, TypeError, ValueError, KeyError) as exc:
        errors = cattrs.transform_error(exc, path=where, format_exception=_format)
        raise InputFileError(f"{file}: {'; '.join(errors)}", path=file, errors=errors) from exc


def _format(exc: BaseException, type_: Any) -> str:
    # The converter's hooks say what they expected in file terms ("expected a JSON
    # object, got str", "expected a string, got int"); cattrs would name the model
    # class instead ("expected Page", "expected SchemaField").
    if isinstance(exc, TypeError | ValueError) and str(exc).startswith("expected "):
        return str(exc)
    return format_exception(exc, type_)


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return "a string" if isinstance(value, str) else "a number"


def _problem(file: Path, message: str) -> InputFileError:
    return InputFileError(f"{file}: {message}", path=file, errors=[message])
