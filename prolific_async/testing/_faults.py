"""Scripted faults: what they are, which request they hit, and how each one misbehaves.

A fault is matched on the method and an ``fnmatch`` pattern of the path (query left
out), fires for the next ``times`` matching requests (each with ``probability``, drawn
from the seed and the request's identity, see ``_fault_schedule``) and is consumed
in the order faults were added.

Two families, by whether the request takes effect:

* **before** (``status``, ``html``, ``not_json``, ``drop_before``): the fake answers (or
  cuts the connection) in place of the API; the request is **not** applied.
* **after** (``truncated``, ``drop_after``, ``stall_after``, ``status_after``): the request
  **is** applied (the batch exists), then the response is damaged, cut, held back or
  replaced by an error. These are the cases that duplicate a naive client's POSTs.

Three more are applied, then answered with a well-formed 2xx that misleads
(``repeat_listing``, ``incomplete_listing``, ``claimed_id``): a server's bugs a client
that trusts every answer turns into a duplicate or an orphaned batch.

``delay`` waits, then serves the request normally. ``late_apply`` cuts the connection
without an answer and applies the request ``delay`` seconds later (without ``delay``:
when the test calls ``fake.apply_late()``), so a listing taken at once does not show
what it made.

Four answer as a hostile server does, to test a client's bounds (``_fault_answers``);
not applied: ``oversized``, ``compressed``, ``deep_json`` and ``redirect``.

Two more misbehave at the speed of the socket, the way a broken storage host or proxy
does, to test a client's overall deadlines (no per-read timeout catches them):
``trickle`` serves the request (applied), then sends the answer ``chunk_size`` bytes
(default 1) every ``delay`` seconds (default 0.2); ``stall_upload`` is picked before the
request's body is read, and never reads it: for ``delay`` seconds (default: until the
fake stops), then it cuts the connection, not applied. Against an upload larger than
the socket buffers (a few MiB on loopback) the client's write blocks.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Awaitable, Callable, Mapping
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web
from attrs import define, field
from multidict import CIMultiDict

from ._errors import status_phrase

if TYPE_CHECKING:
    from ._fault_schedule import FaultSchedule

__all__ = ["Fault", "FaultKind"]


class FaultKind(enum.StrEnum):
    """How a fault misbehaves; see the module docstring for the two families."""

    STATUS = "status"
    """Answer ``status`` (default 503) with ``headers`` and ``body``; not applied."""
    HTML = "html"
    """Answer a proxy's HTML error page (default 502); not applied."""
    TRUNCATED = "truncated"
    """Applied; the real response announces its full length, sends half, cuts."""
    NOT_JSON = "not_json"
    """Answer a body that is not JSON (default ``200``, ``text/plain``); not applied."""
    DELAY = "delay"
    """Wait ``delay`` seconds, then serve normally (applied after the wait)."""
    DROP_BEFORE = "drop_before"
    """Cut the connection without answering; not applied."""
    DROP_AFTER = "drop_after"
    """Applied, then the connection is cut before the response."""
    STALL_AFTER = "stall_after"
    """Applied, then the response is held ``delay`` seconds (default: until the fake stops)."""
    STATUS_AFTER = "status_after"
    """Applied, then answer ``status`` (default 500) instead of the real response."""
    REPEAT_LISTING = "repeat_listing"
    """A listing whose last entry appears twice (``meta.count`` counts both)."""
    INCOMPLETE_LISTING = "incomplete_listing"
    """A listing that says it is partial: its last entry left out, ``meta.count`` still
    the whole count (one more than it holds) and a ``next`` link to a page that is not
    there."""
    CLAIMED_ID = "claimed_id"
    """Applied, then answered with the id of the batch the previous create or duplicate
    answered with (another batch's), so the batch it made is orphaned; unchanged if no
    create or duplicate was answered before."""
    TRICKLE = "trickle"
    """Applied, then the answer is sent ``chunk_size`` bytes (default 1) every ``delay``
    seconds (default 0.2): each read arrives in time, the whole answer barely ever."""
    STALL_UPLOAD = "stall_upload"
    """The request's body is never read: the connection is held ``delay`` seconds
    (default: until the fake stops), then cut; not applied."""
    LATE_APPLY = "late_apply"
    """The connection is cut without an answer; the request is applied ``delay`` seconds
    later, by the time any later request is served (``delay=None``: when
    :meth:`FakeProlific.apply_late` is called), and not at all if the fake stops first."""
    OVERSIZED = "oversized"
    """Answer ``status`` (default 200) with a JSON object of ``size`` bytes (default 2 GiB),
    chunked (``headers`` may announce a ``Content-Length``) while it is read; not applied."""
    COMPRESSED = "compressed"
    """Answer ``status`` (default 200) with gzip of a few hundred KB that decompresses to
    a JSON object of ``size`` bytes (default 300 MiB); not applied."""
    DEEP_JSON = "deep_json"
    """Answer ``status`` (default 200) with a JSON object whose ``id`` nests arrays
    ``size`` levels deep (default 100,000); not applied."""
    REDIRECT = "redirect"
    """Answer ``status`` (default 307, a 3xx) sending the client to another host:
    ``Location`` from ``headers``, else ``http://elsewhere.invalid`` + the path; not applied."""


#: Kinds that answer (or cut) with a body of their own making: they take no ``body``.
MADE_KINDS: Final = frozenset(
    {FaultKind.OVERSIZED, FaultKind.COMPRESSED, FaultKind.DEEP_JSON, FaultKind.REDIRECT}
)
BEFORE_KINDS: Final = (
    frozenset({FaultKind.STATUS, FaultKind.HTML, FaultKind.NOT_JSON, FaultKind.DROP_BEFORE})
    | MADE_KINDS
)
AFTER_KINDS: Final = frozenset(
    {FaultKind.TRUNCATED, FaultKind.DROP_AFTER, FaultKind.STALL_AFTER, FaultKind.STATUS_AFTER}
)
#: Kinds that serve the request, then rewrite its JSON answer into a misleading one.
REWRITE_KINDS: Final = frozenset(
    {FaultKind.REPEAT_LISTING, FaultKind.INCOMPLETE_LISTING, FaultKind.CLAIMED_ID}
)
#: Kinds picked before the request's body is read (they never read it).
BODY_KINDS: Final = frozenset({FaultKind.STALL_UPLOAD})
#: A ``trickle`` fault's defaults: bytes per write, and seconds between writes.
TRICKLE_CHUNK_SIZE: Final = 1
TRICKLE_INTERVAL: Final = 0.2
#: Kinds that answer with a canned response, and the status each uses by default.
DEFAULT_STATUS: Final = {
    FaultKind.STATUS: 503,
    FaultKind.HTML: 502,
    FaultKind.NOT_JSON: 200,
    FaultKind.STATUS_AFTER: 500,
    FaultKind.OVERSIZED: 200,
    FaultKind.COMPRESSED: 200,
    FaultKind.DEEP_JSON: 200,
    FaultKind.REDIRECT: 307,
}


@define(kw_only=True)
class Fault:
    """One scripted fault, as returned by :meth:`FakeProlific.add_fault`.

    ``fired`` counts the requests it has hit, so a test can assert the fault really
    happened.
    """

    method: str
    """The HTTP method it matches (upper case), or ``"*"`` for any."""
    path: str
    """An ``fnmatch`` pattern of the request path, without the query string."""
    kind: FaultKind
    """How it misbehaves."""
    times: int | None = 1
    """How many matching requests it hits; ``None`` means every one, forever."""
    probability: float = 1.0
    """The chance it fires on a matching request (seeded, so runs replay)."""
    status: int | None = None
    """The answer's status for ``status``/``html``/``not_json``/``status_after``."""
    headers: dict[str, str] = field(factory=dict)
    """Extra response headers for the canned answers (for example ``Retry-After``)."""
    body: Any = None
    """The canned answer's body: ``str``/``bytes`` as is, anything else as JSON."""
    delay: float | None = None
    """Seconds waited before acting; for ``stall_after`` and ``stall_upload``, how long
    the connection is held; for ``trickle``, the pause between writes."""
    chunk_size: int | None = None
    """For ``trickle``: the bytes sent per write (default 1)."""
    size: int | None = None
    """For ``oversized``/``compressed``: the body's (decompressed) bytes; for
    ``deep_json``: its nesting depth (defaults 2 GiB, 300 MiB, 100,000)."""
    fired: int = 0
    """How many requests it has hit so far."""

    @property
    def exhausted(self) -> bool:
        """Whether it has fired ``times`` times and will not fire again."""
        return self.times is not None and self.fired >= self.times

    def matches(self, method: str, path: str) -> bool:
        """Whether a request with this method and path is one it targets."""
        return self.method in ("*", method) and fnmatchcase(path, self.path)


def make_fault(
    method: str,
    path: str,
    kind: FaultKind | str,
    *,
    times: int | None,
    probability: float,
    status: int | None,
    headers: Mapping[str, str] | None,
    body: Any,
    delay: float | None,
    chunk_size: int | None = None,
    size: int | None = None,
) -> Fault:
    """Check the arguments of :meth:`FakeProlific.add_fault` and build the fault.

    Raises:
        ValueError: an unknown kind, an argument the kind does not use, or a bad value.
    """
    try:
        kind = FaultKind(kind)
    except ValueError:
        known = ", ".join(k.value for k in FaultKind)
        raise ValueError(f"unknown fault kind {kind!r}; expected one of: {known}") from None
    if not path:
        raise ValueError("path must be a non-empty fnmatch pattern such as '/api/v1/*'")
    if times is not None and (isinstance(times, bool) or times < 1):
        raise ValueError(f"times must be None (forever) or an integer >= 1, got {times!r}")
    if not 0.0 <= probability <= 1.0:
        raise ValueError(f"probability must be between 0 and 1, got {probability!r}")
    if kind not in DEFAULT_STATUS and (status is not None or headers or body is not None):
        raise ValueError(f"a {kind.value!r} fault sends no canned answer: drop status/headers/body")
    if status is not None and not 200 <= status <= 599:
        raise ValueError(f"status must be an HTTP status code from 200 to 599, got {status!r}")
    if kind is FaultKind.REDIRECT and status is not None and not 300 <= status <= 399:
        raise ValueError(f"a 'redirect' fault's status must be a 3xx, got {status!r}")
    if kind in MADE_KINDS and body is not None:
        raise ValueError(f"a {kind.value!r} fault makes its own body: drop body")
    if size is not None:
        if kind not in MADE_KINDS - {FaultKind.REDIRECT}:
            raise ValueError(
                "only an 'oversized', 'compressed' or 'deep_json' fault takes size, "
                f"not {kind.value!r}"
            )
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"size must be an integer >= 1, got {size!r}")
    if delay is not None and delay < 0:
        raise ValueError(f"delay must be >= 0 seconds, got {delay!r}")
    if kind is FaultKind.DELAY and not delay:
        raise ValueError("a 'delay' fault needs delay=<seconds>")
    if chunk_size is not None:
        if kind is not FaultKind.TRICKLE:
            raise ValueError(f"only a 'trickle' fault takes chunk_size, not {kind.value!r}")
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
            raise ValueError(f"chunk_size must be an integer >= 1, got {chunk_size!r}")
    return Fault(
        method="*" if method == "*" else method.upper(),
        path=path,
        kind=kind,
        times=times,
        probability=probability,
        status=status,
        headers=dict(headers or {}),
        body=body,
        delay=delay,
        chunk_size=chunk_size,
        size=size,
    )


def cut_connection(request: web.Request) -> web.Response:
    """Close the request's TCP connection without answering.

    The returned response is never sent: aiohttp finds the transport closing, treats it
    as a client that went away and writes nothing. The client sees the connection end
    (``ServerDisconnectedError``).
    """
    transport = request.transport
    if transport is not None:
        transport.close()
    return web.Response(status=204)


def send_truncated(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    """Send ``response``'s status and headers with its full length but half its body, then cut.

    The client reads a status line and headers it believes, then the connection ends
    mid-body (``ClientPayloadError``): the request was applied, the answer never arrived.
    """
    transport = request.transport
    if transport is None:  # the client is already gone
        return response
    body = response.body if isinstance(response, web.Response) else None
    body = body if isinstance(body, bytes) else b""
    head = (
        f"HTTP/1.1 {response.status} {status_phrase(response.status)}\r\n"
        f"Content-Type: {response.content_type}\r\n"
        f"Content-Length: {max(len(body), 1)}\r\n\r\n"
    )
    transport.write(head.encode("latin-1") + body[: len(body) // 2])
    return cut_connection(request)


def rewrite_answer(
    fault: Fault, request: web.Request, response: web.StreamResponse, schedule: FaultSchedule
) -> web.StreamResponse:
    """The misleading answer of a ``repeat_listing``, ``incomplete_listing`` or ``claimed_id``.

    An answer that is not a JSON object of the expected shape (an error, say) is sent
    unchanged.
    """
    body = response.body if isinstance(response, web.Response) else None
    if not isinstance(body, bytes) or response.content_type != "application/json":
        return response
    data = json.loads(body)
    if not isinstance(data, dict):
        return response
    results = data.get("results")
    if fault.kind is FaultKind.CLAIMED_ID:
        if schedule.last_created_id is None or "id" not in data:
            return response
        data["id"] = schedule.last_created_id
    elif not isinstance(results, list):
        return response
    elif fault.kind is FaultKind.REPEAT_LISTING:
        if not results:
            return response
        results.append(results[-1])
        data["meta"] = {**(data.get("meta") or {}), "count": len(results)}
    else:  # incomplete_listing
        whole = len(results)
        if results:
            results.pop()
        data["meta"] = {**(data.get("meta") or {}), "count": max(whole, len(results) + 1)}
        data["next"] = str(request.url.update_query(page="2"))
    return web.json_response(data, status=response.status)


async def send_trickled(
    request: web.Request,
    response: web.StreamResponse,
    fault: Fault,
    pause: Callable[[float], Awaitable[bool]],
) -> web.StreamResponse:
    """Send ``response`` (with its true length) ``chunk_size`` bytes per ``delay`` seconds.

    ``pause`` waits between writes and says whether the fake is stopping (the connection
    is then cut). A client that goes away ends the trickle at its next write.
    """
    body = response.body if isinstance(response, web.Response) else None
    body = body if isinstance(body, bytes) else b""
    size = fault.chunk_size or TRICKLE_CHUNK_SIZE
    interval = TRICKLE_INTERVAL if fault.delay is None else fault.delay
    headers = CIMultiDict(response.headers)
    for name in ("Content-Length", "Transfer-Encoding", "Content-Encoding"):
        headers.popall(name, None)
    slow = web.StreamResponse(status=response.status, reason=response.reason, headers=headers)
    slow.content_length = len(body)
    try:
        await slow.prepare(request)
        for start in range(0, len(body), size):
            if start and await pause(interval):
                cut_connection(request)
                return slow
            await slow.write(body[start : start + size])
        await slow.write_eof()
    except ConnectionError:  # the client gave up (its deadline): nothing more to send
        pass
    return slow
