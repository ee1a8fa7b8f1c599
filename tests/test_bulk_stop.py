"""A bulk run stops when nothing can succeed: an unreachable server, a 401, a 403's scope."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from prolific_async import (
    APIConnectionError,
    AuthenticationError,
    CreateBatchRequest,
    DuplicateBatchRequest,
    Journal,
    NotFoundError,
    PermissionDeniedError,
    ProlificClient,
    RunStoppedError,
)
from prolific_async.testing import FakeProlific

from .test_bulk import (
    CREATE,
    DETAILS,
    FAST,
    WS,
    _no_retry_waits,
    assert_exactly_once,
    client,
    collect,
    creates,
    fake,
    posts,
)

__all__ = ["_no_retry_waits", "client", "fake"]  # the fixtures, shared with the bulk tests


async def test_a_run_against_a_closed_port_stops_after_the_unsent_limit(
    never_listening: socket.socket,
) -> None:
    """After 5 sends in a row that never connected, the other items are not attempted."""
    port = never_listening.getsockname()[1]
    async with ProlificClient("token", base_url=f"http://127.0.0.1:{port}", retry=FAST) as bound:
        results = await collect(
            bound.batches.create_many(creates(60), concurrency=2, max_consecutive_unsent=5)
        )
    tried = [r for r in results if r.attempts]
    stopped = [r for r in results if isinstance(r.error, RunStoppedError)]
    assert not any(r.ok for r in results)
    assert len(tried) <= 5 + 1  # the limit, plus a send in flight when it was reached
    assert all(isinstance(r.error, APIConnectionError) for r in tried)
    assert len(stopped) == 60 - len(tried)
    assert all(r.attempts == 0 for r in stopped)
    assert all(isinstance(r.error.cause, APIConnectionError) for r in stopped)  # type: ignore[union-attr]
    assert "not attempted" in str(stopped[0].error)
    assert all(r.unsent_attempts == r.attempts and r.server_attempts == 0 for r in results)


async def test_a_stopped_run_leaves_its_items_to_a_plain_rerun(
    fake: FakeProlific, never_listening: socket.socket, tmp_path: Path
) -> None:
    """The journal records nothing final for a stopped run: a re-run makes every batch."""
    path = tmp_path / "run.db"
    port = never_listening.getsockname()[1]
    async with ProlificClient("token", base_url=f"http://127.0.0.1:{port}", retry=FAST) as bound:
        failed = await collect(
            bound.batches.create_many(
                creates(20), concurrency=2, journal=Journal(path), max_consecutive_unsent=3
            )
        )
    assert not any(r.ok for r in failed)
    async with fake.client(retry=FAST) as bound:
        results = await collect(bound.batches.create_many(creates(20), journal=Journal(path)))
    assert_exactly_once(results, fake)
    assert not any(r.resumed for r in results)
    assert posts(fake) == 20


async def test_a_401_stops_the_run(fake: FakeProlific) -> None:
    """A refused token fails its item and stops the run: one POST, not one per item."""
    async with ProlificClient("wrong-token", base_url=fake.url, retry=FAST) as bound:
        results = await collect(bound.batches.create_many(creates(10), concurrency=1))
    assert isinstance(results[0].error, AuthenticationError)
    assert all(isinstance(r.error, RunStoppedError) for r in results[1:])
    assert all(isinstance(r.error.cause, AuthenticationError) for r in results[1:])  # type: ignore[union-attr]
    assert posts(fake) == 1


async def test_a_403_stops_only_its_workspace(client: ProlificClient, fake: FakeProlific) -> None:
    """A 403 in one workspace stops its other items; another workspace's items go on."""
    other = "6278acb09062db3b35bcbeb1"
    fake.add_fault("POST", CREATE, "status", status=403)
    requests = [CreateBatchRequest(f"b{i}", WS if i % 2 == 0 else other, DETAILS) for i in range(8)]
    results = await collect(client.batches.create_many(requests, concurrency=1))
    assert isinstance(results[0].error, PermissionDeniedError)
    assert all(isinstance(r.error, RunStoppedError) for r in results[2::2])
    assert all(r.ok for r in results[1::2])
    assert posts(fake) == 5


async def test_a_403_stops_only_its_duplicate_source(
    client: ProlificClient, fake: FakeProlific
) -> None:
    """Copies of a source answered 403 stop; copies of another source are made."""
    from prolific_async import DuplicateBatchRequest

    refused = fake.add_batch(name="Refused", workspace_id=WS, task_details=DETAILS)
    fine = fake.add_batch(name="Fine", workspace_id=WS, task_details=DETAILS)
    fake.add_fault("POST", f"{CREATE}/{refused.id}/duplicate", "status", status=403)
    requests = [DuplicateBatchRequest(refused.id if i < 3 else fine.id) for i in range(6)]
    results = await collect(client.batches.duplicate_many(requests, concurrency=1))
    assert isinstance(results[0].error, PermissionDeniedError)
    assert all(isinstance(r.error, RunStoppedError) for r in results[1:3])
    assert all(r.ok for r in results[3:])


@pytest.mark.parametrize("bad", [0, -1, True, 1.5])
async def test_the_unsent_limit_must_be_a_positive_integer(
    client: ProlificClient, bad: object
) -> None:
    """max_consecutive_unsent below 1, or not an integer, is refused before anything is sent."""
    with pytest.raises(ValueError, match="max_consecutive_unsent"):
        client.batches.create_many(creates(1), max_consecutive_unsent=bad)  # type: ignore[arg-type]


async def test_a_stop_cancels_the_sends_waiting_to_retry_a_connection(
    never_listening: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sends that sit in the client's backoff, having reached nothing, end when the run stops."""
    from prolific_async import RetryPolicy, _rate_gate

    waits: list[float] = []
    forever = asyncio.Event()

    async def first_wait_only(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) > 1:
            await forever.wait()  # every later send hangs in its backoff

    monkeypatch.setattr(_rate_gate, "sleep", first_wait_only)
    policy = RetryPolicy(attempts=2, timeout=3600.0, wait_initial=60.0, wait_jitter=0.0)
    port = never_listening.getsockname()[1]
    async with (
        ProlificClient("token", base_url=f"http://127.0.0.1:{port}", retry=policy) as bound,
        asyncio.timeout(10),
    ):
        results = await collect(
            bound.batches.create_many(creates(6), concurrency=3, max_consecutive_unsent=1)
        )
    assert sum(isinstance(r.error, APIConnectionError) for r in results) == 1
    assert sum(isinstance(r.error, RunStoppedError) for r in results) == 5
    assert all(r.server_attempts == 0 for r in results)


# -- a duplicate's source fetch reports to the stop like a send ----------------------------


def source_gets(fake: FakeProlific) -> int:
    return sum(1 for r in fake.requests if r.method == "GET" and r.path.startswith(f"{CREATE}/"))


async def test_source_fetches_that_never_connect_stop_the_run(
    never_listening: socket.socket,
) -> None:
    """Duplicates of sources the client cannot reach stop after the unsent limit, not each."""
    port = never_listening.getsockname()[1]
    requests = [DuplicateBatchRequest(f"{i:024x}") for i in range(60)]
    async with ProlificClient("token", base_url=f"http://127.0.0.1:{port}", retry=FAST) as bound:
        results = await collect(
            bound.batches.duplicate_many(requests, concurrency=2, max_consecutive_unsent=5)
        )
    failed = [r for r in results if isinstance(r.error, APIConnectionError)]
    stopped = [r for r in results if isinstance(r.error, RunStoppedError)]
    assert len(failed) <= 5 + 1  # the limit, plus a fetch in flight when it was reached
    assert len(stopped) == 60 - len(failed)
    assert all(isinstance(r.error.cause, APIConnectionError) for r in stopped)  # type: ignore[union-attr]


async def test_a_401_on_a_source_fetch_stops_the_run(fake: FakeProlific) -> None:
    """A refused token on the source's GET stops the run: one GET, not one per copy."""
    source = fake.add_batch(name="S", workspace_id=WS, task_details=DETAILS)
    requests = [DuplicateBatchRequest(source.id) for _ in range(10)]
    async with ProlificClient("wrong-token", base_url=fake.url, retry=FAST) as bound:
        results = await collect(bound.batches.duplicate_many(requests, concurrency=3))
    assert sum(isinstance(r.error, AuthenticationError) for r in results) == 1
    assert sum(isinstance(r.error, RunStoppedError) for r in results) == 9
    assert source_gets(fake) == 1
    assert posts(fake) == 0


async def test_a_403_on_a_source_fetch_stops_only_that_source(
    client: ProlificClient, fake: FakeProlific
) -> None:
    """A source whose GET is refused stops its copies; another source's copies are made."""
    refused = fake.add_batch(name="Refused", workspace_id=WS, task_details=DETAILS)
    fine = fake.add_batch(name="Fine", workspace_id=WS, task_details=DETAILS)
    fake.add_fault("GET", f"{CREATE}/{refused.id}", "status", status=403, times=None)
    requests = [DuplicateBatchRequest(refused.id if i % 2 == 0 else fine.id) for i in range(8)]
    results = await collect(client.batches.duplicate_many(requests, concurrency=1))
    assert isinstance(results[0].error, PermissionDeniedError)
    assert all(isinstance(r.error, RunStoppedError) for r in results[2::2])
    assert all(r.ok for r in results[1::2])
    assert source_gets(fake) == 2  # one per source


@pytest.mark.parametrize("concurrency", [1, 4])
async def test_a_missing_source_is_fetched_once_and_fails_every_copy(
    client: ProlificClient, fake: FakeProlific, concurrency: int
) -> None:
    """A source that is not found is asked for once; every copy fails with the NotFoundError."""
    missing = "0" * 24
    requests = [DuplicateBatchRequest(missing) for _ in range(6)]
    results = await collect(client.batches.duplicate_many(requests, concurrency=concurrency))
    assert all(isinstance(r.error, NotFoundError) for r in results)
    assert source_gets(fake) == 1
    assert posts(fake) == 0


async def test_the_stop_says_which_sends_it_cancelled() -> None:
    """A stop cancels the tracked sends that reached nothing, and only untrack tells so."""
    from prolific_async._bulk_stop import RunStop
    from prolific_async._call import CallState

    forever = asyncio.Event()
    unsent = asyncio.create_task(forever.wait())
    on_the_wire = asyncio.create_task(forever.wait())
    stop = RunStop(1)
    stop.track(unsent, CallState(deadline=0.0))
    stop.track(on_the_wire, CallState(deadline=0.0, in_flight=True))
    await asyncio.sleep(0)
    stop.not_sent(APIConnectionError("refused", method="POST", url="http://x"))
    with pytest.raises(asyncio.CancelledError):
        await unsent
    assert stop.untrack(unsent) is True
    assert stop.untrack(unsent) is False  # told once
    assert not on_the_wire.done()  # it may have reached the server: left to finish
    assert stop.untrack(on_the_wire) is False
    on_the_wire.cancel()
