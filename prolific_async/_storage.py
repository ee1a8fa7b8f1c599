"""Transfers to and from presigned storage URLs (dataset uploads, export downloads).

A presigned URL carries its own credentials in its query string and points at another
host (S3 on the real service). So these requests:

* never carry the Prolific ``Authorization`` header (only a ``User-Agent``);
* go through a proxy chosen for their own URL (:meth:`BaseClient.storage_proxy`:
  ``NO_PROXY`` naming the storage host is honoured, a loopback one is reached directly);
* bypass the client's retry middleware (``middlewares=()``) and retry here instead,
  each attempt sending the whole body again from the start, when
  :func:`prolific_async._outcome.retry_transfer` says the failure may pass (a transfer is
  idempotent: a certificate or URL error is not retried, a dropped connection is);
* show URLs without their query string in errors and log lines (a DEBUG line per
  attempt, an INFO line per retry, through the client's logger), so no signature ends
  up in a log;
* end within an overall deadline per transfer, every attempt and wait included
  (``transfer_deadline``: the client's, 15 minutes by default, or the call's). The
  per-attempt timeouts cannot bound a transfer on their own: no timeout covers a socket
  write, so a host that stops reading an upload's body would block it forever, and a
  download trickled a byte at a time never trips a read timeout.

Each transfer goes through a plain session of its own, closed when it ends, so neither
the API's headers (the token) nor a caller's ``session=`` defaults reach storage: on the
client's own connections, or with a connector of its own beside a caller's session.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import math
import os
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO, Final, TypeVar

import aiohttp
from yarl import URL

from ._base_client import BaseClient
from ._body import read_body
from ._logging import log_attempt, log_retry
from ._outcome import retry_transfer
from ._status_errors import make_status_error
from ._testing import testing_enabled
from ._version import __version__
from .errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    ClientClosedError,
    ResponseTooLargeError,
)

__all__ = ["download_to_file", "redact", "require_transfer_deadline", "send_body"]

T = TypeVar("T")

#: The only header storage requests carry besides Content-Type: never the token.
STORAGE_HEADERS: Final = {"User-Agent": f"prolific_async/{__version__}"}
#: Bytes read from the network and written to disk at a time.
CHUNK_SIZE: Final = 1 << 20
#: The most a storage host's answer other than a download may hold (S3's are < 1 KB).
MAX_ANSWER_BYTES: Final = 1 << 20
_CAPPED: Final = "a storage host's error body is capped at 1 MiB"


def require_transfer_deadline(value: float | None) -> float | None:
    """Check a per-call ``transfer_deadline``: ``None`` (the client's) or seconds > 0.

    Raises:
        ValueError: it is not a positive number of seconds.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"transfer_deadline must be a positive number of seconds, got {value!r}")
    return float(value)


def redact(url: str) -> str:
    """The URL without its query string and fragment (they hold the presigned signature)."""
    return str(URL(url, encoded=True).with_query(None).with_fragment(None))


#: An HTTP method is a token (RFC 9110): no space, no control character.
_TOKEN: Final = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def checked_transfer(url: str, method: str, content_type: str | None = None) -> str:
    """``url`` without its signature, once the URL, method and type an answer gave are usable.

    They come from the API's answer (an upload URL's, an export's): one aiohttp or yarl
    would refuse is the answer's fault, said as such before anything is sent.

    Raises:
        APIConnectionError: the URL is not an absolute http(s) URL, the method is not a
            token, or the content type holds a line break.
    """
    try:
        parsed = URL(url, encoded=True)
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError("not an absolute http or https URL")
        parsed.port  # noqa: B018 (a port out of range is refused only when read)
    except (ValueError, TypeError) as exc:
        raise APIConnectionError(
            f"{method}: the API answered with a storage URL that cannot be used ({exc})",
            method=method,
            url="(unusable URL)",
        ) from None
    shown = redact(url)
    if not _TOKEN.fullmatch(method):
        raise APIConnectionError(
            f"{shown}: the API answered with an HTTP method that cannot be sent: {method!r}",
            method="(unusable)",
            url=shown,
        )
    if content_type is not None and any(c in content_type for c in "\r\n\0"):
        raise APIConnectionError(
            f"{method} {shown}: the API answered with a content type that cannot be sent: "
            f"{content_type!r}",
            method=method,
            url=shown,
        )
    return shown


#: What one attempt returns: the status, the answer's headers (its request id) and result.
Attempt = Callable[[], Awaitable[tuple[int, Mapping[str, str], T]]]


async def _with_retries(client: BaseClient, attempt: Attempt[T], method: str, url: str) -> T:
    """Run ``attempt`` until it succeeds, fails for good, or the policy's attempts run out.

    A client closed meanwhile ends it with ``ClientClosedError``: at once on the client's
    own session (its connections close), else in place of any retry.

    Each attempt has its DEBUG line and each retry its INFO line, as an API call's do
    (``url`` is shown without its query: the presigned signature stays out of the log;
    the request id is the storage host's, S3's ``x-amz-request-id``).
    """
    policy = client.retry_policy
    loop = asyncio.get_running_loop()
    for number in range(1, policy.attempts + 1):
        started = loop.time()
        outcome: int | BaseException
        headers: Mapping[str, str] | None = None
        try:
            status, headers, result = await attempt()
        except APIStatusError as exc:
            outcome, again = exc.status_code, retry_transfer(exc.status_code)
            headers = exc.headers
            failure: BaseException = exc
        except APIConnectionError as exc:  # raised from the aiohttp error or timeout
            cause = exc.__cause__
            outcome, again = cause or exc, cause is not None and retry_transfer(cause)
            failure = exc
        except BaseException as exc:  # cancelled: the transfer's deadline, or the caller
            elapsed = loop.time() - started
            log_attempt(method, url, exc, attempt=number, wait=None, headers=None, elapsed=elapsed)
            if isinstance(exc, RuntimeError) and client.is_closed:
                raise _closed_during(method, url) from exc  # aiohttp's "Session is closed"
            raise
        else:
            elapsed = loop.time() - started
            log_attempt(
                method, url, status, attempt=number, wait=None, headers=headers, elapsed=elapsed
            )
            return result
        elapsed = loop.time() - started
        closed = client.is_closed  # aclose() cut the transfer short, or came meanwhile
        if number == policy.attempts or not again or closed:
            log_attempt(
                method, url, outcome, attempt=number, wait=None, headers=headers, elapsed=elapsed
            )
            if closed and (again or isinstance(failure, APIConnectionError)):
                raise _closed_during(method, url) from failure  # never retried
            raise failure
        wait = 0.0 if testing_enabled() else policy.backoff(number)
        log_attempt(
            method, url, outcome, attempt=number, wait=wait, headers=headers, elapsed=elapsed
        )
        cause_text = outcome if isinstance(outcome, int) else type(outcome).__name__
        log_retry(method, url, wait, number + 1, policy.attempts, str(cause_text))
        await asyncio.sleep(wait)
        if client.is_closed:  # closed while this waited: the retry is not sent
            raise _closed_during(method, url)
    raise AssertionError("unreachable: the last attempt always returns or raises")


def _closed_during(method: str, url: str) -> ClientClosedError:
    return ClientClosedError(
        f"{method} {url}: the client was closed with aclose() during this storage "
        "transfer, which did not finish; start it again on a new client."
    )


def _connection_error(exc: BaseException, method: str, url: str) -> APIConnectionError:
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    cls = APITimeoutError if isinstance(exc, TimeoutError) else APIConnectionError
    return cls(f"{method} {url}: storage transfer failed ({detail})", method=method, url=url)


async def _within_deadline(
    client: BaseClient,
    deadline: float | None,
    attempt: Attempt[T],
    *,
    what: str,
    method: str,
    url: str,
) -> T:
    """Run the attempts of one transfer, all of them within its overall deadline.

    Raises:
        APITimeoutError: the deadline passed first (the transfer was cancelled).
    """
    seconds = client.transfer_deadline if deadline is None else deadline
    try:
        async with asyncio.timeout(None if math.isinf(seconds) else seconds):
            return await _with_retries(client, attempt, method, url)
    except TimeoutError as exc:
        if isinstance(exc, APITimeoutError):  # an attempt's own timeout, on its last try
            raise
        raise APITimeoutError(
            f"{method} {url}: the {what} did not finish within its deadline of "
            f"{seconds:g} s (transfer_deadline); the storage host stopped reading or "
            "sent too slowly. A large file on a slow link may need a larger "
            "transfer_deadline=",
            method=method,
            url=url,
        ) from exc


async def _status_error(response: aiohttp.ClientResponse, method: str, url: str) -> APIStatusError:
    """The storage host's refusal; its body read within :data:`MAX_ANSWER_BYTES`.

    Raises:
        ResponseTooLargeError: the error body is larger (the connection was closed).
    """
    raw = await read_body(response, MAX_ANSWER_BYTES, shown_url=url, setting=_CAPPED)
    return make_status_error(
        status_code=response.status,
        reason=response.reason,
        raw_body=raw,
        headers=dict(response.headers),
        method=method,
        url=url,
    )


async def send_body(
    client: BaseClient,
    *,
    url: str,
    method: str,
    body: bytes | Path,
    content_type: str,
    deadline: float | None = None,
) -> None:
    """Send a file (read again from disk for each attempt) or bytes to a presigned URL.

    Args:
        client: the client whose session, retry policy and timeouts apply.
        url: the presigned URL.
        method: ``PUT`` (or the method the URL was signed for).
        body: the bytes, or a file to stream from disk.
        content_type: the ``Content-Type`` the URL was signed for.
        deadline: seconds the whole transfer may take, retries included; ``None``
            for the client's ``transfer_deadline``.

    Raises:
        APIStatusError: the storage host refused it (403: the URL expired).
        APITimeoutError: the deadline passed before the storage host answered.
        APIConnectionError: the transfer failed on every attempt.
        ClientClosedError: the client was closed during it (see :func:`_with_retries`).
    """
    shown = checked_transfer(url, method, content_type)
    headers = {**STORAGE_HEADERS, "Content-Type": content_type}
    proxy = client.storage_proxy(url)
    session: aiohttp.ClientSession

    async def attempt() -> tuple[int, Mapping[str, str], None]:
        handle: BinaryIO | None = None
        # A fresh file-like object per attempt, so each sends the whole body from the
        # start (aiohttp also warns when a large body is given as raw bytes).
        data: Any = io.BytesIO(body) if isinstance(body, bytes) else None
        if isinstance(body, Path):
            handle = data = await asyncio.to_thread(body.open, "rb")
        try:
            async with session.request(
                method,
                URL(url, encoded=True),
                data=data,
                headers=headers,
                middlewares=(),
                timeout=client.transfer_timeout,
                allow_redirects=False,
                raise_for_status=False,
                proxy=proxy,
            ) as response:
                if not 200 <= response.status < 300:
                    raise await _status_error(response, method, shown)
                # Stored: an answer past the cap is left unread (its connection closed).
                with contextlib.suppress(ResponseTooLargeError):
                    await read_body(response, MAX_ANSWER_BYTES, shown_url=shown)
                return response.status, response.headers, None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _connection_error(exc, method, shown) from exc
        finally:
            if handle is not None:
                handle.close()

    async with client.storage_session() as session:
        await _within_deadline(client, deadline, attempt, what="upload", method=method, url=shown)


def _target(destination: Path, url: str) -> Path:
    """``destination``, or in that directory the file the URL names (``export.zip`` if none).

    The name comes from the server: one that would leave the directory (``..``, an
    encoded ``/``, an absolute path) or that no file can have is not used.
    """
    if not destination.is_dir():
        return destination
    name = URL(url, encoded=True).name
    unsafe = name in ("", ".", "..") or any(c in name for c in "/\\\0")
    return destination / ("export.zip" if unsafe else name)


async def download_to_file(
    client: BaseClient, url: str, destination: Path, *, deadline: float | None = None
) -> Path:
    """Stream a presigned URL's body into ``destination``; return the file's path.

    The body goes to a hidden temporary file next to the target, renamed over it only
    once complete: on any error, a cancellation or the deadline passing, no partial file
    is left behind.

    Args:
        client: the client whose session, retry policy and timeouts apply.
        url: the presigned URL.
        destination: the file to write, or a directory to write the URL's name into.
        deadline: seconds the whole transfer may take, retries included; ``None``
            for the client's ``transfer_deadline``.

    Raises:
        APIStatusError: the storage host refused it (403: the URL expired).
        APITimeoutError: the deadline passed before the whole body arrived.
        APIConnectionError: the transfer failed on every attempt.
        ClientClosedError: the client was closed during it (see :func:`_with_retries`).
    """
    shown = checked_transfer(url, "GET")
    target = await asyncio.to_thread(_target, destination, url)
    proxy = client.storage_proxy(url)
    session: aiohttp.ClientSession

    async def attempt() -> tuple[int, Mapping[str, str], Path]:
        partial = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
        try:
            async with session.get(
                URL(url, encoded=True),
                headers=STORAGE_HEADERS,
                middlewares=(),
                timeout=client.transfer_timeout,
                raise_for_status=False,
                proxy=proxy,
            ) as response:
                status, headers = response.status, response.headers
                if not 200 <= status < 300:
                    raise await _status_error(response, "GET", shown)
                handle = await asyncio.to_thread(partial.open, "wb")
                try:
                    async for chunk in response.content.iter_chunked(CHUNK_SIZE):
                        await asyncio.to_thread(handle.write, chunk)
                finally:
                    handle.close()
            await asyncio.to_thread(os.replace, partial, target)
        except (aiohttp.ClientError, TimeoutError) as exc:
            partial.unlink(missing_ok=True)
            raise _connection_error(exc, "GET", shown) from exc
        except BaseException:
            # Cancelled or failed: never leave a half-written file behind.
            partial.unlink(missing_ok=True)
            raise
        return status, headers, target

    async with client.storage_session() as session:
        return await _within_deadline(
            client, deadline, attempt, what="download", method="GET", url=shown
        )
