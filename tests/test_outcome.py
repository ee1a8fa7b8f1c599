"""One rule for "did this request take effect?", pinned as a table, then checked on a socket."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from aiohttp.client_reqrep import ConnectionKey

from prolific_async import (
    APIConnectionError,
    APITimeoutError,
    BadRequestError,
    InternalServerError,
    OutcomeUnknownError,
    ProlificClient,
    RateLimitError,
    ResponseValidationError,
    RetryPolicy,
    TaskDetails,
    set_testing,
)
from prolific_async._outcome import (
    Outcome,
    error_outcome,
    exception_outcome,
    is_transient,
    may_resend,
    status_outcome,
)
from prolific_async.testing import FakeProlific

KEY = ConnectionKey("127.0.0.1", 1, False, True, None, None, None)

#: aiohttp exception -> (outcome, transient)
EXCEPTIONS: list[tuple[BaseException, Outcome, bool]] = [
    (
        aiohttp.ClientConnectorError(KEY, ConnectionRefusedError(111, "refused")),
        Outcome.NOT_SENT,
        True,
    ),
    (aiohttp.ConnectionTimeoutError("connect timed out"), Outcome.NOT_SENT, True),
    (
        aiohttp.ClientConnectorCertificateError(KEY, ValueError("bad certificate")),
        Outcome.NOT_SENT,
        False,
    ),
    (aiohttp.ClientSSLError(KEY, OSError("handshake")), Outcome.NOT_SENT, False),
    (aiohttp.InvalidURL("http://"), Outcome.NOT_SENT, False),
    (aiohttp.ServerDisconnectedError(), Outcome.MAYBE_APPLIED, True),
    (aiohttp.SocketTimeoutError("read timed out"), Outcome.MAYBE_APPLIED, True),
    (aiohttp.ClientOSError(104, "reset"), Outcome.MAYBE_APPLIED, True),
    (aiohttp.ClientPayloadError("truncated"), Outcome.MAYBE_APPLIED, True),
    (aiohttp.TooManyRedirects(None, ()), Outcome.MAYBE_APPLIED, False),  # type: ignore[arg-type]
]

#: status -> outcome
STATUSES = [
    (200, Outcome.APPLIED),
    (201, Outcome.APPLIED),
    (204, Outcome.APPLIED),
    (400, Outcome.REJECTED),
    (401, Outcome.REJECTED),
    (403, Outcome.REJECTED),
    (404, Outcome.REJECTED),
    (408, Outcome.REFUSED),
    (409, Outcome.REJECTED),
    (422, Outcome.REJECTED),
    (429, Outcome.REFUSED),
    (500, Outcome.MAYBE_APPLIED),
    (502, Outcome.MAYBE_APPLIED),
    (503, Outcome.MAYBE_APPLIED),
    (504, Outcome.MAYBE_APPLIED),
]

#: outcome x method -> may the request be sent again as it is?
RESEND = [
    (Outcome.NOT_SENT, "POST", True),
    (Outcome.NOT_SENT, "GET", True),
    (Outcome.REFUSED, "POST", True),
    (Outcome.REFUSED, "PATCH", True),
    (Outcome.MAYBE_APPLIED, "POST", False),
    (Outcome.MAYBE_APPLIED, "GET", True),
    (Outcome.MAYBE_APPLIED, "PATCH", True),
    (Outcome.MAYBE_APPLIED, "DELETE", True),
    (Outcome.APPLIED, "GET", False),
    (Outcome.APPLIED, "POST", False),
    (Outcome.REJECTED, "GET", False),
    (Outcome.REJECTED, "POST", False),
]


@pytest.mark.parametrize(
    ("exc", "outcome", "transient"), EXCEPTIONS, ids=[type(e).__name__ for e, *_ in EXCEPTIONS]
)
def test_every_aiohttp_exception_has_one_outcome(
    exc: BaseException, outcome: Outcome, transient: bool
) -> None:
    """Each aiohttp failure says whether the request may have reached the server."""
    assert exception_outcome(exc) is outcome
    assert is_transient(exc) is transient


def test_a_deadline_before_a_connection_is_not_sent() -> None:
    """A timeout while no connection was made proves nothing reached the server."""
    assert exception_outcome(TimeoutError(), maybe_sent=False) is Outcome.NOT_SENT
    assert exception_outcome(TimeoutError(), maybe_sent=True) is Outcome.MAYBE_APPLIED


@pytest.mark.parametrize(("status", "outcome"), STATUSES)
def test_every_status_has_one_outcome(status: int, outcome: Outcome) -> None:
    """A status says whether the server acted: 2xx did, 408/429 did not, 5xx may have."""
    assert status_outcome(status) is outcome


@pytest.mark.parametrize(("outcome", "method", "resend"), RESEND)
def test_only_what_provably_did_not_act_is_resent_as_a_post(
    outcome: Outcome, method: str, resend: bool
) -> None:
    """A POST is resent only when it provably did not act; idempotent ones also after maybe."""
    assert may_resend(outcome, method) is resend


def _error(cls: Any, **extra: Any) -> Any:
    if issubclass(cls, ResponseValidationError):
        return cls("x", status_code=201, method="POST", url="u", errors=[])
    if issubclass(cls, APIConnectionError):
        return cls("x", method="POST", url="u")
    return cls("x", body=None, request_id=None, method="POST", url="u", **extra)


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (_error(OutcomeUnknownError), Outcome.MAYBE_APPLIED),
        (_error(ResponseValidationError), Outcome.MAYBE_APPLIED),
        (_error(APIConnectionError), Outcome.NOT_SENT),
        (_error(APITimeoutError), Outcome.NOT_SENT),
        (_error(RateLimitError, status_code=429), Outcome.REFUSED),
        (_error(InternalServerError, status_code=503), Outcome.MAYBE_APPLIED),
        (_error(BadRequestError, status_code=400), Outcome.REJECTED),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else value.name,
)
def test_the_bulk_layer_reads_the_same_rule_from_the_clients_errors(
    error: Any, outcome: Outcome
) -> None:
    """The error a call raises maps back to the outcome that chose it."""
    assert error_outcome(error) is outcome


# -- the same rule, end to end through the real middleware on a loopback socket ----------

WS = "ws-1"
DETAILS = TaskDetails(task_name="n", task_introduction="i", task_steps="s")
CREATE = "/api/v1/data-collection/batches"
POLICY = RetryPolicy(attempts=3, timeout=5.0, wait_initial=0.0, wait_jitter=0.0)


@pytest.fixture
def fake(prolific_fake: FakeProlific, testing_mode: None) -> FakeProlific:
    """The shipped emulator, in test mode (no real backoff waits)."""
    return prolific_fake


#: fault kind -> (error the create raises, POSTs sent, batches made)
CREATE_FAULTS: list[tuple[str, dict[str, Any], type[Exception] | None, int, int]] = [
    ("drop_before", {}, OutcomeUnknownError, 1, 0),
    ("drop_after", {}, OutcomeUnknownError, 1, 1),
    ("truncated", {}, OutcomeUnknownError, 1, 1),
    ("status_after", {}, InternalServerError, 1, 1),
    ("status", {"status": 503}, InternalServerError, 1, 0),
    ("status", {"status": 429, "headers": {"Retry-After": "0"}}, None, 2, 1),
    ("status", {"status": 408}, None, 2, 1),
    ("status", {"status": 400}, BadRequestError, 1, 0),
    ("not_json", {}, ResponseValidationError, 1, 0),
    ("html", {}, InternalServerError, 1, 0),
]


@pytest.mark.parametrize(
    ("kind", "options", "raised", "posts", "batches"),
    CREATE_FAULTS,
    ids=[f"{kind}-{options.get('status', '')}" for kind, options, *_ in CREATE_FAULTS],
)
async def test_a_create_is_resent_only_when_it_provably_did_not_act(
    fake: FakeProlific,
    kind: str,
    options: dict[str, Any],
    raised: type[Exception] | None,
    posts: int,
    batches: int,
) -> None:
    """Through the real middleware: a faulted create is resent only after a 408 or 429."""
    fake.add_fault("POST", CREATE, kind, times=1, **options)
    async with fake.client(retry=POLICY) as client:
        if raised is None:
            await client.batches.create(name="b", workspace_id=WS, task_details=DETAILS)
        else:
            with pytest.raises(raised):
                await client.batches.create(name="b", workspace_id=WS, task_details=DETAILS)
    assert sum(1 for r in fake.requests if r.method == "POST") == posts
    assert len(fake.batches) == batches


#: fault kind -> GETs sent before the answer (attempts=3: one fault, then success)
GET_FAULTS: list[tuple[str, dict[str, Any]]] = [
    ("drop_before", {}),
    ("drop_after", {}),
    ("truncated", {}),
    ("status", {"status": 503}),
    ("status", {"status": 429, "headers": {"Retry-After": "0"}}),
    ("status", {"status": 408}),
    ("html", {}),
]


@pytest.mark.parametrize(
    ("kind", "options"), GET_FAULTS, ids=[f"{k}-{o.get('status', '')}" for k, o in GET_FAULTS]
)
async def test_a_get_is_retried_after_any_transient_fault(
    fake: FakeProlific, kind: str, options: dict[str, Any]
) -> None:
    """Through the real middleware: a GET survives one transient fault with one more send."""
    batch = fake.add_batch(name="b", workspace_id=WS)
    fake.add_fault("GET", f"{CREATE}/{batch.id}", kind, times=1, **options)
    async with fake.client(retry=POLICY) as client:
        got = await client.batches.get(batch.id)
    assert got.id == batch.id
    gets = [r for r in fake.requests if r.method == "GET"]
    assert len(gets) == 2


async def test_a_refused_connection_is_retried_then_reported_not_sent() -> None:
    """No server at all: every attempt is sent again, and the error says nothing was sent."""
    with set_testing():
        async with FakeProlific() as server:
            url = server.url
        client = ProlificClient("t", base_url=url, retry=POLICY)
        async with client:
            with pytest.raises(APIConnectionError, match="not sent") as caught:
                await client.batches.create(name="b", workspace_id=WS, task_details=DETAILS)
    assert not isinstance(caught.value, OutcomeUnknownError)
    assert "after 3 attempts" in str(caught.value)
