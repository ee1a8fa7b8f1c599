"""The send time a journal holds is not earlier than the real send, short of a margin."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from prolific_async import Journal, JournalError, ProlificClient, _late_send
from prolific_async._journal import JournalEntry
from prolific_async.testing import FakeProlific

from .conftest import TOKEN, StartServer, server_url
from .test_bulk import FAST, _no_retry_waits, collect, creates, fake, served_batch

__all__ = ["_no_retry_waits", "fake"]  # the fixtures, shared with the bulk tests


@pytest.mark.parametrize("answer", [201, 400], ids=["made", "refused"])
async def test_a_send_held_in_the_clients_slots_journals_its_real_time(
    start_server: StartServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, answer: int
) -> None:
    """Concurrency 2 over max_connections 1: the waiting send's journaled time is after the wait."""
    monkeypatch.setattr(_late_send, "LATE_SEND_MARGIN", timedelta(0))  # any wait counts
    both_started = asyncio.Event()
    released_at: list[datetime] = []

    async def handler(request: web.Request) -> web.Response:
        name = (await request.json())["name"]
        if not released_at:  # the first POST: held until the other item journaled its start
            await asyncio.wait_for(both_started.wait(), 10)
            released_at.append(datetime.now(UTC))
        elif answer == 400:
            return web.json_response({"error": {"detail": "refused"}}, status=400)
        return web.json_response(served_batch(name), status=201)

    server = await start_server(handler)
    journal = Journal(tmp_path / "run.db")
    write_start = journal.write_start
    started: list[object] = []

    async def spy(item: Any, fingerprint: str, *, at: datetime) -> None:
        await write_start(item, fingerprint, at=at)
        started.append(item)
        if len(started) == 2:  # the second item is past its journaled time, about to send
            both_started.set()

    monkeypatch.setattr(journal, "write_start", spy)
    async with ProlificClient(
        TOKEN, base_url=server_url(server), retry=FAST, max_connections=1
    ) as client:
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
    write_sent = Journal.write_sent

    async def spy(self: Journal, item: Any, fingerprint: str, *, at: datetime) -> None:
        late.append(item)
        await write_sent(self, item, fingerprint, at=at)

    monkeypatch.setattr(Journal, "write_sent", spy)
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
    write_start = journal.write_start
    started = asyncio.Event()

    async def spy(item: Any, fingerprint: str, *, at: datetime) -> None:
        await write_start(item, fingerprint, at=at)
        started.set()

    monkeypatch.setattr(journal, "write_start", spy)
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
        if not released_at:  # the first POST: held until the other item journaled its start
            await asyncio.wait_for(both_started.wait(), 10)
            released_at.append(datetime.now(UTC))
        elif index in queued:  # the held one: its record was queued as it got its connection
            await asyncio.wait_for(asyncio.shield(queued[index]), 10)
            seen.update(Journal(path).read("create"))  # what a kill now would leave
        return web.json_response(served_batch(name), status=201)

    server = await start_server(handler)
    journal = Journal(path)
    write_start, write_sent_soon = journal.write_start, journal.write_sent_soon
    started: list[object] = []

    async def spy_start(item: Any, fingerprint: str, *, at: datetime) -> None:
        await write_start(item, fingerprint, at=at)
        started.append(item)
        if len(started) == 2:  # the second item is past its journaled time, about to send
            both_started.set()

    def spy_sent(item: Any, fingerprint: str, *, at: datetime) -> asyncio.Future[None]:
        queued[item] = write_sent_soon(item, fingerprint, at=at)
        return queued[item]

    monkeypatch.setattr(journal, "write_start", spy_start)
    monkeypatch.setattr(journal, "write_sent_soon", spy_sent)
    async with ProlificClient(
        TOKEN, base_url=server_url(server), retry=FAST, max_connections=1
    ) as client:
        run = client.batches.create_many(creates(2), concurrency=2, journal=journal)
        results = await asyncio.wait_for(collect(run), 20)
    assert all(result.ok for result in results)
    assert len(seen) == 2  # the held send's answer waited for its record's commit
    held = [entry for entry in seen.values() if entry.batch is None]
    assert len(held) == 1  # read before its answer: no batch yet
    assert held[0].started_at is not None
    assert held[0].started_at < released_at[0]  # journaled before the wait
    assert held[0].last_sent_at is not None
    assert held[0].last_sent_at >= released_at[0]  # and its real time before the answer


async def test_a_late_record_the_journal_refuses_fails_the_run_after_the_call(
    fake: FakeProlific, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A journal refusing the record queued as a send went out: JournalError, the answer read."""
    monkeypatch.setattr(_late_send, "LATE_SEND_MARGIN", timedelta(-1))  # every send is late
    journal = Journal(tmp_path / "run.db")

    def refuse(item: Any, fingerprint: str, *, at: datetime) -> asyncio.Future[None]:
        raise JournalError("the disk is full")

    monkeypatch.setattr(journal, "write_sent_soon", refuse)
    async with fake.client(retry=FAST) as client:
        run = client.batches.create_many(creates(1), journal=journal)
        with pytest.raises(JournalError, match="the disk is full"):
            await asyncio.wait_for(collect(run), 20)
    assert len(fake.batches) == 1  # sent once, its answer read: the record failed after it
