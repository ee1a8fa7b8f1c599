"""``stdlib_loads`` reads a body as ``json.loads`` does, but for non-finite numbers.

The same value or the same error, except that NaN, Infinity and 1e999 are refused.
"""

from __future__ import annotations

import json
import tracemalloc
from typing import Any

import pytest

from prolific_async._json import NonFiniteNumberError, stdlib_loads

BODIES: tuple[bytes, ...] = (
    b'{"a": 1, "b": [1.5, true, null, "x"]}',
    b"[1, 2, 3]",
    b'{"a": 1}  \n\t\r',
    b'{"a": 1} x',
    b'{"a": 1}{"b": 2}',
    b"  {}",
    b"{",
    b"[",
    b"[1,]",
    b'{"big": 1e99, "small": 1e-999, "int": 123456789012345678901234567890}',
    b'{"s": "\\ud800", "t": "\\ud83d\\ude00"}',
    b'{"s": "\xed\xa0\x80"}',
    b'{"s": "\xff"}',
    b'{"caf\xc3\xa9": "\xc3\xa9"}',
    b"\xef\xbb\xbf{}",
    '{"a": "é"}'.encode("utf-16"),
    '{"a": 1}'.encode("utf-16-le"),
    '{"a": 1}'.encode("utf-32-be"),
    b"{\x00}",
    b"[" * 100_000 + b"]" * 100_000,
    b"true",
    b"",
)


def _outcome(load: Any, raw: bytes) -> tuple[Any, ...]:
    try:
        value = load(raw)
    except (ValueError, RecursionError) as exc:
        return type(exc), str(exc)
    return ("ok", json.dumps(value, sort_keys=True, default=repr))


@pytest.mark.parametrize("raw", BODIES, ids=lambda raw: repr(raw[:24]))
def test_a_body_gets_the_answer_json_loads_gives(raw: bytes) -> None:
    """The value, or the error's type and message, is json.loads' own."""
    assert _outcome(stdlib_loads, raw) == _outcome(json.loads, raw)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a": NaN}',
        b'{"a": [Infinity]}',
        b'{"a": -Infinity}',
        b'{"b": 1e999}',
        b'{"b": -1E400}',
        b"1e999",
        b"NaN",
    ],
)
def test_non_finite_numbers_are_refused(raw: bytes) -> None:
    """NaN, Infinity and 1e999 (json.loads reads them as floats) are a NonFiniteNumberError."""
    with pytest.raises(NonFiniteNumberError):
        stdlib_loads(raw)


def _peak(raw: bytes) -> int:
    """The most memory ``stdlib_loads(raw)`` held at once, raising as it must."""
    tracemalloc.start()
    try:
        with pytest.raises(json.JSONDecodeError):
            stdlib_loads(raw)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    ("head", "tail"), [(b'["', b'"] x'), (b'["', b'", ]')], ids=["extra data", "a bad value"]
)
def test_a_large_malformed_body_is_not_held_twice_while_json_loads_reads_it(
    head: bytes, tail: bytes
) -> None:
    """The text (and value) decoded first are dropped before json.loads decodes the body again."""
    size = 4_000_000
    raw = head + b"a" * size + tail
    # json.loads' own text and value, plus slack: not a second text and value of ours.
    assert _peak(raw) < 2.5 * size
