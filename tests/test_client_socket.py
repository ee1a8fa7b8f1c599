"""Behaviour that crosses a socket: retries, Retry-After, drops, timeouts, limits, sessions.

Each test runs a small scripted aiohttp.web server on 127.0.0.1. The script says, per
request, whether the server applies it and how it answers, so each test can assert how
many requests reached the server and how many batches it made.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from prolific_async import ProlificClient, RetryPolicy, TaskDetails, _retry, errors

from .conftest import LoopbackServer, wait_until

TOKEN = "tok-never-leak-7f3a9c"
BATCHES = "/api/v1/data-collection/batches"
DETAILS = TaskDetails(task_name="t", task_introduction="i", task_steps="s")
BATCH_JSON: dict[str, Any] = json.loads(
    (Path(__file__).parent / "fixtures" / "duplicate_batch_201.json").read_text()
)
#: Tiny, deterministic waits: retries happen without real multi-second sleeps.
FAST = RetryPolicy(attempts=5, timeout=10.0, wait_initial=0.001, wait_max=0.01, wait_jitter=0.0)

Step = tuple[Any, ...]


class ScriptedAPI:
    """A loopback stand-in for the batch endpoints that follows a script per request."""

    def __init__(self) -> None:
        self.script: list[Step] = []
        self.received = 0
        self.applied = 0
        self.in_flight = 0
        self.peak = 0
        self.headers_seen: list[dict[str, str]] = []
        self.release = asyncio.Event()
        self.app = web.Application()
        self.app.router.add_route("*", BATCHES, self.handle)
        self.app.router.add_route("*", BATCHES + "/{batch_id}", self.handle)
        self.app.router.add_route("*", BATCHES + "/{batch_id}/duplicate", self.handle)

    def then(self, *steps: Step) -> ScriptedAPI:
        self.script.extend(steps)
        return self

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.received += 1
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        self.headers_seen.append(dict(request.headers))
        try:
            step = self.script.pop(0) if self.script else ("ok",)
            await request.read()
            kind = step[0]
            if kind == "drop_before":
                assert request.transport is not None
                request.transport.close()
                return web.Response()
            if kind == "status":
                _, status, headers, body = (*step, None, None)[:4]
                return web.Response(status=status, headers=headers, body=body)
            if kind == "stall_before":
                await self.release.wait()
                return web.Response(status=599)
            self.applied += 1
            if kind == "drop_after":
                assert request.transport is not None
                request.transport.close()
                return web.Response()
            if kind == "stall_after":
                await self.release.wait()
                return web.Response(status=599)
            if kind == "status_after":
                return web.Response(status=step[1])
            if kind == "slow_ok":
                await asyncio.sleep(step[1])
            status = 201 if request.method == "POST" else 200
            return web.json_response(BATCH_JSON, status=status)
        finally:
            self.in_flight -= 1


@pytest.fixture
def api() -> ScriptedAPI:
    return ScriptedAPI()


@pytest.fixture
async def server(
    api: ScriptedAPI, serve: Callable[[web.Application], Awaitable[LoopbackServer]]
) -> Any:
    started = await serve(api.app)
    yield started
    api.release.set()


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the retry middleware's waits without sleeping them."""
    recorded: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        recorded.append(seconds)

    monkeypatch.setattr(_retry, "sleep", fake_sleep)
    return recorded


def make_client(server: LoopbackServer, **kwargs: Any) -> ProlificClient:
    kwargs.setdefault("retry", FAST)
    return ProlificClient(TOKEN, base_url=server.url, **kwargs)


async def create(client: ProlificClient) -> Any:
    return await client.batches.create(name="n", workspace_id="w", task_details=DETAILS)


def assert_token_absent(error: BaseException) -> None:
    """Neither the error nor anything chained to it mentions the token."""
    seen: BaseException | None = error
    while seen is not None:
        for text in (str(seen), repr(seen), repr(seen.args), repr(vars(seen))):
            assert TOKEN not in text
        seen = seen.__cause__ or seen.__context__


# -- retries of idempotent requests ------------------------------------------------------


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
async def test_get_is_retried_on_transient_status(
    api: ScriptedAPI, server: LoopbackServer, status: int
) -> None:
    """GET is retried on 408, 429, 500, 502, 503 and 504 and then succeeds."""
    api.then(("status", status), ("status", status))
    async with make_client(server) as client:
        batch = await client.batches.get("b1")
    assert batch.id == BATCH_JSON["id"]
    assert api.received == 3


async def test_patch_is_retried_on_503(api: ScriptedAPI, server: LoopbackServer) -> None:
    """PATCH is idempotent and retried like GET."""
    api.then(("status", 503))
    async with make_client(server) as client:
        await client.batches.update("b1", name="x")
    assert api.received == 2


async def test_get_gives_up_after_attempts(api: ScriptedAPI, server: LoopbackServer) -> None:
    """After RetryPolicy.attempts the last status error is raised."""
    api.then(*[("status", 503, None, b"still down")] * 10)
    async with make_client(
        server, retry=RetryPolicy(attempts=3, wait_initial=0.001, wait_jitter=0.0)
    ) as client:
        with pytest.raises(errors.InternalServerError, match="still down"):
            await client.batches.get("b1")
    assert api.received == 3


async def test_definitive_errors_are_not_retried(api: ScriptedAPI, server: LoopbackServer) -> None:
    """A 404 is an answer, not a fault: it is raised after one request."""
    api.then(("status", 404), ("status", 404))
    async with make_client(server) as client:
        with pytest.raises(errors.NotFoundError):
            await client.batches.get("b1")
    assert api.received == 1


async def test_get_is_retried_after_a_dropped_connection(
    api: ScriptedAPI, server: LoopbackServer
) -> None:
    """A GET whose connection is cut is sent again."""
    api.then(("drop_before",))
    async with make_client(server) as client:
        await client.batches.get("b1")
    assert api.received == 2


@pytest.mark.parametrize("attempts", [1, 2, 3])
async def test_attempts_cap_gets_despite_aiohttps_own_resend(
    api: ScriptedAPI, server: LoopbackServer, attempts: int
) -> None:
    """A GET is sent at most `attempts` times, although aiohttp resends once on a drop."""
    api.then(*[("drop_before",)] * 10)
    policy = RetryPolicy(attempts=attempts, wait_initial=0.001, wait_jitter=0.0)
    async with make_client(server, retry=policy) as client:
        with pytest.raises(errors.APIConnectionError):
            await client.batches.get("b1")
    assert api.received == attempts


async def test_get_is_retried_after_a_read_timeout(
    api: ScriptedAPI, server: LoopbackServer
) -> None:
    """A GET whose response does not come within `timeout` is sent again."""
    api.then(("stall_before",))
    async with make_client(server, timeout=0.05) as client:
        await client.batches.get("b1")
    assert api.received == 2


# -- Retry-After -------------------------------------------------------------------------


async def test_retry_after_seconds_is_the_wait(
    api: ScriptedAPI, server: LoopbackServer, waits: list[float]
) -> None:
    """A 429 with Retry-After: 7 waits 7 seconds (recorded, not slept) before retrying."""
    api.then(("status", 429, {"Retry-After": "7"}))
    async with make_client(server) as client:
        await client.batches.get("b1")
    assert waits == [pytest.approx(7.0, abs=0.05)]
    assert api.received == 2


async def test_retry_after_http_date_is_the_wait(
    api: ScriptedAPI, server: LoopbackServer, waits: list[float]
) -> None:
    """A Retry-After HTTP date is waited out until that moment."""
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=6), usegmt=True)
    api.then(("status", 503, {"Retry-After": when}))
    async with make_client(server) as client:
        await client.batches.get("b1")
    assert len(waits) == 1
    assert 4.0 <= waits[0] <= 6.0


async def test_retry_after_beyond_the_deadline_fails_at_once(
    api: ScriptedAPI, server: LoopbackServer, waits: list[float]
) -> None:
    """A wait that would outlast RetryPolicy.timeout is not started: the error is raised."""
    api.then(("status", 503, {"Retry-After": "30"}))
    async with make_client(server, retry=RetryPolicy(timeout=10.0)) as client:
        with pytest.raises(errors.InternalServerError):
            await client.batches.get("b1")
    assert waits == []
    assert api.received == 1


async def test_retry_after_above_cap_fails_at_once(
    api: ScriptedAPI, server: LoopbackServer, waits: list[float]
) -> None:
    """A Retry-After longer than retry_after_cap raises the status error without waiting."""
    api.then(("status", 429, {"Retry-After": "3600"}))
    policy = RetryPolicy(retry_after_cap=60.0, wait_initial=0.001)
    async with make_client(server, retry=policy) as client:
        with pytest.raises(errors.RateLimitError) as caught:
            await client.batches.get("b1")
    assert caught.value.headers["Retry-After"] == "3600"
    assert waits == []
    assert api.received == 1


async def test_backoff_waits_grow_between_retries(
    api: ScriptedAPI, server: LoopbackServer, waits: list[float]
) -> None:
    """Without Retry-After the waits follow the exponential formula."""
    api.then(*[("status", 503)] * 4)
    policy = RetryPolicy(attempts=5, wait_initial=0.5, wait_max=8.0, wait_jitter=0.0)
    async with make_client(server, retry=policy) as client:
        await client.batches.get("b1")
    assert waits == [0.5, 1.0, 2.0, 4.0]


async def test_a_429_holds_back_every_request_of_the_client(
    api: ScriptedAPI, server: LoopbackServer, waits: list[float]
) -> None:
    """After one request meets 429 + Retry-After, the client's next requests wait too."""
    api.then(("status", 429, {"Retry-After": "4"}))
    async with make_client(server) as client:
        await client.batches.get("b1")  # 429, waits 4 s (recorded), then succeeds
        await client.batches.get("b2")  # the gate is still shut on the fake clock
    assert len(waits) == 2
    assert waits[1] == pytest.approx(4.0, abs=0.05)
    assert api.received == 3


# -- POST: never a duplicate -------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_refused_create_is_retried_and_raises_plain_connection_error(
    waits: list[float],
) -> None:
    """Connection refused proves nothing was sent: retried, then APIConnectionError."""
    client = ProlificClient(TOKEN, base_url=f"http://127.0.0.1:{free_port()}", retry=FAST)
    async with client:
        with pytest.raises(errors.APIConnectionError) as caught:
            await create(client)
    assert not isinstance(caught.value, errors.OutcomeUnknownError)
    assert "not sent" in str(caught.value)
    assert len(waits) == FAST.attempts - 1
    assert_token_absent(caught.value)


async def test_refused_then_listening_create_succeeds(
    api: ScriptedAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A create retried after connection refused succeeds once the server is up."""
    port = free_port()
    runner = web.AppRunner(api.app, shutdown_timeout=0.1)
    await runner.setup()

    async def start_server_instead_of_sleeping(seconds: float) -> None:
        await web.TCPSite(runner, "127.0.0.1", port).start()

    monkeypatch.setattr(_retry, "sleep", start_server_instead_of_sleeping)
    try:
        async with ProlificClient(TOKEN, base_url=f"http://127.0.0.1:{port}", retry=FAST) as c:
            await create(c)
    finally:
        await runner.cleanup()
    assert (api.received, api.applied) == (1, 1)


# -- deadlines ---------------------------------------------------------------------------


async def test_policy_timeout_bounds_the_whole_call(
    api: ScriptedAPI, server: LoopbackServer
) -> None:
    """RetryPolicy.timeout stops retrying: the call ends with the last status error."""
    api.then(*[("status", 503)] * 1000)
    policy = RetryPolicy(
        attempts=1000, timeout=0.3, wait_initial=0.05, wait_exp_base=1.0, wait_jitter=0.0
    )
    async with make_client(server, retry=policy) as client:
        with pytest.raises(errors.InternalServerError):
            await client.batches.get("b1")
    assert 2 <= api.received <= 10


async def test_deadline_during_a_get_is_a_timeout(api: ScriptedAPI, server: LoopbackServer) -> None:
    """A GET still waiting at the deadline raises APITimeoutError (also a TimeoutError)."""
    api.then(("stall_before",))
    async with make_client(server, timeout=30.0, retry=RetryPolicy(timeout=0.1)) as client:
        with pytest.raises(errors.APITimeoutError, match="deadline") as caught:
            await client.batches.get("b1")
    assert isinstance(caught.value, TimeoutError)


async def test_deadline_during_a_create_is_outcome_unknown(
    api: ScriptedAPI, server: LoopbackServer
) -> None:
    """A create still waiting at the deadline may have been applied: OutcomeUnknownError."""
    api.then(("stall_after",))
    async with make_client(server, timeout=30.0, retry=RetryPolicy(timeout=0.1)) as client:
        with pytest.raises(errors.OutcomeUnknownError, match="deadline"):
            await create(client)
    assert api.applied == 1


# -- connections, concurrency, sessions --------------------------------------------------


async def test_max_connections_bounds_requests_in_flight(
    api: ScriptedAPI, server: LoopbackServer
) -> None:
    """With max_connections=3, no more than 3 requests reach the server at once."""
    api.then(*[("slow_ok", 0.02)] * 20)
    async with make_client(server, max_connections=3) as client:
        batches = await asyncio.gather(*(client.batches.get(f"b{i}") for i in range(20)))
    assert len(batches) == 20
    assert api.received == 20
    assert api.peak == 3


async def test_one_client_serves_many_concurrent_creates(
    api: ScriptedAPI, server: LoopbackServer
) -> None:
    """50 concurrent creates through one client each reach the server exactly once."""
    async with make_client(server) as client:
        results = await asyncio.gather(*(create(client) for _ in range(50)))
    assert len(results) == 50
    assert (api.received, api.applied) == (50, 50)


async def test_unread_error_body_does_not_pin_the_connection(
    api: ScriptedAPI, server: LoopbackServer
) -> None:
    """A discarded 503 with a 4 MiB body is released, so a 1-connection client retries."""
    api.then(("status", 503, None, b"x" * (4 * 1024 * 1024)))
    policy = RetryPolicy(timeout=5.0, wait_initial=0.001, wait_jitter=0.0)
    async with make_client(server, max_connections=1, retry=policy) as client:
        await client.batches.get("b1")
    assert api.received == 2


async def test_caller_owned_session_is_used_retried_and_left_open(
    api: ScriptedAPI, server: LoopbackServer
) -> None:
    """A caller's session gets the retry policy, keeps its middlewares, and stays open."""
    seen_by_caller_middleware = 0

    async def caller_middleware(
        req: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        nonlocal seen_by_caller_middleware
        seen_by_caller_middleware += 1
        req.headers["X-Caller"] = "yes"
        return await handler(req)

    api.then(("status", 503))
    async with aiohttp.ClientSession(middlewares=(caller_middleware,)) as session:
        async with make_client(server, session=session) as client:
            await client.batches.get("b1")
        assert client.is_closed
        assert not session.closed
    assert api.received == 2
    assert seen_by_caller_middleware == 2
    assert all(headers.get("X-Caller") == "yes" for headers in api.headers_seen)
    assert all(headers["Authorization"] == f"Token {TOKEN}" for headers in api.headers_seen)


async def test_status_errors_do_not_leak_the_token(
    api: ScriptedAPI, server: LoopbackServer
) -> None:
    """A status error's message, repr and attributes never contain the token."""
    api.then(("status", 401, None, b'{"error": {"title": "Unauthorized"}}'))
    async with make_client(server) as client:
        with pytest.raises(errors.AuthenticationError) as caught:
            await client.batches.get("b1")
    assert_token_absent(caught.value)
    assert TOKEN not in repr(client)


# -- connecting, closing, caller sessions (found in review) ------------------------------


@pytest.fixture
def unaccepting_port() -> Iterator[int]:
    """A loopback port whose accept queue is full: new connections hang in the handshake."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port: int = listener.getsockname()[1]
    fillers = []
    for _ in range(4):  # fill the backlog; later SYNs are dropped
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    yield port
    for sock in (*fillers, listener):
        sock.close()


async def test_connect_timeout_on_create_is_retried_as_never_sent(
    unaccepting_port: int, waits: list[float]
) -> None:
    """A create whose TCP handshake times out was never sent: retried, then APITimeoutError."""
    policy = RetryPolicy(attempts=3, wait_initial=0.001, wait_jitter=0.0)
    url = f"http://127.0.0.1:{unaccepting_port}"
    async with ProlificClient(TOKEN, base_url=url, timeout=0.05, retry=policy) as client:
        with pytest.raises(errors.APITimeoutError) as caught:
            await create(client)
    assert not isinstance(caught.value, errors.OutcomeUnknownError)
    assert "not sent" in str(caught.value)
    assert len(waits) == 2


async def test_deadline_while_connecting_is_not_outcome_unknown(unaccepting_port: int) -> None:
    """The call's deadline expiring before a connection exists is a plain timeout."""
    url = f"http://127.0.0.1:{unaccepting_port}"
    policy = RetryPolicy(timeout=0.1)
    async with ProlificClient(TOKEN, base_url=url, timeout=30.0, retry=policy) as client:
        with pytest.raises(errors.APITimeoutError) as caught:
            await create(client)
    assert not isinstance(caught.value, errors.OutcomeUnknownError)


async def test_waiting_for_a_pooled_connection_is_bounded_and_never_sent(
    api: ScriptedAPI, server: LoopbackServer
) -> None:
    """A create stuck behind a caller's 1-connection pool times out as never sent."""
    api.then(("stall_before",))
    connector = aiohttp.TCPConnector(limit=1)
    async with aiohttp.ClientSession(connector=connector) as session:
        policy = RetryPolicy(attempts=2, wait_initial=0.001, wait_jitter=0.0)
        client = make_client(server, session=session, timeout=0.1, retry=policy)
        async with client:
            # The caller's own request holds the pool's only connection meanwhile.
            blocker = asyncio.create_task(session.get(f"{server.url}{BATCHES}/b1"))
            await wait_until(lambda: api.received == 1)
            with pytest.raises(errors.APITimeoutError) as caught:
                await create(client)
            blocker.cancel()
            with pytest.raises(asyncio.CancelledError):
                await blocker
    assert not isinstance(caught.value, errors.OutcomeUnknownError)
    assert api.received == 1  # the create never reached the server


async def test_closing_the_client_under_a_running_get(
    api: ScriptedAPI, server: LoopbackServer
) -> None:
    """A GET running when the client closes ends with ClientClosedError, not a raw error."""
    api.then(("stall_before",), ("stall_before",))
    client = make_client(server)
    running = asyncio.create_task(client.batches.get("b1"))
    await wait_until(lambda: api.received == 1)
    await client.aclose()
    with pytest.raises(errors.ClientClosedError):
        await running


async def test_closing_the_client_under_a_running_create(
    api: ScriptedAPI, server: LoopbackServer
) -> None:
    """A create running when the client closes may exist: OutcomeUnknownError."""
    api.then(("stall_after",))
    client = make_client(server)
    running = asyncio.create_task(create(client))
    await wait_until(lambda: api.applied == 1)
    await client.aclose()
    with pytest.raises(errors.OutcomeUnknownError):
        await running


async def test_calls_queued_behind_max_connections_see_the_close(
    api: ScriptedAPI, server: LoopbackServer
) -> None:
    """Calls waiting for a slot when the client closes raise ClientClosedError, unsent."""
    api.then(("stall_before",))
    client = make_client(server, max_connections=1)
    running = asyncio.create_task(client.batches.get("b1"))
    queued = asyncio.create_task(create(client))
    await wait_until(lambda: api.received == 1)
    await client.aclose()
    for task in (running, queued):
        with pytest.raises(errors.ClientClosedError):
            await task
    assert api.received == 1


async def test_caller_session_raise_for_status_does_not_change_errors(
    api: ScriptedAPI, server: LoopbackServer
) -> None:
    """A caller session with raise_for_status=True still yields NotFoundError and 400s."""
    api.then(("status", 404, None, b'{"error": {"detail": "gone"}}'), ("status", 400))
    async with (
        aiohttp.ClientSession(raise_for_status=True) as session,
        make_client(server, session=session) as client,
    ):
        with pytest.raises(errors.NotFoundError, match="gone"):
            await client.batches.get("b1")
        with pytest.raises(errors.BadRequestError):
            await create(client)


async def test_max_connections_sets_our_connector_limit(server: LoopbackServer) -> None:
    """The connector the client creates is limited to max_connections."""
    async with make_client(server, max_connections=7) as client:
        session = client._session
        assert session is not None
        assert session.connector is not None
        assert session.connector.limit == 7


async def test_caller_session_keeps_its_connector_limit(
    api: ScriptedAPI, server: LoopbackServer
) -> None:
    """A caller's session keeps its own connector limit, whatever max_connections says."""
    api.then(*[("slow_ok", 0.02)] * 10)
    connector = aiohttp.TCPConnector(limit=2)
    async with aiohttp.ClientSession(connector=connector) as session:
        async with make_client(server, session=session, max_connections=100) as client:
            await asyncio.gather(*(client.batches.get(f"b{i}") for i in range(10)))
        assert connector.limit == 2
    assert api.peak == 2


async def test_error_headers_are_case_insensitive(api: ScriptedAPI, server: LoopbackServer) -> None:
    """APIStatusError.headers looks names up case-insensitively, like HTTP."""
    api.then(("status", 429, {"retry-after": "3600"}))
    async with make_client(server) as client:
        with pytest.raises(errors.RateLimitError) as caught:
            await client.batches.get("b1")
    assert caught.value.headers["Retry-After"] == "3600"
