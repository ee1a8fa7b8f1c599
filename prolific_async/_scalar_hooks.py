"""The strict scalar hooks of the converter: strings, numbers, booleans, dates, open enums.

Each refuses what JSON would otherwise coerce (a ``true`` as a count, a number as a
string), so a wrong answer is a validation error naming its field, never a silent value.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from .models.layout import AnswerValue

__all__ = [
    "answer_value_hook",
    "open_enum_hook",
    "strict",
    "structure_datetime",
    "unstructure_datetime",
]


def strict(kind: type[Any], name: str) -> Any:
    def structure(value: Any, _: Any) -> Any:
        # bool is an int subclass: a JSON true must not pass as a count or a size.
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise TypeError(f"expected {name}, got {type(value).__name__} {value!r:.40}")
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
                f"expected a string, a number or a boolean, got {type(value).__name__} "
                f"{value!r:.40}"
            )
        return value

    return structure


def structure_datetime(value: Any, _: Any) -> datetime:
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO-8601 string, got {type(value).__name__}")
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def unstructure_datetime(value: datetime) -> str:
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")


def open_enum_hook(enum_type: type[enum.StrEnum], *, optional: bool = False) -> Any:
    def structure(value: Any, _: Any) -> enum.StrEnum | str | None:
        if value is None and optional:
            return None
        if not isinstance(value, str):
            raise TypeError(f"expected a string, got {type(value).__name__}")
        try:
            return enum_type(value)
        except ValueError:
            return value

    return structure
