"""Bodies: what a request sends (JSON or raw bytes), and a 2xx answer read as a model."""

from __future__ import annotations

import re
import sys
import typing
from collections.abc import Callable, Mapping
from typing import Any, Final, Protocol, TypeVar

import aiohttp
import attrs
import cattrs
from attrs import frozen
from cattrs.errors import BaseValidationError
from cattrs.v import format_exception

from ._json import (
    NonFiniteNumberError,
    long_integer_at,
    non_finite_at,
    quick_loads,
    shortened_url,
    stdlib_loads,
)
from .errors import ResponseTooLargeError, ResponseValidationError

__all__ = [
    "DEFAULT_MAX_LISTING_BYTES",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "APIResponse",
    "BodyCaps",
    "RawBody",
    "decode_json",
    "is_listing",
    "read_body",
    "structure_response",
    "with_body",
]

T = TypeVar("T")

#: The cap on one object's answer (a batch with a large layout is well under 1 MiB).
DEFAULT_MAX_RESPONSE_BYTES: Final = 8 * 1024 * 1024
#: The cap on a listing: one unpaged body holding a whole workspace, about 2.5 KB per
#: batch with its layout; 256 MiB holds the largest workspace we support, 100,000 batches.
DEFAULT_MAX_LISTING_BYTES: Final = 256 * 1024 * 1024
#: How much of a body is taken from the connection at a time.
_CHUNK_BYTES: Final = 64 * 1024


def is_listing(cast_to: Any) -> bool:
    """Whether an answer read as ``cast_to`` is a listing (gets the listing cap).

    A listing is a bare array or an envelope with a ``results`` array. Asked on every
    call, so the answer is kept per type.
    """
    try:
        return _LISTING[cast_to]
    except KeyError:
        pass
    except TypeError:  # not hashable: nothing to keep it under
        return _is_listing(cast_to)
    answer = _LISTING[cast_to] = _is_listing(cast_to)
    return answer


def _is_listing(cast_to: Any) -> bool:
    if typing.get_origin(cast_to) is list:
        return True
    return attrs.has(cast_to) and any(a.name == "results" for a in attrs.fields(cast_to))


_LISTING: Final[dict[Any, bool]] = {}


def _positive_bytes(_: Any, attribute: attrs.Attribute[int], value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{attribute.alias} must be a positive number of bytes, got {value!r}")


class Progress(Protocol):
    """What a body's reader tells of its progress (an attempt's read timeout)."""

    def touch(self) -> None:
        """A chunk came now."""


@frozen(kw_only=True)
class BodyCaps:
    """The client's caps on an answer's decompressed body, by kind of answer."""

    max_response_bytes: int = attrs.field(
        default=DEFAULT_MAX_RESPONSE_BYTES, validator=_positive_bytes
    )
    """The cap for one object."""
    max_listing_bytes: int = attrs.field(
        default=DEFAULT_MAX_LISTING_BYTES, validator=_positive_bytes
    )
    """The cap for a listing (see :func:`is_listing`)."""

    def for_answer(self, cast_to: Any) -> int:
        """The cap for an answer read as ``cast_to``."""
        return self.max_listing_bytes if is_listing(cast_to) else self.max_response_bytes


async def read_body(
    response: aiohttp.ClientResponse,
    limit: int,
    *,
    error_limit: int | None = None,
    shown_url: str | None = None,
    setting: str | None = None,
    progress: Progress | None = None,
) -> bytes:
    """Read ``response``'s body, refusing it past ``limit`` decompressed bytes.

    The one place a body is read from the API's connection: a ``Content-Length`` over
    the cap fails before anything is read; otherwise the body is taken in chunks as
    aiohttp decompresses it, so an endless or a compressed body stops at the cap. The
    body of a non-2xx answer is capped at ``error_limit`` when given (an error is one
    object, even where a listing was asked for): past it, the error is this one, not
    the status's. ``shown_url`` is the URL an error names (default: the response's) and
    ``setting`` the setting it says caps the body. ``progress`` is touched for each
    chunk read (a read timeout's, which then counts from there): a body of at most one
    chunk (64 KiB) is read at once.

    Raises:
        ResponseTooLargeError: the body is larger than its cap; the connection was
            closed (never returned to the pool with a body half read).
    """
    if error_limit is not None and not 200 <= response.status < 300:
        limit = min(limit, error_limit)
    declared = response.content_length
    # A compressed body's length says nothing of its decompressed size: counted below.
    if declared is not None and "Content-Encoding" not in response.headers:
        if declared > limit:
            _refuse(response, limit, f"declares {declared} bytes", shown_url, setting)
        # aiohttp's parser stops at the declared length: the body cannot pass the cap.
        if progress is None or declared <= _CHUNK_BYTES:
            return await response.read()
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(_CHUNK_BYTES):
        if progress is not None:
            progress.touch()
        size += len(chunk)
        if size > limit:
            _refuse(response, limit, f"goes past {limit} bytes", shown_url, setting)
        chunks.append(chunk)
    return b"".join(chunks)


def _refuse(
    response: aiohttp.ClientResponse,
    limit: int,
    why: str,
    shown_url: str | None,
    setting: str | None,
) -> typing.NoReturn:
    response.close()  # the rest of the body stays unread: the connection cannot be reused
    method = response.method
    url = str(response.url) if shown_url is None else shown_url
    if setting is None:
        setting = (
            "max_response_bytes for one object, max_listing_bytes for a listing"
            if 200 <= response.status < 300
            else "an error body is one object: max_response_bytes"
        )
    raise ResponseTooLargeError(
        f"{method} {shortened_url(url)} returned {response.status} with a body that {why}, "
        f"over the client's cap of {limit} bytes for this kind of answer ({setting}); it was "
        "not read",
        status_code=response.status,
        method=method,
        url=url,
        limit=limit,
    )


@frozen
class RawBody:
    """A request body sent as these bytes with this ``Content-Type``, not as JSON.

    For the one endpoint that takes no JSON: appending datapoints takes JSON Lines.
    Bytes, so an attempt that may be resent sends exactly the same body.
    """

    content: bytes
    content_type: str


def with_body(
    options: Mapping[str, Any],
    body: Any,
    params: Mapping[str, str] | None,
    *,
    upload_timeout: aiohttp.ClientTimeout,
) -> dict[str, Any]:
    """The ``aiohttp`` request arguments ``options`` that send ``body`` and ``params``.

    ``body`` goes as JSON, or as it is for a :class:`RawBody` (with its content type,
    and ``upload_timeout``: aiohttp's ``sock_read`` starts once the body is sent, so the
    time a large body takes to upload is not counted as the answer's). What is ``None``
    is not passed: aiohttp's default is the same.
    """
    sent = {**options} if params is None else {**options, "params": params}
    if isinstance(body, RawBody):
        # Over the session's defaults (ours) or with the rest of the headers (a derived
        # client's, a caller's session's): each name given replaces its default.
        sent["headers"] = {**options.get("headers", {}), "Content-Type": body.content_type}
        sent["data"] = body.content
        sent["timeout"] = upload_timeout
    elif body is not None:
        sent["json"] = body
    return sent


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


#: What a surrogate can come from in a body: a ``\uD800``-``\uDFFF`` escape, or its
#: bytes in UTF-8, which :func:`json.loads` lets through. Most bodies hold neither, and
#: skip the walk that looks for a lone one. Two patterns, not one alternation: a pattern
#: with a literal start is searched for at memchr speed, an alternation is tried at every
#: byte (5 µs for a 2.4 KB body, 0.7 µs for each half).
_SURROGATE_ESCAPE: Final = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE_BYTES: Final = re.compile(rb"\xed[\xa0-\xbf]")


def _first_bad_text(data: Any) -> str | None:
    # Imported here: loading ``models`` is deferred until an answer needs it, and only a
    # body that may hold a surrogate is walked.
    from .models._text import first_bad_text

    return first_bad_text(data, "$")


_NOT_JSON: Final = object()
_TOO_LONG: Final = object()  # not read: an integer of more digits than Python reads


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
    if not raw or raw.isspace():  # no copy of the body, as strip() would make
        return None
    read, data = quick_loads(raw)
    try:
        if not read:
            data = stdlib_loads(raw)
    except RecursionError:
        # Nesting deeper than Python's stack (JSON allows any depth); no model nests so.
        raise ResponseValidationError(
            f"{method} {shortened_url(url)} returned {status} with JSON nested too deeply to read",
            status_code=status,
            method=method,
            url=url,
            errors=["body is nested too deeply @ $"],
        ) from None
    except NonFiniteNumberError as exc:
        at = redact(non_finite_at(raw))  # a key may echo the token
        raise ResponseValidationError(
            f"{method} {shortened_url(url)} returned {status} with a number JSON cannot "
            f"carry at {at} ({exc})",
            status_code=status,
            method=method,
            url=url,
            errors=[f"NaN, Infinity or a number beyond a float's range @ {at}"],
        ) from None
    except ValueError as exc:  # raised below, without the decoder's error (its doc is the body)
        data = _TOO_LONG if "integer string conversion" in str(exc) else _NOT_JSON
    if data is _NOT_JSON or data is _TOO_LONG:
        limit = sys.get_int_max_str_digits()  # Python's cap on an integer's digits
        long_at = long_integer_at(raw) if data is _TOO_LONG else None
        if long_at is not None:  # JSON, but an integer Python refuses to read
            at = redact(long_at)  # a key may echo the token
            problem = f"an integer too long to read (over {limit} digits) at {at}"
            errors = [f"an integer of over {limit} digits @ {at}"]
        else:
            snippet = redact(raw[:4096].decode("utf-8", errors="replace"))[:80]
            problem, errors = f"a body that is not JSON: {snippet!r}", ["body is not JSON @ $"]
        raise ResponseValidationError(
            f"{method} {shortened_url(url)} returned {status} with {problem}",
            status_code=status,
            method=method,
            url=url,
            errors=errors,
        )
    # Anywhere in the body, not only in the fields a model types as ``str``: the whole
    # batch, unknown layout keys included, is written to the journal as UTF-8.
    # The one-byte finds run at memchr speed (a two-byte `in` does not); each pattern runs
    # only when its start is there (a body with a `\"` or `\n` but no `\u` is common).
    maybe = (raw.find(b"\\") >= 0 and _SURROGATE_ESCAPE.search(raw)) or (
        raw.find(b"\xed") >= 0 and _SURROGATE_BYTES.search(raw)
    )
    path = _first_bad_text(data) if maybe else None
    if path is not None:
        problem = f"expected valid Unicode text, got a lone surrogate @ {path}"
        raise ResponseValidationError(
            f"{method} {shortened_url(url)} returned {status} with a body that cannot be "
            f"used: {problem}",
            status_code=status,
            method=method,
            url=url,
            errors=[problem],
        )
    return data


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


#: The fast converter's ``structure``, imported on first use: the converters, and the
#: models they know, load only when an answer is decoded (importing the client stays cheap).
_fast: list[Callable[[Any, Any], Any]] = []


def _load_fast() -> Callable[[Any, Any], Any]:
    from ._fast_converter import fast_structure

    _fast.append(fast_structure)
    return fast_structure


def structure_response(data: Any, cls: type[T], *, status_code: int, method: str, url: str) -> T:
    """Structure a decoded response body, turning any failure into ResponseValidationError."""
    try:
        return (_fast[0] if _fast else _load_fast())(data, cls)  # type: ignore[no-any-return]
    except Exception:  # noqa: S110 (the detailed converter below words what is wrong)
        pass
    try:
        if attrs.has(cls) and not isinstance(data, dict):
            raise TypeError(f"expected a JSON object, got {type(data).__name__}")
        if typing.get_origin(cls) is list and not isinstance(data, list):
            # cattrs would make an object its keys and a string its characters.
            raise TypeError(f"expected a JSON array, got {type(data).__name__}")
        from ._converter import converter  # the detailed one: only for a body that fails

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
            f"{method} {shortened_url(url)} returned {status_code} with a body that does not match "
            f"{cls.__name__}: {'; '.join(errors)}"
        )
        failure = ResponseValidationError(
            message, status_code=status_code, method=method, url=url, errors=errors
        )
    # Raised outside the except block, with no cause: the converter's exceptions quote
    # the values they refused, which may be anything the server sent (the token too).
    raise failure
