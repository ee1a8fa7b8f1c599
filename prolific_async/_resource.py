"""Base of the resource classes (``client.batches`` ...): path templates and argument checks.

A resource method names its endpoint once, as a template
(``/api/v1/data-collection/batches/{batch_id}``), and passes the ids as keywords: the
base quotes every id into its segment and hands the template on for the deprecation
warning, so a path and its template cannot disagree.
"""

from __future__ import annotations

import re
from collections.abc import Coroutine, Mapping
from datetime import datetime
from functools import cached_property
from typing import Any, Final, Self, TypeVar
from urllib.parse import quote

from attrs import frozen

from ._base_client import BaseClient
from ._json import shortened_repr
from ._raw import WithRawResponse
from ._scalar_hooks import check_text, unstructure_datetime

__all__ = [
    "Resource",
    "StatusBody",
    "UnusableIdError",
    "expand",
    "path_id",
    "require_bool",
    "require_positive_int",
    "require_str",
    "valid_text",
    "wire_datetime",
]

T = TypeVar("T")

#: An id ``quote`` leaves as it is (a uuid, most often): no dot, nothing to check.
_PLAIN_ID: Final = re.compile(r"[A-Za-z0-9_~-]+")


def valid_text(value: str, name: str) -> str:
    """Refuse a string holding a lone surrogate: it has no UTF-8 form to send.

    aiohttp may quietly send such a query value as ``""`` (3.14.4 does): the request
    would name another workspace, or none.
    """
    try:
        return check_text(value)
    except ValueError as exc:
        raise ValueError(f"{name} must be valid text: {exc}") from None


def wire_datetime(value: datetime, name: str) -> str:
    """``value`` in UTC as the API reads it; one with no UTC form is refused.

    ``datetime(1, 1, 1, tzinfo=+01:00)`` is a valid datetime, but in UTC it falls in year 0.
    """
    try:
        return unstructure_datetime(value)
    except OverflowError:
        raise ValueError(
            f"{name} must be a date within years 1 to 9999 in UTC, got {value!r:.80}"
        ) from None


class UnusableIdError(ValueError):
    """An id no request path can hold (``..``, empty, not text): refused before sending.

    A ``ValueError`` as any bad argument is; its own class lets a caller that passes
    on a server's id (provisioning, after a create) tell it from a bug's ``ValueError``.
    """


def path_id(value: object, name: str) -> str:
    """Validate an id and percent-quote it as one path segment.

    Every character outside the unreserved set is quoted (``/`` included), and ``.``
    and ``..`` are refused, so no id can address another endpoint.

    Raises:
        UnusableIdError: the id is not a non-empty string (of valid text), or is ``.``
            or ``..`` (a ``ValueError``).
    """
    if isinstance(value, str) and _PLAIN_ID.fullmatch(value):  # a uuid: nothing to quote
        return value
    if not isinstance(value, str) or not value:
        raise UnusableIdError(f"{name} must be a non-empty string, got {shortened_repr(value)}")
    try:
        valid_text(value, name)
    except ValueError as exc:
        raise UnusableIdError(str(exc)) from None
    if value in (".", ".."):
        raise UnusableIdError(f"{name} must not be {value!r}: it would change the request path")
    return quote(value, safe="")


def expand(template: str, ids: Mapping[str, object]) -> str:
    """``template`` with each ``{name}`` replaced by its id, checked and quoted."""
    if len(ids) == 1:  # most paths: one id, joined in, with no format_map to run
        ((name, value),) = ids.items()
        split = _SPLITS.get(template)
        if split is None:
            split = _split(template)
        prefix, field, suffix = split
        if field == name:
            return prefix + path_id(value, name) + suffix
        return template.format_map({name: path_id(value, name)})
    return template.format_map({name: path_id(value, name) for name, value in ids.items()})


#: Each one-id template seen, split around its field (a few dozen constants in all).
_SPLITS: Final[dict[str, tuple[str, str | None, str]]] = {}


def _split(template: str) -> tuple[str, str | None, str]:
    """``template`` as its text before, its one field's name and its text after.

    ``None`` for the name when the template has not exactly one plain ``{name}``
    (``format_map`` then expands it, and reports a field the ids lack as before).
    """
    prefix, _, rest = template.partition("{")
    name, _, suffix = rest.partition("}")
    plain = template.count("{") == 1 and template.count("}") == 1 and name.isidentifier()
    split = (prefix, name, suffix) if plain else ("", None, "")
    if len(_SPLITS) < 256:  # bounded all the same: templates come from this package
        _SPLITS[template] = split
    return split


def require_str(value: object, name: str) -> str:
    """Refuse anything but a non-empty string of valid text (no lone surrogate)."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string, got {shortened_repr(value)}")
    return valid_text(value, name)


def require_bool(value: object, name: str) -> bool:
    """Refuse anything but a bool (``1`` or ``"yes"`` would be sent as they are)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")
    return value


def require_positive_int(value: object, name: str) -> int:
    """Refuse anything but an integer >= 1 (a bool is not an integer here)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return value


@frozen(kw_only=True)
class StatusBody:
    """The ``{"status": ...}`` answer of the status endpoints (batches and datasets)."""

    status: str


class Resource:
    """A group of API methods sharing one client (``client.batches``)."""

    def __init__(self, client: BaseClient) -> None:
        self._client = client

    @cached_property
    def with_raw_response(self) -> WithRawResponse[Self]:
        """The same methods, each returning a :class:`~prolific_async.RawResponse`.

        ``(await client.batches.with_raw_response.get(batch_id)).request_id``; its
        ``parse()`` is the model ``client.batches.get(batch_id)`` returns.
        """
        return WithRawResponse(self)

    def _get(
        self,
        template: str,
        *,
        cast_to: type[T],
        params: Mapping[str, str] | None = None,
        **ids: str,
    ) -> Coroutine[Any, Any, T]:
        # Each verb returns ``request``'s own coroutine for its caller to await at once
        # (an ``async def`` method): no coroutine of its own to resume on every wait. An
        # id that fails its check raises here, when the verb is called, not awaited.
        path = expand(template, ids)
        return self._client.request("GET", path, cast_to=cast_to, params=params, template=template)

    def _post(
        self,
        template: str,
        *,
        cast_to: type[T],
        body: Any = None,
        params: Mapping[str, str] | None = None,
        **ids: str,
    ) -> Coroutine[Any, Any, T]:
        path = expand(template, ids)
        return self._client.request(
            "POST", path, cast_to=cast_to, body=body, params=params, template=template
        )

    def _patch(
        self, template: str, *, cast_to: type[T], body: Any = None, **ids: str
    ) -> Coroutine[Any, Any, T]:
        path = expand(template, ids)
        return self._client.request("PATCH", path, cast_to=cast_to, body=body, template=template)

    def _delete(self, template: str, *, cast_to: type[T], **ids: str) -> Coroutine[Any, Any, T]:
        path = expand(template, ids)
        return self._client.request("DELETE", path, cast_to=cast_to, template=template)
