"""Request validation shared by the endpoints: the error type, messages and field readers.

Django REST framework's wording and nested error shape, as the real API answers: field
readers record every problem of a body in an ``errors`` dict, which the caller raises as
one 400 :class:`APIError`; the server renders it as ``{"error": {status, ...}}``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from .._sentinel import NOT_GIVEN
from ..models.batches import TaskDetails

__all__ = [
    "NOT_BLANK",
    "NOT_BOOLEAN",
    "NOT_NULL",
    "NOT_STRING",
    "REQUIRED",
    "APIError",
    "error_body",
    "error_code",
    "field_bool",
    "field_layout",
    "field_str",
    "field_task_details",
    "parse_json_object",
    "status_phrase",
]

REQUIRED = "This field is required."
NOT_NULL = "This field may not be null."
NOT_BLANK = "This field may not be blank."
NOT_STRING = "Not a valid string."
NOT_BOOLEAN = "Must be a valid boolean."


def status_phrase(status: int) -> str:
    """The reason phrase of an HTTP status ("Bad Request"), or "Error" for an unlisted one."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def error_code(status: int) -> int:
    """Return the ``error_code`` the emulator sends with a status.

    Prolific's internal codes are not published; the one documented example pairs 400
    with 140100, so 4xx statuses map to ``140100 + (status - 400)`` and 5xx statuses to
    ``140500 + (status - 500)``.
    """
    base, first = (140500, 500) if status >= 500 else (140100, 400)
    return base + status - first


def error_body(status: int, detail: Any, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Build Prolific's nested error body: ``{"error": {status, error_code, title, detail}}``.

    ``extra`` keys (a layout error's ``type``) go between ``title`` and ``detail``.
    """
    error: dict[str, Any] = {
        "status": status,
        "error_code": error_code(status),
        "title": status_phrase(status),
    }
    error.update(extra or {})
    error["detail"] = detail
    return {"error": error}


class APIError(Exception):
    """An error answer: raised by the state and the routes, rendered by the server.

    Attributes:
        status: the HTTP status to answer with.
        detail: the ``detail`` of the error body (a string or ``{field: [messages]}``).
        extra: more keys of the error object, e.g. ``{"type": "INVALID_BATCH_ITEMS"}``.
    """

    def __init__(self, status: int, detail: Any, extra: Mapping[str, Any] | None = None) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail
        self.extra = dict(extra or {})


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
