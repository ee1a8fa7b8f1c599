"""Batch exports in the emulator: jobs, their ZIPs, filters, cap and legacy answers."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from datetime import UTC, datetime

import aiohttp
import pytest

from prolific_async.testing import FakeProlific

from .conftest import BATCHES, call, ready_batch, until


async def test_export_goes_generating_then_complete_with_a_zip(
    prolific_fake: FakeProlific,
    fake_http: aiohttp.ClientSession,
    storage_http: aiohttp.ClientSession,
) -> None:
    """202 generating, then complete with a URL; the ZIP holds what the official CLI lists."""
    batch_id = await ready_batch(fake_http, prolific_fake, rows=2)
    upload_answer = {"file_key": "k1", "file_name": "a.png", "content_type": "image/png"}
    prolific_fake.add_response(batch_id, submission_id="s1")
    prolific_fake.add_response(
        batch_id,
        submission_id="s1",
        response={"instruction_id": "i", "type": "file_upload", "answer": [upload_answer]},
    )
    status, body, _ = await call(fake_http, "POST", f"{BATCHES}/{batch_id}/export")
    assert (status, body["status"]) == (202, "generating")
    job_path = f"{BATCHES}/{batch_id}/export/{body['export_id']}"
    assert (await call(fake_http, "GET", job_path))[1] == body
    job = await until(fake_http, job_path, "status", "complete")
    assert list(job) == ["status", "export_id", "url", "expires_at"]
    async with storage_http.get(job["url"]) as download:
        assert (download.status, download.content_type) == (200, "application/zip")
        archive = zipfile.ZipFile(io.BytesIO(await download.read()))
    assert archive.namelist() == [
        "responses-by-submission.jsonl",
        "responses-by-task.jsonl",
        "batch.json",
        "README.md",
        "files/",
        "files/k1",
    ]
    submissions = archive.read("responses-by-submission.jsonl").decode().splitlines()
    assert [len(json.loads(line)["responses"]) for line in submissions] == [2]
    assert len(archive.read("responses-by-task.jsonl").decode().splitlines()) == 2
    assert "Authorization" not in prolific_fake.storage_requests[-1].headers


async def test_export_batch_json_holds_the_batch_and_its_instructions(
    prolific_fake: FakeProlific,
    fake_http: aiohttp.ClientSession,
    storage_http: aiohttp.ClientSession,
) -> None:
    """batch.json is the batch as Get renders it plus its instruction items; README.md too."""
    layout = [
        {
            "rows": [
                {
                    "columns": [
                        {
                            "items": [
                                {"type": "rich_text", "content": "Read this."},
                                {"type": "free_text", "description": "Why?"},
                            ]
                        }
                    ]
                }
            ]
        }
    ]
    batch = prolific_fake.add_batch(batch_items=layout)
    prolific_fake.legacy_exports = True  # the URL at once
    _, body, _ = await call(fake_http, "POST", f"{BATCHES}/{batch.id}/export")
    async with storage_http.get(body["url"]) as download:
        archive = zipfile.ZipFile(io.BytesIO(await download.read()))
    metadata = json.loads(archive.read("batch.json"))
    assert metadata["batch"] == (await call(fake_http, "GET", f"{BATCHES}/{batch.id}"))[1]
    (instruction,) = metadata["instructions"]
    assert (instruction["type"], instruction["description"]) == ("free_text", "Why?")
    assert instruction["id"] == batch.batch_items[0]["rows"][0]["columns"][0]["items"][1]["id"]
    readme = archive.read("README.md").decode()
    assert readme.startswith(f"# Export of batch {batch.id}\n")
    assert "responses-by-task.jsonl" in readme


async def test_export_with_the_same_filter_while_generating_reuses_the_job(
    prolific_fake: FakeProlific, fake_http: aiohttp.ClientSession
) -> None:
    """The same filter while generating returns the same export_id; another filter does not."""
    batch = prolific_fake.add_batch()
    path = f"{BATCHES}/{batch.id}/export"
    prolific_fake.export_delay = 60.0
    first = (await call(fake_http, "POST", path, params={"study_id": "s"}))[1]["export_id"]
    again = (await call(fake_http, "POST", path, params={"study_id": "s"}))[1]["export_id"]
    other = (await call(fake_http, "POST", path, params={"study_id": "t"}))[1]["export_id"]
    assert first == again != other
    prolific_fake.exports[batch.id][0].status = "complete"  # finished jobs are never reused
    later = (await call(fake_http, "POST", path, params={"study_id": "s"}))[1]["export_id"]
    assert later not in (first, other)
    assert len(prolific_fake.exports[batch.id]) == 3


async def test_export_cap_of_10_jobs_answers_409_until_one_is_deleted(
    prolific_fake: FakeProlific, fake_http: aiohttp.ClientSession
) -> None:
    """An 11th job answers 409 with an error body; deleting a finished job frees a slot."""
    batch = prolific_fake.add_batch()
    path = f"{BATCHES}/{batch.id}/export"
    ids = [
        (await call(fake_http, "POST", path, params={"study_id": str(n)}))[1]["export_id"]
        for n in range(10)
    ]
    status, body, _ = await call(fake_http, "POST", path, params={"study_id": "10"})
    assert (status, body["error"]["status"]) == (409, 409)
    assert "at most 10" in body["error"]["detail"]
    await until(fake_http, f"{path}/{ids[0]}", "status", "complete")
    assert (await call(fake_http, "DELETE", f"{path}/{ids[0]}"))[:2] == (204, b"")
    assert (await call(fake_http, "POST", path, params={"study_id": "10"}))[0] == 202
    assert len(prolific_fake.exports[batch.id]) == 10


async def test_delete_export_conflicts_while_generating_and_revokes_the_zip(
    prolific_fake: FakeProlific,
    fake_http: aiohttp.ClientSession,
    storage_http: aiohttp.ClientSession,
) -> None:
    """DELETE: 409 while generating, 204 once complete (its URL then 403), 404 after."""
    batch = prolific_fake.add_batch()
    path = f"{BATCHES}/{batch.id}/export"
    export_id = (await call(fake_http, "POST", path))[1]["export_id"]
    status, body, _ = await call(fake_http, "DELETE", f"{path}/{export_id}")
    assert (status, body["error"]["title"]) == (409, "Conflict")
    job = await until(fake_http, f"{path}/{export_id}", "status", "complete")
    assert (await call(fake_http, "DELETE", f"{path}/{export_id}"))[0] == 204
    assert (await call(fake_http, "DELETE", f"{path}/{export_id}"))[0] == 404
    assert (await call(fake_http, "GET", f"{path}/{export_id}"))[0] == 404
    assert (await call(fake_http, "GET", path))[1] == {"results": []}
    async with storage_http.get(job["url"]) as download:
        assert download.status == 403


async def test_list_exports_newest_first_with_their_filters(
    prolific_fake: FakeProlific, fake_http: aiohttp.ClientSession
) -> None:
    """The list answers every job newest first, each with its filter, url and expiry."""
    batch = prolific_fake.add_batch()
    path = f"{BATCHES}/{batch.id}/export"
    old = (await call(fake_http, "POST", path))[1]["export_id"]
    await until(fake_http, f"{path}/{old}", "status", "complete")
    params = {"study_id": "st", "from": "2024-01-01", "to": "2024-02-01T00:00:00Z"}
    new = (await call(fake_http, "POST", path, params=params))[1]["export_id"]
    status, body, _ = await call(fake_http, "GET", path)
    assert status == 200
    assert [job["export_id"] for job in body["results"]] == [new, old]
    latest, oldest = body["results"]
    assert list(latest) == [
        "export_id",
        "status",
        "created_at",
        "study_id",
        "from",
        "to",
        "url",
        "expires_at",
    ]
    filters = (latest["study_id"], latest["from"], latest["to"], latest["url"])
    assert filters == ("st", "2024-01-01", "2024-02-01T00:00:00Z", None)
    assert (oldest["status"], oldest["study_id"]) == ("complete", None)
    assert oldest["url"].startswith(prolific_fake.url)


async def test_export_filters_select_the_responses_exported(
    prolific_fake: FakeProlific,
    fake_http: aiohttp.ClientSession,
    storage_http: aiohttp.ClientSession,
) -> None:
    """study_id matches a response's study_id; from/to bound its created_at (inclusive)."""
    batch = prolific_fake.add_batch()
    for day, study in ((1, "a"), (5, "a"), (9, "b")):
        prolific_fake.add_response(
            batch.id, study_id=study, created_at=datetime(2024, 3, day, tzinfo=UTC)
        )
    params = {"study_id": "a", "from": "2024-03-02", "to": "2024-03-09"}
    export_id = (await call(fake_http, "POST", f"{BATCHES}/{batch.id}/export", params=params))[1][
        "export_id"
    ]
    job = await until(fake_http, f"{BATCHES}/{batch.id}/export/{export_id}", "status", "complete")
    async with storage_http.get(job["url"]) as download:
        archive = zipfile.ZipFile(io.BytesIO(await download.read()))
    lines = archive.read("responses-by-task.jsonl").decode().splitlines()
    exported = [r["created_at"] for line in lines for r in json.loads(line)["responses"]]
    assert exported == ["2024-03-05T00:00:00Z"]


@pytest.mark.parametrize(
    ("params", "field"),
    [({"from": "yesterday"}, "from"), ({"to": "2024-13-01"}, "to"),
     ({"from": "2024-02-01", "to": "2024-01-01"}, "non_field_errors")],
)  # fmt: skip
async def test_export_rejects_bad_dates_with_400(
    prolific_fake: FakeProlific,
    fake_http: aiohttp.ClientSession,
    params: dict[str, str],
    field: str,
) -> None:
    """from/to must be ISO-8601 dates or datetimes, from not after to; else 400, no job."""
    batch = prolific_fake.add_batch()
    status, body, _ = await call(fake_http, "POST", f"{BATCHES}/{batch.id}/export", params=params)
    assert (status, list(body["error"]["detail"])) == (400, [field])
    assert prolific_fake.exports == {}


async def test_legacy_exports_answer_200_complete_at_once(
    prolific_fake: FakeProlific,
    fake_http: aiohttp.ClientSession,
    storage_http: aiohttp.ClientSession,
) -> None:
    """legacy_exports=True: 200 {status: complete, url, expires_at}, no export_id, no job."""
    prolific_fake.legacy_exports = True
    batch = prolific_fake.add_batch()
    status, body, _ = await call(fake_http, "POST", f"{BATCHES}/{batch.id}/export")
    assert (status, list(body), body["status"]) == (
        200,
        ["status", "url", "expires_at"],
        "complete",
    )
    async with storage_http.get(body["url"]) as download:
        assert zipfile.ZipFile(io.BytesIO(await download.read())).namelist()[0].endswith(".jsonl")
    assert (await call(fake_http, "GET", f"{BATCHES}/{batch.id}/export"))[1] == {"results": []}


async def test_a_failed_export_can_be_staged(
    prolific_fake: FakeProlific, fake_http: aiohttp.ClientSession
) -> None:
    """Setting a job's status to failed sticks: it never completes, and has no URL."""
    batch = prolific_fake.add_batch()
    export_id = (await call(fake_http, "POST", f"{BATCHES}/{batch.id}/export"))[1]["export_id"]
    prolific_fake.exports[batch.id][0].status = "failed"
    await asyncio.sleep(0.03)
    _, body, _ = await call(fake_http, "GET", f"{BATCHES}/{batch.id}/export/{export_id}")
    assert body == {"status": "failed", "export_id": export_id}


async def test_an_expired_export_url_is_refreshed_by_the_next_get(
    prolific_fake: FakeProlific,
    fake_http: aiohttp.ClientSession,
    storage_http: aiohttp.ClientSession,
) -> None:
    """Once its URL has expired (403), getting the job again issues a fresh, working URL."""
    batch = prolific_fake.add_batch()
    path = f"{BATCHES}/{batch.id}/export"
    export_id = (await call(fake_http, "POST", path))[1]["export_id"]
    old = (await until(fake_http, f"{path}/{export_id}", "status", "complete"))["url"]
    prolific_fake.expire_storage_urls()
    async with storage_http.get(old) as download:
        assert download.status == 403
    new = (await call(fake_http, "GET", f"{path}/{export_id}"))[1]["url"]
    async with storage_http.get(new) as download:
        assert (new != old, download.status) == (True, 200)
