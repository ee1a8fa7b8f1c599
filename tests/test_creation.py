"""A create or duplicate whose 2xx answer cannot be read never looks like "nothing happened"."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from prolific_async import (
    CreateBatchRequest,
    CreatedButUnreadableError,
    ProlificClient,
    ResponseValidationError,
    TaskDetails,
)
from prolific_async._outcome import Outcome, error_outcome
from prolific_async.testing import FakeProlific

from .conftest import BATCHES_PATH, StartServer, fixture_json, server_url

DETAILS = TaskDetails(task_name="n", task_introduction="i", task_steps="s")
WS = "ws-1"


def created_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = fixture_json("duplicate_batch_201.json")
    body.update(changes)
    return body


async def test_an_unreadable_create_answer_with_an_id_names_the_new_batch(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """A 201 missing a required field raises CreatedButUnreadableError with its id."""
    body = created_body()
    del body["task_details"]
    mocked.post(f"https://api.test.invalid{BATCHES_PATH}", status=201, payload=body)
    with pytest.raises(CreatedButUnreadableError, match="was created") as caught:
        await mocked_client.batches.create(name="b", workspace_id=WS, task_details=DETAILS)
    assert caught.value.batch_id == body["id"]
    assert isinstance(caught.value, ResponseValidationError)
    assert error_outcome(caught.value) is Outcome.APPLIED


async def test_a_create_answer_that_is_not_json_is_created_without_an_id(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """A 201 whose body is not JSON: created, id unknown, so the outcome is maybe-applied."""
    mocked.post(f"https://api.test.invalid{BATCHES_PATH}", status=201, body="<html>ok</html>")
    with pytest.raises(CreatedButUnreadableError, match="no id could be read") as caught:
        await mocked_client.batches.create(name="b", workspace_id=WS, task_details=DETAILS)
    assert caught.value.batch_id is None
    assert error_outcome(caught.value) is Outcome.MAYBE_APPLIED


async def test_an_unreadable_duplicate_answer_names_the_copy(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """A duplicate's unreadable 201 is a CreatedButUnreadableError too."""
    body = created_body(name=None)
    mocked.post(f"https://api.test.invalid{BATCHES_PATH}/src/duplicate", status=201, payload=body)
    with pytest.raises(CreatedButUnreadableError) as caught:
        await mocked_client.batches.duplicate("src")
    assert caught.value.batch_id == body["id"]


async def test_a_null_task_text_in_a_create_answer_reads_as_empty(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """A created batch whose task_introduction is null is read, not reported as a failure."""
    body = created_body()
    body["task_details"] = {**body["task_details"], "task_introduction": None}
    mocked.post(f"https://api.test.invalid{BATCHES_PATH}", status=201, payload=body)
    batch = await mocked_client.batches.create(name="b", workspace_id=WS, task_details=DETAILS)
    assert batch.task_details.task_introduction == ""


@pytest.fixture
def fake(prolific_fake: FakeProlific, testing_mode: None) -> FakeProlific:
    """The shipped emulator, in test mode (no real backoff waits)."""
    return prolific_fake


async def mangling_proxy(fake: FakeProlific, start_server: StartServer) -> str:
    """A proxy in front of the emulator that drops task_details from every create's 201."""
    session = aiohttp.ClientSession()

    async def forward(request: web.Request) -> web.StreamResponse:
        async with session.request(
            request.method,
            fake.url + request.path_qs,
            headers={"Authorization": request.headers["Authorization"]},
            data=await request.read(),
        ) as answer:
            raw = await answer.read()
            if request.method == "POST" and answer.status == 201:
                body = json.loads(raw)
                del body["task_details"]
                raw = json.dumps(body).encode()
            return web.Response(status=answer.status, body=raw, content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", forward)
    app.on_cleanup.append(lambda _: session.close())
    return server_url(await start_server(app))


async def test_bulk_adopts_an_unreadable_create_by_its_id_without_listing(
    fake: FakeProlific, start_server: StartServer
) -> None:
    """create_many reads the batch by the id its unreadable answer named: no listing, once."""
    url = await mangling_proxy(fake, start_server)
    async with ProlificClient(fake.token, base_url=url) as client:
        results = [
            result
            async for result in client.batches.create_many(
                [CreateBatchRequest("b", WS, DETAILS)], concurrency=1
            )
        ]
    (result,) = results
    assert result.ok
    assert result.batch is not None
    assert list(fake.batches) == [result.batch.id]
    lists = [r for r in fake.requests if r.method == "GET" and "workspace_id" in r.query]
    assert lists == []
    assert [r.method for r in fake.requests] == ["POST", "GET"]


async def test_bulk_reconciles_an_unreadable_create_without_an_id(fake: FakeProlific) -> None:
    """create_many lists the workspace after a 201 it cannot read, and adopts the one batch."""
    fake.add_fault("POST", BATCHES_PATH, "status_after", status=201, body="<html>created</html>")
    async with fake.client() as client:
        results = [
            result
            async for result in client.batches.create_many(
                [CreateBatchRequest("b", WS, DETAILS)], concurrency=1
            )
        ]
    (result,) = results
    assert result.ok
    assert result.reconciled
    assert len(fake.batches) == 1
    assert [r.method for r in fake.requests if r.method == "POST"] == ["POST"]
