"""Shared test fixtures and helpers.

Fixtures (use these instead of a local copy):

* ``mocked``: an active ``aioresponses`` mock, for request-shape and error-mapping tests.
  It replaces ``ClientSession._request`` whole, so the retry middleware never runs under
  it: test retries, timeouts and connection errors on a real socket instead.
* ``mocked_client``: a :class:`ProlificClient` for ``mocked`` tests (``MOCKED_BASE``,
  ``TOKEN``, one attempt), closed after the test.
* ``prolific_fake`` / ``prolific_client`` (shipped by ``prolific_async.testing``): the
  emulator and a client bound to it with millisecond retry waits.
* ``fake_http``: a raw aiohttp session on ``prolific_fake`` sending its token.
* ``start_server``: start an ``aiohttp.web.Application`` (or a bare request handler) with
  aiohttp's own ``TestServer``/``RawTestServer`` on 127.0.0.1; stopped after the test.
* ``retry_waits``: the retry middleware's waits, recorded instead of slept.
* ``testing_mode``: :func:`prolific_async.set_testing` for the test's duration.
* ``scripted_api``: a loopback batch API that follows a per-request script of answers and
  faults (:class:`ScriptedAPI`), for retry, timeout and connection tests.
* ``never_listening``: a bound socket on 127.0.0.1 that does not accept: connection refused.
* ``unaccepting_port``: a listening socket with a full backlog: connections time out.

Plus the autouse aioresponses shim below, and :func:`wait_until` for conditions with no
event to wait on.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import aiohttp
import aioresponses.compat
import aioresponses.core
import pytest
from aiohttp import ClientResponse, StreamReader, web
from aiohttp.client_proto import ResponseHandler
from aiohttp.test_utils import BaseTestServer, RawTestServer, TestServer
from aioresponses import aioresponses as aioresponses_mock
from yarl import URL

from prolific_async import ProlificClient, RetryPolicy, _rate_gate, set_testing
from prolific_async.testing import FakeProlific

#: The token every hand-made client sends; tests assert it never leaks.
TOKEN = "secret-token-value-123"
#: The API base of ``mocked_client``: never resolvable, so nothing escapes aioresponses.
MOCKED_BASE = "https://api.test.invalid"
BATCHES_PATH = "/api/v1/data-collection/batches"
DATASETS_PATH = "/api/v1/data-collection/datasets"
FIXTURES = Path(__file__).parent / "fixtures"


def fixture_json(name: str) -> Any:
    """A JSON document from ``tests/fixtures`` (the API's documented examples)."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


# -- the aioresponses shim ---------------------------------------------------------------
#
# aioresponses 0.7.9 (the latest release) breaks twice on aiohttp >= 3.14:
#
# 1. ClientResponse.__init__ gained a required ``stream_writer`` argument that aioresponses
#    does not pass: every mocked request raises TypeError (pnuckowski/aioresponses#289).
# 2. BaseProtocol.pause_reading() now asserts the protocol has a parser; aioresponses feeds
#    the body into a StreamReader over a parserless ResponseHandler, so a body past the
#    reader's high-water mark (2 x 64 KiB) raises AssertionError
#    (pnuckowski/aioresponses#292).
#
# Each part is installed only when a probe shows the installed versions need it, so on
# aiohttp < 3.14, and with an aioresponses release that fixes both, the shim does nothing.
# Delete this section once the project requires such a release.

#: More than StreamReader's high-water mark for aioresponses' 64 KiB limit.
_PROBE_BODY_SIZE = 2 * 2**16 + 1


def _aiohttp_requires_stream_writer() -> bool:
    """Whether this aiohttp's ClientResponse takes a ``stream_writer`` argument."""
    return "stream_writer" in inspect.signature(ClientResponse.__init__).parameters


def _aioresponses_omits_stream_writer() -> bool:
    """Whether aioresponses fails to build a response for lack of ``stream_writer``."""
    try:
        probe = aioresponses.core.RequestMatch("http://probe.invalid/")
        probe._build_response(URL("http://probe.invalid/"))
    except TypeError as error:
        return "stream_writer" in str(error)
    return False


def _aioresponses_chokes_on_large_bodies() -> bool:
    """Whether aioresponses' body reader fails past its high-water mark."""
    reader = aioresponses.compat.stream_reader_factory(mock.Mock())
    try:
        reader.feed_data(b"x" * _PROBE_BODY_SIZE)
    except AssertionError:
        return True
    return False


class _NoStreamWriter:
    """Stands in for the request's writer: a mocked response sent no request bytes."""

    output_size = 0


class _ResponseWithStreamWriter(ClientResponse):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", _NoStreamWriter())
        super().__init__(*args, **kwargs)


class _InMemoryBodyProtocol(ResponseHandler):
    """A protocol for a body that is already whole in memory: nothing to pause or resume."""

    def pause_reading(self) -> None:
        return

    def resume_reading(self, *args: Any, **kwargs: Any) -> None:
        return


def _in_memory_stream_reader(loop: Any = None) -> StreamReader:
    return StreamReader(_InMemoryBodyProtocol(loop=loop), limit=2**16, loop=loop)


NEEDS_STREAM_WRITER_SHIM = _aiohttp_requires_stream_writer() and _aioresponses_omits_stream_writer()
NEEDS_LARGE_BODY_SHIM = _aioresponses_chokes_on_large_bodies()


@pytest.fixture(autouse=True)
def _aioresponses_shim(monkeypatch: pytest.MonkeyPatch) -> None:
    """Patch aioresponses for the aiohttp it runs on, where the probes above say so."""
    if NEEDS_STREAM_WRITER_SHIM:
        monkeypatch.setattr(aioresponses.core, "ClientResponse", _ResponseWithStreamWriter)
    if NEEDS_LARGE_BODY_SHIM:
        monkeypatch.setattr(aioresponses.core, "stream_reader_factory", _in_memory_stream_reader)


# -- aioresponses ------------------------------------------------------------------------


@pytest.fixture
def mocked() -> Iterator[Any]:
    """An active aioresponses mock; unregistered URLs raise ClientConnectionError."""
    with aioresponses_mock() as active:
        yield active


@pytest.fixture
async def mocked_client() -> AsyncIterator[ProlificClient]:
    """A client for ``mocked`` tests: MOCKED_BASE, TOKEN, one attempt per call."""
    async with ProlificClient(TOKEN, base_url=MOCKED_BASE, retry=RetryPolicy(attempts=1)) as c:
        yield c


def mocked_calls(mocked: Any, method: str, url: str | URL) -> list[dict[str, Any]]:
    """The keyword arguments of each call ``mocked`` saw for ``method`` and ``url``."""
    key = URL(url, encoded=True) if isinstance(url, str) else url
    return [call.kwargs for call in mocked.requests.get((method, key), [])]


def mocked_call(mocked: Any, method: str, url: str | URL) -> dict[str, Any]:
    """The keyword arguments of the one call ``mocked`` saw for ``method`` and ``url``."""
    (call,) = mocked_calls(mocked, method, url)
    return call


# -- real sockets ------------------------------------------------------------------------


@pytest.fixture
async def fake_http(prolific_fake: FakeProlific) -> AsyncIterator[aiohttp.ClientSession]:
    """A raw session sending the fake's token; no keep-alive, so no hidden resends."""
    async with aiohttp.ClientSession(
        base_url=prolific_fake.url,
        headers={"Authorization": f"Token {prolific_fake.token}"},
        connector=aiohttp.TCPConnector(force_close=True),
    ) as session:
        yield session


StartServer = Callable[..., Awaitable[BaseTestServer]]


def server_url(server: BaseTestServer) -> str:
    """The base URL of a started test server, without a trailing slash."""
    return str(server.make_url("")).rstrip("/")


@pytest.fixture
async def start_server() -> AsyncIterator[StartServer]:
    """Start an aiohttp.web app, or a bare handler, on 127.0.0.1 for this test.

    ``await start_server(app_or_handler, **test_server_kwargs)`` returns aiohttp's
    ``TestServer`` (an Application) or ``RawTestServer`` (a handler), already listening;
    each is closed when the test ends.
    """
    servers: list[BaseTestServer] = []

    async def start(target: Any, **kwargs: Any) -> BaseTestServer:
        server: BaseTestServer
        if isinstance(target, web.Application):
            server = TestServer(target, **kwargs)
        else:
            server = RawTestServer(target, **kwargs)
        servers.append(server)
        # A stalled handler must not hold the test's teardown for aiohttp's 60 s default.
        await server.start_server(shutdown_timeout=0.1)
        return server

    yield start
    for server in reversed(servers):
        await server.close()


#: The batch the scripted API answers with (the API's documented 201 example).
SCRIPTED_BATCH: dict[str, Any] = fixture_json("duplicate_batch_201.json")

Step = tuple[Any, ...]


class ScriptedAPI:
    """A loopback stand-in for the batch endpoints that follows a script per request.

    Each request takes the next step (``("ok",)`` once the script is empty). Steps that
    answer before acting: ``("status", code, headers?, body?)``, ``("drop_before",)``,
    ``("stall_before",)``. Steps that apply the request first (``applied`` counts them):
    ``("ok",)``, ``("ok_at_peak", n)`` (answers once ``n`` requests have been in flight at
    once), ``("drop_after",)``, ``("reset_after",)`` (a TCP
    reset), ``("truncated_after",)`` (half the body, then the connection ends),
    ``("stall_after",)``, ``("status_after", code)``. Stalls last until the test ends.
    """

    def __init__(self) -> None:
        self.url = ""
        self.script: list[Step] = []
        self.received = 0
        self.applied = 0
        self.in_flight = 0
        self.peak = 0
        self.headers_seen: list[dict[str, str]] = []
        self.release = asyncio.Event()
        self._changed = asyncio.Condition()
        self.app = web.Application()
        for path in (
            BATCHES_PATH,
            BATCHES_PATH + "/{batch_id}",
            BATCHES_PATH + "/{batch_id}/duplicate",
        ):
            self.app.router.add_route("*", path, self.handle)

    def then(self, *steps: Step) -> ScriptedAPI:
        """Append steps to the script; returns the API for chaining."""
        self.script.extend(steps)
        return self

    async def until(self, condition: Callable[[], bool], *, seconds: float = 10.0) -> None:
        """Wait until ``condition`` holds, re-checked on every request's arrival."""
        async with asyncio.timeout(seconds), self._changed:
            await self._changed.wait_for(condition)

    async def _count(self, **changes: int) -> None:
        async with self._changed:
            for name, delta in changes.items():
                setattr(self, name, getattr(self, name) + delta)
            self.peak = max(self.peak, self.in_flight)
            self._changed.notify_all()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.headers_seen.append(dict(request.headers))
        await self._count(received=1, in_flight=1)
        try:
            return await self._answer(request, self.script.pop(0) if self.script else ("ok",))
        finally:
            await self._count(in_flight=-1)

    async def _answer(self, request: web.Request, step: Step) -> web.StreamResponse:
        await request.read()
        kind = step[0]
        if kind == "drop_before":
            return cut(request)
        if kind == "status":
            _, status, headers, body = (*step, None, None)[:4]
            return web.Response(status=status, headers=headers, body=body)
        if kind == "stall_before":
            await self.release.wait()
            return web.Response(status=599)
        await self._count(applied=1)
        if kind == "drop_after":
            return cut(request)
        if kind == "reset_after":
            return cut(request, reset=True)
        if kind == "truncated_after":
            return truncate(request)
        if kind == "stall_after":
            await self.release.wait()
            return web.Response(status=599)
        if kind == "status_after":
            return web.Response(status=step[1])
        if kind == "ok_at_peak":
            await self.until(lambda: self.peak >= step[1])
        status = 201 if request.method == "POST" else 200
        return web.json_response(SCRIPTED_BATCH, status=status)


def cut(request: web.Request, *, reset: bool = False) -> web.Response:
    """Close the request's connection without answering; ``reset`` sends a TCP RST."""
    transport = request.transport
    assert transport is not None
    if reset:
        sock = transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    else:
        transport.close()
    return web.Response()


def truncate(request: web.Request) -> web.Response:
    """Send a 201 announcing its full length, half the body, and end the connection."""
    transport = request.transport
    assert transport is not None
    body = json.dumps(SCRIPTED_BATCH).encode()
    head = (
        "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    transport.write(head.encode() + body[: len(body) // 2])
    return cut(request)


@pytest.fixture
async def scripted_api(start_server: StartServer) -> AsyncIterator[ScriptedAPI]:
    """A started :class:`ScriptedAPI` (its ``url`` set); stalled requests end with the test."""
    api = ScriptedAPI()
    api.url = server_url(await start_server(api.app))
    yield api
    api.release.set()


@pytest.fixture
def never_listening() -> Iterator[socket.socket]:
    """A socket bound on 127.0.0.1 that never listens: connecting to it is refused.

    Holding the bound socket (rather than closing it and reusing its number) keeps any
    other process from taking the port meanwhile; pass it to ``TestServer`` as
    ``socket_factory=lambda *_: sock`` to start listening on the very same port.
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock


@pytest.fixture
def retry_waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The retry middleware's waits, in seconds, recorded instead of slept."""
    recorded: list[float] = []

    async def record(seconds: float) -> None:
        recorded.append(seconds)

    monkeypatch.setattr(_rate_gate, "sleep", record)
    return recorded


@pytest.fixture
def testing_mode() -> Iterator[None]:
    """prolific_async.set_testing() for this test: retries and polls without waiting."""
    with set_testing():
        yield


def assert_token_absent(error: BaseException, token: str = TOKEN) -> None:
    """Neither the error nor anything chained to it mentions the token."""
    seen: BaseException | None = error
    while seen is not None:
        for text in (str(seen), repr(seen), repr(seen.args), repr(vars(seen))):
            assert token not in text
        seen = seen.__cause__ or seen.__context__


@pytest.fixture
def unaccepting_port() -> Iterator[socket.socket]:
    """A listening socket on 127.0.0.1 whose accept queue is full: connections hang.

    New TCP handshakes get no answer (a connect timeout), until the socket is handed to
    ``TestServer(socket_factory=lambda *_: sock)``, which listens with room to accept.
    """
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers = []
    for _ in range(4):  # fill the backlog; later SYNs are dropped
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(listener.getsockname())
        fillers.append(filler)
    yield listener
    for sock in (*fillers, listener):
        sock.close()


async def wait_until(condition: Callable[[], bool], *, seconds: float = 10.0) -> None:
    """Poll ``condition`` every few milliseconds; fail the test if it stays false.

    Prefer waiting on an event the code under test sets; use this for state that has
    none (a request the emulator recorded, a file that appeared).
    """
    for _ in range(int(seconds / 0.005)):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"condition still false after {seconds} s")
