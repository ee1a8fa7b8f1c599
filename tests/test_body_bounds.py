"""Response-size caps: a body past its cap is a typed error in bounded time and memory."""

from __future__ import annotations

import asyncio
import functools
import gzip
import json
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web

from prolific_async import (
    CreateBatchRequest,
    ProlificClient,
    ReconciliationError,
    ResponseTooLargeError,
    ResponseValidationError,
    RetryPolicy,
    TaskDetails,
    set_testing,
)
from prolific_async._body import DEFAULT_MAX_LISTING_BYTES, DEFAULT_MAX_RESPONSE_BYTES
from prolific_async.models.batches import Batch
from prolific_async.testing import FakeProlific

from .conftest import StartServer, fixture_json, server_url

TOKEN = "test-token-bounds"
CAP = 256 * 1024
FAST = RetryPolicy(attempts=3, timeout=10.0, wait_initial=0.001, wait_max=0.01, wait_jitter=0.0)
BATCH: dict[str, Any] = fixture_json("get_batch_200.json")
WS = "6278acb09062db3b35bcbeb0"
DETAILS = TaskDetails(task_name="Rate", task_introduction="<p>Hi</p>", task_steps="<ol></ol>")


@pytest.fixture(autouse=True)
def _no_retry_waits() -> Iterator[None]:
    with set_testing():
        yield


@functools.cache
def gzip_bomb() -> bytes:
    """About 64 KB of gzip that decompresses to 64 MiB of JSON."""
    return gzip.compress(b'{"id": "' + b"0" * (64 * 1024 * 1024) + b'"}', compresslevel=9)


class Hostile:
    """A loopback server answering each request with the next scripted body kind."""

    def __init__(self, *kinds: str) -> None:
        self.kinds = list(kinds)
        self.peers: list[Any] = []

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        self.peers.append(
            request.transport.get_extra_info("peername") if request.transport else None
        )
        kind = self.kinds.pop(0) if self.kinds else "ok"
        if kind == "ok":
            return web.json_response(BATCH)
        if kind == "declared":
            response = web.StreamResponse(headers={"Content-Length": "2147483648"})
            await response.prepare(request)
            await response.write(b'{"id": ')
            await asyncio.Event().wait()  # the rest never comes
        if kind == "endless":
            response = web.StreamResponse()
            response.enable_chunked_encoding()
            await response.prepare(request)
            await response.write(b'{"id": "')
            chunk = b"x" * 65536
            with_error = (ConnectionError, RuntimeError)
            for _ in range(1_000_000):  # bounded, but far past any cap: ends when cut
                try:
                    await response.write(chunk)
                except with_error:
                    break
            return response
        if kind == "bomb":
            return web.Response(
                body=gzip_bomb(),
                headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
            )
        raise AssertionError(kind)


async def hostile_client(
    start_server: StartServer, hostile: Hostile, **kwargs: Any
) -> ProlificClient:
    server = await start_server(hostile.handle)
    return ProlificClient(TOKEN, base_url=server_url(server), retry=FAST, timeout=5.0, **kwargs)


@pytest.mark.parametrize("kind", ["declared", "endless", "bomb"])
async def test_an_oversized_body_fails_typed_in_bounded_time_and_memory(
    start_server: StartServer, kind: str
) -> None:
    """A huge declared length, an endless chunked body and a gzip bomb each fail typed."""
    hostile = Hostile(kind)
    gzip_bomb()  # made before memory is traced: only the client's share is counted
    async with await hostile_client(start_server, hostile, max_response_bytes=CAP) as client:
        tracemalloc.start()
        try:
            async with asyncio.timeout(5):
                with pytest.raises(ResponseTooLargeError) as caught:
                    await client.batches.get("b1")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert isinstance(caught.value, ResponseValidationError)
    assert caught.value.limit == CAP
    assert "max_response_bytes" in str(caught.value)
    assert TOKEN not in str(caught.value)
    assert peak < 16 * 1024 * 1024, peak  # the bomb holds 64 MiB: never all of it


async def test_the_connection_of_an_oversized_body_is_closed(start_server: StartServer) -> None:
    """After an over-cap body the next call comes on a new connection, not the pooled one."""
    hostile = Hostile("ok", "endless", "ok")
    async with await hostile_client(start_server, hostile, max_response_bytes=CAP) as client:
        await client.batches.get("b1")
        with pytest.raises(ResponseTooLargeError):
            await client.batches.get("b1")
        await client.batches.get("b1")
    first, cut, after = hostile.peers
    assert first == cut  # keep-alive reused the healthy connection
    assert after != cut


async def test_a_body_within_the_cap_reads(start_server: StartServer) -> None:
    """A body just under the cap reads as usual."""
    size = len(json.dumps(BATCH))
    hostile = Hostile("ok")
    async with await hostile_client(start_server, hostile, max_response_bytes=size + 10) as client:
        batch = await client.batches.get("b1")
    assert isinstance(batch, Batch)


def test_the_caps_default_to_8_mib_and_256_mib_and_refuse_nonsense() -> None:
    """The defaults are 8 MiB for one object and 256 MiB for a listing; zero is refused."""
    assert DEFAULT_MAX_RESPONSE_BYTES == 8 * 1024 * 1024
    assert DEFAULT_MAX_LISTING_BYTES == 256 * 1024 * 1024
    with pytest.raises(ValueError, match="max_listing_bytes"):
        ProlificClient(TOKEN, max_listing_bytes=0)
    with pytest.raises(ValueError, match="max_response_bytes"):
        ProlificClient(TOKEN, max_response_bytes=True)  # type: ignore[arg-type]


async def test_a_listing_has_its_own_cap() -> None:
    """A listing bigger than one object's cap reads; past the listing cap it fails typed."""
    async with FakeProlific(seed=1) as fake:
        async with fake.client(retry=FAST) as client:
            requests = [CreateBatchRequest(f"b{i}", WS, DETAILS) for i in range(20)]
            assert all([r.ok async for r in client.batches.create_many(requests)])
        async with fake.client(retry=FAST, max_response_bytes=256) as client:
            assert len(await client.batches.list(workspace_id=WS)) == 20
            with pytest.raises(ResponseTooLargeError):
                await client.batches.get(next(iter(fake.batches)))
        async with fake.client(retry=FAST, max_listing_bytes=1024) as client:
            with pytest.raises(ResponseTooLargeError, match="max_listing_bytes"):
                await client.batches.list(workspace_id=WS)


async def test_reconciliation_never_resends_on_an_over_cap_listing() -> None:
    """A create of unknown outcome whose workspace listing is over the cap is not resent."""
    async with FakeProlific(seed=1) as fake:
        fake.add_fault("POST", "/api/v1/data-collection/batches", "drop_after")
        async with fake.client(retry=FAST, max_listing_bytes=64) as client:
            requests = [CreateBatchRequest("one", WS, DETAILS)]
            results = [r async for r in client.batches.create_many(requests, reconcile_delay=0)]
    assert isinstance(results[0].error, ReconciliationError)
    assert "max_listing_bytes" in str(results[0].error)
    assert sum(1 for request in fake.requests if request.method == "POST") == 1
    assert len(fake.batches) == 1


async def test_an_over_cap_create_answer_reconciles_its_item_only() -> None:
    """A create answered 201 with a body over the cap is found by listing, not resent."""
    big = {**BATCH, "padding": "x" * 8192}
    async with FakeProlific(seed=1) as fake:
        fake.add_fault(
            "POST", "/api/v1/data-collection/batches", "status_after", status=201, body=big
        )
        async with fake.client(retry=FAST, max_response_bytes=4096) as client:
            requests = [CreateBatchRequest(f"b{i}", WS, DETAILS) for i in range(3)]
            results = [
                r
                async for r in client.batches.create_many(
                    requests, concurrency=1, reconcile_delay=0
                )
            ]
    assert all(r.ok for r in results), [str(r.error) for r in results]
    assert sum(r.reconciled for r in results) == 1
    assert len(fake.batches) == 3
    assert sum(1 for request in fake.requests if request.method == "POST") == 3


async def test_an_error_body_over_its_cap_is_too_large_not_a_status_error() -> None:
    """A 2 GiB 500 or a gzip bomb in a 4xx on a listing raises ResponseTooLargeError."""
    async with (
        FakeProlific(seed=1) as fake,
        fake.client(retry=FAST, max_response_bytes=CAP) as client,
    ):
        for status, kind in ((500, "oversized"), (400, "compressed")):
            fake.add_fault(
                "GET", "/api/v1/data-collection/batches", kind, status=status, times=None
            )
            with pytest.raises(ResponseTooLargeError) as caught:
                await client.batches.list(workspace_id=WS)  # a listing: its cap is 256 MiB
            assert caught.value.status_code == status
            assert caught.value.limit == CAP  # an error body is one object
            assert "error body" in str(caught.value)
            fake.clear_faults()
        fake.add_fault("GET", "/api/v1/data-collection/batches", "status", status=503)
        assert await client.batches.list(workspace_id=WS) == []  # the retry reads on


async def test_a_storage_error_body_over_its_cap_is_too_large(
    tmp_path: Any, start_server: StartServer
) -> None:
    """A storage host's 403 with an endless body fails ResponseTooLargeError, URL unsigned."""

    async def endless(request: web.BaseRequest) -> web.StreamResponse:
        response = web.StreamResponse(status=403)
        response.enable_chunked_encoding()
        await response.prepare(request)
        for _ in range(1_000):
            try:
                await response.write(b"x" * 65536)
            except (ConnectionError, RuntimeError):
                break
        return response

    url = server_url(await start_server(endless)) + "/export.zip?X-Amz-Signature=secret"
    async with ProlificClient(TOKEN, base_url="http://127.0.0.1:1", retry=FAST) as client:
        with pytest.raises(ResponseTooLargeError) as caught:
            await client.batches.download_export(url, tmp_path / "export.zip")
    assert caught.value.status_code == 403
    assert "secret" not in str(caught.value)
    assert not list(tmp_path.iterdir())
