"""A faster JSON parser when one is installed (the ``fast`` extra: msgspec), else the stdlib's.

:func:`quick_loads` is tried first and gives up on anything it does not read the way
the standard library does; ``decode_json`` then parses with :func:`stdlib_loads`, which
is ``json.loads`` without its per-call steps for a body that plainly needs none, so
every error (and every accepted value) is the standard library's. msgspec refuses what
``json.loads`` accepts but the converter would refuse later anyway (``NaN``,
``1e999``, a lone surrogate): those fall back and fail as before. orjson is not used:
it reads an integer beyond 64 bits as a float, which the converter would then accept.
"""

from __future__ import annotations

import json
import json.scanner
from collections.abc import Callable
from typing import Any, Final

__all__ = ["quick_loads", "stdlib_loads"]

#: The stdlib's own scanner (its C one when built), as ``json.loads`` runs it.
_scan: Final[Callable[[str, int], tuple[Any, int]]] = json.scanner.make_scanner(
    json.JSONDecoder()  # type: ignore[arg-type]  # typeshed types the context as a scanner
)

_decode: Callable[[bytes], Any] | None = None
_looked = False


def quick_loads(raw: bytes) -> tuple[bool, Any]:
    """``(True, data)`` when the fast parser read ``raw``; ``(False, None)`` otherwise."""
    global _decode, _looked  # found on first use: importing the package stays cheap
    if not _looked:
        _looked = True
        try:
            from msgspec.json import decode as found
        except ImportError:
            return False, None
        _decode = found
    if _decode is None:
        return False, None
    try:
        return True, _decode(raw)
    except Exception:  # msgspec's errors, its RecursionError: the stdlib path words them
        return False, None


def stdlib_loads(raw: bytes) -> Any:
    """``json.loads(raw)``: the same value, or the same error.

    A body that starts an object or an array in UTF-8 (a ``{`` or ``[`` then a byte
    that is not 0: no byte-order mark, not UTF-16 or UTF-32, as ``json.loads``'s
    encoding test reads it) is decoded and scanned directly; anything else, and any
    body the scanner does not read to its end, is left to ``json.loads`` itself, once
    the text decoded here is dropped (a large malformed body is not held twice).
    """
    if raw[:1] in (b"{", b"[") and raw[1:2] != b"\x00":
        text, data = "", None
        try:
            text = raw.decode("utf-8", "surrogatepass")
            data, end = _scan(text, 0)
        except Exception:  # noqa: S110 (json.loads below raises the error it words)
            pass
        else:
            if end == len(text) or not text[end:].strip(" \t\n\r"):  # JSON's whitespace
                return data
        # json.loads decodes the body again: not with this text (and value) still alive.
        del text, data
    return json.loads(raw)
