"""A client closed while a presigned transfer runs ends it with a typed error, leaving nothing."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from prolific_async import ClientClosedError, ProlificClient, _storage
from prolific_async._storage import send_body

from .conftest import TOKEN, StartServer, server_url
from .test_bulk import FAST


def files(folder: Path) -> list[Path]:
    return list(folder.iterdir())


@pytest.mark.parametrize("where", ["upload", "download-before-headers", "download-mid-body"])
async def test_a_transfer_cut_by_aclose_raises_client_closed(
    start_server: StartServer, tmp_path: Path, caplog: pytest.LogCaptureFixture, where: str
) -> None:
    """aclose() during an upload or a download: ClientClosedError, not retried, no RuntimeError."""
    caplog.set_level(logging.INFO, logger="prolific_async")
    arrived, release = asyncio.Event(), asyncio.Event()

    async def handler(request: web.Request) -> web.StreamResponse:
        answer = web.StreamResponse()
        if where == "download-mid-body":
            await answer.prepare(request)
            await answer.write(b"the first bytes")
        arrived.set()
        await release.wait()
        return answer

    server = await start_server(handler)
    url = f"{server_url(server)}/storage/file.csv?X-Amz-Signature=secret"
    folder = tmp_path / "downloads"
    folder.mkdir()
    client = ProlificClient(TOKEN, base_url=server_url(server), retry=FAST)
    async with client:
        if where == "upload":
            transfer = send_body(
                client, url=url, method="PUT", body=b"a,b\n", content_type="text/csv"
            )
        else:
            transfer = client.batches.download_export(url, folder)
        task = asyncio.ensure_future(transfer)
        try:
            await asyncio.wait_for(arrived.wait(), 10)
            await client.aclose()
            with pytest.raises(
                ClientClosedError, match=r"closed with aclose\(\) during this storage"
            ):
                await asyncio.wait_for(task, 10)
        finally:
            release.set()
    assert "secret" not in str(task.exception())  # the signature stays out of the message
    assert files(folder) == []  # no partial file
    assert not [record for record in caplog.records if record.getMessage().startswith("retrying")]


@pytest.mark.parametrize("method", ["PUT", "GET"])
async def test_a_caller_session_transfer_is_not_retried_once_the_client_is_closed(
    start_server: StartServer, tmp_path: Path, caplog: pytest.LogCaptureFixture, method: str
) -> None:
    """Beside a caller's session= (its own connections), a close before a retry: not sent again."""
    caplog.set_level(logging.INFO, logger="prolific_async")
    client: ProlificClient | None = None
    seen: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.method)
        assert client is not None
        await client.aclose()  # closed while the transfer runs; its connection stays open
        return web.Response(status=503)  # worth a retry, had the client stayed open

    server = await start_server(handler)
    url = f"{server_url(server)}/storage/file.csv"
    async with aiohttp.ClientSession() as session:
        client = ProlificClient(TOKEN, base_url=server_url(server), session=session, retry=FAST)
        async with client:
            if method == "PUT":
                transfer = send_body(
                    client, url=url, method="PUT", body=b"a", content_type="text/csv"
                )
            else:
                transfer = client.batches.download_export(url, tmp_path / "out.csv")
            with pytest.raises(ClientClosedError, match="during this storage transfer"):
                await asyncio.wait_for(transfer, 10)
        assert not session.closed  # the caller's, left open
    assert seen == [method]  # sent once
    assert files(tmp_path) == []
    assert not [record for record in caplog.records if record.getMessage().startswith("retrying")]


async def test_a_close_during_the_retry_wait_sends_no_retry(
    start_server: StartServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Beside a caller's session=, aclose() while a transfer waits to retry: ClientClosedError."""
    seen: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.method)
        return web.Response(status=503 if len(seen) == 1 else 200)  # the retry would pass

    server = await start_server(handler)
    async with aiohttp.ClientSession() as session:
        client = ProlificClient(TOKEN, base_url=server_url(server), session=session, retry=FAST)
        closing: list[asyncio.Task[None]] = []
        # As the retry is announced, aclose() is started: it runs while the transfer waits.
        monkeypatch.setattr(
            _storage, "log_retry", lambda *_: closing.append(asyncio.ensure_future(client.aclose()))
        )
        async with client:
            transfer = send_body(
                client,
                url=f"{server_url(server)}/storage/file.csv",
                method="PUT",
                body=b"a",
                content_type="text/csv",
            )
            with pytest.raises(ClientClosedError, match="during this storage transfer"):
                await asyncio.wait_for(transfer, 10)
        await asyncio.gather(*closing)
    assert len(closing) == 1
    assert seen == ["PUT"]  # the retry was never sent
