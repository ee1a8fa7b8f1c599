"""The emulator misbehaving on purpose: each fault kind, how faults match, seeded replay.

Each fault is checked against the real ProlificClient, which is what it exists for, and
on the raw wire with aiohttp, which is what it promises: whether the request took effect
must match the fault's name (``len(prolific_fake.batches)``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from prolific_async import (
    InternalServerError,
    OutcomeUnknownError,
    ProlificClient,
    ResponseValidationError,
    RetryPolicy,
)
from prolific_async.testing import FAST_RETRY_POLICY, FakeProlific, FaultKind

from .conftest import BATCHES, TASK_DETAILS, WORKSPACE, sent

ONE_BATCH = BATCHES + "/*"


#: A Create a Batch body for raw requests.
RAW_CREATE = {
    "name": "Raw",
    "workspace_id": WORKSPACE,
    "task_details": {"task_name": "T", "task_introduction": "", "task_steps": ""},
}


@pytest.fixture
async def impatient_client(prolific_fake: FakeProlific) -> AsyncIterator[ProlificClient]:
    """A client with millisecond backoff and a 0.2 s read timeout (for stalls)."""
    async with prolific_fake.client(retry=FAST_RETRY_POLICY, timeout=0.2) as client:
        yield client


async def create(client: ProlificClient, name: str = "A") -> str:
    """Create a batch through the client; return its id."""
    batch = await client.batches.create(
        name=name, workspace_id=WORKSPACE, task_details=TASK_DETAILS
    )
    return batch.id


# -- answers in place of the API (not applied) -----------------------------------------


async def test_status_503_on_a_get_is_retried_and_succeeds(
    prolific_fake: FakeProlific, prolific_client: ProlificClient
) -> None:
    """A scripted 503 on GET is retried by the client; the second attempt succeeds."""
    batch = prolific_fake.add_batch(name="Ready")
    fault = prolific_fake.add_fault("GET", ONE_BATCH, "status", status=503)
    assert (await prolific_client.batches.get(batch.id)).name == "Ready"
    assert (fault.fired, fault.exhausted, sent(prolific_fake, "GET", "get_batch")) == (1, True, 2)


async def test_429_with_retry_after_on_a_create_is_retried_once(
    prolific_fake: FakeProlific, prolific_client: ProlificClient
) -> None:
    """A 429 + Retry-After on POST is refused before acting, so the client resends it."""
    prolific_fake.add_fault("POST", BATCHES, "status", status=429, headers={"Retry-After": "0"})
    await create(prolific_client)
    assert (len(prolific_fake.batches), sent(prolific_fake, "POST", "create_batch")) == (1, 2)


async def test_status_fault_sends_its_headers_and_body(
    prolific_fake: FakeProlific, fake_http: aiohttp.ClientSession
) -> None:
    """A status fault answers exactly the status, headers and body it was given."""
    prolific_fake.add_fault("GET", BATCHES, "status", status=429, headers={"Retry-After": "7"})
    prolific_fake.add_fault("GET", BATCHES, "status", status=418, body="teapot")
    prolific_fake.add_fault("GET", BATCHES, "status", body={"message": "flat"})
    prolific_fake.add_fault("GET", BATCHES, "status", status=599)
    async with fake_http.get(BATCHES) as first:
        assert (first.status, first.headers["Retry-After"]) == (429, "7")
        assert (await first.json())["error"]["title"] == "Too Many Requests"
    async with fake_http.get(BATCHES) as second:
        assert (second.status, await second.text()) == (418, "teapot")
    async with fake_http.get(BATCHES) as third:
        assert (third.status, await third.json()) == (503, {"message": "flat"})
    async with fake_http.get(BATCHES) as fourth:  # a status with no standard reason phrase
        assert (fourth.status, (await fourth.json())["error"]["title"]) == (599, "Error")


@pytest.mark.parametrize(
    ("status", "title"),
    [
        (413, "Request Entity Too Large"),
        (414, "Request-URI Too Long"),
        (416, "Requested Range Not Satisfiable"),
        (422, "Unprocessable Entity"),
    ],
)
async def test_status_titles_are_the_same_on_every_python(
    prolific_fake: FakeProlific, fake_http: aiohttp.ClientSession, status: int, title: str
) -> None:
    """Titles and reason phrases come from a fixed table (Python 3.13 renamed these four)."""
    prolific_fake.add_fault("GET", BATCHES, "status", status=status)
    async with fake_http.get(BATCHES) as response:
        assert (response.status, response.reason) == (status, title)
        assert (await response.json())["error"]["title"] == title


async def test_html_error_page_is_not_applied(
    prolific_fake: FakeProlific, prolific_client: ProlificClient, fake_http: aiohttp.ClientSession
) -> None:
    """An HTML 502 page answers instead of the API: the client reports it, nothing exists."""
    prolific_fake.add_fault("POST", BATCHES, "html")
    with pytest.raises(InternalServerError, match="HTML page: 502 Bad Gateway"):
        await create(prolific_client)
    assert prolific_fake.batches == {}
    prolific_fake.add_fault("GET", "*", FaultKind.HTML, status=504)
    async with fake_http.get(BATCHES) as response:
        assert (response.status, response.content_type) == (504, "text/html")
        assert "<title>504 Gateway Timeout</title>" in await response.text()


async def test_not_json_body_fails_validation_and_is_not_applied(
    prolific_fake: FakeProlific, prolific_client: ProlificClient
) -> None:
    """A 200 whose body is not JSON raises ResponseValidationError; nothing was created."""
    prolific_fake.add_fault("POST", BATCHES, "not_json")
    with pytest.raises(ResponseValidationError, match="not JSON"):
        await create(prolific_client)
    assert prolific_fake.batches == {}


async def test_drop_before_on_a_get_is_retried(
    prolific_fake: FakeProlific, prolific_client: ProlificClient, fake_http: aiohttp.ClientSession
) -> None:
    """drop_before really cuts the connection; the client retries the GET and succeeds."""
    batch = prolific_fake.add_batch()
    # aiohttp itself resends an idempotent request once after a disconnect: cut both.
    prolific_fake.add_fault("GET", ONE_BATCH, "drop_before", times=2)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await fake_http.get(f"{BATCHES}/{batch.id}")
    assert sent(prolific_fake, "GET", "get_batch") == 2
    prolific_fake.add_fault("GET", ONE_BATCH, "drop_before")
    assert (await prolific_client.batches.get(batch.id)).id == batch.id
    assert sent(prolific_fake, "GET", "get_batch") == 4


async def test_drop_before_on_a_create_is_not_applied(
    prolific_fake: FakeProlific, prolific_client: ProlificClient
) -> None:
    """drop_before on POST: the client cannot know, but the fake created nothing."""
    prolific_fake.add_fault("POST", BATCHES, "drop_before")
    with pytest.raises(OutcomeUnknownError):
        await create(prolific_client)
    assert prolific_fake.batches == {}


# -- applied, then the answer goes wrong -----------------------------------------------


async def test_drop_after_on_a_create_is_applied_and_not_resent(
    prolific_fake: FakeProlific, prolific_client: ProlificClient
) -> None:
    """drop_after: the batch exists, the client raises OutcomeUnknownError, sent once."""
    fault = prolific_fake.add_fault("POST", BATCHES, "drop_after")
    with pytest.raises(OutcomeUnknownError):
        await create(prolific_client, "Ghost")
    assert [batch.name for batch in prolific_fake.batches.values()] == ["Ghost"]
    assert (fault.fired, sent(prolific_fake, "POST", "create_batch")) == (1, 1)


async def test_drop_after_on_a_duplicate_creates_the_copy(
    prolific_fake: FakeProlific, prolific_client: ProlificClient
) -> None:
    """drop_after on duplicate (a path pattern with *) leaves the copy behind."""
    original = prolific_fake.add_batch(name="O")
    prolific_fake.add_fault("POST", f"{BATCHES}/*/duplicate", "drop_after")
    with pytest.raises(OutcomeUnknownError):
        await prolific_client.batches.duplicate(original.id)
    assert sorted(batch.name for batch in prolific_fake.batches.values()) == ["O", "O (Copy)"]


async def test_truncated_body_is_retried_for_get_and_unknown_for_post(
    prolific_fake: FakeProlific, prolific_client: ProlificClient, fake_http: aiohttp.ClientSession
) -> None:
    """truncated: half a body then a cut; GET is retried, POST's batch exists anyway."""
    batch = prolific_fake.add_batch()
    prolific_fake.add_fault("GET", ONE_BATCH, "truncated")
    async with fake_http.get(f"{BATCHES}/{batch.id}") as response:
        assert response.status == 200
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.read()
    prolific_fake.add_fault("GET", ONE_BATCH, "truncated")
    assert (await prolific_client.batches.get(batch.id)).id == batch.id
    prolific_fake.add_fault("POST", BATCHES, "truncated")
    with pytest.raises(OutcomeUnknownError):
        await create(prolific_client, "Half")
    assert len(prolific_fake.batches) == 2


async def test_stall_after_times_out_a_get_which_is_retried(
    prolific_fake: FakeProlific, impatient_client: ProlificClient
) -> None:
    """stall_after holds the answer past the read timeout; the GET is retried and works."""
    batch = prolific_fake.add_batch()
    prolific_fake.add_fault("GET", ONE_BATCH, "stall_after")
    assert (await impatient_client.batches.get(batch.id)).id == batch.id
    assert sent(prolific_fake, "GET", "get_batch") == 2


async def test_stall_after_on_a_create_is_applied(
    prolific_fake: FakeProlific, impatient_client: ProlificClient
) -> None:
    """stall_after on POST: read timeout, OutcomeUnknownError, and the batch exists."""
    prolific_fake.add_fault("POST", BATCHES, "stall_after")
    with pytest.raises(OutcomeUnknownError, match="may have reached the server"):
        await create(impatient_client)
    assert len(prolific_fake.batches) == 1


async def test_stall_after_with_a_delay_answers_late(
    prolific_fake: FakeProlific, fake_http: aiohttp.ClientSession
) -> None:
    """stall_after with delay= sends the real answer once the delay is over."""
    prolific_fake.add_fault("GET", BATCHES, "stall_after", delay=0.03)
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with fake_http.get(BATCHES, params={"workspace_id": WORKSPACE}) as response:
        assert (response.status, await response.json()) == (
            200,
            {"results": [], "meta": {"count": 0}},
        )
    assert loop.time() - started >= 0.03


async def test_stop_releases_stalled_requests_promptly() -> None:
    """Stopping with a request stalled forever returns fast and cuts that connection."""
    fake = FakeProlific()
    await fake.start()
    fake.add_fault("POST", "*", "stall_after")
    async with aiohttp.ClientSession() as session:
        # A POST: aiohttp would resend a GET after the cut (to a closed port by then).
        request = asyncio.ensure_future(session.post(fake.url + BATCHES))
        for _ in range(1000):  # until the fake holds the request (bounded: no while True)
            if fake.stats.total:
                break
            await asyncio.sleep(0.005)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await fake.stop()
        assert loop.time() - started < 1.0
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await request


async def test_status_after_on_a_create_is_applied(
    prolific_fake: FakeProlific, prolific_client: ProlificClient
) -> None:
    """status_after: the batch is created, then a 500 answers; POST is not retried."""
    prolific_fake.add_fault("POST", BATCHES, "status_after")
    with pytest.raises(InternalServerError):
        await create(prolific_client)
    assert (len(prolific_fake.batches), sent(prolific_fake, "POST", "create_batch")) == (1, 1)


async def test_status_after_on_an_update_is_retried(
    prolific_fake: FakeProlific, prolific_client: ProlificClient
) -> None:
    """status_after 503 on PATCH applies, answers 503; the retry applies again and succeeds."""
    batch = prolific_fake.add_batch(name="Old")
    prolific_fake.add_fault("PATCH", ONE_BATCH, "status_after", status=503)
    assert (await prolific_client.batches.update(batch.id, name="New")).name == "New"
    assert sent(prolific_fake, "PATCH", "update_batch") == 2


async def test_delay_applies_the_request_after_the_client_gave_up(
    prolific_fake: FakeProlific,
) -> None:
    """A delay fault holds the request, then applies it even though the client gave up."""
    prolific_fake.add_fault("POST", BATCHES, "delay", delay=0.3)
    async with prolific_fake.client(retry=FAST_RETRY_POLICY, timeout=0.05) as client:
        with pytest.raises(OutcomeUnknownError):
            await create(client)
    assert prolific_fake.batches == {}  # not yet: the delay is still running
    for _ in range(200):
        if prolific_fake.batches:
            break
        await asyncio.sleep(0.01)
    assert len(prolific_fake.batches) == 1


# -- raw wire behaviour of the other kinds (no client in between) ----------------------


async def test_drop_after_on_the_wire_applies_then_closes_without_an_answer(
    prolific_fake: FakeProlific, fake_http: aiohttp.ClientSession
) -> None:
    """drop_after: the POST creates the batch, then the socket closes with no status line."""
    fault = prolific_fake.add_fault("POST", BATCHES, "drop_after")
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await fake_http.post(BATCHES, json=RAW_CREATE)
    assert [batch.name for batch in prolific_fake.batches.values()] == ["Raw"]
    assert (fault.fired, sent(prolific_fake, "POST", "create_batch")) == (1, 1)


async def test_status_after_on_the_wire_applies_then_answers_its_status(
    prolific_fake: FakeProlific, fake_http: aiohttp.ClientSession
) -> None:
    """status_after: the batch exists, yet the answer is 500 (or the given status/body)."""
    prolific_fake.add_fault("POST", BATCHES, "status_after")
    async with fake_http.post(BATCHES, json=RAW_CREATE) as response:
        assert response.status == 500
        assert (await response.json())["error"] == {
            "status": 500,
            "error_code": 140500,
            "title": "Internal Server Error",
            "detail": "Internal Server Error",
        }
    prolific_fake.add_fault(
        "POST", BATCHES, "status_after", status=503, headers={"X-Why": "x"}, body="no"
    )
    async with fake_http.post(BATCHES, json=RAW_CREATE) as response:
        assert (response.status, response.headers["X-Why"], await response.text()) == (
            503,
            "x",
            "no",
        )
    assert len(prolific_fake.batches) == 2


async def test_not_json_on_the_wire_answers_plain_text_and_is_not_applied(
    prolific_fake: FakeProlific, fake_http: aiohttp.ClientSession
) -> None:
    """not_json: 200 text/plain "OK" by default (or the given status/body); nothing created."""
    prolific_fake.add_fault("POST", BATCHES, "not_json")
    async with fake_http.post(BATCHES, json=RAW_CREATE) as response:
        assert (response.status, response.content_type, await response.text()) == (
            200,
            "text/plain",
            "OK",
        )
    prolific_fake.add_fault("GET", BATCHES, "not_json", status=201, body=b"{truncated")
    async with fake_http.get(BATCHES, params={"workspace_id": WORKSPACE}) as response:
        assert (response.status, await response.read()) == (201, b"{truncated")
    assert prolific_fake.batches == {}


async def test_delay_on_the_wire_answers_late_and_applies_only_after_the_wait(
    prolific_fake: FakeProlific, fake_http: aiohttp.ClientSession
) -> None:
    """delay: nothing happens during the wait; then the request is applied and answered."""
    prolific_fake.add_fault("POST", BATCHES, "delay", delay=0.1)
    loop = asyncio.get_running_loop()
    started = loop.time()
    request = asyncio.ensure_future(fake_http.post(BATCHES, json=RAW_CREATE))
    for _ in range(1000):  # until the fake holds the request (bounded: no while True)
        if prolific_fake.stats.total:
            break
        await asyncio.sleep(0.002)
    assert prolific_fake.batches == {}  # received, still waiting
    async with await request as response:
        assert (response.status, (await response.json())["name"]) == (201, "Raw")
    assert loop.time() - started >= 0.1
    assert len(prolific_fake.batches) == 1


# -- matching --------------------------------------------------------------------------


async def test_faults_match_method_and_path_and_fire_in_order(
    prolific_fake: FakeProlific, fake_http: aiohttp.ClientSession
) -> None:
    """Faults hit only their method and path, in the order added, `times` times each."""
    other_method = prolific_fake.add_fault("POST", ONE_BATCH, "status", status=500)
    other_path = prolific_fake.add_fault("GET", "/api/v1/studies/*", "status", status=500)
    first = prolific_fake.add_fault("GET", BATCHES, "status", status=502, times=2)
    second = prolific_fake.add_fault("*", BATCHES, "status", status=504)
    statuses = []
    for _ in range(4):
        async with fake_http.get(BATCHES, params={"workspace_id": WORKSPACE}) as response:
            statuses.append(response.status)
    assert statuses == [502, 502, 504, 200]
    assert (first.fired, second.fired, other_method.fired, other_path.fired) == (2, 1, 0, 0)
    assert prolific_fake.faults == (other_method, other_path, first, second)


async def test_times_none_fires_forever_until_cleared(
    prolific_fake: FakeProlific, fake_http: aiohttp.ClientSession
) -> None:
    """times=None keeps firing; clear_faults() removes it."""
    fault = prolific_fake.add_fault("GET", "*", "status", times=None)
    for _ in range(3):
        async with fake_http.get(BATCHES) as response:
            assert response.status == 503
    prolific_fake.clear_faults()
    async with fake_http.get(BATCHES, params={"workspace_id": WORKSPACE}) as response:
        assert response.status == 200
    assert (fault.fired, prolific_fake.faults) == (3, ())


@pytest.mark.parametrize(
    ("kind", "kwargs", "message"),
    [
        ("explode", {}, "unknown fault kind"),
        ("drop_after", {"status": 500}, "no canned answer"),
        ("delay", {}, "needs delay"),
        ("status", {"times": 0}, "times"),
        ("status", {"probability": 1.5}, "probability"),
        ("status", {"status": 999}, "status"),
        ("status", {"status": 101}, "status"),
        ("stall_after", {"delay": -1.0}, "delay"),
    ],
)
def test_add_fault_rejects_meaningless_arguments(
    kind: str, kwargs: dict[str, Any], message: str
) -> None:
    """add_fault refuses unknown kinds and arguments the kind would ignore."""
    with pytest.raises(ValueError, match=message):
        FakeProlific().add_fault("GET", BATCHES, kind, **kwargs)


# -- seeded replay ---------------------------------------------------------------------


async def run_scenario(seed: int | None) -> tuple[int, list[str], list[int]]:
    """Create 3 batches, then 12 GETs under a 50% fault; return what happened."""
    async with (
        FakeProlific(seed=seed) as fake,
        fake.client(retry=RetryPolicy(attempts=1)) as client,
    ):
        ids = [await create(client, str(n)) for n in range(3)]
        fake.add_fault("GET", ONE_BATCH, "status", times=None, probability=0.5)
        statuses = []
        for _ in range(12):
            try:
                await client.batches.get(ids[0])
                statuses.append(200)
            except InternalServerError as exc:
                statuses.append(exc.status_code)
        return fake.seed, ids, statuses


async def test_the_same_seed_replays_ids_and_faults() -> None:
    """Two runs with one seed draw the same ids and fault the same requests."""
    seed, ids, statuses = await run_scenario(42)
    assert (seed, ids, statuses) == await run_scenario(42)
    assert {200, 503} == set(statuses)  # the 50% fault both fired and held back
    _, other_ids, _ = await run_scenario(43)
    assert other_ids != ids


async def test_a_random_seed_is_reported_and_replays() -> None:
    """seed=None picks a seed; passing fake.seed back replays the run."""
    seed, ids, statuses = await run_scenario(None)
    assert await run_scenario(seed) == (seed, ids, statuses)
