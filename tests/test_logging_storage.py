"""The log beyond API calls: storage transfers, the whole logger tree, tokens' lifetimes."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from aiohttp import web

from prolific_async import ProlificClient, _storage, errors
from prolific_async._logging import RedactingFilter, logger
from prolific_async.testing import FakeProlific
from tests.conftest import TOKEN, StartServer, server_url

LOGGER = "prolific_async"
UPLOADS = "/_storage/uploads/*"
CSV = b"text\nI love it\nNot for me\n"


def messages(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == level]


def storage_lines(caplog: pytest.LogCaptureFixture, method: str) -> list[str]:
    return [line for line in messages(caplog, logging.DEBUG) if f": {method} http" in line]


async def test_a_storage_upload_logs_each_attempt_and_its_retry(
    prolific_fake: FakeProlific,
    prolific_client: ProlificClient,
    caplog: pytest.LogCaptureFixture,
    testing_mode: None,
) -> None:
    """A 503 then a 2xx from storage: two DEBUG lines without the query, one INFO retry."""
    dataset = await prolific_client.datasets.create(name="logged", workspace_id="ws-1")
    prolific_fake.add_fault("PUT", UPLOADS, "status", status=503)
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    await prolific_client.datasets.upload(dataset.id, CSV, filename="rows.csv")
    lines = storage_lines(caplog, "PUT")
    assert len(lines) == 2, lines
    assert lines[0].startswith(f"attempt 1: PUT {prolific_fake.url}/_storage/uploads/")
    assert " -> 503 in " in lines[0]
    assert lines[0].endswith("retry in 0.00s")
    assert lines[1].startswith("attempt 2: PUT ")
    assert " -> 200 in " in lines[1] or " -> 201 in " in lines[1]
    assert lines[1].endswith("final")
    assert all("?" not in line for line in lines)  # the presigned signature stays out
    retries = [m for m in messages(caplog, logging.INFO) if m.startswith("retrying PUT")]
    assert len(retries) == 1
    assert "(attempt 2 of " in retries[0]
    assert retries[0].endswith(": 503)")
    assert TOKEN not in caplog.text
    assert prolific_fake.token not in caplog.text


async def test_a_failed_storage_download_logs_its_final_attempt(
    prolific_fake: FakeProlific,
    prolific_client: ProlificClient,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    """A 403 from storage (an expired URL) is not retried: one final DEBUG line, no INFO."""
    prolific_fake.export_delay = 0.0
    batch = prolific_fake.add_batch(status="READY")
    prolific_fake.add_response(batch.id)
    export = await prolific_client.batches.request_export(batch.id)
    export = await prolific_client.batches.wait_for_export(batch.id, export)
    prolific_fake.add_fault("GET", "/_storage/exports/*", "status", status=403)
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    with pytest.raises(errors.PermissionDeniedError):
        await prolific_client.batches.download_export(export, tmp_path / "export.zip")
    (line,) = storage_lines(caplog, "GET")
    assert line.startswith(f"attempt 1: GET {prolific_fake.url}/_storage/exports/")
    assert " -> 403 in " in line
    assert line.endswith("final")
    assert "?" not in line
    assert not [m for m in messages(caplog, logging.INFO) if m.startswith("retrying GET")]


def test_every_library_record_goes_through_the_masking_logger() -> None:
    """The filter sits on the one logger every library module uses; a child's is the user's."""
    client = ProlificClient(TOKEN)
    child = logging.getLogger(f"{LOGGER}.users_own")
    assert logger.name == LOGGER
    assert any(isinstance(f, RedactingFilter) for f in logger.filters)
    assert not any(isinstance(f, RedactingFilter) for f in child.filters)
    del client


def test_a_closed_clients_token_is_forgotten_after_enough_others() -> None:
    """A token stays masked while its client lives, and for a while after; then it is dropped."""
    masking = RedactingFilter()
    masking.add("first-token-0000")
    masking.add("first-token-0000")  # two clients share it
    masking.release("first-token-0000")
    assert masking.masks("first-token-0000")  # one holder left
    masking.release("first-token-0000")
    assert masking.masks("first-token-0000")  # just closed: still masked
    for number in range(RedactingFilter.KEPT_AFTER_CLOSE):
        masking.add(f"other-token-{number:04}")
        masking.release(f"other-token-{number:04}")
    assert not masking.masks("first-token-0000")
    assert masking.masks(f"other-token-{RedactingFilter.KEPT_AFTER_CLOSE - 1:04}")


async def test_closing_or_dropping_a_client_releases_its_token() -> None:
    """aclose() releases the token's registration, as collecting an unclosed client does."""
    from prolific_async import _logging

    masking = _logging._filter
    live = ProlificClient("live-token-for-lifetime")
    for number in range(RedactingFilter.KEPT_AFTER_CLOSE + 1):
        async with ProlificClient(f"closed-token-{number:04}"):
            pass
    dropped = ProlificClient("dropped-token-for-lifetime")
    del dropped
    gc.collect()
    for number in range(RedactingFilter.KEPT_AFTER_CLOSE):
        ProlificClient(f"more-token-{number:04}")  # dropped at once
    gc.collect()
    assert masking.masks("live-token-for-lifetime")
    assert not masking.masks("closed-token-0000")
    assert not masking.masks("dropped-token-for-lifetime")
    await live.aclose()


END_TO_END = """
import asyncio
from prolific_async import RetryPolicy
from prolific_async.testing import FakeProlific

async def main():
    async with FakeProlific() as fake:
        fake.add_fault("GET", "/api/v1/data-collection/batches/*", "status", status=503)
        batch = fake.add_batch()
        async with fake.client(retry=RetryPolicy(wait_initial=0.0, wait_jitter=0.0)) as client:
            await client.batches.get(batch.id)
        print(fake.token)

asyncio.run(main())
"""


def test_prolific_log_debug_shows_every_attempt_of_a_real_call_without_the_token() -> None:
    """PROLIFIC_LOG=debug, a 503 then a 200 from the emulator: both attempts on stderr, masked."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PROLIFIC_")}
    completed = subprocess.run(  # noqa: S603 (our own interpreter and script)
        [sys.executable, "-c", END_TO_END],
        env={**env, "PROLIFIC_LOG": "debug"},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    token = completed.stdout.strip()
    attempts = [line for line in completed.stderr.splitlines() if "] attempt " in line]
    assert len(attempts) == 2, completed.stderr
    assert " -> 503 in " in attempts[0]
    assert " -> 200 in " in attempts[1]
    assert "retrying GET" in completed.stderr
    assert token
    assert token not in completed.stderr


async def test_a_cut_storage_attempt_logs_the_time_it_took(
    start_server: StartServer, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A PUT cancelled while storage holds it: its DEBUG line says cut, with its real elapsed."""
    arrived, release = asyncio.Event(), asyncio.Event()

    async def hold(request: web.Request) -> web.Response:
        arrived.set()
        await release.wait()
        return web.Response()

    app = web.Application()
    app.router.add_put("/bucket/rows.csv", hold)
    url = server_url(await start_server(app)) + "/bucket/rows.csv?X-Amz-Signature=s"
    elapsed: list[float] = []
    real_log = _storage.log_attempt

    def recording(*args: object, **kwargs: float) -> None:
        elapsed.append(kwargs["elapsed"])
        real_log(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(_storage, "log_attempt", recording)
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    loop = asyncio.get_running_loop()
    async with ProlificClient(TOKEN) as client:
        started = loop.time()
        sending = asyncio.create_task(
            _storage.send_body(client, url=url, method="PUT", body=CSV, content_type="text/csv")
        )
        await arrived.wait()
        sending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await sending
        took = loop.time() - started
        release.set()
    (line,) = storage_lines(caplog, "PUT")
    assert " -> cut (" in line
    assert line.endswith("final")
    assert len(elapsed) == 1
    assert 0.0 < elapsed[0] <= took


async def test_a_storage_line_shows_the_s3_request_id(
    start_server: StartServer, caplog: pytest.LogCaptureFixture, testing_mode: None
) -> None:
    """x-amz-request-id of a 503 then a 200 is each line's request id; x-amz-id-2 is not one."""
    answers = iter([503, 200])

    async def answer(request: web.Request) -> web.Response:
        status = next(answers)
        amz = {"x-amz-request-id": f"TX{status}", "x-amz-id-2": "host-id-not-a-request-id"}
        return web.Response(status=status, headers=amz)

    app = web.Application()
    app.router.add_put("/bucket/rows.csv", answer)
    url = server_url(await start_server(app)) + "/bucket/rows.csv?X-Amz-Signature=s"
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    async with ProlificClient(TOKEN) as client:
        await _storage.send_body(client, url=url, method="PUT", body=CSV, content_type="text/csv")
    first, second = storage_lines(caplog, "PUT")
    assert " -> 503 in " in first
    assert "request id TX503, retry in " in first
    assert "request id TX200, final" in second
    assert "host-id-not-a-request-id" not in caplog.text
