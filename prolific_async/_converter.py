"""The one converter between the API's JSON and our attrs models (cattrs preconf style).

Models carry no wire logic; every rule about the wire lives in :func:`configure_converter`.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs import Converter
from cattrs.errors import BaseValidationError

from .errors import ResponseValidationError
from .models.batches import BatchStatus, TaskDetails

__all__ = ["configure_converter", "make_converter", "structure_response"]

T = TypeVar("T")

#: Enums whose unknown server values are kept as plain strings instead of failing.
OPEN_ENUMS: tuple[type[enum.StrEnum], ...] = (BatchStatus,)


def _strict(kind: type[Any], name: str) -> Any:
    def structure(value: Any, _: Any) -> Any:
        # bool is an int subclass: a JSON true must not pass as a count.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise TypeError(f"expected {name}, got {type(value).__name__} {value!r:.40}")
        return value

    return structure


def _structure_datetime(value: Any, _: Any) -> datetime:
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO-8601 string, got {type(value).__name__}")
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _unstructure_datetime(value: datetime) -> str:
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _open_enum_hook(enum_type: type[enum.StrEnum]) -> Any:
    def structure(value: Any, _: Any) -> enum.StrEnum | str:
        if not isinstance(value, str):
            raise TypeError(f"expected a string, got {type(value).__name__}")
        try:
            return enum_type(value)
        except ValueError:
            return value

    return structure


def configure_converter(converter: Converter) -> None:
    """Install the wire rules of the Prolific API on ``converter``.

    Rules:
        * ``str``, ``int``, ``bool`` and ``float`` are strict: a wrongly typed value (a
          ``null`` id, a string count) is an error, never silently coerced.
        * Datetimes are ISO-8601 strings; a trailing ``Z`` is UTC, and a timestamp with no
          offset is taken as UTC. They are written back as ISO-8601 with ``Z``.
        * Open enums (:class:`BatchStatus`): a value this library does not know is kept as
          the plain string, so ``status`` types as ``BatchStatus | str``.
        * Optional fields the server leaves out (``schema_version``, ``total_task_groups``
          and dataset ``filename`` in create/duplicate responses) take their default,
          ``None``. Unknown keys are ignored.
        * ``task_details``: the create response schema requires only ``task_name``; a
          missing ``task_introduction`` or ``task_steps`` reads as ``""``.
    """
    converter.register_structure_hook(str, _strict(str, "a string"))
    converter.register_structure_hook(int, _strict(int, "an integer"))
    converter.register_structure_hook(bool, _strict(bool, "a boolean"))
    converter.register_structure_hook(float, _strict((int, float), "a number"))  # type: ignore[arg-type]
    converter.register_structure_hook(datetime, _structure_datetime)
    converter.register_unstructure_hook(datetime, _unstructure_datetime)
    for enum_type in OPEN_ENUMS:
        converter.register_structure_hook(enum_type | str, _open_enum_hook(enum_type))

    structure_task_details = converter.gen_structure_attrs_fromdict(TaskDetails)

    def _task_details(value: Any, cls: Any) -> TaskDetails:
        if isinstance(value, dict):
            value = {"task_introduction": "", "task_steps": "", **value}
        return structure_task_details(value, cls)

    converter.register_structure_hook(TaskDetails, _task_details)


def make_converter() -> Converter:
    """Return a converter configured with :func:`configure_converter`."""
    converter = Converter(detailed_validation=True, forbid_extra_keys=False)
    configure_converter(converter)
    return converter


converter = make_converter()


def structure_response(data: Any, cls: type[T], *, status_code: int, method: str, url: str) -> T:
    """Structure a decoded response body, turning any failure into ResponseValidationError."""
    try:
        if attrs.has(cls) and not isinstance(data, dict):
            raise TypeError(f"expected a JSON object, got {type(data).__name__}")
        return converter.structure(data, cls)
    except (
        BaseValidationError,
        cattrs.StructureHandlerNotFoundError,
        TypeError,
        ValueError,
        KeyError,
        AttributeError,
    ) as exc:
        errors = cattrs.transform_error(exc, path="$")
        message = (
            f"{method} {url} returned {status_code} with a body that does not match "
            f"{cls.__name__}: {'; '.join(errors)}"
        )
        raise ResponseValidationError(
            message, status_code=status_code, method=method, url=url, errors=errors
        ) from exc
