"""The headers every API request carries: the token, ours, and a caller's defaults."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from multidict import CIMultiDict, CIMultiDictProxy

from ._config import USER_AGENT
from ._redact import Secret

__all__ = ["REQUEST_ID_HEADERS", "request_headers", "request_id_of", "with_more_defaults"]

#: Response headers that may carry a request id, in order of preference: the API's, AWS
#: API Gateway's, S3's (a storage transfer's; its ``x-amz-id-2`` is a host id, not one).
REQUEST_ID_HEADERS: Final = ("x-request-id", "request-id", "x-amzn-requestid", "x-amz-request-id")
#: Mappings whose lookups ignore case already (a tuple: ``A | B`` would be made per call).
_CASE_INSENSITIVE: Final = (CIMultiDictProxy, CIMultiDict)

#: The headers the client sets itself, lowercased; a default header does not replace them.
OWN_HEADERS: Final = frozenset({"accept", "user-agent", "content-type"})


def request_headers(token: str, default_headers: Mapping[str, str] | None) -> dict[str, str]:
    """The headers of every API request: a caller's ``default_headers`` under ours.

    The ``Authorization`` value is a :class:`Secret`: its repr is masked.

    Raises:
        ValueError: ``default_headers`` sets ``Authorization`` (the token is ``token=``),
            or maps something other than strings to strings.
    """
    return {
        **_checked_defaults(default_headers, "default_headers"),
        "Authorization": Secret(f"Token {token}"),  # masked wherever aiohttp shows it
        "Accept": "application/json",
        "User-Agent": USER_AGENT,
    }


def with_more_defaults(headers: Mapping[str, str], extra: Mapping[str, str]) -> dict[str, str]:
    """A client's request ``headers`` with ``extra`` defaults merged in (``with_options``).

    A name in ``extra`` replaces the default of the same name, in any case; the
    client's own headers and the token stay as they are.

    Raises:
        ValueError: ``extra`` sets ``Authorization``, or maps non-strings.
    """
    added = _checked_defaults(extra, "headers")
    replaced = {name.lower() for name in added}
    kept = {name: value for name, value in headers.items() if name.lower() not in replaced}
    return {**added, **kept}


def _checked_defaults(defaults: Mapping[str, str] | None, argument: str) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in (defaults or {}).items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise ValueError(f"{argument} must map strings to strings, got {name!r}")
        if name.lower() == "authorization":
            raise ValueError(
                f"{argument} cannot set Authorization: pass the token as token= "
                "(or set PROLIFIC_TOKEN)"
            )
        if name.lower() not in OWN_HEADERS:  # ours win, and no header is sent twice
            headers[name] = value
    return headers


def request_id_of(headers: Mapping[str, str] | None) -> str | None:
    """The request id an answer carries (whichever header the server uses), if any.

    The one lookup of it: a success's, an error's and a log line's. Header names are
    matched case-insensitively, whatever mapping holds them.
    """
    if not headers:
        return None
    if not isinstance(headers, _CASE_INSENSITIVE):
        headers = {key.lower(): value for key, value in headers.items()}
    for name in REQUEST_ID_HEADERS:  # a loop: cheaper than next() over a generator
        value = headers.get(name)
        if value is not None:
            return value
    return None
