"""What one call does, seen from inside the middleware: the state the layers share.

The client creates a :class:`CallState` for each call and puts it in ``current_call``;
the retry middleware and the client's connector update it; the client's error
mapping and the bulk layer read it. It flows down through a context variable because
aiohttp's middleware signature has no room for it.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Final

import aiohttp
from aiohttp.connector import Connection
from aiohttp.tracing import Trace
from attrs import define, field

from ._body import DEFAULT_MAX_RESPONSE_BYTES, read_body
from ._deadline import Deadline
from ._headers import request_id_of
from ._redact import Redactor

__all__ = [
    "CallState",
    "ClientClosingError",
    "GateClosedError",
    "TrackingConnector",
    "current_call",
]


@define
class CallState:
    """What one call through the middleware did; read by the client and the bulk layer."""

    deadline: float
    """``loop.time()`` after which no retry is started."""
    sent: int = 0
    """How many attempts were handed to aiohttp (for a POST: how many POSTs it cost)."""
    in_flight: bool = False
    """True while an attempt is under way (connecting, sending or awaiting the answer)."""
    tracks_connection: bool = False
    """Whether ``connected`` is reported (by the connector of a session we created)."""
    connected: bool = False
    """Whether the running attempt has a connection; before that nothing can be sent."""
    rate_limited: int = 0
    """How many 429 answers the call met (the bulk layer slows down on them)."""
    sent_time: float | None = None
    """``time.time()`` when the last attempt was handed to aiohttp, or on the client's own
    session when it got its connection (see ``sent_at``)."""
    attempt_started: float = 0.0
    """``loop.time()`` when the running attempt went out (its log line's elapsed time)."""
    last_failure: aiohttp.ClientError | None = field(default=None, repr=False)
    """The error the middleware last let through, if aiohttp calls it again; not in the
    repr (aiohttp's message may quote what the server sent)."""
    throttle_round: int = 1
    """With ``return_rate_limited``: how many 429s the request met before, plus one
    (the gate then backs off exponentially when the answer has no ``Retry-After``)."""
    max_body_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    """The most decompressed bytes an answer's body may have (one object, or a listing)."""
    max_error_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    """The most a non-2xx answer's body may have (an error is one object)."""
    body: bytes | None = None
    """The body of the answer the middleware returned, read within ``max_body_bytes``."""
    answer_headers: Mapping[str, str] | None = field(default=None, repr=False)
    """The headers of the answer the call ended on (``None``: no answer was read), as
    read: unmasked (a server may echo the token), so not in the repr."""
    redactor: Redactor | None = field(default=None, repr=False)
    """Masks the client's token in what is taken from the answer (its request id)."""
    watch: Deadline | None = None
    """The call's deadline while it runs; on the client's own session it also times the
    attempts' reads (progress is told to it: the connection made, the answer's headers,
    the body's chunks)."""
    on_connected: Callable[[CallState], None] | None = field(default=None, repr=False)
    """Called with this state as an attempt gets its connection on the client's own
    session (its ``sent_time`` just set): the bulk layer journals a late send's real time
    there. It must not raise nor block."""
    return_rate_limited: bool = False
    """Hand a 429 back at once (after closing the gate) instead of retrying it here.

    The bulk layer sets this: it frees the request's send slot while the gate is shut,
    so that fewer requests go out together when it opens.
    """

    async def read_capped(
        self, response: aiohttp.ClientResponse, progress: Deadline | None = None
    ) -> bytes:
        """Read ``response``'s body within its cap: a 2xx's, or an error's.

        ``progress``, a read timeout, is touched as the body's chunks come.
        """
        cap, error_cap = self.max_body_bytes, self.max_error_bytes
        return await read_body(response, cap, error_limit=error_cap, progress=progress)

    @property
    def sent_at(self) -> datetime | None:
        """When the last attempt went out (wall clock, for reconciliation).

        On the client's own session: when it got its connection, after any wait for one
        (the connection limit is shared with storage transfers); else when it was handed
        to aiohttp.

        Kept as a number and made a ``datetime`` only when asked: most calls never are.
        """
        sent = self.sent_time
        return None if sent is None else datetime.fromtimestamp(sent, UTC)

    @property
    def request_id(self) -> str | None:
        """The request id of the answer the call ended on (``None``: no answer, or none).

        Looked up when asked, not on every answer: a plain call never asks. Masked as
        an error's parts are: a server that copies ``Authorization`` into
        ``X-Request-Id`` must not put the token in a result.
        """
        request_id = request_id_of(self.answer_headers)
        if request_id is None or self.redactor is None:
            return request_id
        return self.redactor.text(request_id)

    @property
    def maybe_sent(self) -> bool:
        """Whether the running attempt may have reached the server."""
        return self.in_flight and (self.connected or not self.tracks_connection)


class GateClosedError(aiohttp.ClientConnectionError):
    """Raised before sending: the 429 gate stays shut past the call's own deadline."""

    def __init__(self, until: datetime, *, reason: str = "a 429") -> None:
        super().__init__(f"held back by {reason} until {until.isoformat(timespec='seconds')}")
        self.until = until


class ClientClosingError(aiohttp.ClientConnectionError):
    """Raised by the middleware instead of retrying once its client is closing."""


class TrackingConnector(aiohttp.TCPConnector):
    """A connector that tells the running call when its attempt got its connection.

    That is also when its request goes out (``CallState.sent_time``, and then
    ``CallState.on_connected``): it may have waited for a connection under the limit,
    which storage transfers share.

    Until then nothing can have reached the server, so a deadline that expires while
    a create waits for DNS, a pooled connection or the TCP handshake is a plain
    timeout, not an unknown outcome. Marked here, once per attempt, rather than by
    trace hooks: a ``TraceConfig`` makes aiohttp build a ``Trace`` and fire its
    signals on every request, a cost paid on the happy path for an answer only a
    failed attempt needs.
    """

    async def connect(
        self,
        req: aiohttp.ClientRequest,
        traces: list[Trace],
        timeout: aiohttp.ClientTimeout,  # noqa: ASYNC109 (aiohttp's signature)
    ) -> Connection:
        # BaseConnector.connect, found through TCPConnector on each call as super() would
        # find it (a patch of either reaches it), without super()'s cost.
        connection = await aiohttp.TCPConnector.connect(self, req, traces, timeout)
        state = _get_call()
        if state is not None:
            state.connected = True
            # The send goes now, not when the middleware handed it over: a request may
            # wait here for a connection (the limit, shared with storage transfers).
            state.sent_time = _wall_clock()
            watch = state.watch
            if watch is not None:
                watch.touch()  # connected: the request has its own time to answer
            hook = state.on_connected
            if hook is not None:
                try:
                    hook(state)
                except BaseException:
                    connection.close()  # never leave it taken: the limit would shrink
                    raise
        return connection


current_call: contextvars.ContextVar[CallState | None] = contextvars.ContextVar(
    "prolific_async_current_call", default=None
)
_get_call: Final = current_call.get
_wall_clock: Final = time.time
