"""Bodies: what a request sends (JSON or raw bytes), and a 2xx answer read as a model."""

from __future__ import annotations

import json
import typing
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import attrs
import cattrs
from attrs import frozen
from cattrs.errors import BaseValidationError
from cattrs.v import format_exception

from ._converter import converter
from .errors import ResponseValidationError

__all__ = ["APIResponse", "RawBody", "body_arguments", "decode_json", "structure_response"]

T = TypeVar("T")


@frozen
class RawBody:
    """A request body sent as these bytes with this ``Content-Type``, not as JSON.

    For the one endpoint that takes no JSON: appending datapoints takes JSON Lines.
    Bytes, so an attempt that may be resent sends exactly the same body.
    """

    content: bytes
    content_type: str


def body_arguments(body: Any, headers: Mapping[str, str]) -> dict[str, Any]:
    """The ``aiohttp`` request arguments that send ``body``: JSON, or a :class:`RawBody`."""
    if isinstance(body, RawBody):
        return {"data": body.content, "headers": {**headers, "Content-Type": body.content_type}}
    return {"json": body, "headers": headers}


@frozen
class APIResponse:
    """A decoded 2xx response; ``cast_to=APIResponse`` returns it as it is."""

    status: int
    """The HTTP status."""
    data: Any
    """The decoded JSON body (``None`` for an empty one)."""
    method: str
    """The request's method."""
    url: str
    """The request's URL."""
    sent: int
    """How many attempts the call sent (for a POST: how many POSTs it cost)."""


def decode_json(
    raw: bytes,
    status: int,
    method: str,
    url: str,
    *,
    redact: Callable[[str], str] = str,
) -> Any:
    """The JSON body of a 2xx answer (``None`` when empty).

    ``redact`` masks the client's token in the snippet an error quotes (it is applied
    before the snippet is cut, so no part of the token survives at its end).
    """
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except RecursionError:
        # Nesting deeper than Python's stack (JSON allows any depth); no model nests so.
        raise ResponseValidationError(
            f"{method} {url} returned {status} with JSON nested too deeply to read",
            status_code=status,
            method=method,
            url=url,
            errors=["body is nested too deeply @ $"],
        ) from None
    except ValueError as exc:
        snippet = redact(raw[:4096].decode("utf-8", errors="replace"))[:80]
        raise ResponseValidationError(
            f"{method} {url} returned {status} with a body that is not JSON: {snippet!r}",
            status_code=status,
            method=method,
            url=url,
            errors=["body is not JSON @ $"],
        ) from exc


def _format_exception(exc: BaseException, type_: Any) -> str:
    """Word a validation failure as cattrs does, but keep our hooks' own messages.

    cattrs words a union's failure (a layout item) and any ``ValueError`` by the type
    alone; ours say what was wrong (a lone surrogate, a number out of range).
    """
    if isinstance(exc, ValueError) and str(exc).startswith("expected "):
        return str(exc)
    if (
        isinstance(exc, TypeError)
        and type_ is not None
        and not hasattr(type_, "__name__")
        and str(exc).startswith("expected ")
    ):
        return str(exc)
    return format_exception(exc, type_)


def structure_response(data: Any, cls: type[T], *, status_code: int, method: str, url: str) -> T:
    """Structure a decoded response body, turning any failure into ResponseValidationError."""
    try:
        if attrs.has(cls) and not isinstance(data, dict):
            raise TypeError(f"expected a JSON object, got {type(data).__name__}")
        if typing.get_origin(cls) is list and not isinstance(data, list):
            # cattrs would make an object its keys and a string its characters.
            raise TypeError(f"expected a JSON array, got {type(data).__name__}")
        return converter.structure(data, cls)
    except (
        BaseValidationError,
        cattrs.StructureHandlerNotFoundError,
        TypeError,
        ValueError,
        KeyError,
        AttributeError,
        OverflowError,
        RecursionError,
    ) as exc:
        errors = cattrs.transform_error(exc, path="$", format_exception=_format_exception)
        message = (
            f"{method} {url} returned {status_code} with a body that does not match "
            f"{cls.__name__}: {'; '.join(errors)}"
        )
        raise ResponseValidationError(
            message, status_code=status_code, method=method, url=url, errors=errors
        ) from exc
