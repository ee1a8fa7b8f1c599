"""Each attempt's read timeout, kept by the call's deadline on the client's own session.

``timeout=`` allows each attempt that many seconds without progress (its connection
made, the answer's headers, each chunk of a body read), as aiohttp's ``sock_read`` did,
but on the client's shared deadline timer. A caller's ``session=`` keeps ``sock_read``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import AsyncIterator
from typing import Any
from unittest import mock

import aiohttp
import pytest
from aiohttp import web

from prolific_async import APIResponse, ProlificClient, RetryPolicy, TaskDetails, _retry, errors
from prolific_async._body import RawBody, read_body, with_body
from prolific_async._deadline import Deadline, Deadlines
from prolific_async._options import request_options
from prolific_async._retry import RetryMiddleware

from .conftest import SCRIPTED_BATCH, TOKEN, ScriptedAPI, StartServer, server_url

#: A read timeout a stalled answer exceeds and a loopback answer never does, even loaded.
READ_TIMEOUT = 0.2
ONE_ATTEMPT = RetryPolicy(attempts=1, timeout=10.0)
TWO_ATTEMPTS = RetryPolicy(attempts=2, timeout=10.0, wait_initial=0.001, wait_jitter=0.0)
DETAILS = TaskDetails(task_name="t", task_introduction="i", task_steps="s")


async def test_an_attempt_reading_without_progress_is_cut_when_idle() -> None:
    """No touch for ``idle`` seconds while an attempt reads: the block is cut."""
    loop = asyncio.get_running_loop()
    deadlines = Deadlines(idle=3600.0)
    now = loop.time()
    watch = deadlines.start(loop, now + 7200.0, now - 3600.0)  # its reads due now
    watch.begin_reads(now - 3600.0)
    with pytest.raises(TimeoutError), watch:
        await asyncio.sleep(30)
    assert not watch.expired  # the read timeout's cut, not the call's deadline


async def test_a_touched_attempt_waits_on_from_its_last_touch() -> None:
    """Progress since the attempt began: when due, the entry waits on instead of cutting."""
    loop = asyncio.get_running_loop()
    deadlines = Deadlines(idle=3600.0)
    now = loop.time()
    with deadlines.start(loop, now + 7200.0, now - 3600.0) as watch:  # due at once...
        watch.begin_reads(now - 3600.0)
        watch.touch()  # ...but the attempt just made progress: 3600 s from here
        for _ in range(3):  # turns of the loop in which the shared timer fires
            await asyncio.sleep(0)
        assert len(deadlines) == 0  # the shared timer took it off its queue
        assert not watch.idled
    assert watch.finished
    assert not watch.expired


async def test_an_idle_read_cuts_once_idle_again_after_its_last_touch() -> None:
    """After its last touch, ``idle`` seconds of no progress cut the block."""
    loop = asyncio.get_running_loop()
    deadlines = Deadlines(idle=0.02)
    now = loop.time()
    watch = deadlines.start(loop, now + 3600.0, now)
    watch.begin_reads(now)
    watch.touch()
    with pytest.raises(TimeoutError), watch:
        await asyncio.sleep(30)
    assert loop.time() >= watch.touched + 0.02


async def test_between_attempts_only_the_calls_deadline_counts() -> None:
    """Not reading (a backoff, say), the entry waits for the call's deadline alone."""
    loop = asyncio.get_running_loop()
    deadlines = Deadlines(idle=0.001)
    now = loop.time()
    with deadlines.start(loop, now + 3600.0, now) as watch:
        await asyncio.sleep(0.01)  # past the read timeout, with no attempt reading
        assert not watch.idled
        assert not watch.expired


async def _cut_by_its_read_timeout(deadline_in: float) -> Deadline:
    """A call whose first attempt was cut by its read timeout, taken back (it goes on)."""
    loop = asyncio.get_running_loop()
    now = loop.time()
    watch = Deadlines(idle=0.001).start(loop, now + deadline_in, now)
    watch.begin_reads(now)
    with pytest.raises(asyncio.CancelledError):
        await asyncio.sleep(30)
    assert watch.idled_out()
    watch.reading = False
    return watch


async def test_a_read_timeout_taken_back_keeps_the_calls_deadline() -> None:
    """After ``idled_out`` the call goes on, and its deadline still cuts it."""
    watch = await _cut_by_its_read_timeout(0.05)
    with pytest.raises(TimeoutError), watch:
        await asyncio.sleep(30)
    assert watch.expired


async def test_a_retry_after_a_read_timeout_is_timed_from_its_own_start() -> None:
    """The next attempt's reads are timed again, not left to the call's deadline."""
    watch = await _cut_by_its_read_timeout(3600.0)
    watch.begin_reads(asyncio.get_running_loop().time())  # the retry
    with pytest.raises(TimeoutError), watch:
        await asyncio.sleep(30)
    assert not watch.expired


async def test_a_cancel_from_outside_an_attempt_stays_a_cancel() -> None:
    """``timed_out`` and ``idled_out`` say no to a cancellation the deadline did not make."""
    loop = asyncio.get_running_loop()
    now = loop.time()
    watch = Deadlines(idle=3600.0).start(loop, now + 3600.0, now)
    watch.begin_reads(now)
    task = asyncio.current_task()
    assert task is not None
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.sleep(30)
    assert not watch.timed_out()
    assert not watch.idled_out()
    watch.end()
    assert task.uncancel() == 0  # the outside cancel was left for its owner


def test_a_deadline_outside_a_task_is_refused() -> None:
    """Made with no running task, an entry says so instead of timing nothing."""
    loop = asyncio.new_event_loop()
    try:
        with pytest.raises(RuntimeError, match="inside a task"):
            Deadline(loop, 0.0, idle=1.0)
    finally:
        loop.close()


class Touches:
    """A progress that counts its touches."""

    def __init__(self) -> None:
        self.count = 0

    def touch(self) -> None:
        self.count += 1


@pytest.fixture
async def body_of(start_server: StartServer) -> AsyncIterator[Any]:
    """GET a body of ``size`` bytes (with its Content-Length) from a loopback server."""

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * int(request.query["size"]))

    server = await start_server(handler)
    async with aiohttp.ClientSession() as session:

        async def get(size: int, progress: Touches) -> bytes:
            async with session.get(server.make_url(f"/?size={size}")) as response:
                return await read_body(response, 10**7, progress=progress)

        yield get


async def test_a_large_body_touches_its_progress_for_each_chunk(body_of: Any) -> None:
    """A body over one chunk (64 KiB) is read chunk by chunk, each one progress."""
    touches = Touches()
    body = await body_of(200 * 1024, touches)
    assert len(body) == 200 * 1024
    assert touches.count >= 4  # at most 64 KiB a chunk


async def test_a_body_of_one_chunk_is_read_at_once(body_of: Any) -> None:
    """A body of at most one chunk is one read: no progress to tell."""
    touches = Touches()
    assert len(await body_of(1000, touches)) == 1000
    assert touches.count == 0


async def test_the_attempt_touches_its_read_timeout_as_it_progresses(
    scripted_api: ScriptedAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connection made and the answer's headers each count as the attempt's progress."""
    touched: list[float] = []
    real_touch = Deadline.touch

    def touch(self: Deadline) -> None:
        touched.append(self.touched)
        real_touch(self)

    monkeypatch.setattr(Deadline, "touch", touch)
    async with ProlificClient(TOKEN, base_url=scripted_api.url, timeout=30.0) as client:
        batch = await client.batches.get(SCRIPTED_BATCH["id"])
    assert batch.id == SCRIPTED_BATCH["id"]
    assert len(touched) == 1  # the connector's (the headers are stamped in place)


async def test_a_stalled_answer_is_cut_by_the_read_timeout(scripted_api: ScriptedAPI) -> None:
    """No answer within ``timeout``: a read timeout, as aiohttp's ``sock_read`` raised."""
    scripted_api.then(("stall_before",))
    async with ProlificClient(
        TOKEN, base_url=scripted_api.url, timeout=READ_TIMEOUT, retry=ONE_ATTEMPT
    ) as client:
        with pytest.raises(errors.APIConnectionError) as caught:
            await client.batches.get(SCRIPTED_BATCH["id"])
    assert isinstance(caught.value.__cause__, aiohttp.SocketTimeoutError)


async def test_a_connect_past_the_read_timeout_was_not_sent_so_a_post_is_retried(
    scripted_api: ScriptedAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cut before its connection came, an attempt sent nothing: even a POST goes again."""
    real_connect = aiohttp.TCPConnector.connect
    hung: list[bool] = []

    async def connect_once_hung(self: aiohttp.TCPConnector, *args: Any, **kwargs: Any) -> Any:
        if not hung:
            hung.append(True)
            await asyncio.Event().wait()  # the read timeout cuts this attempt
        return await real_connect(self, *args, **kwargs)

    monkeypatch.setattr(aiohttp.TCPConnector, "connect", connect_once_hung)
    async with ProlificClient(
        TOKEN, base_url=scripted_api.url, timeout=READ_TIMEOUT, retry=TWO_ATTEMPTS
    ) as client:
        batch = await client.batches.create(name="n", workspace_id="w", task_details=DETAILS)
    assert hung == [True]  # the first connect was the one cut
    assert batch.id == SCRIPTED_BATCH["id"]
    assert (scripted_api.received, scripted_api.applied) == (1, 1)


async def test_an_error_answer_whose_body_stalls_is_cut_by_the_read_timeout(
    start_server: StartServer,
) -> None:
    """A 503 returned unread on the last attempt is read within the read timeout too."""
    release = asyncio.Event()

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(status=503)
        response.content_length = 100
        await response.prepare(request)
        await response.write(b"partial")
        await release.wait()
        return response

    server = await start_server(handler)
    try:
        async with ProlificClient(
            TOKEN, base_url=server_url(server), timeout=READ_TIMEOUT, retry=ONE_ATTEMPT
        ) as client:
            with pytest.raises(errors.APIConnectionError) as caught:
                await client.batches.get(SCRIPTED_BATCH["id"])
        assert isinstance(caught.value.__cause__, aiohttp.SocketTimeoutError)
    finally:
        release.set()


async def test_a_derived_client_cuts_with_its_own_read_timeout(
    scripted_api: ScriptedAPI,
) -> None:
    """``with_options(timeout=)`` times the derived client's reads, not the parent's."""
    scripted_api.then(("stall_before",))
    async with ProlificClient(
        TOKEN, base_url=scripted_api.url, timeout=30.0, retry=ONE_ATTEMPT
    ) as client:
        derived = client.with_options(timeout=READ_TIMEOUT)
        async with asyncio.timeout(10):  # the parent's 30 s would run past this
            with pytest.raises(errors.APIConnectionError) as caught:
                await derived.batches.get(SCRIPTED_BATCH["id"])
    assert isinstance(caught.value.__cause__, aiohttp.SocketTimeoutError)


async def test_a_callers_session_keeps_aiohttps_read_timeout(scripted_api: ScriptedAPI) -> None:
    """On a caller's ``session=`` (no connection tracking) ``sock_read`` cuts the stall."""
    scripted_api.then(("stall_before",))
    async with aiohttp.ClientSession() as session:
        client = ProlificClient(
            TOKEN,
            base_url=scripted_api.url,
            session=session,
            timeout=READ_TIMEOUT,
            retry=ONE_ATTEMPT,
        )
        async with client:
            with pytest.raises(errors.APIConnectionError) as caught:
                await client.batches.get(SCRIPTED_BATCH["id"])
    assert isinstance(caught.value.__cause__, aiohttp.SocketTimeoutError)


PER_ATTEMPT = aiohttp.ClientTimeout(total=None, connect=5.0, sock_read=5.0)


def _options_on(session: aiohttp.ClientSession | None) -> dict[str, Any]:
    return request_options(
        headers={},
        timeout=PER_ATTEMPT,
        middleware=RetryMiddleware(RetryPolicy()),
        session=session,
        derived=False,
        proxy=None,
    )


def test_only_the_clients_own_session_drops_sock_read() -> None:
    """Our session's requests carry no ``sock_read`` (the call's deadline keeps it)."""
    timeout = _options_on(None)["timeout"]
    assert (timeout.sock_read, timeout.connect) == (None, 5.0)


async def test_request_options_of_a_callers_session_keep_sock_read() -> None:
    """A caller's session's requests keep the whole per-attempt timeout."""
    async with aiohttp.ClientSession() as session:
        assert _options_on(session)["timeout"] is PER_ATTEMPT


async def test_an_answer_that_came_as_its_read_timeout_fell_due_is_kept() -> None:
    """The answer and the read timeout due in one turn of the loop: the answer wins."""
    loop = asyncio.get_running_loop()
    body = json.dumps(SCRIPTED_BATCH).encode()
    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}"
    answer = head.encode() + b"\r\n\r\n" + body
    blocking, sent = threading.Event(), threading.Event()
    found_due: list[bool] = []
    real_expire = Deadline.expire

    def expire(self: Deadline) -> None:
        found_due.append(self.reading and self.touched + READ_TIMEOUT <= loop.time())
        real_expire(self)

    def hold_the_loop() -> None:  # in the loop: the answer comes, the timeout falls due
        until = loop.time() + READ_TIMEOUT + 0.05  # every touch came before the request
        blocking.set()
        sent.wait(5)
        while loop.time() < until:
            time.sleep(0.005)

    def serve(listener: socket.socket) -> None:
        connection, _ = listener.accept()
        with connection:
            connection.settimeout(5)
            request = b""
            while b"\r\n\r\n" not in request:
                request += connection.recv(65536)
            loop.call_soon_threadsafe(hold_the_loop)
            blocking.wait(5)
            connection.sendall(answer)
            sent.set()
            with contextlib.suppress(OSError):
                connection.recv(1)  # until the client closes

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        server = threading.Thread(target=serve, args=(listener,), daemon=True)
        server.start()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        with mock.patch.object(Deadline, "expire", expire):
            async with ProlificClient(
                TOKEN, base_url=url, timeout=READ_TIMEOUT, retry=ONE_ATTEMPT
            ) as client:
                batch = await client.batches.get(SCRIPTED_BATCH["id"])
        server.join(5)
    assert batch.id == SCRIPTED_BATCH["id"]
    assert found_due == [True]  # the read was due as the answer came: the race was run


async def test_the_answers_headers_give_its_body_the_read_timeout_anew(
    scripted_api: ScriptedAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The headers' arrival is progress: the body's read is timed from it, not from the send."""
    begun: list[float] = []
    at_body: list[float] = []
    real_begin, real_read = Deadline.begin_reads, _retry.read_body

    def begin(self: Deadline, now: float) -> None:
        begun.append(now)
        real_begin(self, now)

    async def read(response: Any, limit: int, **kwargs: Any) -> bytes:
        at_body.append(kwargs["progress"].touched)
        return await real_read(response, limit, **kwargs)

    monkeypatch.setattr(Deadline, "begin_reads", begin)
    monkeypatch.setattr(Deadline, "touch", lambda self: None)  # the connector's, aside
    monkeypatch.setattr(_retry, "read_body", read)
    async with ProlificClient(TOKEN, base_url=scripted_api.url, timeout=30.0) as client:
        await client.batches.get(SCRIPTED_BATCH["id"])
    assert len(begun) == len(at_body) == 1
    assert at_body[0] > begun[0]


async def test_an_outside_cancel_along_with_a_read_timeout_stays_a_cancel() -> None:
    """Cut by its read timeout and cancelled from outside before it ran: a cancellation."""
    loop = asyncio.get_running_loop()
    deadlines = Deadlines(idle=1.0)
    entries: list[Deadline] = []
    seen: list[object] = []

    async def attempt() -> None:
        now = loop.time()
        watch = deadlines.start(loop, now + 3600.0, now)
        entries.append(watch)
        watch.begin_reads(now - 10.0)  # idle already
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            seen.append(watch.idled_out())
            seen.append(asyncio.current_task().cancelling())  # type: ignore[union-attr]
            raise
        finally:
            watch.end()

    task = asyncio.create_task(attempt())
    await asyncio.sleep(0)  # it waits
    entries[0].expire()  # its read is due: looked at again in the next turn
    await asyncio.sleep(0)  # that look cancels it
    assert entries[0].idled
    task.cancel()  # and a cancel from outside, before it runs
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == [False, 1]


async def test_ending_takes_back_an_expiry_its_block_swallowed() -> None:
    """A deadline's cancellation caught and dropped in the block leaves no cancel count."""
    loop = asyncio.get_running_loop()
    watch = Deadlines().start(loop, loop.time())  # due at the next turn
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.sleep(30)
    watch.end()
    assert watch.expired
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


async def test_closing_the_deadlines_keeps_the_timer_of_a_call_still_running() -> None:
    """Closed with a call still running, the shared timer still cuts it at its deadline."""
    loop = asyncio.get_running_loop()
    deadlines = Deadlines()
    watch = deadlines.start(loop, loop.time())  # due at the next turn
    deadlines.close()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.sleep(30)
    watch.end()
    assert watch.expired


async def test_a_raw_body_upload_leaves_its_reads_to_aiohttps_sock_read(
    start_server: StartServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sending a raw body is not timed as reading the answer: ``sock_read`` starts after it."""
    begun: list[float] = []
    monkeypatch.setattr(Deadline, "begin_reads", lambda self, now: begun.append(now))

    async def handler(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({})

    server = await start_server(handler)
    async with ProlificClient(TOKEN, base_url=server_url(server), timeout=30.0) as client:
        await client.request("POST", "/x", cast_to=APIResponse, body=RawBody(b"a\n", "text/x"))
        assert begun == []
        await client.request("POST", "/x", cast_to=APIResponse, body={"a": 1})
        assert len(begun) == 1
    timeout = aiohttp.ClientTimeout(total=None, connect=5.0, sock_read=5.0)
    options = with_body(
        {"headers": {}, "json": None}, RawBody(b"", "x"), None, upload_timeout=timeout
    )
    assert options["timeout"] is timeout


async def _read_due_and_looked_at_next_turn() -> Deadline:
    """An entry on its own timer whose read fell due: this step runs before the look."""
    loop = asyncio.get_running_loop()
    now = loop.time()
    watch = Deadline(loop, now + 3600.0, idle=0.05, now=now - 1.0)  # fires next turn
    watch.begin_reads(now - 1.0)
    await asyncio.sleep(0)  # its timer fires in this turn, after this step...
    await asyncio.sleep(0)  # ...and looks again in the next, after this step
    return watch


async def test_progress_before_the_look_waits_on_and_is_timed_from_there() -> None:
    """Progress between the read falling due and the look: no cut, re-armed from it."""
    watch = await _read_due_and_looked_at_next_turn()
    watch.touch()  # the answer's data came in the turn its read fell due
    await asyncio.sleep(0)
    assert not watch.idled
    with pytest.raises(TimeoutError), watch:
        await asyncio.sleep(1)  # re-armed: cut 0.05 s after the touch
    assert not watch.expired


async def test_an_attempt_that_ended_before_the_look_is_not_cut() -> None:
    """An attempt that ended before the look (a status to retry) is not cancelled."""
    watch = await _read_due_and_looked_at_next_turn()
    watch.reading = False  # a 503 to retry came: the attempt ended before the look
    await asyncio.sleep(0)
    await asyncio.sleep(0.01)
    assert not watch.idled
    watch.end()


async def test_a_new_attempt_begun_before_the_look_has_its_own_read_timeout() -> None:
    """A new attempt begun before the look (read_left, a retry at once) is timed anew."""
    watch = await _read_due_and_looked_at_next_turn()
    watch.reading = False
    watch.begin_reads(asyncio.get_running_loop().time())  # read_left, or a retry at once
    await asyncio.sleep(0)
    assert not watch.idled
    with pytest.raises(TimeoutError), watch:
        await asyncio.sleep(1)
    assert not watch.expired


async def test_a_retry_after_a_swallowed_cut_is_still_timed() -> None:
    """A read-timeout cut caught and dropped: the next attempt still has its read timeout."""
    loop = asyncio.get_running_loop()
    now = loop.time()
    watch = Deadlines(idle=0.02).start(loop, now + 3600.0, now)
    watch.begin_reads(now)
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.sleep(30)  # cut, and the cut is swallowed (never idled_out)
    watch.reading = False
    watch.begin_reads(loop.time())  # the retry
    with pytest.raises(asyncio.CancelledError):
        await asyncio.sleep(30)  # cut again (a cancel: the first one was never taken back)
    watch.end()
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


def test_an_upload_waits_on_its_own_timer_and_leaves_the_queue_in_order() -> None:
    """A call whose reads are not timed (a raw body) never holds later calls off the queue."""

    async def calls() -> tuple[bool, bool, bool]:
        loop = asyncio.get_running_loop()
        deadlines = Deadlines(idle=30.0)
        now = loop.time()
        upload = deadlines.start(loop, now + 60.0, None)
        later = deadlines.start(loop, now + 60.0, now)
        upload.end()
        after = deadlines.start(loop, loop.time() + 60.0, loop.time())
        queued = (upload.queued, later.queued, after.queued)
        later.end()
        after.end()
        return queued

    assert asyncio.run(calls()) == (False, True, True)
