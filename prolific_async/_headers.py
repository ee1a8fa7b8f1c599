"""The headers every API request carries: the token, ours, and a caller's defaults."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from ._config import USER_AGENT

__all__ = ["request_headers"]

#: The headers the client sets itself, lowercased; a default header does not replace them.
OWN_HEADERS: Final = frozenset({"accept", "user-agent", "content-type"})


def request_headers(token: str, default_headers: Mapping[str, str] | None) -> dict[str, str]:
    """The headers of every API request: a caller's ``default_headers`` under ours.

    Raises:
        ValueError: ``default_headers`` sets ``Authorization`` (the token is ``token=``),
            or maps something other than strings to strings.
    """
    headers: dict[str, str] = {}
    for name, value in (default_headers or {}).items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise ValueError(f"default_headers must map strings to strings, got {name!r}")
        if name.lower() == "authorization":
            raise ValueError(
                "default_headers cannot set Authorization: pass the token as token= "
                "(or set PROLIFIC_TOKEN)"
            )
        if name.lower() not in OWN_HEADERS:  # ours win, and no header is sent twice
            headers[name] = value
    return {
        **headers,
        "Authorization": f"Token {token}",
        "Accept": "application/json",
        "User-Agent": USER_AGENT,
    }
