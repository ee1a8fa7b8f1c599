"""The storage host's stand-in: presigned upload and download URLs served under ``/_storage/``.

On the real service, upload URLs, report links and export ZIPs point at S3, another host
that must not receive the Prolific token. The emulator serves them itself on another path
prefix, so one socket is enough and a test can still check what each side received:
:attr:`FakeProlific.storage_requests` records every request made here.

Each URL carries an opaque token. An unknown, revoked or expired token answers 403 with
S3's XML error body, as a presigned URL does once its signature no longer holds. An
upload URL is signed for one ``Content-Type``, as S3 signs it: a PUT with any other
(or none) answers 403 ``SignatureDoesNotMatch`` and stores nothing. No
``Authorization`` header is required or checked.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

from aiohttp import web
from attrs import define

from ._stamps import iso_z
from ._timeline import Timeline

if TYPE_CHECKING:
    from aiohttp.typedefs import Handler

__all__ = ["PRESIGNED_URL_TTL", "STORAGE_PREFIX", "Storage"]

STORAGE_PREFIX: Final = "/_storage/"
#: How long a presigned URL is valid, in seconds (one hour, as the API documents).
PRESIGNED_URL_TTL: Final = 3600.0


def _s3_error(code: str, message: str) -> web.Response:
    """S3's 403 XML error body, e.g. ``AccessDenied``."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    )
    return web.Response(status=403, text=body, content_type="application/xml")


def _access_denied() -> web.Response:
    """S3's answer to a presigned URL that no longer (or never did) hold."""
    return _s3_error("AccessDenied", "Request has expired or the signature is invalid.")


@define(kw_only=True)
class _Upload:
    """A presigned PUT: what to do with the bytes, the type signed for, and its expiry."""

    on_put: Callable[[bytes], None]
    content_type: str
    expires: float


@define(kw_only=True)
class _Download:
    """A presigned GET: the object's bytes, its type, and until when it is valid."""

    folder: str
    content: bytes
    content_type: str
    expires: float


class Storage:
    """The presigned URLs the emulator has issued, and the routes that serve them.

    Args:
        timeline: the monotonic clock expiry is measured on.
        clock: returns "now" for the ``expires_at`` the API renders.
        rng: the seeded generator tokens are drawn from.
    """

    def __init__(
        self, *, timeline: Timeline, clock: Callable[[], datetime], rng: random.Random
    ) -> None:
        self._timeline = timeline
        self._clock = clock
        self._rng = rng
        self.base_url = ""
        """The fake's URL, set when it starts; presigned URLs begin with it."""
        self._objects: dict[str, _Upload | _Download] = {}

    def _new_token(self) -> str:
        """Draw an opaque URL token from the seeded generator."""
        return f"{self._rng.getrandbits(128):032x}"

    def _expiry(self) -> tuple[float, str]:
        """When a URL issued now expires: on the monotonic clock, and as ``expires_at``."""
        expires_at = self._clock() + timedelta(seconds=PRESIGNED_URL_TTL)
        return self._timeline.now() + PRESIGNED_URL_TTL, iso_z(expires_at)

    def issue_upload(
        self, on_put: Callable[[bytes], None], *, content_type: str
    ) -> tuple[str, str]:
        """Issue a presigned PUT URL signed for ``content_type``.

        Args:
            on_put: gets the bytes of each accepted upload to the URL.
            content_type: the only ``Content-Type`` a PUT to it may carry.

        Returns:
            The URL and its ``expires_at``.
        """
        token = self._new_token()
        expires, expires_at = self._expiry()
        self._objects[token] = _Upload(on_put=on_put, content_type=content_type, expires=expires)
        return f"{self.base_url}{STORAGE_PREFIX}uploads/{token}", expires_at

    def publish(
        self, folder: str, suffix: str, content: bytes, content_type: str
    ) -> tuple[str, str, str]:
        """Store an object for download under ``folder`` (``reports`` or ``exports``).

        Returns:
            The presigned URL, its ``expires_at`` and the token (to revoke it later).
        """
        token = self._new_token()
        expires, expires_at = self._expiry()
        self._objects[token] = _Download(
            folder=folder, content=content, content_type=content_type, expires=expires
        )
        return f"{self.base_url}{STORAGE_PREFIX}{folder}/{token}{suffix}", expires_at, token

    def is_live(self, token: str) -> bool:
        """Whether a token is known and not expired."""
        return self._find(token) is not None

    def revoke(self, token: str) -> None:
        """Forget a token: its URL answers 403 from now on."""
        self._objects.pop(token, None)

    def expire_all(self) -> None:
        """Expire every URL issued so far (they answer 403), as an hour passing would."""
        now = self._timeline.now()
        for stored in self._objects.values():
            stored.expires = min(stored.expires, now)

    # -- routes ----------------------------------------------------------------------

    def routes(self) -> list[tuple[str, str, Handler, str]]:
        """The storage routes: ``(method, path, handler, stats name)``."""
        return [
            ("PUT", STORAGE_PREFIX + "uploads/{token}", self.upload, "storage_upload"),
            ("GET", STORAGE_PREFIX + "reports/{name}", self.download, "storage_report"),
            ("GET", STORAGE_PREFIX + "exports/{name}", self.download, "storage_export"),
        ]

    def _find(self, token: str) -> _Upload | _Download | None:
        """The object behind a live token, or ``None`` (unknown, revoked or expired)."""
        stored = self._objects.get(token)
        if stored is None or self._timeline.now() >= stored.expires:
            return None
        return stored

    async def upload(self, request: web.Request) -> web.Response:
        """``PUT /_storage/uploads/{token}``: 200 with an empty body.

        403 for a bad token, or a ``Content-Type`` other than the one signed for (S3
        compares the header as sent, so ``text/csv; charset=utf-8`` is refused too).
        """
        stored = self._find(request.match_info["token"])
        if not isinstance(stored, _Upload):
            return _access_denied()
        body = await request.read()  # read first: the client may reuse the connection
        if request.headers.get("Content-Type") != stored.content_type:
            return _s3_error(
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you "
                "provided. Check your key and signing method.",
            )
        stored.on_put(body)
        etag = hashlib.sha256(body).hexdigest()[:32]
        return web.Response(status=200, headers={"ETag": f'"{etag}"'})

    async def download(self, request: web.Request) -> web.Response:
        """``GET /_storage/{reports,exports}/{token}.{csv,zip}``: the object; 403 bad token."""
        folder = request.path.removeprefix(STORAGE_PREFIX).partition("/")[0]
        token = request.match_info["name"].partition(".")[0]
        stored = self._find(token)
        if not isinstance(stored, _Download) or stored.folder != folder:
            return _access_denied()
        return web.Response(body=stored.content, content_type=stored.content_type)
