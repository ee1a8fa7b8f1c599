"""Whatever a server sends, an error's text and its traceback's frame locals hold no token.

Error trackers record a traceback with each frame's locals (as
``traceback.TracebackException(..., capture_locals=True)`` renders them): the client's
frames, aiohttp's below them, and the errors chained as causes.
"""

from __future__ import annotations

import asyncio
import json
import traceback
import warnings
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

import prolific_async
from prolific_async import (
    ProlificClient,
    RetryPolicy,
    TaskDetails,
    _call,
    _error_body,
    _retry,
    errors,
    set_testing,
)
from prolific_async._body import read_body
from prolific_async._redact import Redactor, Secret
from prolific_async._status_errors import connection_error
from tests.conftest import (
    BATCHES_PATH,
    SCRIPTED_BATCH,
    TOKEN,
    ScriptedAPI,
    StartServer,
    cut,
    server_url,
)

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
    "a 503 echoing it, then a dropped connection": (
        "get",
        (("status", 503, {"X-Request-Id": ECHO}, f'{{"detail": "{ECHO}"}}'), ("drop_before",)),
    ),
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


@pytest.fixture
def body_begun(monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """Set once the client starts reading a body: the answer's headers have been read."""
    begun = asyncio.Event()

    async def reading(*args: Any, **kwargs: Any) -> bytes:
        begun.set()
        return await read_body(*args, **kwargs)

    monkeypatch.setattr(_retry, "read_body", reading)  # the middleware's reads
    monkeypatch.setattr(_call, "read_body", reading)  # the client's, of a status left unread
    return begun


async def echoing_then(start_server: StartServer, status: int, stalled: asyncio.Event) -> str:
    """A server answering ``status`` with headers echoing the token, then part of a body.

    The rest never comes: the connection is cut once ``stalled`` is set. Returns its URL.
    """

    async def answer(request: web.Request) -> web.StreamResponse:
        assert request.transport is not None
        head = (
            f"HTTP/1.1 {status} X\r\nX-Request-Id: {request.headers['Authorization']}\r\n"
            f'Content-Length: 1000\r\n\r\n{{"id": "{ECHO}'
        )
        request.transport.write(head.encode())
        await stalled.wait()
        return cut(request)

    app = web.Application()
    app.router.add_get(BATCHES_PATH + "/{batch_id}", answer)
    return server_url(await start_server(app))


#: How the body fails after the headers: cut, stalled past the read timeout, or stalled
#: past the whole call's deadline (its read timeout longer); on a 200, or on a 503 the
#: middleware leaves to the client to read (no attempt left).
BODY_FAILURES = {
    "cut": (200, "cut", 5.0, 5.0),
    "read timeout": (200, "stall", 0.05, 5.0),
    "deadline": (200, "stall", 5.0, 0.1),
    "cut, on a 503 the client reads": (503, "cut", 5.0, 5.0),
    "read timeout, on a 503 the client reads": (503, "stall", 0.05, 5.0),
}


@pytest.mark.parametrize(
    ("status", "after", "read_timeout", "deadline"), BODY_FAILURES.values(), ids=list(BODY_FAILURES)
)
async def test_a_body_failing_after_echoing_headers_leaves_no_token(
    start_server: StartServer,
    body_begun: asyncio.Event,
    status: int,
    after: str,
    read_timeout: float,
    deadline: float,
) -> None:
    """Headers echoing the token, then a body cut short or stalled: no token in the frames."""
    stalled = asyncio.Event()
    if after == "cut":
        stalled.set()
    url = await echoing_then(start_server, status, stalled)
    with set_testing():
        once = RetryPolicy(attempts=1, timeout=deadline)
        async with ProlificClient(TOKEN, base_url=url, retry=once, timeout=read_timeout) as client:
            error = await failure_of(client, "get")
    stalled.set()
    assert body_begun.is_set()  # the echoing headers were read
    assert isinstance(error, errors.APIConnectionError)
    assert error.__cause__ is not None  # aiohttp's error, chained as a copy without its frames
    assert error.__cause__.__traceback__ is None
    assert TOKEN not in rendered(error)


@pytest.mark.parametrize("status", [200, 503])
async def test_a_cancel_from_outside_leaves_no_token_in_its_frames(
    start_server: StartServer, body_begun: asyncio.Event, status: int
) -> None:
    """A caller's cancel while a body is read after echoing headers: no token in the frames."""
    stalled = asyncio.Event()
    url = await echoing_then(start_server, status, stalled)
    once = RetryPolicy(attempts=1, timeout=5.0)
    with set_testing():
        async with ProlificClient(TOKEN, base_url=url, retry=once) as client:
            call = asyncio.ensure_future(client.batches.get("b1"))
            await body_begun.wait()  # the client waits for the rest of the body
            call.cancel()
            with pytest.raises(asyncio.CancelledError) as caught:
                await call
    stalled.set()
    text = rendered(caught.value)
    assert "in read_body" in text  # cut while reading the body, the frames below are there,
    assert TOKEN not in text  # without their locals


@pytest.mark.parametrize("status", [200, 503])
async def test_an_answer_past_its_cap_leaves_no_token_in_its_frames(
    scripted_api: ScriptedAPI, status: int
) -> None:
    """A body over max_response_bytes, after headers echoing the token: none in the frames."""
    scripted_api.then(("status", status, {"X-Request-Id": ECHO}, "x" * 1000))
    once = RetryPolicy(attempts=1, timeout=5.0)  # a 503 is read by the client
    with set_testing():
        async with ProlificClient(
            TOKEN, base_url=scripted_api.url, retry=once, max_response_bytes=100
        ) as client:
            error = await failure_of(client, "get")
    assert isinstance(error, errors.ResponseTooLargeError)
    assert TOKEN not in rendered(error)


async def test_a_warning_made_an_error_leaves_no_token_in_its_frames(
    scripted_api: ScriptedAPI,
) -> None:
    """A deprecation warning raised as an error (-W error) holds no echoed token in its frames."""
    echoing = ("status", 200, {"Deprecation": "true", "X-Request-Id": ECHO})
    scripted_api.then((*echoing, json.dumps(SCRIPTED_BATCH)))
    del echoing  # this test's own frame is in the traceback too
    with set_testing(), warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        async with ProlificClient(TOKEN, base_url=scripted_api.url, retry=FAST) as client:
            with pytest.raises(DeprecationWarning) as caught:
                await client.batches.get("b1")
    assert TOKEN not in rendered(caught.value)


#: Header lines aiohttp's parser refuses, quoting them in its error (``{}``: the echo).
REFUSED_LINES = {
    "a header without a colon": "Echo {}",
    "a header value with a NUL": "X-Echo: {}\0",
    "a Content-Length that is no number": "Content-Length: {}",
    "a chunk size that is no number": "Transfer-Encoding: chunked\r\n\r\n{}",
}


async def failure_of_a_head_line(start_server: StartServer, line: str) -> errors.ProlificError:
    """The error of a GET answered with header ``line`` (``{}``: the echoed Authorization)."""

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
            return await failure_of(client, "get")


@pytest.mark.parametrize("line", REFUSED_LINES.values(), ids=list(REFUSED_LINES))
async def test_a_refused_header_echoing_the_token_is_masked(
    start_server: StartServer, line: str
) -> None:
    """A malformed header that quotes the token reaches neither the error's text nor its chain."""
    error = await failure_of_a_head_line(start_server, line)
    assert isinstance(error, errors.APIConnectionError)
    assert "***" in str(error)  # the parser's quote is kept, masked
    assert TOKEN not in str(error)
    assert TOKEN not in rendered(error)


def pieces_of(secret: str) -> set[str]:
    """Every run of eight characters of ``secret`` (the least the redactor masks)."""
    return {secret[at : at + 8] for at in range(len(secret) - 7)}


async def failure_answered(
    scripted_api: ScriptedAPI, step: tuple[Any, ...]
) -> errors.ProlificError:
    """The error of a GET answered as ``step`` scripts it."""
    scripted_api.then(step)
    with set_testing():
        async with ProlificClient(TOKEN, base_url=scripted_api.url, retry=FAST) as client:
            return await failure_of(client, "get")


async def test_a_header_too_long_cut_mid_token_shows_no_piece_of_it(
    start_server: StartServer,
) -> None:
    """A header too long is quoted by its first 100 bytes: the token's piece there is masked."""
    # The echo starts 80 bytes into the value: the quote ends 14 characters into the token.
    error = await failure_of_a_head_line(start_server, "X-Echo: " + "a" * 80 + "{}" + "b" * 9000)
    assert isinstance(error, errors.APIConnectionError)
    assert "aaaaToken ***" in str(error)  # the quote is kept, its piece of the token masked
    shown = rendered(error)
    assert not [piece for piece in pieces_of(TOKEN) if piece in shown]


async def test_an_error_body_quoting_a_piece_of_the_token_shows_none_of_it(
    scripted_api: ScriptedAPI,
) -> None:
    """A 401 whose body and request id quote the token cut short shows no piece of it."""
    piece = ECHO[:18]
    error = await failure_answered(
        scripted_api, ("status", 401, {"X-Request-Id": piece}, f'{{"detail": "bad {piece}..."}}')
    )
    assert isinstance(error, errors.AuthenticationError)
    assert error.body == {"detail": "bad Token ***..."}
    assert error.request_id == "Token ***"
    shown = rendered(error) + repr(error) + repr(error.headers)
    assert not [piece for piece in pieces_of(TOKEN) if piece in shown]


#: The token's first 14 characters, every third one written as a JSON escape.
ESCAPED_PIECE = "".join(
    f"\\u{ord(char):04x}" if at % 3 == 0 else char for at, char in enumerate(TOKEN[:14])
)


async def test_an_error_body_quoting_an_escaped_piece_of_the_token_shows_none_of_it(
    scripted_api: ScriptedAPI,
) -> None:
    """A piece of the token written with JSON escapes in an error body is masked, decoded."""
    error = await failure_answered(
        scripted_api, ("status", 400, {}, f'{{"detail": "bad {ESCAPED_PIECE}..."}}')
    )
    assert isinstance(error, errors.BadRequestError)
    assert error.body == {"detail": "bad ***..."}
    shown = rendered(error) + repr(error)
    assert not [piece for piece in pieces_of(TOKEN) if piece in shown]


async def test_an_error_body_past_the_walked_size_keeps_its_strings_but_masks_its_message(
    scripted_api: ScriptedAPI,
) -> None:
    """A body past 16 Ki characters is not walked string by string; its message is masked."""
    piece = ECHO[:18]
    padding = "x" * (_error_body._MASKED_UP_TO + 1)
    error = await failure_answered(
        scripted_api, ("status", 400, {}, json.dumps({"detail": piece, "padding": padding}))
    )
    assert isinstance(error, errors.BadRequestError)
    assert error.body["detail"] == piece  # as sent: only the whole token is masked there
    assert "Token ***" in str(error)
    assert not [part for part in pieces_of(TOKEN) if part in str(error)]


async def test_a_2xx_body_whose_key_quotes_a_piece_of_the_token_shows_none_of_it(
    scripted_api: ScriptedAPI,
) -> None:
    """A decoding error naming a key that holds a piece of the token masks it, message and lines."""
    body = f'{{"{ECHO[:18]}": "\\ud800"}}'  # a lone surrogate: the error names its key
    error = await failure_answered(scripted_api, ("status", 200, {}, body))
    assert isinstance(error, errors.ResponseValidationError)
    assert "Token ***" in str(error)
    shown = rendered(error) + repr(error) + repr(error.errors)
    assert not [piece for piece in pieces_of(TOKEN) if piece in shown]


async def test_a_raw_call_that_fails_keeps_no_answer_in_its_frames(
    scripted_api: ScriptedAPI,
) -> None:
    """A raw call's error leaves the answer it recorded (quoting the token) out of its frames."""
    scripted_api.then(("status", 401, {}, f'{{"detail": "{ECHO[:18]}"}}'))
    with set_testing():
        async with ProlificClient(TOKEN, base_url=scripted_api.url, retry=FAST) as client:
            with pytest.raises(errors.AuthenticationError) as caught:
                await client.batches.with_raw_response.get("b1")
    shown = rendered(caught.value)
    assert "wrapped" in [frame.name for frame in traceback.extract_tb(caught.value.__traceback__)]
    assert not [piece for piece in pieces_of(TOKEN) if piece in shown]


#: A token no other test's client uses: masked here only if this test's client registers it.
OWN_TOKEN = "a-token-only-this-module-uses-0042"


async def test_every_error_of_the_package_masks_a_live_clients_token() -> None:
    """An error's message and the server's words it keeps (headers too) mask every live token."""
    cut_short = f"Token {OWN_TOKEN[:16]}..."
    async with ProlificClient(OWN_TOKEN):
        failures: list[errors.ProlificError] = [
            errors.ProlificError(f"said Token {OWN_TOKEN}"),
            errors.ClientClosedError(f"closed {cut_short}"),
            errors.APITimeoutError(f"slow {cut_short}", method="GET", url="u"),
            errors.BatchSetupError(f"setup {cut_short}", batch_id="b", status=cut_short),
            errors.DatasetProcessingError(
                f"failed {cut_short}",
                dataset_id="d",
                import_id=None,
                status="failed",
                reason=cut_short,
            ),
            errors.BatchSyncFailedError(
                f"failed: {cut_short}", batch_id="b", sync_id="s", reason=cut_short, sync=None
            ),
            errors.SchemaMigrationFailedError(
                f"failed {cut_short}", dataset_id="d", job_id="j", reason=cut_short, migration=None
            ),
            errors.WaitTimeoutError(
                f"still {cut_short}", resource="batch b", timeout=1.0, last_status=cut_short
            ),
            errors.ResponseValidationError(
                "bad", status_code=200, method="GET", url="u", errors=[f"@ $.{cut_short}"]
            ),
            errors.BadRequestError(
                "bad",
                status_code=400,
                body=None,
                request_id=cut_short,
                method="GET",
                url="u",
                headers={"X-Echo": cut_short},
            ),
        ]
    for failure in failures:
        shown = repr(failure) + repr(vars(failure))
        assert "***" in shown
        assert not [piece for piece in pieces_of(OWN_TOKEN) if piece in shown]


async def test_an_error_body_has_every_string_masked_keys_and_list_items_too() -> None:
    """Decoding an error body masks each key, value and list item; two keys masked alike stay."""
    body = {"***": "kept", OWN_TOKEN: "also kept", "list": [OWN_TOKEN[:20], {"k": OWN_TOKEN[2:30]}]}
    async with ProlificClient(OWN_TOKEN):
        decoded = _error_body.decode_error_body(json.dumps(body).encode())
        text = _error_body.decode_error_body(f"<p>bad {OWN_TOKEN[:20]}</p>".encode())
    assert decoded == {"***": "kept", "****": "also kept", "list": ["***", {"k": "***"}]}
    assert text == "<p>bad ***</p>"  # a body that is not JSON is masked as text


@pytest.mark.parametrize(
    "quote",
    [ECHO[:20], TOKEN[5:], TOKEN[3:11], f"{TOKEN[:9]} and {TOKEN[-9:]}"],
    ids=["its start", "its end", "eight characters inside", "two pieces"],
)
def test_a_piece_of_the_token_is_masked_in_text(quote: str) -> None:
    """Text quoting a piece of the token eight characters long or more shows none of it."""
    shown = Redactor(TOKEN).text(f"quoted: {quote}...")
    assert shown.startswith("quoted: ")
    assert shown.endswith("...")
    assert "***" in shown
    assert not [piece for piece in pieces_of(TOKEN) if piece in shown]


def test_text_with_less_than_eight_characters_of_the_token_is_left_as_it_is() -> None:
    """Seven characters of the token at a cut are not masked (nor is unrelated text)."""
    redactor = Redactor(TOKEN)
    for text in (f"cut at {TOKEN[-7:]}", "nothing secret here", "Token"):
        assert redactor.text(text) == text


@pytest.mark.parametrize(
    "quote", [None, ECHO, ECHO[:16]], ids=["nothing secret", "the token", "a piece of it"]
)
def test_a_connection_error_quoting_the_token_is_not_chained(quote: str | None) -> None:
    """The aiohttp error is the cause unless its text quotes the token (or a piece of it)."""
    said = f"Invalid chunk size: {quote or 'x'}"
    cause = aiohttp.ClientPayloadError(said)
    failure = connection_error(
        cause, "GET", "u", _call.CallState(deadline=0.0), closed=False, redact=Redactor(TOKEN).text
    )
    assert not [piece for piece in pieces_of(TOKEN) if piece in str(failure)]
    if quote:
        assert failure.__cause__ is None
    else:  # aiohttp's error, copied without its frames
        assert type(failure.__cause__) is type(cause)
        assert str(failure.__cause__) == said
        assert failure.__cause__.__traceback__ is None


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


async def test_a_sunset_echoing_the_token_is_masked_in_its_warning(
    scripted_api: ScriptedAPI,
) -> None:
    """A deprecated endpoint's Sunset header quoting the token warns with it masked."""
    body = json.dumps(SCRIPTED_BATCH)
    scripted_api.then(("status", 200, {"Deprecation": "true", "Sunset": ECHO}, body))
    with set_testing(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with ProlificClient(TOKEN, base_url=scripted_api.url, retry=FAST) as client:
            await client.batches.get("b1")
    (warned,) = [w for w in caught if issubclass(w.category, DeprecationWarning)]
    assert "stops working on Token ***" in str(warned.message)
    assert TOKEN not in str(warned.message)


@pytest.mark.parametrize("source", ["PROLIFIC_TOKEN", "token="])
def test_a_token_refused_for_its_characters_is_in_no_frame_of_the_library(
    monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    """A token with a character no header carries is in no library frame's locals."""
    bad = f"{TOKEN}\u00e9"
    if source == "PROLIFIC_TOKEN":
        monkeypatch.setenv("PROLIFIC_TOKEN", bad)
    with pytest.raises(ValueError, match=f"API token \\({source}\\)") as caught:
        ProlificClient(**({"token": bad} if source == "token=" else {}))
    frames = traceback.TracebackException.from_exception(caught.value, capture_locals=True)
    package = Path(prolific_async.__file__).parent
    library = [frame for frame in frames.stack if Path(frame.filename).is_relative_to(package)]
    assert [frame.name for frame in library] == ["__init__", "token_from"]
    # Given as an argument, only the caller's own frames hold it (__init__ drops its own).
    for frame in library:
        assert TOKEN not in repr(frame.locals), (frame.name, frame.locals)
