"""What happens to each request the emulator receives, before and after the endpoint runs.

In order: the request is logged and counted; it waits for a ``max_concurrency`` slot;
``latency`` passes; the rate limit may answer 429; the first matching fault is picked;
a "before" fault answers or cuts instead of the API; otherwise routing (404 for an
unknown path), authentication (401), 405 for a wrong method and the endpoint run; an
"after" fault then damages, cuts, holds back or replaces the response; a rewriting one
(``repeat_listing``, ``incomplete_listing``, ``claimed_id``) turns it into a misleading 2xx.

Requests to the storage stand-in (``/_storage/``, another host on the real service) are
logged apart, in ``storage_requests``, and skip what belongs to Prolific's API: the
concurrency gate, latency, the rate limit and authentication. Faults still apply to
them, matched on their path like any other.

Before all that, the body is read, within a limit: :data:`API_MAX_BODY` for the API,
``max_upload_size`` for an upload to the storage stand-in (a dataset file). A body over
its limit is answered 413 with Prolific's nested error body and the fixed table's
phrase (``Request Entity Too Large`` on every Python), never aiohttp's own 413, whose
reason phrase changed in Python 3.13 and whose body is plain text.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web

from ._errors import APIError, error_response
from ._fault_answers import canned_response, fault_answer
from ._fault_schedule import FaultSchedule
from ._faults import (
    AFTER_KINDS,
    BEFORE_KINDS,
    REWRITE_KINDS,
    Fault,
    FaultKind,
    cut_connection,
    rewrite_answer,
    send_trickled,
    send_truncated,
)
from ._storage import STORAGE_PREFIX
from ._traffic import (
    EmulatorStats,
    RateLimit,
    RecordedRequest,
    RetryAfterWatch,
    TokenBucket,
    decode_json,
    record_answer,
    redact_headers,
)

if TYPE_CHECKING:
    from aiohttp.typedefs import Handler, Middleware

__all__ = ["API_MAX_BODY", "DEFAULT_MAX_UPLOAD_SIZE", "Latency", "RequestPipeline", "check_latency"]

#: The largest request body an API route reads: aiohttp's default, 1 MiB.
API_MAX_BODY: Final = 1024**2
#: The largest dataset file the storage stand-in takes by default: 256 MiB.
DEFAULT_MAX_UPLOAD_SIZE: Final = 256 * 1024**2

#: A fixed latency in seconds, or a draw from the fake's seeded generator.
Latency = float | Callable[[random.Random], float]


def check_latency(latency: Latency) -> Latency:
    """``latency``, refused if it is a number below 0 or not finite (a request would hang)."""
    if not callable(latency) and not 0 <= latency < math.inf:  # NaN too
        raise ValueError(f"latency must be a finite number >= 0 seconds, got {latency!r}")
    return latency


def _record(
    log: list[RecordedRequest],
    recorded: RecordedRequest,
    request: web.Request,
    response: web.StreamResponse,
) -> None:
    """Log the answer next to its request: nothing was answered if the connection is cut."""
    transport = request.transport
    if transport is None or transport.is_closing():
        return
    body = response.body if isinstance(response, web.Response) else None
    is_json = isinstance(body, bytes) and response.content_type == "application/json"
    record_answer(
        log,
        recorded,
        status=response.status,
        body=decode_json(body) if is_json and isinstance(body, bytes) else None,
    )


class RequestPipeline:
    """The per-request behaviour of one fake: auth, knobs, faults, logging, counters.

    Args:
        token: the token requests must carry.
        faults: the fake's fault schedule.
        latency: the initial latency.
        latency_rng: the seeded generator latency callables draw from.
        rate_limit: the initial rate limit.
        max_concurrency: how many requests are served at once (``None``: any).
        max_upload_size: the largest body, in bytes, an upload to the storage stand-in
            may have (API requests: :data:`API_MAX_BODY`).
    """

    def __init__(
        self,
        *,
        token: str,
        faults: FaultSchedule,
        latency: Latency,
        latency_rng: random.Random,
        rate_limit: RateLimit | None,
        max_concurrency: int | None,
        max_upload_size: int = DEFAULT_MAX_UPLOAD_SIZE,
    ) -> None:
        self._token = token
        self.max_upload_size = max_upload_size
        self.faults = faults
        self.latency = latency
        self._latency_rng = latency_rng
        self._rate_limit = rate_limit
        self._bucket: TokenBucket | None = None
        self._retry_after = RetryAfterWatch()
        self._slots = asyncio.Semaphore(max_concurrency) if max_concurrency else None
        self.requests: list[RecordedRequest] = []
        self.storage_requests: list[RecordedRequest] = []
        self.stats = EmulatorStats()
        self.route_names: dict[web.AbstractRoute, str] = {}
        self.stopping = asyncio.Event()
        """Set when the fake stops: every waiting handler wakes and cuts its connection."""
        #: Late applies not yet run: each one's gate, and when it opens by itself
        #: (loop time; ``None``: held until :meth:`apply_late`).
        self._late: dict[asyncio.Task[None], tuple[asyncio.Future[None], float | None]] = {}

    @property
    def rate_limit(self) -> RateLimit | None:
        """The rate limit in force; setting it starts a full bucket."""
        return self._rate_limit

    @rate_limit.setter
    def rate_limit(self, value: RateLimit | None) -> None:
        self._rate_limit = value
        self._bucket = None

    def middleware(self) -> Middleware:
        """The aiohttp middleware running every request through this pipeline."""

        @web.middleware
        async def pipeline(request: web.Request, handler: Handler) -> web.StreamResponse:
            return await self._handle(request, handler)

        return pipeline

    def _route_name(self, request: web.Request) -> str:
        problem = request.match_info.http_exception
        if problem is None:
            return self.route_names.get(request.match_info.route, "unknown")
        return "method_not_allowed" if isinstance(problem, web.HTTPMethodNotAllowed) else "unknown"

    @property
    def client_max_size(self) -> int:
        """The limit aiohttp reads bodies within: the larger of the two limits."""
        return max(API_MAX_BODY, self.max_upload_size)

    async def _read(self, request: web.Request, limit: int) -> bytes | None:
        """The request's body, or ``None`` when it is larger than ``limit`` bytes."""
        if request.content_length is not None and request.content_length > limit:
            return None
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return None
        return None if len(raw) > limit else raw

    async def _handle(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        storage = request.path.startswith(STORAGE_PREFIX)
        limit = self.max_upload_size if storage else API_MAX_BODY
        # A stall_upload fault acts before the body is read: it never reads it.
        unread = self.faults.pick(request.method, request.path, before_body=True)
        raw = b"" if unread is not None else await self._read(request, limit)
        log = self.storage_requests if storage else self.requests
        recorded = RecordedRequest(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers=redact_headers(request.headers),
            json=None if storage or raw is None else decode_json(raw),
        )
        log.append(recorded)
        self.stats.arrived(request.method, self._route_name(request))
        if not storage and self._retry_after.violates(asyncio.get_running_loop().time()):
            self.stats.retry_after_violations += 1
        try:
            if unread is not None:
                response: web.StreamResponse = await self._hold_unread(request, unread)
            elif raw is None:
                response = error_response(413, f"The request body is larger than {limit} bytes.")
            elif storage:
                response = await self._serve(request, handler, raw, storage=True)
            else:
                async with self._slots or contextlib.nullcontext():
                    self.stats.started_serving()
                    try:
                        response = await self._serve(request, handler, raw)
                    finally:
                        self.stats.finished_serving()
            _record(log, recorded, request, response)
            return response
        finally:
            self.stats.answered()

    async def _serve(
        self, request: web.Request, handler: Handler, body: bytes, *, storage: bool = False
    ) -> web.StreamResponse:
        await self._apply_due()
        if not storage:
            if await self._pause(self._draw_latency()):
                return cut_connection(request)
            retry_after = self._throttle()
            if retry_after is not None:
                self.stats.rate_limited += 1
                self._retry_after.answered(asyncio.get_running_loop().time(), retry_after)
                return error_response(
                    429,
                    f"Request was throttled. Expected available in {retry_after} seconds.",
                    headers={"Retry-After": str(retry_after)},
                )
        fault = self.faults.pick(request.method, request.path, body)
        if fault is None:
            response = await self._dispatch(request, handler, storage=storage)
            self.faults.saw(request.method, response)
            return response
        # delay: their pace (late_apply: when it applies), not a wait before acting
        paced = fault.kind in (FaultKind.STALL_AFTER, FaultKind.TRICKLE, FaultKind.LATE_APPLY)
        if not paced and await self._pause(fault.delay):
            return cut_connection(request)
        if fault.kind in BEFORE_KINDS:
            if fault.kind is FaultKind.DROP_BEFORE:
                return cut_connection(request)
            return await fault_answer(request, fault, self._pause)
        if fault.kind is FaultKind.LATE_APPLY:
            self._hold_late(request, handler, fault, storage)
            return cut_connection(request)
        response = await self._dispatch(request, handler, storage=storage)
        if fault.kind in REWRITE_KINDS:
            return rewrite_answer(fault, request, response, self.faults)
        if fault.kind is FaultKind.TRICKLE:
            return await send_trickled(request, response, fault, self._pause)
        if fault.kind not in AFTER_KINDS:  # delay: served normally after the wait
            return response
        if fault.kind is FaultKind.DROP_AFTER:
            return cut_connection(request)
        if fault.kind is FaultKind.TRUNCATED:
            return send_truncated(request, response)
        if fault.kind is FaultKind.STATUS_AFTER:
            return canned_response(fault)
        # stall_after: held until its delay ends (then sent) or the fake stops (then cut).
        if await self._pause(fault.delay, until_stop=fault.delay is None):
            return cut_connection(request)
        return response

    def _hold_late(
        self, request: web.Request, handler: Handler, fault: Fault, storage: bool
    ) -> None:
        """Run the endpoint of a cut request later (``late_apply``).

        After ``delay``, or, without one, when :meth:`apply_late` is called.
        """
        loop = asyncio.get_running_loop()
        gate: asyncio.Future[None] = loop.create_future()
        due = None if fault.delay is None else loop.time() + fault.delay
        if fault.delay is not None:
            loop.call_later(fault.delay, _open, gate)
        task = asyncio.create_task(self._apply_late(request, handler, gate, storage))
        self._late[task] = (gate, due)
        task.add_done_callback(lambda done: self._late.pop(done, None))

    async def _apply_late(
        self, request: web.Request, handler: Handler, gate: asyncio.Future[None], storage: bool
    ) -> None:
        """Run the endpoint once ``gate`` opens; its answer goes nowhere.

        The connection is gone; the fake stopping first means it is never applied.
        """
        stopping: asyncio.Future[Any] = asyncio.ensure_future(self.stopping.wait())
        try:
            await asyncio.wait([gate, stopping], return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
        if gate.done() and not self.stopping.is_set():
            await self._dispatch(request, handler, storage=storage)

    async def apply_late(self) -> int:
        """Apply every held late apply (``delay=None``) now; how many, once they ran."""
        return await self._open_late(lambda due: due is None)

    async def _apply_due(self) -> None:
        """Apply the late applies whose delay has passed before a request is served.

        Their timer may not have fired yet on a busy loop: a request that arrives after
        an apply's time sees what it made, whatever the loop's lag.
        """
        if self._late:
            now = asyncio.get_running_loop().time()
            await self._open_late(lambda due: due is not None and due <= now)

    async def _open_late(self, opens: Callable[[float | None], bool]) -> int:
        tasks = []
        for task, (gate, due) in list(self._late.items()):
            if not gate.done() and opens(due):
                _open(gate)
                tasks.append(task)
        if tasks:
            await asyncio.wait(tasks)
        return len(tasks)

    async def _hold_unread(self, request: web.Request, fault: Fault) -> web.StreamResponse:
        """Hold the connection without reading the body (``stall_upload``), then cut it."""
        await self._pause(fault.delay, until_stop=fault.delay is None)
        return cut_connection(request)

    async def _dispatch(
        self, request: web.Request, handler: Handler, *, storage: bool
    ) -> web.StreamResponse:
        problem = request.match_info.http_exception
        if problem is not None and not isinstance(problem, web.HTTPMethodNotAllowed):
            return error_response(404, "Not found.")
        # The storage host is not Prolific's: it never asks for the API token.
        auth_error = None if storage else self._auth_error(request.headers.get("Authorization"))
        if auth_error is not None:
            return error_response(401, auth_error, headers={"WWW-Authenticate": "Token"})
        if isinstance(problem, web.HTTPMethodNotAllowed):
            return error_response(
                405,
                f'Method "{request.method}" not allowed.',
                headers={"Allow": ", ".join(sorted(problem.allowed_methods))},
            )
        try:
            return await handler(request)
        except APIError as exc:
            return exc.response()

    def _auth_error(self, header: str | None) -> str | None:
        """Django REST framework's TokenAuthentication messages, or ``None`` if valid."""
        scheme, _, credentials = (header or "").strip().partition(" ")
        if scheme.lower() != "token":
            return "Authentication credentials were not provided."
        credentials = credentials.strip()
        if not credentials:
            return "Invalid token header. No credentials provided."
        if not secrets.compare_digest(credentials.encode(), self._token.encode()):
            return "Invalid token."
        return None

    def _draw_latency(self) -> float:
        latency = self.latency
        value = latency(self._latency_rng) if callable(latency) else latency
        return max(0.0, float(value))

    def _throttle(self) -> int | None:
        """Spend a rate-limit token; return the ``Retry-After`` seconds if there was none."""
        if self._rate_limit is None:
            return None
        now = asyncio.get_running_loop().time()
        if self._bucket is None:
            self._bucket = TokenBucket(self._rate_limit, now)
        return self._bucket.take(now)

    async def _pause(self, seconds: float | None, *, until_stop: bool = False) -> bool:
        """Wait ``seconds`` (or until stop), waking early if the fake stops.

        Returns:
            Whether the fake is stopping: the caller then cuts its connection.
        """
        if self.stopping.is_set():
            return True
        if not until_stop and not seconds:
            return False
        try:
            async with asyncio.timeout(None if until_stop else seconds):
                await self.stopping.wait()
        except TimeoutError:
            return False
        return True


def _open(gate: asyncio.Future[None]) -> None:
    if not gate.done():
        gate.set_result(None)
