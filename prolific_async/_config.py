"""Reading and checking a client's settings: arguments first, then the environment."""

from __future__ import annotations

import ipaddress
import os
import re
import ssl
from typing import Any, Final

from yarl import URL

from ._redact import Secret
from ._version import __version__
from .errors import MissingTokenError

__all__ = [
    "DEFAULT_BASE_URL",
    "SENDABLE_RULE",
    "USER_AGENT",
    "at_least_one",
    "base_url_from",
    "is_loopback",
    "seconds",
    "sendable_token",
    "shorten",
    "shown_url",
    "ssl_from",
    "token_from",
]

DEFAULT_BASE_URL: Final = "https://api.prolific.com"
#: What every endpoint's path begins with (``_paths``); a base URL must not end in it.
API_PREFIX: Final = "/api/v1"
USER_AGENT: Final = f"prolific_async/{__version__}"


def token_from(token: str | None) -> str:
    """The API token: the argument, else ``PROLIFIC_TOKEN``; surrounding blanks dropped.

    A :class:`Secret`: a frame that holds it (the client's ``__init__``, should a later
    argument be refused) shows it masked in a traceback's locals.
    """
    value = token if token is not None else os.environ.get("PROLIFIC_TOKEN")
    value = value.strip() if isinstance(value, str) else value
    if not value:
        raise MissingTokenError(
            "No Prolific API token: pass token=... or set the PROLIFIC_TOKEN "
            "environment variable (create a token in the Prolific app under "
            "Settings > API tokens)."
        )
    if not isinstance(value, str) or not _HEADER_TEXT.fullmatch(value):
        source = "token=" if token is not None else "PROLIFIC_TOKEN"
        token = value = None  # a traceback's captured locals must not show it either
        raise ValueError(  # never the token itself
            f"the API token ({source}) holds a character an HTTP header cannot carry "
            "(a newline, a control character or non-ASCII text): copy it again from "
            "the Prolific app"
        )
    return Secret(value)


#: What a token may hold: printable ASCII, as an ``Authorization`` header carries it.
_HEADER_TEXT: Final = re.compile(r"[\x20-\x7e]+")

#: What :func:`sendable_token` asks, as an option's message words it.
SENDABLE_RULE: Final = "must be printable ASCII, with no newline (no client could send it)"


def sendable_token(token: str) -> bool:
    """Whether a client can send ``token`` as it is (the emulator's must be one).

    Printable ASCII with no space at either end: :func:`token_from` trims those, so a
    server expecting them would refuse every client.
    """
    return token == token.strip() and _HEADER_TEXT.fullmatch(token) is not None


#: ``user:password@`` in a URL as given, however malformed (one slash, no slash, a
#: space): whatever comes before an ``@`` back to a ``/`` is left out when it is shown.
_USERINFO: Final = re.compile(r"[^/@]*@")


def shown_url(text: str) -> str:
    """``text`` (a URL as given, or an error naming it) without any user name or password."""
    return _USERINFO.sub("", text)


def base_url_from(base_url: str | None, *, allow_insecure_http: bool = False) -> str:
    """The API root: the argument, else ``PROLIFIC_URL``, else the real API.

    The root is the host's (``https://api.prolific.com``): one ending in ``/api/v1`` is
    refused, as every endpoint's path begins with it.

    Plain ``http://`` would send the token (which never expires) in the clear, so it is
    refused unless the host is this machine (the emulator) or the caller opts in with
    ``allow_insecure_http=True`` or ``PROLIFIC_ALLOW_INSECURE_HTTP=1``.
    """
    base = (base_url or os.environ.get("PROLIFIC_URL") or DEFAULT_BASE_URL).rstrip("/")
    try:
        parsed = URL(base)
        host = parsed.host
    except (TypeError, ValueError) as exc:
        shown = shorten(shown_url(base))
        raise ValueError(f"base_url is not a valid URL: {shown} ({shown_url(str(exc))})") from None
    if parsed.scheme not in ("http", "https") or not host:
        shown = shorten(shown_url(base))
        raise ValueError(f"base_url must be an http(s) URL with a host, got {shown}")
    if parsed.user is not None or parsed.password is not None:  # neither is repeated
        raise ValueError(
            f"base_url must not hold a user name or password ({parsed.with_user(None)} "
            "without them): the API token is the credential"
        )
    path = parsed.path.rstrip("/")
    if path.endswith(API_PREFIX):  # every request would go to .../api/v1/api/v1/...: a 404
        source = "base_url" if base_url else "PROLIFIC_URL"
        root = str(parsed.with_path(path.removesuffix(API_PREFIX) or "/")).rstrip("/")
        raise ValueError(
            f"{source} {shorten(shown_url(base))} ends in {API_PREFIX}, which the client adds "
            f"to every request itself: set it without {API_PREFIX} ({root})"
        )
    insecure_ok = allow_insecure_http or os.environ.get("PROLIFIC_ALLOW_INSECURE_HTTP") == "1"
    if parsed.scheme == "http" and not is_loopback(host) and not insecure_ok:
        raise ValueError(
            f"base_url {shorten(base)} is plain http to another machine: the API token would "
            "travel in the clear. Use https, or pass allow_insecure_http=True (or set "
            "PROLIFIC_ALLOW_INSECURE_HTTP=1) if you really mean it."
        )
    return base


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` names this machine (``localhost``, ``127.0.0.0/8``, ``::1``).

    ``localhost`` and ``*.localhost`` (RFC 6761) in any case, with a trailing dot or not;
    an address bracketed or not.

    The one rule for both of its uses: plain ``http`` is allowed to it (the emulator),
    and it is reached directly, never through an environment proxy.
    """
    if not host:
        return False
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def shorten(value: str, limit: int = 120) -> str:
    """``repr(value)``, cut to ``limit`` characters with its full length said."""
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}... ({len(value)} characters)"


def ssl_from(ssl_context: ssl.SSLContext | None, session: Any) -> ssl.SSLContext | bool:
    """The TLS setting for the client's own connector (``True``: the system's trust).

    A context may change trust (a test CA) but never switch verification off, and it
    cannot be combined with a caller's ``session`` (which keeps its own settings).
    """
    if ssl_context is None:
        return True
    if not isinstance(ssl_context, ssl.SSLContext):
        raise TypeError(f"ssl_context must be an ssl.SSLContext, got {ssl_context!r}")
    if session is not None:
        raise ValueError(
            "ssl_context applies to the session this client creates; a session= you "
            "pass keeps its own connector settings (set the context on its connector)"
        )
    if ssl_context.verify_mode is not ssl.CERT_REQUIRED or not ssl_context.check_hostname:
        raise ValueError(
            "ssl_context must verify certificates and host names: trust a CA with "
            "load_verify_locations instead of switching verification off"
        )
    return ssl_context


def seconds(name: str, value: object) -> float:
    """A positive, finite number of seconds (a bool is not a number here)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 < value < float("inf")
    ):
        raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
    return float(value)


def at_least_one(name: str, value: object) -> int:
    """An integer >= 1 (a bool is not an integer here)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return value
