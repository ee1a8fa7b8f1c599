"""The client's token never reaches an exception, whatever the server echoes back."""

from __future__ import annotations

import json
import traceback
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest
from aiohttp import web

from prolific_async import APIStatusError, ProlificClient, ResponseValidationError

from .conftest import TOKEN, StartServer, server_url

E = TypeVar("E", bound=BaseException)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def test_a_token_echoed_in_an_error_answer_is_masked(start_server: StartServer) -> None:
    """A 401 naming the token in its body and a header: the error shows neither."""

    async def handler(request: web.Request) -> web.Response:
        sent = request.headers["Authorization"]
        return web.json_response(
            {"error": {"title": "Unauthorized", "detail": f"Invalid token: {sent}"}},
            status=401,
            headers={"X-Echo": sent},
        )

    url = server_url(await start_server(handler))
    async with ProlificClient(TOKEN, base_url=url) as client:
        with pytest.raises(APIStatusError) as caught:
            await client.batches.get("b1")
    error = caught.value
    for text in (str(error), repr(error), repr(error.body), repr(dict(error.headers))):
        assert TOKEN not in text
    assert "***" in str(error)


async def test_a_token_echoed_in_an_unreadable_2xx_is_masked(start_server: StartServer) -> None:
    """A 200 that is not JSON quotes a snippet of itself, with the token masked."""

    async def handler(request: web.Request) -> web.Response:
        return web.Response(text=f"oops {request.headers['Authorization']} oops", status=200)

    url = server_url(await start_server(handler))
    async with ProlificClient(TOKEN, base_url=url) as client:
        with pytest.raises(ResponseValidationError) as caught:
            await client.batches.get("b1")
    assert TOKEN not in str(caught.value)
    assert TOKEN[:8] not in str(caught.value)  # not even the start of it at the snippet's end


def json_escaped(text: str, *, every: int = 1, upper: bool = False) -> str:
    r"""``text`` with every ``every``-th character written as a JSON ``\uXXXX`` escape."""
    form = "\\u{:04X}" if upper else "\\u{:04x}"
    return "".join(
        form.format(ord(char)) if index % every == 0 else char for index, char in enumerate(text)
    )


@pytest.mark.parametrize(
    ("escaped", "content_type"),
    [
        (json_escaped(TOKEN), "application/json"),
        (json_escaped(TOKEN, every=3, upper=True), "application/json"),
        (json_escaped(TOKEN), "text/plain"),
    ],
    ids=["all-escaped", "mixed-upper-hex", "plain-text-body"],
)
async def test_a_token_echoed_as_json_escapes_is_masked(
    start_server: StartServer, escaped: str, content_type: str
) -> None:
    r"""A 401 writing the token as ``\u0073\u0065...`` shows it neither decoded nor escaped."""

    async def handler(request: web.Request) -> web.Response:
        body = '{"detail": "Invalid token: Token ' + escaped + '"}'
        return web.Response(text=body, status=401, content_type=content_type)

    url = server_url(await start_server(handler))
    async with ProlificClient(TOKEN, base_url=url) as client:
        with pytest.raises(APIStatusError) as caught:
            await client.batches.get("b1")
    error = caught.value
    for text in (str(error), repr(error), repr(error.body), str(error.body)):
        assert TOKEN not in text
        assert escaped not in text
        assert escaped[:30] not in text  # no readable start of it either
    assert "***" in str(error)


async def test_a_token_as_json_escapes_in_an_unreadable_2xx_is_masked(
    start_server: StartServer,
) -> None:
    """The snippet a 200 that is not JSON quotes masks the token's escaped form too."""

    async def handler(request: web.Request) -> web.Response:
        return web.Response(text=f"oops {json_escaped(TOKEN)} oops", status=200)

    url = server_url(await start_server(handler))
    async with ProlificClient(TOKEN, base_url=url) as client:
        with pytest.raises(ResponseValidationError) as caught:
            await client.batches.get("b1")
    assert json_escaped(TOKEN)[:12] not in str(caught.value)
    assert "***" in str(caught.value)


def chained(error: BaseException) -> list[BaseException]:
    """``error`` and every exception reachable from it: causes, contexts, group members."""
    seen: list[BaseException] = []
    todo = [error]
    while todo:
        current = todo.pop()
        if any(current is known for known in seen):
            continue
        seen.append(current)
        todo.extend(e for e in (current.__cause__, current.__context__) if e is not None)
        todo.extend(getattr(current, "exceptions", ()))
    return seen


@pytest.mark.parametrize(
    "field",
    [
        {"created_at": TOKEN},
        {"total_task_count": TOKEN},
        {"name": [TOKEN]},
        {"status": {"x": TOKEN}},
        {"datasets": TOKEN},
    ],
    ids=["date", "int", "list-for-str", "object-for-enum", "string-for-list"],
)
async def test_a_token_in_a_2xx_field_is_in_no_chained_exception(
    start_server: StartServer, field: dict[str, object]
) -> None:
    """A 200 whose field holds the token: no exception in the error's chain quotes it."""
    from .conftest import fixture_json

    async def handler(request: web.Request) -> web.Response:
        return web.json_response({**fixture_json("get_batch_200.json"), **field})

    url = server_url(await start_server(handler))
    async with ProlificClient(TOKEN, base_url=url) as client:
        with pytest.raises(ResponseValidationError) as caught:
            await client.batches.get("b1")
    assert TOKEN not in "".join(traceback.format_exception(caught.value))
    for error in chained(caught.value):
        for text in (str(error), repr(error), repr(error.args), repr(vars(error))):
            assert TOKEN not in text


async def test_a_token_in_a_2xx_that_is_not_json_is_in_no_chained_exception(
    start_server: StartServer,
) -> None:
    """A 200 that is not JSON: the decoder's error (which holds the body) is not chained."""

    async def handler(request: web.Request) -> web.Response:
        return web.Response(text=f"{{oops {TOKEN}", status=200)

    url = server_url(await start_server(handler))
    async with ProlificClient(TOKEN, base_url=url) as client:
        with pytest.raises(ResponseValidationError) as caught:
            await client.batches.get("b1")
    for error in chained(caught.value):
        assert TOKEN not in repr(vars(error)) + repr(error.args)


def shown(text: str) -> str:
    """``text`` as a terminal shows it: NULs (UTF-16 or UTF-32 read as UTF-8) show as nothing."""
    return text.replace("\x00", "").replace("\\x00", "")


async def get_error(
    start_server: StartServer, handler: Handler, expected: type[E] = APIStatusError
) -> E:
    """What ``batches.get`` raises against a server answering with ``handler``."""
    url = server_url(await start_server(handler))
    async with ProlificClient(TOKEN, base_url=url) as client:
        with pytest.raises(expected) as caught:
            await client.batches.get("b1")
    return caught.value


@pytest.mark.parametrize(
    "codec", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"]
)
async def test_a_token_echoed_in_a_utf16_or_utf32_error_is_masked(
    start_server: StartServer, codec: str
) -> None:
    """A 401 in UTF-16 or UTF-32 naming the token: no form of the error shows it."""

    async def handler(request: web.Request) -> web.Response:
        body = '{"detail": "Invalid token: ' + request.headers["Authorization"] + '"}'
        return web.Response(
            body=body.encode(codec), status=401, content_type="application/json", charset=codec
        )

    error = await get_error(start_server, handler)
    for text in (str(error), repr(error), repr(error.body), str(error.body)):
        assert TOKEN[:8] not in shown(text)
    assert "***" in shown(str(error))


async def test_a_token_in_a_utf16_2xx_that_is_not_json_is_masked(
    start_server: StartServer,
) -> None:
    """A 200 in UTF-16 that is not JSON quotes a snippet of itself with the token masked."""

    async def handler(request: web.Request) -> web.Response:
        body = f"oops {request.headers['Authorization']} oops".encode("utf-16-le")
        return web.Response(body=body, status=200, content_type="text/plain")

    error = await get_error(start_server, handler, ResponseValidationError)
    assert TOKEN[:8] not in shown(str(error))
    assert "***" in shown(str(error))


@pytest.mark.parametrize("stray", [b"", b"x", b"xyz"], ids=["whole", "1-stray", "3-stray"])
@pytest.mark.parametrize("codec", ["utf-16-le", "utf-32-be"])
def test_an_escaped_token_in_a_wide_body_is_masked_even_after_a_stray_byte(
    codec: str, stray: bytes
) -> None:
    r"""``\u0073...`` in a UTF-16 or UTF-32 body with bytes left over at its end: masked."""
    from prolific_async._redact import Redactor

    body = ('{"detail": "' + json_escaped(TOKEN) + '"}').encode(codec) + stray
    masked = Redactor(TOKEN).data(body)
    assert masked.endswith(stray)
    assert masked[: len(masked) - len(stray)].decode(codec) == '{"detail": "***"}'


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_a_body_in_utf16_or_utf32_gets_the_mask_in_its_own_charset(codec: str) -> None:
    """Masked bytes of a UTF-16 or UTF-32 body still decode in it, with the mask in place."""
    from prolific_async._redact import Redactor

    masked = Redactor(TOKEN).data(f'{{"detail": "{TOKEN}"}}'.encode(codec))
    assert masked.decode(codec) == '{"detail": "***"}'


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-32-be"])
async def test_a_json_escaped_token_in_a_long_utf16_error_body_is_masked(
    start_server: StartServer, codec: str
) -> None:
    r"""A 401 in UTF-16 over 16 Ki characters writing the token as ``\u0073...``: masked."""
    escaped = json_escaped(TOKEN)

    async def handler(request: web.Request) -> web.Response:
        body = '{"detail": "' + escaped + '", "pad": "' + "x" * 17_000 + '"}'
        return web.Response(body=body.encode(codec), status=401, content_type="text/plain")

    error = await get_error(start_server, handler)
    for text in (str(error), str(error.body)):
        assert escaped[:30] not in shown(text)
        assert TOKEN[:8] not in shown(text)
    assert "***" in shown(str(error.body))


async def test_a_raw_answer_in_utf16_reads_as_json_with_the_token_masked(
    start_server: StartServer,
) -> None:
    """A raw response's json() (which reads UTF-16 itself) never gives back the token."""
    from .conftest import fixture_json

    async def handler(request: web.Request) -> web.Response:
        text = json.dumps({**fixture_json("get_batch_200.json"), "name": "@@"})
        text = text.replace('"@@"', '"' + json_escaped(TOKEN) + '"')
        return web.Response(body=text.encode("utf-16"), status=200, content_type="text/plain")

    url = server_url(await start_server(handler))
    async with ProlificClient(TOKEN, base_url=url) as client:
        raw = await client.batches.with_raw_response.get("b1")
    assert raw.json()["name"] == "***"
    assert TOKEN not in repr(raw.json())
