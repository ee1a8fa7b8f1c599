"""Adopt early, resend late: an ambiguous item is listed at once and waits without a slot.

A huge ``reconcile_delay`` bounded by ``asyncio.wait_for`` proves that nothing waited it
out; no test sleeps for it.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from prolific_async import Journal
from prolific_async._bulk_progress import BulkProgress
from prolific_async.testing import FakeProlific

from .conftest import wait_until
from .test_bulk import (
    CREATE,
    FAST,
    _no_retry_waits,
    assert_exactly_once,
    batches_named,
    client,
    collect,
    creates,
    fake,
    posts,
)
from .test_bulk_trust import listings

__all__ = ["_no_retry_waits", "client", "fake"]  # the fixtures, shared with the bulk tests

#: Far longer than any test may take: an item that waited it out would time the test out.
HOUR = 3600.0
#: How long a test may take before it counts as having waited.
BOUND = 20.0
#: A reconcile_delay the test waits out once: long enough for it to act in between.
LATE_DELAY = 0.5


async def test_an_ambiguous_create_in_the_first_listing_is_adopted_at_once(
    fake: FakeProlific,
) -> None:
    """A dropped create whose batch the first listing shows is adopted without any wait."""
    fake.add_fault("POST", CREATE, "drop_after", times=3)
    async with fake.client(retry=FAST) as client:
        run = client.batches.create_many(creates(10), reconcile_delay=HOUR)
        results = await asyncio.wait_for(collect(run), BOUND)
    assert_exactly_once(results, fake)
    assert sum(result.reconciled for result in results) == 3
    assert posts(fake) == 10


async def test_a_waiting_item_does_not_hold_its_slot(fake: FakeProlific) -> None:
    """With concurrency=1, an item waiting to reconcile lets the next item be created."""
    fake.add_fault("POST", CREATE, "drop_before", times=1)  # not made: it must wait
    progress = BulkProgress()
    async with fake.client(retry=FAST) as client:
        run = client.batches.create_many(
            creates(3), concurrency=1, reconcile_delay=HOUR, progress=progress
        )
        async with contextlib.aclosing(run) as results:
            first = await asyncio.wait_for(anext(results), BOUND)
            second = await asyncio.wait_for(anext(results), BOUND)
            assert {first.index, second.index} == {1, 2}
            assert first.ok
            assert second.ok
            assert list(progress.waiting) == [0]
            until = progress.waiting_until
            assert until is not None
            assert until - datetime.now(UTC) > timedelta(seconds=HOUR - BOUND)
            assert progress.in_progress == 1  # the waiting one
    assert batches_named(fake) == {"batch-1": 1, "batch-2": 1}
    assert posts(fake) == 3  # the waiting item sent nothing more
    assert (progress.waiting, progress.in_progress) == ({}, 0)


async def test_a_late_apply_is_not_resent_and_ends_once(fake: FakeProlific) -> None:
    """A create applied after the first listing is found by the one after the delay."""
    late = fake.add_fault("POST", CREATE, "late_apply")  # held until fake.apply_late()
    progress = BulkProgress()
    async with fake.client(retry=FAST) as client:
        run = client.batches.create_many(creates(1), reconcile_delay=LATE_DELAY, progress=progress)
        task = asyncio.create_task(collect(run))
        await wait_until(lambda: bool(progress.waiting))  # listed once: no batch yet
        assert listings(fake) == 1
        assert await fake.apply_late() == 1
        until = progress.waiting_until
        assert until is not None
        assert datetime.now(UTC) < until, "applied before the item was due to list again"
        results = await asyncio.wait_for(task, BOUND)
    assert late.fired == 1
    assert_exactly_once(results, fake)
    assert results[0].reconciled
    assert posts(fake) == 1
    assert listings(fake) == 2  # at once (empty), then after reconcile_delay


async def test_a_resumed_item_in_doubt_is_adopted_at_once(
    fake: FakeProlific, tmp_path: Path
) -> None:
    """An item in flight when the last run stopped is listed at once on resume, not later."""
    path = tmp_path / "run.journal"
    requests = creates(4)
    fake.add_fault("POST", CREATE, "stall_after", times=None)
    async with fake.client(retry=FAST, timeout=5.0) as client:
        run = asyncio.create_task(
            collect(client.batches.create_many(requests, journal=Journal(path)))
        )
        await wait_until(lambda: len(fake.batches) == 4)
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
    fake.clear_faults()
    async with fake.client(retry=FAST) as client:
        resumed = client.batches.create_many(requests, journal=Journal(path), reconcile_delay=HOUR)
        results = await asyncio.wait_for(collect(resumed), BOUND)
    assert_exactly_once(results, fake)
    assert all(result.reconciled for result in results)
    assert posts(fake) == 4


async def test_posts_in_flight_never_exceed_the_concurrency(fake: FakeProlific) -> None:
    """Items back from waiting to resend share the run's send slots: POSTs stay capped."""
    in_flight = peak = 0

    async def started(_: object, __: object, params: aiohttp.TraceRequestStartParams) -> None:
        nonlocal in_flight, peak
        if params.method == "POST":
            in_flight += 1
            peak = max(peak, in_flight)

    async def ended(_: object, __: object, params: aiohttp.TraceRequestEndParams) -> None:
        nonlocal in_flight
        if params.method == "POST":
            in_flight -= 1

    tracing = aiohttp.TraceConfig()
    tracing.on_request_start.append(started)
    tracing.on_request_end.append(ended)
    tracing.on_request_exception.append(ended)  # type: ignore[arg-type]
    fake.latency = 0.005
    fake.add_fault("POST", CREATE, "drop_before", times=None, probability=0.5)
    async with fake.client(retry=FAST, trace_configs=[tracing]) as client:
        run = client.batches.create_many(creates(16), concurrency=2, reconcile_delay=0.01)
        results = await asyncio.wait_for(collect(run), BOUND)
    assert_exactly_once(results, fake)
    assert posts(fake) > 16  # some were resent after waiting
    assert peak <= 2
