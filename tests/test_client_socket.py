"""Behaviour that crosses a socket: deadlines, connection limits, sessions, closing mid-call.

Each test runs the real client against ``scripted_api``, a small scripted aiohttp.web
server on 127.0.0.1 (see conftest.py). The script says, per request, whether the server
applies it and how it answers, so each test can assert how many requests reached the
server and how many batches it made. Retries and Retry-After are in test_retry.py.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import aiohttp
import pytest

from prolific_async import ProlificClient, RetryPolicy, TaskDetails, errors
from prolific_async.testing import FakeProlific

from .conftest import BATCHES_PATH, TOKEN, ScriptedAPI, assert_token_absent

BATCHES = BATCHES_PATH
DETAILS = TaskDetails(task_name="t", task_introduction="i", task_steps="s")
#: Tiny, deterministic waits: retries happen without real multi-second sleeps.
FAST = RetryPolicy(attempts=5, timeout=10.0, wait_initial=0.001, wait_max=0.01, wait_jitter=0.0)


def make_client(api: ScriptedAPI, **kwargs: Any) -> ProlificClient:
    kwargs.setdefault("retry", FAST)
    return ProlificClient(TOKEN, base_url=api.url, **kwargs)


async def create(client: ProlificClient) -> Any:
    return await client.batches.create(name="n", workspace_id="w", task_details=DETAILS)


# -- deadlines ---------------------------------------------------------------------------


async def test_policy_timeout_bounds_the_whole_call(scripted_api: ScriptedAPI) -> None:
    """RetryPolicy.timeout stops retrying: the call ends with the last status error."""
    scripted_api.then(*[("status", 503)] * 1000)
    # Waits of 1 ms, then 100 s: the second wait would end past the 5 s deadline.
    policy = RetryPolicy(
        attempts=1000,
        timeout=5.0,
        wait_initial=0.001,
        wait_exp_base=100_000.0,
        wait_max=1000.0,
        wait_jitter=0.0,
    )
    async with make_client(scripted_api, retry=policy) as client:
        with pytest.raises(errors.InternalServerError):
            await client.batches.get("b1")
    assert scripted_api.received == 2


async def test_deadline_during_a_get_is_a_timeout(scripted_api: ScriptedAPI) -> None:
    """A GET still waiting at the deadline raises APITimeoutError (also a TimeoutError)."""
    scripted_api.then(("stall_before",))
    async with make_client(scripted_api, timeout=30.0, retry=RetryPolicy(timeout=0.1)) as client:
        with pytest.raises(errors.APITimeoutError, match="deadline") as caught:
            await client.batches.get("b1")
    assert isinstance(caught.value, TimeoutError)


async def test_deadline_during_a_create_is_outcome_unknown(scripted_api: ScriptedAPI) -> None:
    """A create still waiting at the deadline may have been applied: OutcomeUnknownError."""
    scripted_api.then(("stall_after",))
    async with make_client(scripted_api, timeout=30.0, retry=RetryPolicy(timeout=0.1)) as client:
        with pytest.raises(errors.OutcomeUnknownError, match="deadline"):
            await create(client)
    assert scripted_api.applied == 1


async def test_deadline_while_connecting_is_not_outcome_unknown(
    unaccepting_port: socket.socket,
) -> None:
    """The call's deadline expiring before a connection exists is a plain timeout."""
    host, port = unaccepting_port.getsockname()[:2]
    url = f"http://{host}:{port}"
    policy = RetryPolicy(timeout=0.1)
    async with ProlificClient(TOKEN, base_url=url, timeout=30.0, retry=policy) as client:
        with pytest.raises(errors.APITimeoutError) as caught:
            await create(client)
    assert not isinstance(caught.value, errors.OutcomeUnknownError)


# -- connections, concurrency, sessions --------------------------------------------------


async def test_max_connections_bounds_requests_in_flight(scripted_api: ScriptedAPI) -> None:
    """With max_connections=3, no more than 3 requests reach the server at once."""
    scripted_api.then(*[("ok_at_peak", 3)] * 20)
    async with make_client(scripted_api, max_connections=3) as client:
        batches = await asyncio.gather(*(client.batches.get(f"b{i}") for i in range(20)))
    assert len(batches) == 20
    assert scripted_api.received == 20
    assert scripted_api.peak == 3


async def test_one_client_serves_many_concurrent_creates(scripted_api: ScriptedAPI) -> None:
    """50 concurrent creates through one client each reach the server exactly once."""
    async with make_client(scripted_api) as client:
        results = await asyncio.gather(*(create(client) for _ in range(50)))
    assert len(results) == 50
    assert (scripted_api.received, scripted_api.applied) == (50, 50)


async def test_caller_owned_session_is_used_retried_and_left_open(
    scripted_api: ScriptedAPI,
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

    scripted_api.then(("status", 503))
    async with aiohttp.ClientSession(middlewares=(caller_middleware,)) as session:
        async with make_client(scripted_api, session=session) as client:
            await client.batches.get("b1")
        assert client.is_closed
        assert not session.closed
    assert scripted_api.received == 2
    assert seen_by_caller_middleware == 2
    assert all(headers.get("X-Caller") == "yes" for headers in scripted_api.headers_seen)
    assert all(
        headers["Authorization"] == f"Token {TOKEN}" for headers in scripted_api.headers_seen
    )


async def test_status_errors_do_not_leak_the_token(scripted_api: ScriptedAPI) -> None:
    """A status error's message, repr and attributes never contain the token."""
    scripted_api.then(("status", 401, None, b'{"error": {"title": "Unauthorized"}}'))
    async with make_client(scripted_api) as client:
        with pytest.raises(errors.AuthenticationError) as caught:
            await client.batches.get("b1")
    assert_token_absent(caught.value)
    assert TOKEN not in repr(client)


# -- connecting, closing, caller sessions ----------------------------------------------


async def test_waiting_for_a_pooled_connection_is_bounded_and_never_sent(
    scripted_api: ScriptedAPI,
) -> None:
    """A create stuck behind a caller's 1-connection pool times out as never sent."""
    scripted_api.then(("stall_before",))
    connector = aiohttp.TCPConnector(limit=1)
    async with aiohttp.ClientSession(connector=connector) as session:
        policy = RetryPolicy(attempts=2, wait_initial=0.001, wait_jitter=0.0)
        client = make_client(scripted_api, session=session, timeout=0.1, retry=policy)
        async with client:
            # The caller's own request holds the pool's only connection meanwhile.
            blocker = asyncio.create_task(session.get(f"{scripted_api.url}{BATCHES}/b1"))
            await scripted_api.until(lambda: scripted_api.received == 1)
            with pytest.raises(errors.APITimeoutError) as caught:
                await create(client)
            blocker.cancel()
            with pytest.raises(asyncio.CancelledError):
                await blocker
    assert not isinstance(caught.value, errors.OutcomeUnknownError)
    assert scripted_api.received == 1  # the create never reached the server


async def test_closing_the_client_under_a_running_get(scripted_api: ScriptedAPI) -> None:
    """A GET running when the client closes ends with ClientClosedError, not a raw error."""
    scripted_api.then(("stall_before",), ("stall_before",))
    client = make_client(scripted_api)
    running = asyncio.create_task(client.batches.get("b1"))
    await scripted_api.until(lambda: scripted_api.received == 1)
    await client.aclose()
    with pytest.raises(errors.ClientClosedError):
        await running


async def test_closing_the_client_under_a_running_create(scripted_api: ScriptedAPI) -> None:
    """A create running when the client closes may exist: OutcomeUnknownError."""
    scripted_api.then(("stall_after",))
    client = make_client(scripted_api)
    running = asyncio.create_task(create(client))
    await scripted_api.until(lambda: scripted_api.applied == 1)
    await client.aclose()
    with pytest.raises(errors.OutcomeUnknownError):
        await running


async def test_calls_queued_behind_max_connections_see_the_close(scripted_api: ScriptedAPI) -> None:
    """Calls waiting for a slot when the client closes raise ClientClosedError, unsent."""
    scripted_api.then(("stall_before",))
    client = make_client(scripted_api, max_connections=1)
    running = asyncio.create_task(client.batches.get("b1"))
    queued = asyncio.create_task(create(client))
    await scripted_api.until(lambda: scripted_api.received == 1)
    await client.aclose()
    for task in (running, queued):
        with pytest.raises(errors.ClientClosedError):
            await task
    assert scripted_api.received == 1


async def test_caller_session_raise_for_status_does_not_change_errors(
    scripted_api: ScriptedAPI,
) -> None:
    """A caller session with raise_for_status=True still yields NotFoundError and 400s."""
    scripted_api.then(("status", 404, None, b'{"error": {"detail": "gone"}}'), ("status", 400))
    async with (
        aiohttp.ClientSession(raise_for_status=True) as session,
        make_client(scripted_api, session=session) as client,
    ):
        with pytest.raises(errors.NotFoundError, match="gone"):
            await client.batches.get("b1")
        with pytest.raises(errors.BadRequestError):
            await create(client)


async def test_a_derived_client_on_a_raise_for_status_session_keeps_our_errors(
    scripted_api: ScriptedAPI,
) -> None:
    """with_options on a caller session with raise_for_status=True still yields our errors."""
    scripted_api.then(("status", 404, None, b'{"error": {"detail": "gone"}}'))
    async with (
        aiohttp.ClientSession(raise_for_status=True) as session,
        make_client(scripted_api, session=session) as client,
    ):
        with pytest.raises(errors.NotFoundError, match="gone"):
            await client.with_options(timeout=5.0).batches.get("b1")


async def test_a_raw_body_on_a_raise_for_status_session_keeps_our_errors(
    prolific_fake: FakeProlific,
) -> None:
    """A datapoint append (a raw body) through a raise_for_status=True session: our 404."""
    async with (
        aiohttp.ClientSession(raise_for_status=True) as session,
        ProlificClient(prolific_fake.token, base_url=prolific_fake.url, session=session) as client,
    ):
        with pytest.raises(errors.NotFoundError):
            await client.datasets.add_datapoints("no-such-dataset", [{"text": "hi"}])


async def test_max_connections_sets_our_connector_limit(scripted_api: ScriptedAPI) -> None:
    """The connector the client creates is limited to max_connections."""
    async with (
        make_client(scripted_api, max_connections=7) as client,
        client.storage_session() as session,  # on the client's own connections
    ):
        assert session.connector is not None
        assert session.connector.limit == 7


async def test_caller_session_keeps_its_connector_limit(scripted_api: ScriptedAPI) -> None:
    """A caller's session keeps its own connector limit, whatever max_connections says."""
    scripted_api.then(*[("ok_at_peak", 2)] * 10)
    connector = aiohttp.TCPConnector(limit=2)
    async with aiohttp.ClientSession(connector=connector) as session:
        async with make_client(scripted_api, session=session, max_connections=100) as client:
            await asyncio.gather(*(client.batches.get(f"b{i}") for i in range(10)))
        assert connector.limit == 2
    assert scripted_api.peak == 2


async def test_error_headers_are_case_insensitive(scripted_api: ScriptedAPI) -> None:
    """APIStatusError.headers looks names up case-insensitively, like HTTP."""
    scripted_api.then(("status", 429, {"retry-after": "3600"}))
    async with make_client(scripted_api) as client:
        with pytest.raises(errors.RateLimitError) as caught:
            await client.batches.get("b1")
    assert caught.value.headers["Retry-After"] == "3600"


async def test_a_client_derived_after_calls_gets_its_own_headers_and_deadline(
    scripted_api: ScriptedAPI,
) -> None:
    """Derived once the parent has called (its arguments and deadlines made): its own apply."""
    async with make_client(scripted_api, timeout=30.0) as client:
        await client.batches.get("b1")  # the parent builds its request arguments now
        derived = client.with_options(
            headers={"X-Team": "lab"}, retry=RetryPolicy(attempts=1, timeout=0.1)
        )
        await derived.batches.get("b1")
        assert scripted_api.headers_seen[-1].get("X-Team") == "lab"
        scripted_api.then(("stall_before",))
        with pytest.raises(errors.APITimeoutError, match="deadline"):
            await derived.batches.get("b1")  # its own 0.1 s, not the parent's 60 s
        await client.batches.get("b1")
        assert "X-Team" not in scripted_api.headers_seen[-1]
