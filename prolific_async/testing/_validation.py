"""Request validation shared by the endpoints: Django REST framework's messages and readers.

The real API words its field errors as DRF does and reports every problem of a body at
once: the field readers here record each problem in an ``errors`` dict, which the caller
raises as one 400 :class:`~._errors.APIError`.
"""

from __future__ import annotations

import json
from typing import Any

from .._sentinel import NOT_GIVEN
from ..models.batches import TaskDetails
from ._errors import APIError

__all__ = [
    "NOT_BLANK",
    "NOT_BOOLEAN",
    "NOT_NULL",
    "NOT_STRING",
    "REQUIRED",
    "field_bool",
    "field_layout",
    "field_str",
    "field_task_details",
    "parse_json_object",
]

REQUIRED = "This field is required."
NOT_NULL = "This field may not be null."
NOT_BLANK = "This field may not be blank."
NOT_STRING = "Not a valid string."
NOT_BOOLEAN = "Must be a valid boolean."


def field_str(
    body: dict[str, Any], key: str, errors: dict[str, Any], *, required: bool, blank: bool = False
) -> str | None:
    """Return ``body[key]`` if it is a valid string, else record why in ``errors``."""
    if key not in body:
        if required:
            errors[key] = [REQUIRED]
        return None
    value = body[key]
    if value is None:
        errors[key] = [NOT_NULL]
    elif not isinstance(value, str):
        errors[key] = [NOT_STRING]
    elif not blank and not value.strip():
        errors[key] = [NOT_BLANK]
    else:
        return value
    return None


def field_task_details(
    body: dict[str, Any], errors: dict[str, Any], *, required: bool
) -> TaskDetails | None:
    """Return ``body["task_details"]`` as :class:`TaskDetails` if valid, else record why."""
    if "task_details" not in body:
        if required:
            errors["task_details"] = [REQUIRED]
        return None
    value = body["task_details"]
    if value is None:
        errors["task_details"] = [NOT_NULL]
        return None
    if not isinstance(value, dict):
        kind = type(value).__name__
        errors["task_details"] = {
            "non_field_errors": [f"Invalid data. Expected a dictionary, but got {kind}."]
        }
        return None
    nested: dict[str, Any] = {}
    task_name = field_str(value, "task_name", nested, required=True)
    # The HTML fields may be empty; only their presence and type are checked.
    introduction = field_str(value, "task_introduction", nested, required=True, blank=True)
    steps = field_str(value, "task_steps", nested, required=True, blank=True)
    if nested or task_name is None or introduction is None or steps is None:
        errors["task_details"] = nested
        return None
    return TaskDetails(task_name=task_name, task_introduction=introduction, task_steps=steps)


def field_layout(body: dict[str, Any], errors: dict[str, Any], *, nullable: bool) -> Any:
    """``batch_items`` if it is a list (or ``None``, when ``nullable``), else ``NOT_GIVEN``.

    A value that is neither is recorded in ``errors`` (400); on create ``null`` is as
    good as absent. What is inside the list is checked later (422, :mod:`._layout`).
    """
    value = body.get("batch_items")
    if value is None:
        return None if nullable and "batch_items" in body else NOT_GIVEN
    if not isinstance(value, list):
        kind = type(value).__name__
        errors["batch_items"] = [f'Expected a list of items but got type "{kind}".']
        return NOT_GIVEN
    return value


def field_bool(body: dict[str, Any], key: str, errors: dict[str, Any]) -> bool | None:
    """``body[key]`` if it is a boolean, else ``None`` (recording a wrong type)."""
    if key not in body:
        return None
    value = body[key]
    if not isinstance(value, bool):
        errors[key] = [NOT_NULL if value is None else NOT_BOOLEAN]
        return None
    return value


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """Decode a request body as a JSON object; an empty body is ``{}`` (as in DRF).

    Raises:
        APIError: 400 for a body that is not JSON or not an object.
    """
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise APIError(400, f"JSON parse error - {exc}") from None
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise APIError(
            400, {"non_field_errors": [f"Invalid data. Expected a dictionary, but got {kind}."]}
        )
    return data
