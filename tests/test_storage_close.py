"""A client closed while a presigned transfer runs ends it with a typed error, leaving nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiohttp import web

from prolific_async import ClientClosedError, ProlificClient
from prolific_async._storage import send_body

from .conftest import TOKEN, StartServer, server_url
from .test_bulk import FAST


@pytest.mark.parametrize("where", ["upload", "download-before-headers", "download-mid-body"])
async def test_a_transfer_cut_by_aclose_raises_client_closed(
    start_server: StartServer, tmp_path: Path, where: str
) -> None:
    """aclose() during an upload or a download: ClientClosedError, never a bare RuntimeError."""
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
    assert list(folder.iterdir()) == []  # no partial file
