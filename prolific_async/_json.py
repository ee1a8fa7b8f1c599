"""A faster JSON parser when one is installed (the ``fast`` extra: msgspec), else none.

:func:`quick_loads` is tried first and gives up on anything it does not read the way
the standard library does; ``decode_json`` then parses with ``json.loads``, so every
error (and every accepted value) is the standard library's. msgspec refuses what
``json.loads`` accepts but the converter would refuse later anyway (``NaN``,
``1e999``, a lone surrogate): those fall back and fail as before. orjson is not used:
it reads an integer beyond 64 bits as a float, which the converter would then accept.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["quick_loads"]

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
