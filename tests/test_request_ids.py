"""Request ids: whichever header carries them, where operators look, never the token."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiohttp import web

from prolific_async import (
    CreateBatchRequest,
    ProlificClient,
    RetryPolicy,
    TaskDetails,
    errors,
    set_testing,
)
from prolific_async._cli._progress import result_record
from prolific_async.testing import FakeProlific
from tests.conftest import BATCHES_PATH, SCRIPTED_BATCH, TOKEN, StartServer, server_url

FAST = RetryPolicy(attempts=3, timeout=10.0, wait_initial=0.0, wait_jitter=0.0)
WS = "6278acb09062db3b35bcbeb0"
DETAILS = TaskDetails(task_name="Rate", task_introduction="<p>Hi</p>", task_steps="<ol></ol>")


@pytest.fixture(autouse=True)
def _no_waits() -> Iterator[None]:
    with set_testing():
        yield


class HeaderEcho:
    """Answers batch calls with ``header`` set to ``value`` (``None``: the Authorization sent)."""

    def __init__(self, header: str, value: str | None = None, status: int = 200) -> None:
        self.header, self.value, self.status = header, value, status
        self.app = web.Application()
        self.app.router.add_route("*", BATCHES_PATH, self.answer)
        self.app.router.add_route("*", BATCHES_PATH + "/{batch_id}", self.answer)

    async def answer(self, request: web.Request) -> web.Response:
        value = self.value if self.value is not None else request.headers["Authorization"]
        status = 201 if request.method == "POST" and self.status == 200 else self.status
        body = SCRIPTED_BATCH if status < 300 else {"detail": f"refused {value}"}
        return web.json_response(body, status=status, headers={self.header: value})


async def echo_client(start_server: StartServer, echo: HeaderEcho) -> ProlificClient:
    return ProlificClient(TOKEN, base_url=server_url(await start_server(echo.app)), retry=FAST)


@pytest.fixture
async def echoing(start_server: StartServer) -> AsyncIterator[ProlificClient]:
    async with await echo_client(start_server, HeaderEcho("X-Request-Id")) as client:
        yield client


async def test_a_request_id_copied_from_authorization_is_masked_in_a_raw_response(
    echoing: ProlificClient,
) -> None:
    """A server echoing the token as X-Request-Id on a 200: request_id, headers, repr masked."""
    raw = await echoing.batches.with_raw_response.get("b1")
    assert raw.status_code == 200
    assert raw.request_id == "Token ***"
    assert raw.headers["X-Request-Id"] == "Token ***"
    assert TOKEN not in repr(raw)
    assert TOKEN not in str(dict(raw.headers))


async def test_a_request_id_copied_from_authorization_is_masked_in_a_bulk_result(
    echoing: ProlificClient,
) -> None:
    """The 201 of a create that echoes the token: BulkResult.request_id holds no token."""
    request = CreateBatchRequest(SCRIPTED_BATCH["name"], WS, DETAILS, dataset_id="ds1")
    (result,) = [r async for r in echoing.batches.create_many([request], concurrency=1)]
    assert result.ok
    assert result.request_id == "Token ***"
    assert TOKEN not in repr(result)


@pytest.mark.parametrize("header", ["request-id", "x-amzn-requestid", "X-Amzn-RequestId"])
async def test_the_alternative_request_id_headers_are_read(
    start_server: StartServer, header: str
) -> None:
    """request-id and x-amzn-requestid (any case) are request ids too, on a 2xx and an error."""
    async with await echo_client(start_server, HeaderEcho(header, "req-alt-1")) as client:
        raw = await client.batches.with_raw_response.get("b1")
    assert raw.request_id == "req-alt-1"
    refusing = HeaderEcho(header, "req-alt-2", status=404)
    async with await echo_client(start_server, refusing) as client:
        with pytest.raises(errors.NotFoundError) as caught:
            await client.batches.get("b1")
    assert caught.value.request_id == "req-alt-2"
    assert "(request id req-alt-2)" in str(caught.value)


async def test_a_reconciled_item_carries_the_id_of_its_ambiguous_answer(
    prolific_fake: FakeProlific,
) -> None:
    """A create applied then answered 503, adopted by listing: its result has the 503's id."""
    prolific_fake.add_fault(
        "POST", BATCHES_PATH, "status_after", status=503, headers={"X-Request-Id": "req-503"}
    )
    request = CreateBatchRequest("adopted", WS, DETAILS)
    async with prolific_fake.client(retry=FAST) as client:
        (result,) = [r async for r in client.batches.create_many([request], concurrency=1)]
    assert result.ok
    assert result.reconciled
    assert result.request_id == "req-503"


async def test_a_lost_send_has_no_request_id(prolific_fake: FakeProlific) -> None:
    """A create whose connection dropped after it was applied read no answer: request_id None."""
    prolific_fake.add_fault("POST", BATCHES_PATH, "drop_after")
    request = CreateBatchRequest("lost", WS, DETAILS)
    async with prolific_fake.client(retry=FAST) as client:
        (result,) = [r async for r in client.batches.create_many([request], concurrency=1)]
    assert result.ok
    assert result.reconciled
    assert result.request_id is None


async def test_the_results_file_record_has_the_request_id(prolific_fake: FakeProlific) -> None:
    """The CLI's --results line of a created batch names the 201's request id."""
    request = CreateBatchRequest("recorded", WS, DETAILS)
    async with prolific_fake.client(retry=FAST) as client:
        (result,) = [r async for r in client.batches.create_many([request], concurrency=1)]
    record = result_record(result, 1)
    assert record["request_id"] == result.request_id
    assert record["request_id"] is not None
    json.dumps(record)


async def test_a_provision_result_has_its_batch_creates_request_id(
    prolific_fake: FakeProlific, tmp_path: Path
) -> None:
    """provision_many's result carries the request id of the create that made its batch."""
    from prolific_async.models.provision import ProvisionRequest

    rows = tmp_path / "rows.csv"
    rows.write_text("text\nhello\n")
    prolific_fake.add_fault(
        "POST", BATCHES_PATH, "status", status=503, headers={"X-Request-Id": "req-first"}
    )
    request = ProvisionRequest(
        name="provisioned", workspace_id=WS, task_details=DETAILS, dataset=rows
    )
    async with prolific_fake.client(retry=FAST) as client:
        (result,) = [r async for r in client.provision_many([request], concurrency=1)]
    assert result.ok, result.error
    assert result.request_id is not None
    assert result.request_id != "req-first"  # the answer that made it, not the refused one


@pytest.mark.parametrize("status", [200, 404])
async def test_a_call_state_shows_no_echoed_token_in_its_repr(
    start_server: StartServer, status: int
) -> None:
    """A CallState that read an answer echoing the token keeps it out of its repr."""
    from prolific_async import CallState
    from prolific_async.models import Batch

    echo = HeaderEcho("X-Request-Id", status=status)
    async with await echo_client(start_server, echo) as client:
        state = CallState(deadline=0.0)
        if status == 200:
            await client.request("GET", f"{BATCHES_PATH}/b1", cast_to=Batch, state=state)
        else:
            with pytest.raises(errors.NotFoundError):
                await client.request("GET", f"{BATCHES_PATH}/b1", cast_to=Batch, state=state)
    assert state.request_id == "Token ***"
    assert TOKEN not in repr(state)


async def test_an_error_raised_after_the_answer_holds_no_token_in_its_frames(
    prolific_fake: FakeProlific, prolific_client: ProlificClient
) -> None:
    """A status error's traceback locals (as error trackers record them) hold no token."""
    import traceback

    with pytest.raises(errors.NotFoundError) as caught:
        await prolific_client.batches.get("missing")
    exception = traceback.TracebackException.from_exception(caught.value, capture_locals=True)
    frames = [frame for frame in exception.stack if frame.name == "request"]
    assert frames  # the client's frame is there,
    assert frames[0].locals  # with its locals
    assert prolific_fake.token not in "".join(exception.format())


@pytest.mark.parametrize("status", [200, 400])
async def test_a_header_named_after_the_token_is_masked(
    start_server: StartServer, status: int
) -> None:
    """A server naming a header after the token: neither an error's nor a raw answer's keeps it."""

    async def answer(request: web.Request) -> web.Response:
        token = request.headers["Authorization"].removeprefix("Token ")
        body = SCRIPTED_BATCH if status == 200 else {"detail": "refused"}
        return web.json_response(body, status=status, headers={f"X-{token}": "1"})

    server = await start_server(answer)
    async with ProlificClient(TOKEN, base_url=server_url(server), retry=FAST) as client:
        if status == 200:
            headers = (await client.batches.with_raw_response.get("b1")).headers
        else:
            with pytest.raises(errors.APIStatusError) as caught:
                await client.batches.get("b1")
            headers = caught.value.headers
    assert "X-***" in headers
    assert not any(TOKEN in name for name in headers)
