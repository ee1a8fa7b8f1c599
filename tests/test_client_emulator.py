"""The core client against the emulator's faults: what is retried, what is never resent."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from prolific_async import ProlificClient, RetryPolicy, TaskDetails, errors, set_testing
from prolific_async.testing import FakeProlific

CREATE = "/api/v1/data-collection/batches"
BATCH = "/api/v1/data-collection/batches/*"
DUPLICATE = "/api/v1/data-collection/batches/*/duplicate"
DETAILS = TaskDetails(task_name="t", task_introduction="i", task_steps="s")
FAST = RetryPolicy(attempts=5, timeout=10.0, wait_initial=0.001, wait_max=0.01, wait_jitter=0.0)


@pytest.fixture
async def fake() -> AsyncIterator[FakeProlific]:
    async with FakeProlific(seed=5) as emulator:
        yield emulator


@pytest.fixture
async def client(fake: FakeProlific) -> AsyncIterator[ProlificClient]:
    async with fake.client(retry=FAST, timeout=2.0) as bound:
        yield bound


def posts(fake: FakeProlific) -> int:
    return sum(1 for request in fake.requests if request.method == "POST")


async def create(client: ProlificClient) -> object:
    return await client.batches.create(name="n", workspace_id="w", task_details=DETAILS)


@pytest.mark.parametrize(("kind", "applied"), [("drop_after", 1), ("drop_before", 0)])
async def test_dropped_create_is_never_resent(
    client: ProlificClient, fake: FakeProlific, kind: str, applied: int
) -> None:
    """A create whose connection drops raises OutcomeUnknownError after one POST."""
    fake.add_fault("POST", CREATE, kind)
    with pytest.raises(errors.OutcomeUnknownError) as caught:
        await create(client)
    assert isinstance(caught.value.__cause__, aiohttp.ServerDisconnectedError)
    assert "not retried" in str(caught.value)
    assert posts(fake) == 1
    assert len(fake.batches) == applied
    chained: BaseException | None = caught.value
    while chained is not None:  # the token is in no message, repr or attribute
        assert fake.token not in f"{chained} {chained!r} {vars(chained)!r}"
        chained = chained.__cause__ or chained.__context__


async def test_dropped_duplicate_is_never_resent(
    client: ProlificClient, fake: FakeProlific
) -> None:
    """A duplicate dropped after the server made the copy is not resent either."""
    source = fake.add_batch(name="S")
    fake.add_fault("POST", DUPLICATE, "drop_after")
    with pytest.raises(errors.OutcomeUnknownError):
        await client.batches.duplicate(source.id)
    assert posts(fake) == 1
    assert len(fake.batches) == 2


async def test_stalled_create_times_out_as_outcome_unknown(fake: FakeProlific) -> None:
    """A create applied but unanswered within the read timeout is not resent."""
    fake.add_fault("POST", CREATE, "stall_after")
    async with fake.client(retry=FAST, timeout=0.05) as client:
        with pytest.raises(errors.OutcomeUnknownError) as caught:
            await create(client)
    assert isinstance(caught.value.__cause__, aiohttp.ServerTimeoutError)
    assert (posts(fake), len(fake.batches)) == (1, 1)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_5xx_after_apply_is_not_retried(
    client: ProlificClient, fake: FakeProlific, status: int
) -> None:
    """A create answered 5xx after the server made it raises at once: no second batch."""
    fake.add_fault("POST", CREATE, "status_after", status=status)
    with pytest.raises(errors.InternalServerError) as caught:
        await create(client)
    assert caught.value.status_code == status
    assert (posts(fake), len(fake.batches)) == (1, 1)


async def test_truncated_create_response_is_outcome_unknown(
    client: ProlificClient, fake: FakeProlific
) -> None:
    """A 201 whose body is cut off means the batch exists, but we cannot read it."""
    fake.add_fault("POST", CREATE, "truncated")
    with pytest.raises(errors.OutcomeUnknownError):
        await create(client)
    assert (posts(fake), len(fake.batches)) == (1, 1)


async def test_truncated_get_response_is_retried(
    client: ProlificClient, fake: FakeProlific
) -> None:
    """A GET whose body is cut off is sent again and succeeds."""
    batch = fake.add_batch(name="B")
    fake.add_fault("GET", BATCH, "truncated")
    assert (await client.batches.get(batch.id)).name == "B"
    assert sum(1 for r in fake.requests if r.method == "GET") == 2


async def test_429_on_create_is_retried_until_it_succeeds(fake: FakeProlific) -> None:
    """Creates refused with 429 are sent again (the server did nothing) and succeed once."""
    fake.add_fault("POST", CREATE, "status", times=2, status=429, headers={"Retry-After": "1"})
    with set_testing():
        async with fake.client(retry=FAST) as client:
            await create(client)
    assert (posts(fake), len(fake.batches)) == (3, 1)


async def test_html_error_page_is_retried_for_get(
    client: ProlificClient, fake: FakeProlific
) -> None:
    """A proxy's HTML 502 on a GET is retried like any 502."""
    batch = fake.add_batch(name="B")
    fake.add_fault("GET", BATCH, "html", status=502)
    assert (await client.batches.get(batch.id)).id == batch.id


async def test_non_json_success_is_a_validation_error(
    client: ProlificClient, fake: FakeProlific
) -> None:
    """A 200 whose body is not JSON raises ResponseValidationError, not a decode error."""
    batch = fake.add_batch(name="B")
    fake.add_fault("GET", BATCH, "not_json")
    with pytest.raises(errors.ResponseValidationError, match="not JSON"):
        await client.batches.get(batch.id)
