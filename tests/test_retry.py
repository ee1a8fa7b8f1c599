"""RetryPolicy, Retry-After parsing, test mode, and the middleware driven by a stub handler."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import aiohttp
import pytest

from prolific_async import RetryPolicy, _retry, set_testing
from prolific_async._retry import RetryMiddleware, parse_retry_after


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


def test_set_testing_restores_previous_mode() -> None:
    """set_testing() used as a context manager puts the previous mode back."""
    assert not _retry.testing_enabled()
    with set_testing():
        assert _retry.testing_enabled()
        with set_testing(False):
            assert not _retry.testing_enabled()
        assert _retry.testing_enabled()
    assert not _retry.testing_enabled()


# -- the middleware with a stub handler ------------------------------------------------


class StubRequest:
    def __init__(self, method: str) -> None:
        self.method = method


class StubResponse:
    def __init__(self, status: int, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.headers = headers or {}
        self.released = False
        self.read_called = False

    async def read(self) -> bytes:
        self.read_called = True
        return b"{}"

    def release(self) -> None:
        self.released = True


class StubHandler:
    """Plays a script of responses and exceptions, recording each call."""

    def __init__(self, script: list[Any]) -> None:
        self.script = script
        self.calls = 0

    async def __call__(self, req: Any) -> Any:
        step = self.script[min(self.calls, len(self.script) - 1)]
        self.calls += 1
        if isinstance(step, BaseException):
            raise step
        return step


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the middleware's sleeps instead of sleeping."""
    recorded: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        recorded.append(seconds)

    monkeypatch.setattr(_retry, "sleep", fake_sleep)
    return recorded


FAST = RetryPolicy(attempts=4, wait_initial=0.1, wait_jitter=0.0, wait_exp_base=2.0)


async def run(method: str, handler: StubHandler, policy: RetryPolicy = FAST) -> Any:
    """Drive the middleware with stand-ins for aiohttp's request and handler."""
    middleware: Any = RetryMiddleware(policy)
    return await middleware(StubRequest(method), handler)


def connect_error() -> aiohttp.ClientConnectorError:
    return aiohttp.ClientConnectorError(
        aiohttp.client_reqrep.ConnectionKey("127.0.0.1", 1, False, True, None, None, None),
        ConnectionRefusedError(111, "refused"),
    )


@pytest.mark.parametrize(
    "error",
    [connect_error(), aiohttp.ConnectionTimeoutError("connect timed out")],
    ids=["refused", "connect-timeout"],
)
async def test_post_is_retried_when_never_sent(error: Exception, waits: list[float]) -> None:
    """A POST whose connection was never established is sent again."""
    ok = StubResponse(201)
    handler = StubHandler([error, error, ok])
    response = await run("POST", handler)
    assert response is ok
    assert handler.calls == 3
    assert waits == [0.1, 0.2]


@pytest.mark.parametrize(
    "error",
    [
        aiohttp.ServerDisconnectedError(),
        aiohttp.SocketTimeoutError("read timed out"),
        aiohttp.ClientOSError(104, "reset"),
        aiohttp.ClientPayloadError("truncated"),
    ],
    ids=["disconnected", "read-timeout", "reset", "payload"],
)
async def test_post_is_not_retried_once_maybe_sent(error: Exception, waits: list[float]) -> None:
    """A POST that may have reached the server is never sent again."""
    handler = StubHandler([error, StubResponse(201)])
    with pytest.raises(type(error)):
        await run("POST", handler)
    assert handler.calls == 1
    assert waits == []


@pytest.mark.parametrize("method", ["GET", "PATCH"])
async def test_idempotent_requests_retry_dropped_connections(
    method: str, waits: list[float]
) -> None:
    """GET and PATCH are retried after a dropped connection or a read timeout."""
    ok = StubResponse(200)
    script = [aiohttp.ServerDisconnectedError(), aiohttp.SocketTimeoutError("t"), ok]
    handler = StubHandler(script)
    assert await run(method, handler) is ok
    assert handler.calls == 3


async def test_certificate_errors_are_not_retried(waits: list[float]) -> None:
    """An SSL problem will not fix itself: it is raised at once."""
    error = aiohttp.ClientSSLError(
        aiohttp.client_reqrep.ConnectionKey("h", 443, True, True, None, None, None),
        OSError("bad cert"),
    )
    handler = StubHandler([error, StubResponse(200)])
    with pytest.raises(aiohttp.ClientSSLError):
        await run("GET", handler)
    assert handler.calls == 1


async def test_discarded_responses_are_released(waits: list[float]) -> None:
    """Every retried-away response is released; the returned one is read, not released."""
    first, second, last = StubResponse(503), StubResponse(502), StubResponse(200)
    handler = StubHandler([first, second, last])
    assert await run("GET", handler) is last
    assert first.released
    assert second.released
    assert not last.released
    assert last.read_called


async def test_attempts_are_bounded_and_last_status_returned(waits: list[float]) -> None:
    """After `attempts` tries the last response is handed back for the caller to raise."""
    handler = StubHandler([StubResponse(503)])
    response = await run("GET", handler)
    assert response.status == 503
    assert handler.calls == FAST.attempts
    assert len(waits) == FAST.attempts - 1


async def test_test_mode_removes_waits(waits: list[float]) -> None:
    """In test mode retries still happen but every wait is zero."""
    handler = StubHandler([StubResponse(503, {"Retry-After": "30"}), StubResponse(200)])
    with set_testing():
        await run("GET", handler)
    assert handler.calls == 2
    assert waits == [0.0]
