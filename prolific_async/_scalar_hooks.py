"""The strict scalar hooks of the converter: strings, numbers, booleans, dates, open enums.

Each refuses what JSON would otherwise coerce (a ``true`` as a count, a number as a
string), so a wrong answer is a validation error naming its field, never a silent value.
"""

from __future__ import annotations

import enum
import math
from datetime import UTC, datetime
from typing import Any, Final

from .models._text import check_text
from .models.datasets import DatasetStatus, ImportStatus
from .models.layout import AnswerValue

__all__ = [
    "MAX_INTEGER",
    "answer_value_hook",
    "check_number",
    "check_text",
    "open_enum_hook",
    "strict",
    "structure_datetime",
    "unstructure_datetime",
    "upload_status_hook",
]


#: The largest integer read from an answer: a signed 64-bit one, what the journal's
#: SQLite (and any database a caller keeps) can hold. JSON allows any size.
MAX_INTEGER: Final = 2**63 - 1


def check_number(value: int | float) -> int | float:
    """``value`` if it is finite and fits in 64 bits (an integer).

    Raises:
        ValueError: an infinite or NaN float (``1e999`` decodes as ``inf``), or an
            integer beyond :data:`MAX_INTEGER` either way.
    """
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"expected a finite number, got {value!r}")
    elif not -MAX_INTEGER - 1 <= value <= MAX_INTEGER:
        raise ValueError(f"expected an integer within 64 bits, got one of {len(str(value))} digits")
    return value


def _sample(value: Any) -> str:
    """What a message shows of a value of the wrong type: a number or a constant, never text.

    A string (or a list or object holding one) may be anything the server echoed, the
    client's token included, so it is named by its type alone.
    """
    if value is None or isinstance(value, bool | int | float):
        return f" {value!r:.40}"
    return ""


def strict(kind: type[Any], name: str) -> Any:
    def structure(value: Any, _: Any) -> Any:
        # bool is an int subclass: a JSON true must not pass as a count or a size.
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise TypeError(f"expected {name}, got {type(value).__name__}{_sample(value)}")
        if isinstance(value, str):
            return check_text(value)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return check_number(value)
        return value

    return structure


def answer_value_hook(*, optional: bool = False) -> Any:
    """Hook for :data:`AnswerValue`: a JSON string, number or boolean, kept as it came.

    Returning the value itself keeps ``bool`` apart from ``int`` (``true`` stays ``True``,
    ``1`` stays ``1``, ``1.5`` stays ``1.5``); anything else (an object, a list, a ``null``
    where none is allowed) is an error, never coerced.
    """

    def structure(value: Any, _: Any) -> AnswerValue | None:
        if value is None and optional:
            return None
        if not isinstance(value, str | bool | int | float):
            raise TypeError(
                "expected a string, a number or a boolean, got "
                f"{type(value).__name__}{_sample(value)}"
            )
        if isinstance(value, str):
            return check_text(value)
        if not isinstance(value, bool):
            return check_number(value)
        return value

    return structure


def structure_datetime(value: Any, _: Any) -> datetime:
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO-8601 string, got {type(value).__name__}")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        # Checked here, where it is read: 0001-01-01T00:00:00+01:00 parses but has no
        # UTC form, and would fail later when journaled or printed.
        parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError(
            f"expected a date within years 1 to 9999 in UTC, got {value!r:.40}"
        ) from None
    return parsed


def unstructure_datetime(value: datetime) -> str:
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")


def open_enum_hook(enum_type: type[enum.StrEnum], *, optional: bool = False) -> Any:
    def structure(value: Any, _: Any) -> enum.StrEnum | str | None:
        if value is None and optional:
            return None
        if not isinstance(value, str):
            raise TypeError(f"expected a string, got {type(value).__name__}")
        check_text(value)
        try:
            return enum_type(value)
        except ValueError:
            return value

    return structure


def upload_status_hook() -> Any:
    """:attr:`DatasetUpload.status`: a V3 status, else a V4 one (their values never overlap)."""
    v3, v4 = open_enum_hook(DatasetStatus), open_enum_hook(ImportStatus)

    def structure(value: Any, target: Any) -> Any:
        status = v3(value, target)
        return status if isinstance(status, DatasetStatus) else v4(value, target)

    return structure
