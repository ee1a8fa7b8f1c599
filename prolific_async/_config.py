"""Reading and checking a client's settings: arguments first, then the environment."""

from __future__ import annotations

import os
from typing import Final

from yarl import URL

from ._version import __version__
from .errors import MissingTokenError

__all__ = ["DEFAULT_BASE_URL", "USER_AGENT", "base_url_from", "token_from"]

DEFAULT_BASE_URL: Final = "https://api.prolific.com"
USER_AGENT: Final = f"prolific_async/{__version__}"


def token_from(token: str | None) -> str:
    """The API token: the argument, else ``PROLIFIC_TOKEN``; surrounding blanks dropped."""
    value = token if token is not None else os.environ.get("PROLIFIC_TOKEN")
    value = value.strip() if isinstance(value, str) else value
    if not value:
        raise MissingTokenError(
            "No Prolific API token: pass token=... or set the PROLIFIC_TOKEN "
            "environment variable (create a token in the Prolific app under "
            "Settings > API tokens)."
        )
    return value


def base_url_from(base_url: str | None) -> str:
    """The API root: the argument, else ``PROLIFIC_URL``, else the real API."""
    base = (base_url or os.environ.get("PROLIFIC_URL") or DEFAULT_BASE_URL).rstrip("/")
    parsed = URL(base)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(f"base_url must be an http(s) URL with a host, got {base!r}")
    return base
