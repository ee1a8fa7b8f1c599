"""RetryPolicy, Retry-After, test mode, and the retry middleware on a real socket.

The policy and the Retry-After parser are pure; everything else runs the real client,
its middleware and aiohttp against a loopback server (``scripted_api``) or a socket that
refuses or never answers, and asserts how many requests reached the server.
"""

from __future__ import annotations

import random
import socket
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from prolific_async import ProlificClient, RetryPolicy, TaskDetails, _rate_gate, errors, set_testing
from prolific_async._retry import parse_retry_after

from .conftest import (
    SCRIPTED_BATCH,
    TOKEN,
    ScriptedAPI,
    assert_token_absent,
)

DETAILS = TaskDetails(task_name="t", task_introduction="i", task_steps="s")
#: Tiny, deterministic waits: retries happen without real multi-second sleeps.
FAST = RetryPolicy(attempts=5, timeout=10.0, wait_initial=0.001, wait_max=0.01, wait_jitter=0.0)
#: Waits that are easy to assert on (recorded by ``retry_waits``, never slept).
DOUBLING = RetryPolicy(attempts=4, wait_initial=0.1, wait_jitter=0.0, wait_exp_base=2.0)
#: A read timeout a stalled answer exceeds and a loopback answer never does, even loaded.
READ_TIMEOUT = 0.2


def make_client(api: ScriptedAPI, **kwargs: Any) -> ProlificClient:
    kwargs.setdefault("retry", FAST)
    return ProlificClient(TOKEN, base_url=api.url, **kwargs)


async def create(client: ProlificClient) -> Any:
    return await client.batches.create(name="n", workspace_id="w", task_details=DETAILS)


def test_defaults_match_the_documented_policy() -> None:
    """The default policy is 5 attempts, 60 s in all, 0.5..8 s waits, 1 s jitter, base 2."""
    policy = RetryPolicy()
    assert (policy.attempts, policy.timeout) == (5, 60.0)
    assert (policy.wait_initial, policy.wait_max, policy.wait_jitter) == (0.5, 8.0, 1.0)
    assert (policy.wait_exp_base, policy.retry_after_cap) == (2.0, 60.0)


def test_backoff_follows_the_formula() -> None:
    """Wait n = min(wait_max, initial * base ** (n - 1) + uniform(0, jitter))."""
    policy = RetryPolicy(wait_initial=0.5, wait_max=8.0, wait_jitter=1.0, wait_exp_base=2.0)
    rng, expected_rng = random.Random(7), random.Random(7)
    for n in range(1, 8):
        expected = min(8.0, 0.5 * 2.0 ** (n - 1) + expected_rng.uniform(0.0, 1.0))
        assert policy.backoff(n, rng) == pytest.approx(expected)


def test_backoff_without_jitter_is_exact_and_capped() -> None:
    """Without jitter the waits double from wait_initial and stop at wait_max."""
    policy = RetryPolicy(wait_initial=0.5, wait_max=3.0, wait_jitter=0.0)
    assert [policy.backoff(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


@pytest.mark.parametrize(
    "kwargs",
    [{"attempts": 0}, {"timeout": 0.0}, {"wait_initial": -1.0}, {"wait_exp_base": 0.5}],
)
def test_invalid_policy_is_refused(kwargs: dict[str, Any]) -> None:
    """Nonsense policies fail at construction, not in the middle of a call."""
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        RetryPolicy(**kwargs)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("3", 3.0), ("0", 0.0), ("1.5", 1.5), ("-4", 0.0), (" 2 ", 2.0), ("soon", None)],
)
def test_retry_after_seconds(value: str, expected: float | None) -> None:
    """Retry-After in seconds is read as a non-negative float; garbage is ignored."""
    assert parse_retry_after({"Retry-After": value}) == expected


def test_retry_after_http_date() -> None:
    """Retry-After as an HTTP date is the time left until that date."""
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    header = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after({"Retry-After": header}, now=now.timestamp()) == pytest.approx(30.0)
    past = format_datetime(now - timedelta(seconds=30), usegmt=True)
    assert parse_retry_after({"Retry-After": past}, now=now.timestamp()) == 0.0


def test_no_retry_after_header() -> None:
    """No header means no server-chosen wait."""
    assert parse_retry_after({}) is None


async def test_set_testing_restores_previous_mode(
    scripted_api: ScriptedAPI, retry_waits: list[float]
) -> None:
    """set_testing() used as a context manager puts the previous mode back."""

    async def wait_before_retrying_a_429() -> float:
        scripted_api.then(("status", 429, {"Retry-After": "3"}))
        async with make_client(scripted_api) as client:  # a fresh client: no shut rate gate
            await client.batches.get("b1")
        waited = sum(retry_waits)  # test mode skips the wait: nothing is recorded
        retry_waits.clear()
        return waited

    assert await wait_before_retrying_a_429() == pytest.approx(3.0, abs=0.05)
    with set_testing():
        assert await wait_before_retrying_a_429() == 0.0
        with set_testing(False):
            assert await wait_before_retrying_a_429() == pytest.approx(3.0, abs=0.05)
        assert await wait_before_retrying_a_429() == 0.0
    assert await wait_before_retrying_a_429() == pytest.approx(3.0, abs=0.05)


# -- which failures are retried ----------------------------------------------------------

Listen = Callable[[], Coroutine[Any, Any, None]]


@pytest.fixture(params=["refused", "connect-timeout"])
async def unreachable(
    request: pytest.FixtureRequest,
    scripted_api: ScriptedAPI,
    never_listening: socket.socket,
    unaccepting_port: socket.socket,
) -> AsyncIterator[tuple[str, Listen]]:
    """A URL no connection can be made to yet, and a coroutine that starts serving there.

    ``refused``: a bound socket that does not listen. ``connect-timeout``: a listening
    socket whose full backlog leaves handshakes unanswered. ``listen()`` serves
    ``scripted_api``'s app on that very socket.
    """
    sock = never_listening if request.param == "refused" else unaccepting_port
    host, port = sock.getsockname()[:2]
    server = TestServer(scripted_api.app, socket_factory=lambda *_: sock)

    async def listen() -> None:
        await server.start_server(shutdown_timeout=0.1)

    yield f"http://{host}:{port}", listen
    await server.close()


@pytest.fixture
def listen_on_second_wait(
    monkeypatch: pytest.MonkeyPatch, unreachable: tuple[str, Listen]
) -> list[float]:
    """Record the middleware's waits; during the second one, start serving."""
    recorded: list[float] = []
    _url, listen = unreachable

    async def record(seconds: float) -> None:
        recorded.append(seconds)
        if len(recorded) == 2:
            await listen()

    monkeypatch.setattr(_rate_gate, "sleep", record)
    return recorded


async def test_post_is_retried_when_never_sent(
    scripted_api: ScriptedAPI,
    unreachable: tuple[str, Listen],
    listen_on_second_wait: list[float],
) -> None:
    """A POST whose connection was never established is sent again."""
    url, _listen = unreachable
    async with ProlificClient(TOKEN, base_url=url, timeout=READ_TIMEOUT, retry=DOUBLING) as c:
        batch = await create(c)
    assert batch.id == SCRIPTED_BATCH["id"]
    assert (scripted_api.received, scripted_api.applied) == (1, 1)
    assert listen_on_second_wait == [0.1, 0.2]


@pytest.mark.parametrize(
    ("step", "raised"),
    [
        (("drop_after",), aiohttp.ServerDisconnectedError),
        (("stall_after",), aiohttp.SocketTimeoutError),
        (("reset_after",), aiohttp.ClientOSError),
        (("truncated_after",), aiohttp.ClientPayloadError),
    ],
    ids=["disconnected", "read-timeout", "reset", "payload"],
)
async def test_post_is_not_retried_once_maybe_sent(
    scripted_api: ScriptedAPI,
    retry_waits: list[float],
    step: tuple[str],
    raised: type[Exception],
) -> None:
    """A POST that may have reached the server is never sent again."""
    scripted_api.then(step, ("ok",))
    async with make_client(scripted_api, timeout=READ_TIMEOUT) as client:
        with pytest.raises(errors.OutcomeUnknownError) as caught:
            await create(client)
    assert isinstance(caught.value.__cause__, raised)
    assert (scripted_api.received, scripted_api.applied) == (1, 1)
    assert retry_waits == []


@pytest.mark.parametrize("method", ["GET", "PATCH"])
async def test_idempotent_requests_retry_dropped_connections(
    scripted_api: ScriptedAPI, retry_waits: list[float], method: str
) -> None:
    """GET and PATCH are retried after a dropped connection or a read timeout."""
    scripted_api.then(("drop_before",), ("stall_before",), ("ok",))
    async with make_client(scripted_api, timeout=READ_TIMEOUT) as client:
        if method == "GET":
            batch = await client.batches.get("b1")
        else:
            batch = await client.batches.update("b1", name="x")
    assert batch.id == SCRIPTED_BATCH["id"]
    assert scripted_api.received == 3


async def test_certificate_errors_are_not_retried(
    scripted_api: ScriptedAPI, retry_waits: list[float]
) -> None:
    """An SSL problem will not fix itself: it is raised at once."""
    attempts = 0

    async def count_attempts(
        req: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        nonlocal attempts
        attempts += 1
        return await handler(req)

    # TLS spoken to a plain-HTTP port fails the handshake, as a bad certificate does.
    url = scripted_api.url.replace("http://", "https://")
    async with (
        aiohttp.ClientSession(middlewares=(count_attempts,)) as session,
        ProlificClient(TOKEN, base_url=url, session=session, retry=FAST) as client,
    ):
        with pytest.raises(errors.APIConnectionError) as caught:
            await client.batches.get("b1")
    assert isinstance(caught.value.__cause__, aiohttp.ClientSSLError)
    assert attempts == 1
    assert retry_waits == []
    assert scripted_api.received == 0


async def test_discarded_responses_are_released(
    scripted_api: ScriptedAPI, retry_waits: list[float]
) -> None:
    """Every retried-away response is released; the returned one is read, not released."""
    unread = b"x" * (4 * 1024 * 1024)  # far more than a socket buffer: never read to EOF
    scripted_api.then(("status", 503, None, unread), ("status", 502, None, unread), ("ok",))
    # One pooled connection: a discarded response still holding it would block the retry.
    async with make_client(scripted_api, max_connections=1, timeout=5.0) as client:
        batch = await client.batches.get("b1")
    assert batch.id == SCRIPTED_BATCH["id"]
    assert scripted_api.received == 3


async def test_attempts_are_bounded_and_last_status_returned(
    scripted_api: ScriptedAPI, retry_waits: list[float]
) -> None:
    """After `attempts` tries the last response is handed back for the caller to raise."""
    scripted_api.then(*[("status", 503, None, b"still down")] * 10)
    async with make_client(scripted_api, retry=DOUBLING) as client:
        with pytest.raises(errors.InternalServerError, match="still down") as caught:
            await client.batches.get("b1")
    assert caught.value.status_code == 503
    assert scripted_api.received == DOUBLING.attempts
    assert len(retry_waits) == DOUBLING.attempts - 1


async def test_test_mode_removes_waits(scripted_api: ScriptedAPI, retry_waits: list[float]) -> None:
    """In test mode retries still happen but every wait is zero."""
    scripted_api.then(("status", 503, {"Retry-After": "30"}), ("status", 503))
    with set_testing():
        async with make_client(scripted_api, retry=DOUBLING) as client:
            await client.batches.get("b1")
    assert scripted_api.received == 3
    assert retry_waits == [0.0, 0.0]


# -- retries of idempotent requests ------------------------------------------------------


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
async def test_get_is_retried_on_transient_status(scripted_api: ScriptedAPI, status: int) -> None:
    """GET is retried on 408, 429, 500, 502, 503 and 504 and then succeeds."""
    scripted_api.then(("status", status), ("status", status))
    async with make_client(scripted_api) as client:
        batch = await client.batches.get("b1")
    assert batch.id == SCRIPTED_BATCH["id"]
    assert scripted_api.received == 3


async def test_patch_is_retried_on_503(scripted_api: ScriptedAPI) -> None:
    """PATCH is idempotent and retried like GET."""
    scripted_api.then(("status", 503))
    async with make_client(scripted_api) as client:
        await client.batches.update("b1", name="x")
    assert scripted_api.received == 2


async def test_get_gives_up_after_attempts(scripted_api: ScriptedAPI) -> None:
    """After RetryPolicy.attempts the last status error is raised."""
    scripted_api.then(*[("status", 503, None, b"still down")] * 10)
    async with make_client(
        scripted_api, retry=RetryPolicy(attempts=3, wait_initial=0.001, wait_jitter=0.0)
    ) as client:
        with pytest.raises(errors.InternalServerError, match="still down"):
            await client.batches.get("b1")
    assert scripted_api.received == 3


async def test_definitive_errors_are_not_retried(scripted_api: ScriptedAPI) -> None:
    """A 404 is an answer, not a fault: it is raised after one request."""
    scripted_api.then(("status", 404), ("status", 404))
    async with make_client(scripted_api) as client:
        with pytest.raises(errors.NotFoundError):
            await client.batches.get("b1")
    assert scripted_api.received == 1


async def test_get_is_retried_after_a_dropped_connection(scripted_api: ScriptedAPI) -> None:
    """A GET whose connection is cut is sent again."""
    scripted_api.then(("drop_before",))
    async with make_client(scripted_api) as client:
        await client.batches.get("b1")
    assert scripted_api.received == 2


@pytest.mark.parametrize("attempts", [1, 2, 3])
async def test_attempts_cap_gets_despite_aiohttps_own_resend(
    scripted_api: ScriptedAPI, attempts: int
) -> None:
    """A GET is sent at most `attempts` times, although aiohttp resends once on a drop."""
    scripted_api.then(*[("drop_before",)] * 10)
    policy = RetryPolicy(attempts=attempts, wait_initial=0.001, wait_jitter=0.0)
    async with make_client(scripted_api, retry=policy) as client:
        with pytest.raises(errors.APIConnectionError):
            await client.batches.get("b1")
    assert scripted_api.received == attempts


async def test_get_is_retried_after_a_read_timeout(scripted_api: ScriptedAPI) -> None:
    """A GET whose response does not come within `timeout` is sent again."""
    scripted_api.then(("stall_before",))
    async with make_client(scripted_api, timeout=READ_TIMEOUT) as client:
        await client.batches.get("b1")
    assert scripted_api.received == 2


# -- Retry-After and backoff --------------------------------------------------------------


async def test_retry_after_seconds_is_the_wait(
    scripted_api: ScriptedAPI, retry_waits: list[float]
) -> None:
    """A 429 with Retry-After: 7 waits 7 seconds (recorded, not slept) before retrying."""
    scripted_api.then(("status", 429, {"Retry-After": "7"}))
    async with make_client(scripted_api) as client:
        await client.batches.get("b1")
    assert retry_waits == [pytest.approx(7.0, abs=0.05)]
    assert scripted_api.received == 2


async def test_retry_after_http_date_is_the_wait(
    scripted_api: ScriptedAPI, retry_waits: list[float]
) -> None:
    """A Retry-After HTTP date is waited out until that moment."""
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=6), usegmt=True)
    scripted_api.then(("status", 503, {"Retry-After": when}))
    async with make_client(scripted_api) as client:
        await client.batches.get("b1")
    assert len(retry_waits) == 1
    assert 4.0 <= retry_waits[0] <= 6.0


async def test_retry_after_beyond_the_deadline_fails_at_once(
    scripted_api: ScriptedAPI, retry_waits: list[float]
) -> None:
    """A wait that would outlast RetryPolicy.timeout is not started: the error is raised."""
    scripted_api.then(("status", 503, {"Retry-After": "30"}))
    async with make_client(scripted_api, retry=RetryPolicy(timeout=10.0)) as client:
        with pytest.raises(errors.InternalServerError):
            await client.batches.get("b1")
    assert retry_waits == []
    assert scripted_api.received == 1


async def test_retry_after_above_cap_fails_at_once(
    scripted_api: ScriptedAPI, retry_waits: list[float]
) -> None:
    """A Retry-After longer than retry_after_cap raises the status error without waiting."""
    scripted_api.then(("status", 429, {"Retry-After": "3600"}))
    policy = RetryPolicy(retry_after_cap=60.0, wait_initial=0.001)
    async with make_client(scripted_api, retry=policy) as client:
        with pytest.raises(errors.RateLimitError) as caught:
            await client.batches.get("b1")
    assert caught.value.headers["Retry-After"] == "3600"
    assert retry_waits == []
    assert scripted_api.received == 1


async def test_backoff_waits_grow_between_retries(
    scripted_api: ScriptedAPI, retry_waits: list[float]
) -> None:
    """Without Retry-After the waits follow the exponential formula."""
    scripted_api.then(*[("status", 503)] * 4)
    policy = RetryPolicy(attempts=5, wait_initial=0.5, wait_max=8.0, wait_jitter=0.0)
    async with make_client(scripted_api, retry=policy) as client:
        await client.batches.get("b1")
    assert retry_waits == [0.5, 1.0, 2.0, 4.0]


async def test_a_429_holds_back_every_request_of_the_client(
    scripted_api: ScriptedAPI, retry_waits: list[float]
) -> None:
    """After one request meets 429 + Retry-After, the client's next requests wait too."""
    scripted_api.then(("status", 429, {"Retry-After": "4"}))
    async with make_client(scripted_api) as client:
        await client.batches.get("b1")  # 429, waits 4 s (recorded), then succeeds
        await client.batches.get("b2")  # the gate is still shut on the fake clock
    assert len(retry_waits) == 2
    assert retry_waits[1] == pytest.approx(4.0, abs=0.05)
    assert scripted_api.received == 3


# -- never sent: connection refused, connect timeout; pooled connections ----------------


async def test_refused_create_is_retried_and_raises_plain_connection_error(
    never_listening: socket.socket, retry_waits: list[float]
) -> None:
    """Connection refused proves nothing was sent: retried, then APIConnectionError."""
    host, port = never_listening.getsockname()[:2]
    client = ProlificClient(TOKEN, base_url=f"http://{host}:{port}", retry=FAST)
    async with client:
        with pytest.raises(errors.APIConnectionError) as caught:
            await create(client)
    assert not isinstance(caught.value, errors.OutcomeUnknownError)
    assert "not sent" in str(caught.value)
    assert len(retry_waits) == FAST.attempts - 1
    assert_token_absent(caught.value)


async def test_refused_then_listening_create_succeeds(
    scripted_api: ScriptedAPI, never_listening: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A create retried after connection refused succeeds once the server is up."""
    server = TestServer(scripted_api.app, socket_factory=lambda *_: never_listening)

    async def start_server_instead_of_sleeping(seconds: float) -> None:
        await server.start_server(shutdown_timeout=0.1)

    monkeypatch.setattr(_rate_gate, "sleep", start_server_instead_of_sleeping)
    host, port = never_listening.getsockname()[:2]
    try:
        async with ProlificClient(TOKEN, base_url=f"http://{host}:{port}", retry=FAST) as c:
            await create(c)
    finally:
        await server.close()
    assert (scripted_api.received, scripted_api.applied) == (1, 1)


async def test_connect_timeout_on_create_is_retried_as_never_sent(
    unaccepting_port: socket.socket, retry_waits: list[float]
) -> None:
    """A create whose TCP handshake times out was never sent: retried, then APITimeoutError."""
    policy = RetryPolicy(attempts=3, wait_initial=0.001, wait_jitter=0.0)
    host, port = unaccepting_port.getsockname()[:2]
    url = f"http://{host}:{port}"
    async with ProlificClient(TOKEN, base_url=url, timeout=0.05, retry=policy) as client:
        with pytest.raises(errors.APITimeoutError) as caught:
            await create(client)
    assert not isinstance(caught.value, errors.OutcomeUnknownError)
    assert "not sent" in str(caught.value)
    assert len(retry_waits) == 2


async def test_unread_error_body_does_not_pin_the_connection(scripted_api: ScriptedAPI) -> None:
    """A discarded 503 with a 4 MiB body is released, so a 1-connection client retries."""
    scripted_api.then(("status", 503, None, b"x" * (4 * 1024 * 1024)))
    policy = RetryPolicy(timeout=5.0, wait_initial=0.001, wait_jitter=0.0)
    async with make_client(scripted_api, max_connections=1, retry=policy) as client:
        await client.batches.get("b1")
    assert scripted_api.received == 2
