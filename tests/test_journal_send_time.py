"""The send time a journal holds is not earlier than the real send, short of a margin."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from prolific_async import Journal, JournalError, ProlificClient, _late_send
from prolific_async._call import CallState
from prolific_async._journal import JournalEntry
from prolific_async.models.batches import Batch
from prolific_async.testing import FakeProlific

from .conftest import TOKEN, StartServer, server_url
from .test_bulk import FAST, _no_retry_waits, collect, creates, fake, served_batch

__all__ = ["_no_retry_waits", "fake"]  # the fixtures, shared with the bulk tests


def signal_after_starts(
    monkeypatch: pytest.MonkeyPatch, journal: Journal, count: int, event: asyncio.Event
) -> None:
    """Set ``event`` once ``count`` items' starts are journaled (their sends about to go)."""
    write_start = journal.write_start
    started: list[object] = []

    async def spy(item: Any, fingerprint: str, *, at: datetime) -> None:
        await write_start(item, fingerprint, at=at)
        started.append(item)
        if len(started) == count:
            event.set()

    monkeypatch.setattr(journal, "write_start", spy)


async def first_held(event: asyncio.Event, released_at: list[datetime]) -> bool:
    """For the first POST: wait for ``event``, note when it let go, True (later ones: False)."""
    if released_at:
        return False
    await asyncio.wait_for(event.wait(), 10)
    released_at.append(datetime.now(UTC))
    return True


@pytest.mark.parametrize("session", ["own", "caller"])
@pytest.mark.parametrize("answer", [201, 400], ids=["made", "refused"])
async def test_a_send_held_in_the_clients_slots_journals_its_real_time(
    start_server: StartServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    answer: int,
    session: str,
) -> None:
    """Concurrency 2 over max_connections 1: the waiting send's journaled time is after the wait."""
    monkeypatch.setattr(_late_send, "LATE_SEND_MARGIN", timedelta(0))  # any wait counts
    both_started = asyncio.Event()
    released_at: list[datetime] = []

    async def handler(request: web.Request) -> web.Response:
        name = (await request.json())["name"]
        # The first POST is held until the other item journaled its start.
        if not await first_held(both_started, released_at) and answer == 400:
            return web.json_response({"error": {"detail": "refused"}}, status=400)
        return web.json_response(served_batch(name), status=201)

    server = await start_server(handler)
    journal = Journal(tmp_path / "run.db")
    signal_after_starts(monkeypatch, journal, 2, both_started)  # the second about to send
    async with contextlib.AsyncExitStack() as stack:
        caller = None  # a caller's session= (no connection seen): timed at the call's end
        if session == "caller":
            caller = await stack.enter_async_context(aiohttp.ClientSession())
        client = await stack.enter_async_context(
            ProlificClient(
                TOKEN, base_url=server_url(server), retry=FAST, max_connections=1, session=caller
            )
        )
        run = client.batches.create_many(creates(2), concurrency=2, journal=journal)
        results = await asyncio.wait_for(collect(run), 20)
    assert len(released_at) == 1
    first = 0 if results[0].ok else 1  # the held one is the one that was made
    assert results[first].ok
    assert results[1 - first].ok == (answer == 201)
    entry = Journal(tmp_path / "run.db").read("create")[1 - first]
    assert entry.started_at is not None
    assert entry.started_at < released_at[0]  # journaled before the wait, as before
    assert entry.last_sent_at is not None
    # It could not go out before the held POST was answered: the journal says so.
    assert entry.last_sent_at >= released_at[0]
    assert (entry.error is not None) == (answer == 400)


async def test_a_send_that_waited_for_nothing_writes_one_record(
    fake: FakeProlific, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Within max_connections, each item's journal holds its start and done, no late 'sent'."""
    late: list[object] = []
    write_sent_soon = Journal.write_sent_soon  # what write_sent queues through, too

    def spy(self: Journal, item: Any, fingerprint: str, *, at: datetime) -> asyncio.Future[None]:
        late.append(item)
        return write_sent_soon(self, item, fingerprint, at=at)

    monkeypatch.setattr(Journal, "write_sent_soon", spy)
    async with fake.client(retry=FAST, max_connections=8) as client:
        run = client.batches.create_many(creates(8), concurrency=8, journal=Journal(tmp_path / "j"))
        results = await collect(run)
    assert all(result.ok for result in results)
    assert late == []


async def test_a_send_held_by_a_storage_transfer_on_the_connection_journals_its_real_time(
    start_server: StartServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A transfer holds max_connections' one connection: the send's journaled time is after it."""
    monkeypatch.setattr(_late_send, "LATE_SEND_MARGIN", timedelta(0))  # any wait counts
    release = asyncio.Event()
    transferring = asyncio.Event()
    posted = asyncio.Event()

    async def handler(request: web.Request) -> web.Response:
        if request.path == "/storage":  # the transfer: held until the test releases it
            transferring.set()
            await asyncio.wait_for(release.wait(), 10)
            return web.Response(text="stored")
        posted.set()
        return web.json_response(served_batch((await request.json())["name"]), status=201)

    server = await start_server(handler)
    journal = Journal(tmp_path / "run.db")
    started = asyncio.Event()
    signal_after_starts(monkeypatch, journal, 1, started)
    async with (
        ProlificClient(TOKEN, base_url=server_url(server), retry=FAST, max_connections=1) as client,
        client.storage_session() as storage,
    ):
        transfer = asyncio.create_task(storage.get(f"{server_url(server)}/storage"))
        await asyncio.wait_for(transferring.wait(), 10)  # it has the one connection
        run = asyncio.create_task(collect(client.batches.create_many(creates(1), journal=journal)))
        await asyncio.wait_for(started.wait(), 10)  # journaled; its POST waits for a connection
        assert not posted.is_set()
        released_at = datetime.now(UTC)
        release.set()
        (await asyncio.wait_for(transfer, 10)).release()  # the connection is free again
        results = await asyncio.wait_for(run, 20)
    assert results[0].ok
    entry = Journal(tmp_path / "run.db").read("create")[0]
    assert entry.started_at is not None
    assert entry.started_at < released_at
    assert entry.last_sent_at is not None
    assert entry.last_sent_at >= released_at  # it went out once the transfer let go


async def test_a_held_send_is_journaled_as_it_goes_out_before_its_answer(
    start_server: StartServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A held send's real time is committed before the server answers: a kill mid-call keeps it."""
    monkeypatch.setattr(_late_send, "LATE_SEND_MARGIN", timedelta(0))  # any wait counts
    path = tmp_path / "run.db"
    names = [request.name for request in creates(2)]
    both_started = asyncio.Event()
    released_at: list[datetime] = []
    queued: dict[object, asyncio.Future[None]] = {}
    seen: dict[int, JournalEntry] = {}

    async def handler(request: web.Request) -> web.Response:
        name = (await request.json())["name"]
        index = names.index(name)
        # The first POST is held until the other item journaled its start; the other, held
        # by the client, had its record queued as it got its connection.
        if not await first_held(both_started, released_at) and index in queued:
            await asyncio.wait_for(asyncio.shield(queued[index]), 10)
            seen[index] = Journal(path).read("create")[index]  # what a kill now would leave
        return web.json_response(served_batch(name), status=201)

    server = await start_server(handler)
    journal = Journal(path)
    signal_after_starts(monkeypatch, journal, 2, both_started)  # the second about to send
    write_sent_soon = journal.write_sent_soon

    def spy_sent(item: Any, fingerprint: str, *, at: datetime) -> asyncio.Future[None]:
        queued[item] = write_sent_soon(item, fingerprint, at=at)
        return queued[item]

    monkeypatch.setattr(journal, "write_sent_soon", spy_sent)
    async with ProlificClient(
        TOKEN, base_url=server_url(server), retry=FAST, max_connections=1
    ) as client:
        run = client.batches.create_many(creates(2), concurrency=2, journal=journal)
        results = await asyncio.wait_for(collect(run), 20)
    assert all(result.ok for result in results)
    assert len(seen) == 1  # the held send's answer waited for its record's commit
    (held,) = seen.values()
    assert held.batch is None  # read before its answer
    assert held.started_at is not None
    assert held.started_at < released_at[0]  # journaled before the wait
    assert held.last_sent_at is not None
    assert held.last_sent_at >= released_at[0]  # and its real time before the answer


@pytest.mark.parametrize("error", [JournalError, ValueError])
async def test_a_late_record_the_journal_refuses_fails_the_run_after_the_call(
    fake: FakeProlific, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: type[Exception]
) -> None:
    """A journal refusing the record queued as a send went out: JournalError once it is read."""
    monkeypatch.setattr(_late_send, "LATE_SEND_MARGIN", timedelta(0))  # any wait counts
    journal = Journal(tmp_path / "run.db")

    def refuse(item: Any, fingerprint: str, *, at: datetime) -> asyncio.Future[None]:
        raise error("the disk is full")

    monkeypatch.setattr(journal, "write_sent_soon", refuse)
    async with fake.client(retry=FAST, max_connections=1) as client:
        run = client.batches.create_many(creates(1), journal=journal)
        with pytest.raises(JournalError, match="the disk is full"):
            await asyncio.wait_for(collect(run), 20)
        assert len(fake.batches) == 1  # sent once, its answer read: the record failed after it
        # Its connection was given back: the one connection serves the next call.
        made = next(iter(fake.batches))
        assert (await asyncio.wait_for(client.batches.get(made), 10)).id == made


async def test_a_connection_hook_that_raises_gives_its_connection_back(fake: FakeProlific) -> None:
    """CallState.on_connected raising: the call fails with it, and the connection is not kept."""
    batch = fake.add_batch()

    def broken(state: CallState) -> None:
        raise RuntimeError("a broken hook")

    async with fake.client(retry=FAST, max_connections=1) as client:
        with pytest.raises(RuntimeError, match="a broken hook"):
            await client.request(
                "GET",
                f"/api/v1/data-collection/batches/{batch.id}",
                cast_to=Batch,
                state=CallState(deadline=0.0, on_connected=broken),
            )
        assert (await asyncio.wait_for(client.batches.get(batch.id), 10)).id == batch.id


@pytest.mark.parametrize("refused", [False, True], ids=["recorded", "refused"])
async def test_a_run_cancelled_mid_call_keeps_the_real_time_and_logs_nothing(
    start_server: StartServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, refused: bool
) -> None:
    """Cancelled while the held send awaits its answer: its real time is kept, nothing logged."""
    monkeypatch.setattr(_late_send, "LATE_SEND_MARGIN", timedelta(0))  # any wait counts
    path = tmp_path / "run.db"
    both_started, held_arrived, release = asyncio.Event(), asyncio.Event(), asyncio.Event()
    released_at: list[datetime] = []
    names = [request.name for request in creates(2)]
    held: list[int] = []

    async def handler(request: web.Request) -> web.Response:
        name = (await request.json())["name"]
        # The first POST is held until the other item journaled its start.
        if not await first_held(both_started, released_at):  # the held one: never answered
            held.append(names.index(name))
            held_arrived.set()
            await release.wait()
        return web.json_response(served_batch(name), status=201)

    server = await start_server(handler)
    journal = Journal(path)
    signal_after_starts(monkeypatch, journal, 2, both_started)
    if refused:  # the record's failure is never read: the run is cancelled first

        def refuse(item: Any, fingerprint: str, *, at: datetime) -> asyncio.Future[None]:
            raise JournalError("the disk is full")

        monkeypatch.setattr(journal, "write_sent_soon", refuse)
    loop = asyncio.get_running_loop()
    stray: list[dict[str, Any]] = []
    monkeypatch.setattr(loop, "call_exception_handler", stray.append)
    try:
        async with ProlificClient(
            TOKEN, base_url=server_url(server), retry=FAST, max_connections=1
        ) as client:
            run = client.batches.create_many(creates(2), concurrency=2, journal=journal)
            task = asyncio.ensure_future(collect(run))
            await asyncio.wait_for(held_arrived.wait(), 10)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    finally:
        release.set()
    del task, run
    gc.collect()  # a future whose error was never read would say so now
    assert stray == []
    entry = Journal(path).read("create")[held[0]]
    assert entry.batch is None
    assert entry.last_sent_at is not None
    assert (entry.last_sent_at >= released_at[0]) is not refused
