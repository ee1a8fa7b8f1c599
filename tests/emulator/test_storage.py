"""The storage stand-in under ``/_storage/``: presigned URLs that never need the token."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from prolific_async.testing import FakeProlific, RateLimit

from .conftest import CSV, DATASETS, call, new_dataset, signed, until, upload


async def test_storage_needs_no_token_and_records_what_it_received(
    prolific_fake: FakeProlific,
    fake_http: aiohttp.ClientSession,
    storage_http: aiohttp.ClientSession,
) -> None:
    """Uploads succeed without Authorization; storage_requests shows none was sent."""
    dataset_id = await new_dataset(fake_http)
    answer = await upload(fake_http, storage_http, dataset_id, "rows.csv", CSV)
    (record,) = prolific_fake.storage_requests
    assert (record.method, record.path) == (
        "PUT",
        answer["upload_url"].removeprefix(prolific_fake.url),
    )
    assert "Authorization" not in record.headers
    assert all(not r.path.startswith("/_storage/") for r in prolific_fake.requests)
    assert prolific_fake.stats.requests["PUT", "storage_upload"] == 1


async def test_storage_redacts_a_token_sent_by_mistake(
    prolific_fake: FakeProlific, fake_http: aiohttp.ClientSession
) -> None:
    """A client that leaks its token to storage is caught (Token ***), never logged raw."""
    dataset_id = await new_dataset(fake_http)
    _, answer, _ = await call(fake_http, "GET", f"{DATASETS}/{dataset_id}/upload-url/rows.csv")
    assert (await call(fake_http, "PUT", answer["upload_url"], data=CSV, headers=signed(answer)))[
        0
    ] == 200
    assert prolific_fake.storage_requests[0].headers["Authorization"] == "Token ***"
    assert prolific_fake.token not in repr(prolific_fake.storage_requests)


async def test_unknown_or_expired_storage_urls_answer_403(
    prolific_fake: FakeProlific,
    fake_http: aiohttp.ClientSession,
    storage_http: aiohttp.ClientSession,
) -> None:
    """An unknown token answers S3's 403 XML; expire_storage_urls() expires issued URLs."""
    async with storage_http.put(
        f"{prolific_fake.url}/_storage/uploads/nope", data=b"x"
    ) as response:
        assert (response.status, response.content_type) == (403, "application/xml")
        assert "<Code>AccessDenied</Code>" in await response.text()
    dataset_id = await new_dataset(fake_http)
    _, answer, _ = await call(fake_http, "GET", f"{DATASETS}/{dataset_id}/upload-url/rows.csv")
    prolific_fake.expire_storage_urls()
    async with storage_http.put(answer["upload_url"], data=CSV, headers=signed(answer)) as response:
        assert response.status == 403
    assert prolific_fake.datasets[dataset_id].status == "UNINITIALISED"


@pytest.mark.parametrize(
    ("filename", "sent"),
    [
        ("rows.csv", "application/octet-stream"),
        ("rows.csv", "text/csv; charset=utf-8"),
        ("rows.csv", None),
        ("rows.zip", "text/csv"),
    ],
)
async def test_a_put_with_another_content_type_than_signed_is_refused(
    prolific_fake: FakeProlific,
    fake_http: aiohttp.ClientSession,
    storage_http: aiohttp.ClientSession,
    filename: str,
    sent: str | None,
) -> None:
    """Like S3, a PUT whose Content-Type is not the signed one is a 403 and stores nothing."""
    dataset_id = await new_dataset(fake_http)
    _, answer, _ = await call(fake_http, "GET", f"{DATASETS}/{dataset_id}/upload-url/{filename}")
    # skip_auto_headers: aiohttp would otherwise add application/octet-stream itself.
    async with storage_http.put(
        answer["upload_url"],
        data=CSV,
        headers={} if sent is None else {"Content-Type": sent},
        skip_auto_headers=["Content-Type"],
    ) as response:
        assert (response.status, response.content_type) == (403, "application/xml")
        assert "<Code>SignatureDoesNotMatch</Code>" in await response.text()
    assert prolific_fake.storage_requests[0].headers.get("Content-Type") == sent
    assert prolific_fake.datasets[dataset_id].status == "UNINITIALISED"
    async with storage_http.put(answer["upload_url"], data=CSV, headers=signed(answer)) as ok:
        assert ok.status == 200  # the same URL with the signed type still works
    assert prolific_fake.datasets[dataset_id].status != "UNINITIALISED"


async def test_storage_routes_skip_latency_and_rate_limit_but_not_faults(
    prolific_fake: FakeProlific,
    fake_http: aiohttp.ClientSession,
    storage_http: aiohttp.ClientSession,
) -> None:
    """Storage is another host: latency and the rate limit stay off; scripted faults apply."""
    dataset_id = await new_dataset(fake_http)
    _, answer, _ = await call(fake_http, "GET", f"{DATASETS}/{dataset_id}/upload-url/rows.csv")
    prolific_fake.rate_limit = RateLimit(rate=0.01, burst=1)
    prolific_fake.latency = 1.0
    fault = prolific_fake.add_fault("PUT", "/_storage/uploads/*", "status", status=503)
    loop = asyncio.get_running_loop()
    started = loop.time()
    statuses = []
    for _ in range(3):
        async with storage_http.put(
            answer["upload_url"], data=CSV, headers=signed(answer)
        ) as response:
            statuses.append(response.status)
    assert (statuses, fault.fired) == ([503, 200, 200], 1)
    assert loop.time() - started < 0.5


async def test_drop_after_on_an_upload_still_processes_it(
    prolific_fake: FakeProlific,
    fake_http: aiohttp.ClientSession,
    storage_http: aiohttp.ClientSession,
) -> None:
    """A storage PUT cut after it was applied leaves the upload processing, as S3 would."""
    dataset_id = await new_dataset(fake_http)
    _, answer, _ = await call(fake_http, "GET", f"{DATASETS}/{dataset_id}/upload-url/rows.csv")
    # aiohttp resends an idempotent PUT once after a disconnect: cut both.
    prolific_fake.add_fault("PUT", "/_storage/uploads/*", "drop_after", times=2)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await storage_http.put(answer["upload_url"], data=CSV, headers=signed(answer))
    body = await until(fake_http, f"{DATASETS}/{dataset_id}", "status", "READY")
    assert (body["total_datapoint_count"], len(prolific_fake.storage_requests)) == (3, 2)
