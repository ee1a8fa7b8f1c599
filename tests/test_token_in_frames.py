"""Whatever a server sends, an error's text and its traceback's frame locals hold no token.

Error trackers record a traceback with each frame's locals (as
``traceback.TracebackException(..., capture_locals=True)`` renders them): the client's
frames, aiohttp's below them, and the errors chained as causes.
"""

from __future__ import annotations

import traceback
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from prolific_async import ProlificClient, RetryPolicy, TaskDetails, errors, set_testing
from prolific_async._call import CallState
from prolific_async._redact import Redactor, Secret
from prolific_async._status_errors import connection_error
from tests.conftest import BATCHES_PATH, TOKEN, ScriptedAPI, StartServer, cut, server_url

FAST = RetryPolicy(attempts=2, timeout=5.0, wait_initial=0.0, wait_jitter=0.0)
ECHO = f"Token {TOKEN}"
DETAILS = TaskDetails(task_name="t", task_introduction="i", task_steps="s")

#: Scripted answers (each echoing the token where it can) and the call that meets them.
SCRIPTED: dict[str, tuple[str, tuple[Any, ...]]] = {
    "a 404": ("get", (("status", 404, {"X-Request-Id": ECHO}, f'{{"detail": "{ECHO}"}}'),)),
    "a 2xx body not JSON": ("get", (("status", 200, {"X-Request-Id": ECHO}, f"<p>{ECHO}"),)),
    "a 2xx body that does not fit": ("get", (("status", 200, {}, f'{{"id": "{ECHO}"}}'),)),
    "503s until the retries are spent": ("get", (("status", 503, {"X-Request-Id": ECHO}),) * 2),
    "connections dropped unanswered": ("get", (("drop_before",),) * 2),
    "a create's connection dropped": ("create", (("drop_after",),)),
    "a create's answer cut short": ("create", (("truncated_after",),)),
}


async def failure_of(client: ProlificClient, call: str) -> errors.ProlificError:
    sent = (
        client.batches.create(name="b", workspace_id="ws", task_details=DETAILS)
        if call == "create"
        else client.batches.get("b1")
    )
    with pytest.raises(errors.ProlificError) as caught:
        await sent
    return caught.value


def rendered(error: BaseException) -> str:
    """The error's traceback as an error tracker records it: every frame's locals, and chain."""
    return "".join(traceback.TracebackException.from_exception(error, capture_locals=True).format())


@pytest.mark.parametrize("case", SCRIPTED)
async def test_an_error_holds_no_token_in_its_frames(scripted_api: ScriptedAPI, case: str) -> None:
    """No error a server causes shows the token in its frames' locals or its chain."""
    call, steps = SCRIPTED[case]
    scripted_api.then(*steps)
    with set_testing():
        async with ProlificClient(TOKEN, base_url=scripted_api.url, retry=FAST) as client:
            error = await failure_of(client, call)
    text = rendered(error)
    assert "    self = <ProlificClient" in text  # the locals are there,
    assert "request" in [frame.name for frame in traceback.extract_tb(error.__traceback__)]
    assert TOKEN not in text  # but never the token


#: Header lines aiohttp's parser refuses, quoting them in its error (``{}``: the echo).
REFUSED_LINES = {
    "a header without a colon": "Echo {}",
    "a header value with a NUL": "X-Echo: {}\0",
    "a Content-Length that is no number": "Content-Length: {}",
    "a chunk size that is no number": "Transfer-Encoding: chunked\r\n\r\n{}",
}


@pytest.mark.parametrize("line", REFUSED_LINES.values(), ids=list(REFUSED_LINES))
async def test_a_refused_header_echoing_the_token_is_masked(
    start_server: StartServer, line: str
) -> None:
    """A malformed header that quotes the token reaches neither the error's text nor its chain."""

    async def answer(request: web.Request) -> web.Response:
        assert request.transport is not None
        echoed = line.format(request.headers["Authorization"])
        head = f"HTTP/1.1 200 OK\r\n{echoed}\r\nContent-Length: 2\r\n\r\n{{}}"
        request.transport.write(head.encode())
        return cut(request)

    app = web.Application()
    app.router.add_get(BATCHES_PATH + "/{batch_id}", answer)
    url = server_url(await start_server(app))
    with set_testing():
        async with ProlificClient(TOKEN, base_url=url, retry=FAST) as client:
            error = await failure_of(client, "get")
    assert isinstance(error, errors.APIConnectionError)
    assert "***" in str(error)  # the parser's quote is kept, masked
    assert TOKEN not in str(error)
    assert TOKEN not in rendered(error)


@pytest.mark.parametrize("quoted", [False, True])
def test_a_connection_error_quoting_the_token_is_not_chained(quoted: bool) -> None:
    """The aiohttp error is the cause unless its text quotes the token; ours is masked."""
    said = f"Invalid chunk size: {ECHO if quoted else 'x'}"
    cause = aiohttp.ClientPayloadError(said)
    failure = connection_error(
        cause, "GET", "u", CallState(deadline=0.0), closed=False, redact=Redactor(TOKEN).text
    )
    assert TOKEN not in str(failure)
    assert failure.__cause__ is (None if quoted else cause)


def test_a_secret_is_itself_but_for_its_repr() -> None:
    """A Secret compares, formats and joins as its text; only its repr is masked."""
    secret = Secret(ECHO)
    assert secret == ECHO
    assert f"{secret}" == ECHO
    assert str(secret) == ECHO
    assert type(str(secret)) is str
    assert TOKEN not in repr(secret)
    assert TOKEN not in repr({"Authorization": secret})


def test_a_refused_argument_shows_no_token_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A refused __init__'s locals show the PROLIFIC_TOKEN token masked and the client reprs."""
    monkeypatch.setenv("PROLIFIC_TOKEN", TOKEN)
    with pytest.raises(ValueError, match="max_connections") as caught:
        ProlificClient(max_connections=0)
    text = rendered(caught.value)
    assert "token = '***'" in text
    assert TOKEN not in text
    assert "self = <ProlificClient not made>" in text
