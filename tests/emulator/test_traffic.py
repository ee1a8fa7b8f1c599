"""What every request meets before its endpoint, and what the fake records of it.

The token (401), routing (404, 405), the rate limit, latency and the concurrency cap, on
every API route; the request log and the per-route stats.
"""

from __future__ import annotations

import asyncio
import random

import aiohttp
import pytest

from prolific_async import (
    AuthenticationError,
    NotFoundError,
    ProlificClient,
    RateLimitError,
    RetryPolicy,
    set_testing,
)
from prolific_async.testing import FakeProlific, RateLimit

from .conftest import (
    BATCHES,
    DATASETS,
    TASK_DETAILS,
    WORKSPACE,
    call,
    create_body,
    ready_batch,
    sent,
)

# -- authentication and routing --------------------------------------------------------


@pytest.mark.parametrize(
    ("authorization", "message"),
    [
        (None, "Authentication credentials were not provided."),
        ("Token wrong", "Invalid token."),
        ("Token", "Invalid token header. No credentials provided."),
        ("Bearer {token}", "Authentication credentials were not provided."),
    ],
)
async def test_a_missing_or_wrong_token_answers_401(
    prolific_fake: FakeProlific, authorization: str | None, message: str
) -> None:
    """Every API route needs 'Authorization: Token <fake.token>'."""
    headers = (
        {"Authorization": authorization.format(token=prolific_fake.token)} if authorization else {}
    )
    async with (
        aiohttp.ClientSession() as session,
        session.post(prolific_fake.url + BATCHES, json=create_body(), headers=headers) as response,
    ):
        body = await response.json()
        assert response.status == 401
        assert response.headers["WWW-Authenticate"] == "Token"
    assert body["error"]["detail"] == message
    assert prolific_fake.batches == {}


async def test_the_client_sees_a_wrong_token_as_authentication_error(
    prolific_fake: FakeProlific,
) -> None:
    """A client with the wrong token gets AuthenticationError."""
    async with ProlificClient(token="not-it", base_url=prolific_fake.url) as client:
        with pytest.raises(AuthenticationError, match="Invalid token"):
            await client.batches.list(WORKSPACE)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", DATASETS),
        ("GET", f"{DATASETS}/x/upload-url/a.csv"),
        ("POST", f"{BATCHES}/x/setup"),
        ("GET", f"{BATCHES}/x/report/"),
        ("POST", f"{BATCHES}/x/export"),
    ],
)
async def test_dataset_and_workflow_routes_require_the_token(
    prolific_fake: FakeProlific, storage_http: aiohttp.ClientSession, method: str, path: str
) -> None:
    """Every dataset and workflow route answers 401 without the token (storage never does)."""
    async with storage_http.request(method, prolific_fake.url + path) as response:
        assert response.status == 401
    assert prolific_fake.storage_requests == []


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", f"{BATCHES}/some-id", "GET, PATCH"),
        ("PUT", BATCHES, "GET, POST"),
        ("GET", f"{BATCHES}/some-id/duplicate", "POST"),
    ],
)
async def test_a_wrong_method_on_a_known_path_answers_405(
    fake_http: aiohttp.ClientSession, method: str, path: str, allow: str
) -> None:
    """A known path with the wrong method answers 405 with Allow and the nested body."""
    status, body, response = await call(fake_http, method, path)
    assert (status, response.headers["Allow"]) == (405, allow)
    assert body["error"]["title"] == "Method Not Allowed"
    assert body["error"]["detail"] == f'Method "{method}" not allowed.'


async def test_unknown_paths_and_batch_ids_answer_404(
    prolific_fake: FakeProlific, prolific_client: ProlificClient, fake_http: aiohttp.ClientSession
) -> None:
    """An unknown path or batch id answers 404 with the nested body."""
    status, body, _ = await call(fake_http, "GET", "/api/v1/studies/")
    assert (status, body["error"]["status"], body["error"]["error_code"]) == (404, 404, 140104)
    with pytest.raises(NotFoundError):
        await prolific_client.batches.get("00000000-0000-4000-8000-000000000000")
    with pytest.raises(NotFoundError):
        await prolific_client.batches.update("missing", name="x")
    with pytest.raises(NotFoundError):
        await prolific_client.batches.duplicate("missing")
    assert prolific_fake.stats.requests["GET", "unknown"] == 1


# -- rate limit, latency, concurrency --------------------------------------------------


def test_rate_limit_validates_its_fields() -> None:
    """RateLimit needs a positive rate and a burst of at least 1."""
    with pytest.raises(ValueError, match="rate"):
        RateLimit(rate=0)
    with pytest.raises(ValueError, match="burst"):
        RateLimit(rate=1, burst=0)


async def test_rate_limit_answers_429_with_retry_after(
    prolific_fake: FakeProlific, fake_http: aiohttp.ClientSession
) -> None:
    """Past the burst, requests get 429 with an integer Retry-After of at least 1."""
    prolific_fake.rate_limit = RateLimit(rate=0.5, burst=2)
    statuses, retry_after = [], None
    for _ in range(3):
        async with fake_http.get(BATCHES, params={"workspace_id": WORKSPACE}) as response:
            statuses.append(response.status)
            retry_after = response.headers.get("Retry-After")
    assert (statuses, retry_after) == ([200, 200, 429], "2")


async def test_rate_limit_refills_over_time(
    prolific_fake: FakeProlific, fake_http: aiohttp.ClientSession
) -> None:
    """An empty bucket refills at `rate` per second; Retry-After never says 0."""
    prolific_fake.rate_limit = RateLimit(rate=5, burst=1)  # a token every 0.2 s
    statuses = []
    for pause in (0.0, 0.0, 0.25):
        await asyncio.sleep(pause)
        async with fake_http.get(BATCHES, params={"workspace_id": WORKSPACE}) as response:
            statuses.append((response.status, response.headers.get("Retry-After")))
    assert statuses == [(200, None), (429, "1"), (200, None)]


async def test_the_client_gives_up_on_a_persistent_rate_limit(prolific_fake: FakeProlific) -> None:
    """With set_testing() the client retries 429 without waiting, then raises."""
    prolific_fake.rate_limit = RateLimit(rate=0.1, burst=1)
    async with prolific_fake.client(retry=RetryPolicy(attempts=3)) as client:
        await client.batches.list(WORKSPACE)
        with set_testing(), pytest.raises(RateLimitError):
            await client.batches.list(WORKSPACE)
    assert sent(prolific_fake, "GET", "list_batches") == 4


async def test_faults_and_the_rate_limit_apply_to_workflow_routes(
    prolific_fake: FakeProlific, fake_http: aiohttp.ClientSession
) -> None:
    """A status fault on setup is not applied, status_after is; the rate limit answers 429."""
    batch = prolific_fake.add_batch()
    setup = f"{BATCHES}/{batch.id}/setup"
    prolific_fake.add_fault("POST", f"{BATCHES}/*/setup", "status", status=503)
    assert (await call(fake_http, "POST", setup))[0] == 503
    assert prolific_fake.batches[batch.id].status == "UNINITIALISED"
    prolific_fake.add_fault("POST", f"{BATCHES}/*/setup", "status_after")
    assert (await call(fake_http, "POST", setup))[0] == 500
    assert prolific_fake.batches[batch.id].status in ("PROCESSING", "ERROR")
    prolific_fake.rate_limit = RateLimit(rate=0.01, burst=1)
    statuses = [(await call(fake_http, "POST", DATASETS, json={}))[0] for _ in range(2)]
    assert statuses == [400, 429]


async def test_latency_is_added_to_every_request(
    prolific_fake: FakeProlific, prolific_client: ProlificClient
) -> None:
    """A fixed latency delays each answer by at least that long."""
    prolific_fake.latency = 0.03
    loop = asyncio.get_running_loop()
    started = loop.time()
    await prolific_client.batches.list(WORKSPACE)
    await prolific_client.batches.list(WORKSPACE)
    assert loop.time() - started >= 0.06


async def test_latency_distributions_draw_from_the_seeded_generator() -> None:
    """A latency callable gets a Random seeded from `seed`, so the draws replay."""

    async def draws(seed: int) -> list[float]:
        seen: list[float] = []

        def latency(rng: random.Random) -> float:
            seen.append(rng.uniform(0.0, 0.002))
            return seen[-1]

        async with FakeProlific(seed=seed, latency=latency) as fake, fake.client() as client:
            for _ in range(3):
                await client.batches.list(WORKSPACE)
        return seen

    first, again, other = await draws(1), await draws(1), await draws(2)
    assert len(first) == 3
    assert first == again != other


async def test_max_concurrency_makes_extra_requests_wait() -> None:
    """Beyond max_concurrency requests wait: serving peaks at the cap, in-flight above it."""
    async with (
        FakeProlific(max_concurrency=2, latency=0.05) as fake,
        fake.client() as client,
    ):
        results = await asyncio.gather(*(client.batches.list(WORKSPACE) for _ in range(6)))
    assert results == [[]] * 6
    assert fake.stats.serving_peak == 2
    assert fake.stats.in_flight_peak > 2


async def test_stats_observe_the_clients_own_concurrency_bound() -> None:
    """A client with max_connections=2 never has more than 2 requests at the fake."""
    async with FakeProlific(latency=0.02) as fake, fake.client(max_connections=2) as client:
        await asyncio.gather(*(client.batches.list(WORKSPACE) for _ in range(6)))
    assert (fake.stats.in_flight_peak, fake.stats.total) == (2, 6)


# -- observation -----------------------------------------------------------------------


async def test_the_request_log_records_requests_without_the_token(
    prolific_fake: FakeProlific, prolific_client: ProlificClient
) -> None:
    """fake.requests holds method, path, query, redacted headers and JSON; never the token."""
    await prolific_client.batches.create(
        name="A", workspace_id=WORKSPACE, task_details=TASK_DETAILS
    )
    await prolific_client.batches.list(WORKSPACE)
    create, listing = prolific_fake.requests
    assert (create.method, create.path, create.json["name"]) == ("POST", BATCHES, "A")
    assert create.headers["Authorization"] == "Token ***"
    assert (listing.method, listing.query, listing.json) == (
        "GET",
        {"workspace_id": WORKSPACE},
        None,
    )
    for text in (
        repr(prolific_fake.requests),
        repr(prolific_fake),
        repr(prolific_fake.stats),
        repr(prolific_fake.batches),
    ):
        assert prolific_fake.token not in text


async def test_stats_count_requests_by_endpoint_and_reset(
    prolific_fake: FakeProlific, prolific_client: ProlificClient
) -> None:
    """stats.requests counts by (method, route); reset() zeroes it."""
    batch = await prolific_client.batches.create(
        name="A", workspace_id=WORKSPACE, task_details=TASK_DETAILS
    )
    await prolific_client.batches.get(batch.id)
    await prolific_client.batches.get(batch.id)
    assert prolific_fake.stats.requests == {("POST", "create_batch"): 1, ("GET", "get_batch"): 2}
    assert (
        prolific_fake.stats.total,
        prolific_fake.stats.in_flight,
        prolific_fake.stats.in_flight_peak,
    ) == (3, 0, 1)
    prolific_fake.stats.reset()
    assert (prolific_fake.stats.total, prolific_fake.stats.in_flight_peak) == (0, 0)


async def test_stats_name_each_workflow_route(
    prolific_fake: FakeProlific, fake_http: aiohttp.ClientSession
) -> None:
    """fake.stats counts the workflow endpoints under descriptive route names."""
    batch_id = await ready_batch(fake_http, prolific_fake, rows=1)
    await call(fake_http, "GET", f"{BATCHES}/{batch_id}/responses")
    await call(fake_http, "POST", f"{BATCHES}/{batch_id}/export")
    assert {
        "setup_batch",
        "get_batch_status",
        "list_responses",
        "request_export",
        "create_batch",
    } <= {route for _, route in prolific_fake.stats.requests}
