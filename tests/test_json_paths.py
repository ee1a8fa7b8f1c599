"""msgspec (the ``fast`` extra) and ``json.loads`` give the same answer for hostile bodies.

Each body goes through the public path (``client.batches.get`` against a loopback
server) twice: with msgspec as the fast parser, and with it forced off (the stdlib
``json`` alone). The result, or the error's type, message and ``errors``, must be the
same. Skipped without msgspec; ``.ci/run`` installs the ``fast`` extra on its newest
Python (3.13), so it runs there.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp import web

from prolific_async import ProlificClient, ProlificError, RetryPolicy
from prolific_async import _json as fast_json
from prolific_async._body import decode_json
from prolific_async.errors import ResponseValidationError

from .conftest import TOKEN, StartServer, fixture_json, server_url

msgspec_json = pytest.importorskip("msgspec.json")

BATCH: dict[str, Any] = fixture_json("get_batch_200.json")
COUNT = b'"total_task_count": 0'


def _body(**fields: Any) -> bytes:
    return json.dumps(BATCH | fields).encode()


def _count(raw: bytes) -> bytes:
    """The batch with ``raw`` in place of its integer ``total_task_count``."""
    return _body(total_task_count=0).replace(COUNT, b'"total_task_count": ' + raw)


def _name(raw: bytes) -> bytes:
    """The batch with ``raw`` (bytes as sent) in place of its ``name`` string."""
    return _body(name="x").replace(b'"name": "x"', b'"name": ' + raw)


HOSTILE: dict[str, bytes] = {
    "not_json": b"<html>",
    "nan": _count(b"NaN"),
    "infinity": _count(b"1e999"),
    "int_beyond_64_bits": _body(total_task_count=2**70),
    "escaped_lone_surrogate": _name(b'"\\ud800"'),
    "raw_lone_surrogate": _name(b'"\xed\xa0\x80"'),
    "lone_surrogate_after_other_escapes": _name(b'"a\\"b\\n\\uDC00"'),
    "bad_utf8": _name(b'"\xff"'),
    "bom": b"\xef\xbb\xbf" + _body(),
    "utf16": json.dumps(BATCH).encode("utf-16"),
    "trailing_junk": _body() + b"x",
    "control_character": _name(b'"a\x01"'),
    "nested_1200_deep": _name(b"[" * 1200 + b"]" * 1200),
    "float_for_int": _count(b"1.0"),
    "exponent_for_int": _count(b"1e2"),
    "negative_zero": _count(b"-0"),
}


async def _outcomes(client: ProlificClient) -> dict[str, tuple[Any, ...]]:
    outcomes: dict[str, tuple[Any, ...]] = {}
    for case in HOSTILE:
        try:
            batch = await client.batches.get(case)
        except ProlificError as exc:
            outcomes[case] = (type(exc), str(exc), getattr(exc, "errors", None))
        else:
            outcomes[case] = ("ok", batch)
    return outcomes


async def test_hostile_bodies_meet_the_same_answer_with_and_without_msgspec(
    start_server: StartServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every hostile body gives the same batch or the same error type and message."""

    async def answer(request: web.BaseRequest) -> web.Response:
        body = HOSTILE[request.path.rsplit("/", 1)[-1]]
        return web.Response(body=body, content_type="application/json")

    server = await start_server(answer)
    async with ProlificClient(
        TOKEN, base_url=server_url(server), retry=RetryPolicy(attempts=1)
    ) as client:
        monkeypatch.setattr(fast_json, "_looked", True)
        monkeypatch.setattr(fast_json, "_decode", msgspec_json.decode)
        assert fast_json.quick_loads(_body()) == (True, BATCH)  # msgspec reads clean bodies
        with_msgspec = await _outcomes(client)
        monkeypatch.setattr(fast_json, "_decode", None)
        assert fast_json.quick_loads(_body()) == (False, None)
        stdlib_only = await _outcomes(client)
    assert with_msgspec == stdlib_only
    assert sum(outcome[0] != "ok" for outcome in stdlib_only.values()) >= 12


@pytest.mark.parametrize(
    ("name", "refused"),
    [
        (b'"a\\"b\\n\\uDC00"', True),  # a lone low surrogate after other escapes
        (b'"x\\ud800"', True),
        (b'"\xed\xb0\x80"', True),  # a surrogate's bytes in UTF-8
        (b'"a\\"b\\n\\t\\u00e9"', False),  # escapes, none a surrogate
        (b'"\\ud83d\\ude00"', False),  # a pair: one character
    ],
)
def test_decode_json_refuses_lone_surrogates_whatever_else_is_escaped(
    name: bytes, refused: bool
) -> None:
    """A lone surrogate is refused whether or not the body has other escapes; others pass."""
    raw = _name(name)
    if refused:
        with pytest.raises(ResponseValidationError, match="lone surrogate"):
            decode_json(raw, 200, "GET", "http://127.0.0.1/x")
    else:
        assert decode_json(raw, 200, "GET", "http://127.0.0.1/x")["name"]
