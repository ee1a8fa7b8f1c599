"""The request log records each answer next to its request: status and JSON body."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from prolific_async import APIConnectionError
from prolific_async.testing import FAST_RETRY_POLICY, FakeProlific

from ..conftest import wait_until
from .conftest import BATCHES, WORKSPACE, call, create_body


async def test_each_request_carries_its_answer(
    prolific_fake: FakeProlific, fake_http: aiohttp.ClientSession
) -> None:
    """A JSON answer is recorded with its status; an error answer too."""
    status, created, _ = await call(fake_http, "POST", BATCHES, json=create_body())
    await call(fake_http, "GET", f"{BATCHES}/no-such-batch")
    create, missing = prolific_fake.requests
    assert (create.response_status, create.response_json) == (status, created)
    assert missing.response_status == 404
    assert isinstance(missing.response_json, dict)


async def test_an_answer_that_is_not_json_records_only_its_status(
    prolific_fake: FakeProlific, fake_http: aiohttp.ClientSession
) -> None:
    """A storage download (a CSV, not JSON) records its status and no JSON."""
    batch = prolific_fake.add_batch(status="READY")
    _, report, _ = await call(fake_http, "GET", f"{BATCHES}/{batch.id}/report/")
    await call(fake_http, "GET", report["url"])
    (download,) = prolific_fake.storage_requests
    assert (download.response_status, download.response_json) == (200, None)


async def test_a_cut_connection_records_no_answer(prolific_fake: FakeProlific) -> None:
    """A request whose connection the fake cut has no status in the log."""
    prolific_fake.add_fault("GET", BATCHES, "drop_after", times=None)
    async with prolific_fake.client(retry=FAST_RETRY_POLICY) as client:
        with pytest.raises(APIConnectionError):
            await client.batches.list(WORKSPACE)
    assert prolific_fake.requests
    assert {r.response_status for r in prolific_fake.requests} == {None}


async def test_a_cleared_log_stays_cleared(
    prolific_fake: FakeProlific, fake_http: aiohttp.ClientSession
) -> None:
    """Clearing the log while a request is served does not bring that request back."""
    prolific_fake.add_fault("GET", BATCHES, "delay", delay=0.05)
    pending = asyncio.ensure_future(
        call(fake_http, "GET", BATCHES, params={"workspace_id": WORKSPACE})
    )
    await wait_until(lambda: bool(prolific_fake.requests))
    prolific_fake.requests.clear()
    await pending
    assert prolific_fake.requests == []
