"""The storage stand-in under ``/_storage/``: presigned URLs that never need the token."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import aiohttp
import pytest

from prolific_async.testing import FakeProlific, RateLimit

from .conftest import CSV, DATASETS, WORKSPACE, call, new_dataset, signed, until, upload


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


#: Two MiB of CSV: over aiohttp's default 1 MiB body limit.
BIG_CSV = b"text\n" + b"a fairly long line of text for one datapoint\n" * (2 * 1024**2 // 45)


async def test_a_2_mib_dataset_uploads_through_the_client(
    prolific_fake: FakeProlific, tmp_path: Path
) -> None:
    """A dataset file over 1 MiB (aiohttp's default limit) uploads and is processed."""
    assert len(BIG_CSV) > 2 * 1024**2 - 100
    big = tmp_path / "big.csv"
    big.write_bytes(BIG_CSV)
    async with prolific_fake.client() as client:
        dataset = await client.datasets.create(name="Big", workspace_id=WORKSPACE)
        uploaded = await client.datasets.upload(dataset.id, big, timeout=10, poll_interval=0.01)
    assert uploaded.status == "complete"
    assert prolific_fake.datasets[dataset.id].total_datapoint_count == BIG_CSV.count(b"\n") - 1
    assert prolific_fake.storage_requests[-1].response_status == 200


async def test_an_upload_over_max_upload_size_answers_a_prolific_413() -> None:
    """Over max_upload_size: 413 'Request Entity Too Large' with Prolific's body, same bytes."""
    async with (
        FakeProlific(max_upload_size=1000) as fake,
        aiohttp.ClientSession(fake.url, headers={"Authorization": f"Token {fake.token}"}) as http,
    ):
        dataset_id = await new_dataset(http)
        _, answer, _ = await call(http, "GET", f"{DATASETS}/{dataset_id}/upload-url/rows.csv")
        async with aiohttp.ClientSession() as storage:
            headers = signed(answer)
            async with storage.put(answer["upload_url"], data=b"x" * 1001, headers=headers) as put:
                assert (put.status, put.reason) == (413, "Request Entity Too Large")
                body = await put.json()
        assert body == {
            "error": {
                "status": 413,
                "error_code": 140113,
                "title": "Request Entity Too Large",
                "detail": "The request body is larger than 1000 bytes.",
            }
        }
        assert fake.storage_requests[-1].response_status == 413
        assert fake.datasets[dataset_id].status == "UNINITIALISED"


async def test_an_api_body_over_1_mib_answers_a_prolific_413(prolific_fake: FakeProlific) -> None:
    """An API request over 1 MiB answers 413 from the fixed table, never aiohttp's own."""
    headers = {"Authorization": f"Token {prolific_fake.token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        big = json.dumps({"name": "x" * 1024**2, "workspace_id": WORKSPACE}).encode()
        data, json_type = io.BytesIO(big), {"Content-Type": "application/json"}
        async with http.post(prolific_fake.url + DATASETS, data=data, headers=json_type) as answer:
            assert (answer.status, answer.reason) == (413, "Request Entity Too Large")
            assert (await answer.json())["error"]["title"] == "Request Entity Too Large"
    assert prolific_fake.requests[-1].response_status == 413
    assert prolific_fake.datasets == {}
