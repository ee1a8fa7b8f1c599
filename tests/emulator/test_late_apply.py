"""The ``late_apply`` fault: the connection is cut, and the request applies later."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from prolific_async import OutcomeUnknownError
from prolific_async.testing import FAST_RETRY_POLICY, FakeProlific, FaultKind

from .conftest import BATCHES, TASK_DETAILS, WORKSPACE, sent
from .test_faults import RAW_CREATE


async def _until_made(fake: FakeProlific, count: int) -> None:
    """Wait (bounded) until the fake holds ``count`` batches."""
    for _ in range(500):
        if len(fake.batches) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{len(fake.batches)} batch(es), expected {count}")


async def test_late_apply_cuts_at_once_and_applies_when_released(
    prolific_fake: FakeProlific, fake_http: aiohttp.ClientSession
) -> None:
    """late_apply without delay: no answer, a listing is empty until apply_late() runs it."""
    fault = prolific_fake.add_fault("POST", BATCHES, FaultKind.LATE_APPLY)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await fake_http.post(BATCHES, json=RAW_CREATE)
    async with fake_http.get(BATCHES, params={"workspace_id": WORKSPACE}) as answer:
        assert (await answer.json())["results"] == []
    assert prolific_fake.batches == {}
    assert await prolific_fake.apply_late() == 1
    assert [batch.name for batch in prolific_fake.batches.values()] == ["Raw"]
    assert await prolific_fake.apply_late() == 0  # applied once
    assert (fault.fired, sent(prolific_fake, "POST", "create_batch")) == (1, 1)
    assert prolific_fake.requests[0].response_status is None  # never answered


async def test_late_apply_with_a_delay_applies_by_itself(
    prolific_fake: FakeProlific, fake_http: aiohttp.ClientSession
) -> None:
    """late_apply with delay: the request applies on its own, and apply_late() leaves it."""
    prolific_fake.add_fault("POST", BATCHES, FaultKind.LATE_APPLY, delay=0.02)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await fake_http.post(BATCHES, json=RAW_CREATE)
    assert await prolific_fake.apply_late() == 0  # not held: its delay decides
    await _until_made(prolific_fake, 1)


async def test_late_apply_through_the_client_is_unknown_and_sent_once(
    prolific_fake: FakeProlific,
) -> None:
    """A create under late_apply raises OutcomeUnknownError, is not resent, and applies once."""
    prolific_fake.add_fault("POST", BATCHES, "late_apply", delay=0.02)
    async with prolific_fake.client(retry=FAST_RETRY_POLICY) as client:
        with pytest.raises(OutcomeUnknownError):
            await client.batches.create(name="A", workspace_id=WORKSPACE, task_details=TASK_DETAILS)
    await _until_made(prolific_fake, 1)
    assert sent(prolific_fake, "POST", "create_batch") == 1


async def test_a_late_apply_pending_when_the_fake_stops_is_never_applied() -> None:
    """Stopping the fake before a late_apply's delay ends drops the request."""
    async with (
        FakeProlific() as fake,
        aiohttp.ClientSession(
            base_url=fake.url,
            headers={"Authorization": f"Token {fake.token}"},
            connector=aiohttp.TCPConnector(force_close=True),
        ) as http,
    ):
        fake.add_fault("POST", BATCHES, "late_apply", delay=3600)
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await http.post(BATCHES, json=RAW_CREATE)
        await asyncio.wait_for(fake.stop(), timeout=5)
    assert fake.batches == {}
