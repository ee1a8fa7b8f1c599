"""Batch exports: request (202 and legacy 200), status, list, delete, wait and download.

Request shape, parsing and waits are checked with aioresponses (``mocked``, one attempt
per call); downloads that retry, break or are cancelled run against a loopback storage app.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp import web
from yarl import URL

from prolific_async import ProlificClient, RetryPolicy, errors
from prolific_async.models import BatchExport, ExportStatus

from ..conftest import (
    BATCHES_PATH,
    MOCKED_BASE,
    TOKEN,
    StartServer,
    mocked_call,
    server_url,
    wait_until,
)

EXPORT = f"{MOCKED_BASE}{BATCHES_PATH}/b1/export"
SIGNED = "https://storage.test.invalid/exports/e1.zip?X-Amz-Signature=topsecretsig"
ZIP = b"PK\x03\x04" + b"z" * 5000
FAST: dict[str, Any] = {"poll_interval": 0.001, "max_poll_interval": 0.002}

GENERATING = {"status": "generating", "export_id": "e1"}
COMPLETE = {
    "status": "complete",
    "export_id": "e1",
    "url": SIGNED,
    "expires_at": "2025-03-01T13:00:00Z",
}
LEGACY_COMPLETE = {"status": "complete", "url": SIGNED, "expires_at": "2025-03-01T13:00:00Z"}
LISTED = {
    "export_id": "e2",
    "status": "complete",
    "created_at": "2025-03-01T12:00:00Z",
    "study_id": "st1",
    "from": "2025-01-01T00:00:00Z",
    "to": None,
    "url": SIGNED,
    "expires_at": "2025-03-01T13:00:00Z",
}


def listing(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


async def test_request_export_202_is_a_generating_job(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """A 202 answer is a generating job with its export_id; no body is sent."""
    mocked.post(EXPORT, status=202, payload=GENERATING)
    export = await mocked_client.batches.request_export("b1")
    assert export == BatchExport(status=ExportStatus.GENERATING, export_id="e1")
    assert not export.is_complete
    kwargs = mocked_call(mocked, "POST", EXPORT)
    assert kwargs.get("json") is None
    assert kwargs.get("params") is None


@pytest.mark.parametrize("export_id", ["..", "."])
async def test_an_export_id_no_path_can_hold_is_refused_as_read(
    mocked_client: ProlificClient, mocked: Any, export_id: str
) -> None:
    """A generating job whose export_id would change the path: ResponseValidationError."""
    mocked.post(EXPORT, status=202, payload={**GENERATING, "export_id": export_id})
    with pytest.raises(
        errors.ResponseValidationError,
        match="expected export_id to be an id a request path can hold",
    ):
        await mocked_client.batches.request_export("b1")


async def test_request_export_legacy_200_is_complete(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """The older 200 answer is a complete export with its URL and no export_id."""
    mocked.post(EXPORT, status=200, payload=LEGACY_COMPLETE)
    export = await mocked_client.batches.request_export("b1")
    assert export.is_complete
    assert export.export_id is None
    assert export.url == SIGNED
    assert export.expires_at == datetime(2025, 3, 1, 13, tzinfo=UTC)


async def test_request_export_sends_the_filters(mocked_client: ProlificClient, mocked: Any) -> None:
    """study_id, from_ and to go out as the study_id, from and to query parameters."""
    url = f"{EXPORT}?study_id=st1&from=2025-01-01T00%3A00%3A00Z&to=2025-02-01"
    mocked.post(url, status=202, payload=GENERATING)
    await mocked_client.batches.request_export(
        "b1", study_id="st1", from_=datetime(2025, 1, 1, tzinfo=UTC), to="2025-02-01"
    )
    ((method, sent_url),) = mocked.requests.keys()
    assert method == "POST"
    assert dict(sent_url.query) == {
        "study_id": "st1",
        "from": "2025-01-01T00:00:00Z",
        "to": "2025-02-01",
    }


@pytest.mark.parametrize("kwargs", [{"study_id": ""}, {"from_": 5}, {"to": ""}])
async def test_request_export_refuses_bad_filters(
    mocked_client: ProlificClient, mocked: Any, kwargs: dict[str, Any]
) -> None:
    """Empty or non-string filters raise ValueError before sending."""
    with pytest.raises(ValueError, match="must be a non-empty string"):
        await mocked_client.batches.request_export("b1", **kwargs)
    assert mocked.requests == {}


async def test_eleventh_export_raises_the_status_error(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """The cap of 10 jobs per batch surfaces as the mapped status error (409 here)."""
    mocked.post(
        EXPORT,
        status=409,
        payload={"error": {"title": "Conflict", "detail": "At most 10 exports per batch"}},
    )
    with pytest.raises(errors.ConflictError, match="At most 10 exports"):
        await mocked_client.batches.request_export("b1")


async def test_get_export_reads_status_and_url(mocked_client: ProlificClient, mocked: Any) -> None:
    """get_export GETs /export/{id} and parses a complete job."""
    mocked.get(f"{EXPORT}/e1", payload=COMPLETE)
    export = await mocked_client.batches.get_export("b1", "e1")
    assert export.status is ExportStatus.COMPLETE
    assert export.url == SIGNED


async def test_unknown_export_status_and_fields(mocked_client: ProlificClient, mocked: Any) -> None:
    """An unknown status is kept as a str and unknown fields are ignored."""
    mocked.get(f"{EXPORT}/e1", payload={"status": "archiving", "export_id": "e1", "eta": 3})
    export = await mocked_client.batches.get_export("b1", "e1")
    assert export.status == "archiving"
    assert not isinstance(export.status, ExportStatus)


async def test_list_exports_reads_the_results_envelope(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """list_exports reads a {"results": [...]} envelope, 'from' as from_."""
    jobs = [LISTED, {"export_id": "e1", "status": "generating"}]
    mocked.get(EXPORT, payload={"results": jobs})
    first, second = await mocked_client.batches.list_exports("b1")
    assert (first.export_id, first.study_id, first.from_, first.to) == (
        "e2",
        "st1",
        "2025-01-01T00:00:00Z",
        None,
    )
    assert first.created_at == datetime(2025, 3, 1, 12, tzinfo=UTC)
    assert second.status is ExportStatus.GENERATING


@pytest.mark.parametrize("payload", [[], [LISTED], {"results": None}, {}], ids=str)
async def test_list_exports_without_a_results_array_is_an_error(
    mocked_client: ProlificClient, mocked: Any, payload: Any
) -> None:
    """A bare array or a missing results is refused, as in every list call."""
    mocked.get(EXPORT, payload=payload)
    with pytest.raises(errors.ResponseValidationError):
        await mocked_client.batches.list_exports("b1")


async def test_list_exports_bad_item_names_its_path(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """A listed job without status raises ResponseValidationError naming its index."""
    mocked.get(EXPORT, payload={"results": [LISTED, {"export_id": "x"}]})
    with pytest.raises(errors.ResponseValidationError, match=r"\$\.results\[1\]\.status"):
        await mocked_client.batches.list_exports("b1")


async def test_delete_export_returns_none(mocked_client: ProlificClient, mocked: Any) -> None:
    """delete_export sends DELETE /export/{id} and returns None on the empty 204."""
    mocked.delete(f"{EXPORT}/e1", status=204, body="")
    await mocked_client.batches.delete_export("b1", "e1")
    assert mocked_call(mocked, "DELETE", f"{EXPORT}/e1").get("json") is None


async def test_delete_generating_export_conflicts(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """Deleting a job still generating raises ConflictError."""
    mocked.delete(f"{EXPORT}/e1", status=409, payload={"error": {"title": "Conflict"}})
    with pytest.raises(errors.ConflictError):
        await mocked_client.batches.delete_export("b1", "e1")


async def test_wait_for_export_polls_until_complete(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """wait_for_export polls the job until it is complete and returns it."""
    mocked.get(f"{EXPORT}/e1", payload=GENERATING)
    mocked.get(f"{EXPORT}/e1", payload=GENERATING)
    mocked.get(f"{EXPORT}/e1", payload=COMPLETE)
    export = await mocked_client.batches.wait_for_export("b1", "e1", timeout=5, **FAST)
    assert export.is_complete
    assert len(mocked.requests[("GET", URL(f"{EXPORT}/e1"))]) == 3


async def test_wait_for_export_accepts_the_requested_job(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """The BatchExport from request_export can be waited on directly."""
    mocked.post(EXPORT, status=202, payload=GENERATING)
    mocked.get(f"{EXPORT}/e1", payload=COMPLETE)
    export = await mocked_client.batches.request_export("b1")
    done = await mocked_client.batches.wait_for_export("b1", export, timeout=5, **FAST)
    assert done.url == SIGNED


async def test_wait_for_a_legacy_complete_export_sends_nothing(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """A complete export (the legacy 200 answer) is returned at once, without a poll."""
    export = BatchExport(status="complete", url=SIGNED)
    assert await mocked_client.batches.wait_for_export("b1", export) is export
    assert mocked.requests == {}


async def test_wait_for_export_raises_when_it_fails(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """A failed job raises ExportFailedError naming the batch and the job."""
    mocked.get(f"{EXPORT}/e1", payload=GENERATING)
    mocked.get(f"{EXPORT}/e1", payload={"status": "failed", "export_id": "e1"})
    with pytest.raises(errors.ExportFailedError) as caught:
        await mocked_client.batches.wait_for_export("b1", "e1", timeout=5, **FAST)
    assert (caught.value.batch_id, caught.value.export_id) == ("b1", "e1")


async def test_wait_for_export_times_out(mocked_client: ProlificClient, mocked: Any) -> None:
    """A job generating for too long raises WaitTimeoutError with the last status."""
    mocked.get(f"{EXPORT}/e1", payload=GENERATING, repeat=True)
    with pytest.raises(errors.WaitTimeoutError) as caught:
        await mocked_client.batches.wait_for_export("b1", "e1", timeout=0.05, **FAST)
    assert caught.value.last_status == "generating"
    assert isinstance(caught.value, TimeoutError)


async def test_download_streams_without_our_token(
    mocked_client: ProlificClient, mocked: Any, tmp_path: Path
) -> None:
    """The ZIP is fetched from the presigned URL without Authorization or our middlewares."""
    mocked.get(SIGNED, body=ZIP)
    target = tmp_path / "out.zip"
    export = BatchExport(status=ExportStatus.COMPLETE, export_id="e1", url=SIGNED)
    path = await mocked_client.batches.download_export(export, target)
    assert path == target
    assert target.read_bytes() == ZIP
    kwargs = mocked_call(mocked, "GET", URL(SIGNED, encoded=True))
    assert "Authorization" not in kwargs["headers"]
    assert TOKEN not in str(kwargs)
    assert kwargs["middlewares"] == ()
    assert listing(tmp_path) == ["out.zip"]


async def test_download_into_a_directory_uses_the_url_name(
    mocked_client: ProlificClient, mocked: Any, tmp_path: Path
) -> None:
    """A directory destination gets the file named after the URL's last segment."""
    mocked.get(SIGNED, body=ZIP)
    path = await mocked_client.batches.download_export(SIGNED, tmp_path)
    assert path == tmp_path / "e1.zip"
    assert path.read_bytes() == ZIP


@pytest.mark.parametrize(
    "name",
    ["..%2F..%2Fescaped.zip", "{tmp}%2Fabsolute.zip", "%2e%2e", "%2e", "a%00b", "a%5Cb"],
)
async def test_download_into_a_directory_never_writes_outside_it(
    start_server: StartServer, tmp_path: Path, name: str
) -> None:
    """A URL whose last segment would leave the directory, or name no file, is export.zip."""

    async def stored(request: web.Request) -> web.Response:
        return web.Response(body=ZIP)

    server = await start_server(stored)
    inside = tmp_path / "a" / "b"
    inside.mkdir(parents=True)
    name = name.format(tmp=quote(str(tmp_path), safe=""))  # absolute, yet within the test's
    async with ProlificClient(TOKEN, base_url=server_url(server)) as client:
        path = await client.batches.download_export(
            f"{server_url(server)}/store/{name}?sig=s", inside
        )
    assert path == inside / "export.zip"
    assert path.read_bytes() == ZIP
    assert (listing(tmp_path), listing(tmp_path / "a"), listing(inside)) == (
        ["a"],
        ["b"],
        ["export.zip"],
    )


@pytest.mark.parametrize(
    "url", ["http://[::1/e.zip", "http://127.0.0.1:99999/e.zip", "//storage/e.zip", "e.zip"]
)
async def test_download_from_an_unusable_url_is_a_connection_error_sending_nothing(
    mocked_client: ProlificClient, mocked: Any, tmp_path: Path, url: str
) -> None:
    """An export URL yarl cannot use is an APIConnectionError saying so, before any request."""
    with pytest.raises(errors.APIConnectionError, match="storage URL that cannot be used"):
        await mocked_client.batches.download_export(url, tmp_path)
    assert mocked.requests == {}
    assert listing(tmp_path) == []


async def test_download_expired_url_hides_the_signature(
    mocked_client: ProlificClient, mocked: Any, tmp_path: Path
) -> None:
    """A 403 from storage raises PermissionDeniedError; the signature is not in the message."""
    mocked.get(SIGNED, status=403, body="<Error><Code>AccessDenied</Code></Error>")
    with pytest.raises(errors.PermissionDeniedError) as caught:
        await mocked_client.batches.download_export(SIGNED, tmp_path / "out.zip")
    assert "topsecretsig" not in str(caught.value)
    assert "storage.test.invalid/exports/e1.zip" in str(caught.value)
    assert listing(tmp_path) == []


async def test_download_of_an_unfinished_export_is_refused(
    mocked_client: ProlificClient, mocked: Any, tmp_path: Path
) -> None:
    """A job without a URL yet raises ValueError and sends nothing."""
    with pytest.raises(ValueError, match="not complete"):
        await mocked_client.batches.download_export(
            BatchExport(status=ExportStatus.GENERATING, export_id="e1"), tmp_path / "x.zip"
        )
    assert mocked.requests == {}


# -- against a real loopback storage server ---------------------------------------------


class Storage:
    """A stand-in for S3: records request headers, serves whole or broken downloads."""

    def __init__(self) -> None:
        self.url = ""
        self.headers: list[dict[str, str]] = []
        self.stall = asyncio.Event()
        self.app = web.Application()
        self.app.router.add_get("/exports/whole.zip", self.whole)
        self.app.router.add_get("/exports/broken.zip", self.broken)
        self.app.router.add_get("/exports/stalled.zip", self.stalled)

    async def whole(self, request: web.Request) -> web.StreamResponse:
        self.headers.append(dict(request.headers))
        response = web.StreamResponse(headers={"Content-Length": str(len(ZIP) * 40)})
        await response.prepare(request)
        for _ in range(40):
            await response.write(ZIP)
        return response

    async def broken(self, request: web.Request) -> web.StreamResponse:
        self.headers.append(dict(request.headers))
        response = web.StreamResponse(headers={"Content-Length": "1000000"})
        await response.prepare(request)
        await response.write(b"x" * 2000)
        assert request.transport is not None
        request.transport.close()  # the connection drops mid-body
        return response

    async def stalled(self, request: web.Request) -> web.StreamResponse:
        self.headers.append(dict(request.headers))
        response = web.StreamResponse(headers={"Content-Length": "1000000"})
        await response.prepare(request)
        await response.write(b"x" * 65536)  # more than the file buffer: it reaches the disk
        await self.stall.wait()  # never set: the client is cancelled meanwhile
        return response


@pytest.fixture
async def storage(start_server: StartServer) -> Storage:
    storage = Storage()
    storage.url = server_url(await start_server(storage.app))
    return storage


@pytest.fixture
async def real_client(testing_mode: None) -> AsyncIterator[ProlificClient]:
    async with ProlificClient(TOKEN, base_url=MOCKED_BASE, retry=RetryPolicy(attempts=2)) as c:
        yield c


async def test_loopback_download_never_sends_the_token(
    real_client: ProlificClient, storage: Any, tmp_path: Path
) -> None:
    """The storage host receives no Authorization header and the file arrives whole."""
    url = f"{storage.url}/exports/whole.zip?X-Amz-Signature=abc"
    path = await real_client.batches.download_export(url, tmp_path / "export.zip")
    assert path.read_bytes() == ZIP * 40
    (headers,) = storage.headers
    assert "Authorization" not in headers
    assert TOKEN not in str(headers)
    assert headers["User-Agent"].startswith("prolific_async/")


async def test_loopback_broken_download_leaves_no_file(
    real_client: ProlificClient, storage: Any, tmp_path: Path
) -> None:
    """A connection dropped mid-body is retried, then raises, and leaves no file at all."""
    with pytest.raises(errors.APIConnectionError, match="storage transfer failed"):
        await real_client.batches.download_export(
            f"{storage.url}/exports/broken.zip", tmp_path / "export.zip"
        )
    assert len(storage.headers) == 2  # both attempts of the policy
    assert listing(tmp_path) == []


async def test_loopback_cancelled_download_leaves_no_file(
    real_client: ProlificClient, storage: Any, tmp_path: Path
) -> None:
    """Cancelling a download mid-stream removes its partial file."""
    task = asyncio.create_task(
        real_client.batches.download_export(
            f"{storage.url}/exports/stalled.zip", tmp_path / "export.zip"
        )
    )
    # The partial file exists and holds bytes: the download is cancelled mid-stream.
    await wait_until(lambda: any(name.endswith(".part") for name in listing(tmp_path)))
    await wait_until(lambda: any(path.stat().st_size > 0 for path in tmp_path.glob("*.part")))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert listing(tmp_path) == []
