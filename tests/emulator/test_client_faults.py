"""The core client against the emulator's faults: what is retried, what is never resent."""

from __future__ import annotations

import aiohttp
import pytest

from prolific_async import ProlificClient, errors, set_testing
from prolific_async.testing import FAST_RETRY_POLICY, FakeProlific

from .conftest import TASK_DETAILS

CREATE = "/api/v1/data-collection/batches"


BATCH = "/api/v1/data-collection/batches/*"


DUPLICATE = "/api/v1/data-collection/batches/*/duplicate"


def posts(fake: FakeProlific) -> int:
    return sum(1 for request in fake.requests if request.method == "POST")


async def create(client: ProlificClient) -> object:
    return await client.batches.create(name="n", workspace_id="w", task_details=TASK_DETAILS)


@pytest.mark.parametrize(("kind", "applied"), [("drop_after", 1), ("drop_before", 0)])
async def test_dropped_create_is_never_resent(
    prolific_client: ProlificClient, prolific_fake: FakeProlific, kind: str, applied: int
) -> None:
    """A create whose connection drops raises OutcomeUnknownError after one POST."""
    prolific_fake.add_fault("POST", CREATE, kind)
    with pytest.raises(errors.OutcomeUnknownError) as caught:
        await create(prolific_client)
    assert isinstance(caught.value.__cause__, aiohttp.ServerDisconnectedError)
    assert "not retried" in str(caught.value)
    assert posts(prolific_fake) == 1
    assert len(prolific_fake.batches) == applied
    chained: BaseException | None = caught.value
    while chained is not None:  # the token is in no message, repr or attribute
        assert prolific_fake.token not in f"{chained} {chained!r} {vars(chained)!r}"
        chained = chained.__cause__ or chained.__context__


async def test_dropped_duplicate_is_never_resent(
    prolific_client: ProlificClient, prolific_fake: FakeProlific
) -> None:
    """A duplicate dropped after the server made the copy is not resent either."""
    source = prolific_fake.add_batch(name="S")
    prolific_fake.add_fault("POST", DUPLICATE, "drop_after")
    with pytest.raises(errors.OutcomeUnknownError):
        await prolific_client.batches.duplicate(source.id)
    assert posts(prolific_fake) == 1
    assert len(prolific_fake.batches) == 2


async def test_stalled_create_times_out_as_outcome_unknown(prolific_fake: FakeProlific) -> None:
    """A create applied but unanswered within the read timeout is not resent."""
    prolific_fake.add_fault("POST", CREATE, "stall_after")
    async with prolific_fake.client(retry=FAST_RETRY_POLICY, timeout=0.05) as client:
        with pytest.raises(errors.OutcomeUnknownError) as caught:
            await create(client)
    assert isinstance(caught.value.__cause__, aiohttp.ServerTimeoutError)
    assert (posts(prolific_fake), len(prolific_fake.batches)) == (1, 1)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_5xx_after_apply_is_not_retried(
    prolific_client: ProlificClient, prolific_fake: FakeProlific, status: int
) -> None:
    """A create answered 5xx after the server made it raises at once: no second batch."""
    prolific_fake.add_fault("POST", CREATE, "status_after", status=status)
    with pytest.raises(errors.InternalServerError) as caught:
        await create(prolific_client)
    assert caught.value.status_code == status
    assert (posts(prolific_fake), len(prolific_fake.batches)) == (1, 1)


async def test_truncated_create_response_is_outcome_unknown(
    prolific_client: ProlificClient, prolific_fake: FakeProlific
) -> None:
    """A 201 whose body is cut off means the batch exists, but we cannot read it."""
    prolific_fake.add_fault("POST", CREATE, "truncated")
    with pytest.raises(errors.OutcomeUnknownError):
        await create(prolific_client)
    assert (posts(prolific_fake), len(prolific_fake.batches)) == (1, 1)


async def test_truncated_get_response_is_retried(
    prolific_client: ProlificClient, prolific_fake: FakeProlific
) -> None:
    """A GET whose body is cut off is sent again and succeeds."""
    batch = prolific_fake.add_batch(name="B")
    prolific_fake.add_fault("GET", BATCH, "truncated")
    assert (await prolific_client.batches.get(batch.id)).name == "B"
    assert sum(1 for r in prolific_fake.requests if r.method == "GET") == 2


async def test_429_on_create_is_retried_until_it_succeeds(prolific_fake: FakeProlific) -> None:
    """Creates refused with 429 are sent again (the server did nothing) and succeed once."""
    prolific_fake.add_fault(
        "POST", CREATE, "status", times=2, status=429, headers={"Retry-After": "1"}
    )
    with set_testing():
        async with prolific_fake.client(retry=FAST_RETRY_POLICY) as client:
            await create(client)
    assert (posts(prolific_fake), len(prolific_fake.batches)) == (3, 1)


async def test_html_error_page_is_retried_for_get(
    prolific_client: ProlificClient, prolific_fake: FakeProlific
) -> None:
    """A proxy's HTML 502 on a GET is retried like any 502."""
    batch = prolific_fake.add_batch(name="B")
    prolific_fake.add_fault("GET", BATCH, "html", status=502)
    assert (await prolific_client.batches.get(batch.id)).id == batch.id


async def test_non_json_success_is_a_validation_error(
    prolific_client: ProlificClient, prolific_fake: FakeProlific
) -> None:
    """A 200 whose body is not JSON raises ResponseValidationError, not a decode error."""
    batch = prolific_fake.add_batch(name="B")
    prolific_fake.add_fault("GET", BATCH, "not_json")
    with pytest.raises(errors.ResponseValidationError, match="not JSON"):
        await prolific_client.batches.get(batch.id)
