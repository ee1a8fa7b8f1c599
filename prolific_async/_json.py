"""A faster JSON parser when one is installed (the ``fast`` extra: msgspec), else the stdlib's.

:func:`quick_loads` is tried first and gives up on anything it does not read the way
the standard library does; ``decode_json`` then parses with :func:`stdlib_loads`, which
is ``json.loads`` without its per-call steps for a body that plainly needs none, so
every error (and every accepted value) is the standard library's, but for the
non-finite numbers it refuses (``NaN``, ``Infinity``, ``1e999``). msgspec refuses those
and a lone surrogate too: such bodies fall back to the stdlib. orjson is not used:
it reads an integer beyond 64 bits as a float, which the converter would then accept.
"""

from __future__ import annotations

import json
import json.scanner
import math
import re
from collections.abc import Callable, Iterable
from typing import Any, Final

__all__ = [
    "FINITE_ONLY",
    "MAX_LISTED",
    "MAX_SHOWN",
    "NonFiniteNumberError",
    "dumps",
    "long_integer_at",
    "non_finite_at",
    "non_finite_in",
    "quick_loads",
    "refuse_non_finite",
    "shortened",
    "shortened_list",
    "shortened_repr",
    "shortened_url",
    "stdlib_loads",
]


class NonFiniteNumberError(ValueError):
    """A body holding ``NaN``, ``Infinity`` or a number beyond a float's range (``1e999``).

    ``json.loads`` reads them as floats no JSON can carry: a value kept in a free-form
    field (``extra``, a layout item's ``raw``) would be sent back as ``Infinity``.
    """


def _refuse_constant(name: str) -> Any:
    raise NonFiniteNumberError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (math.inf, -math.inf):
        raise NonFiniteNumberError(f"{text[:40]} is beyond a float's range")
    return value


#: ``json.loads`` options that refuse non-finite numbers (:class:`NonFiniteNumberError`).
FINITE_ONLY: Final[dict[str, Any]] = {
    "parse_constant": _refuse_constant,
    "parse_float": _finite_float,
}
#: The stdlib's own scanner (its C one when built), as ``json.loads`` runs it.
_scan: Final[Callable[[str, int], tuple[Any, int]]] = json.scanner.make_scanner(
    json.JSONDecoder(**FINITE_ONLY)  # type: ignore[arg-type]  # typeshed: the context is a scanner
)

#: The longest value a message shows whole (an id, a JSON path); longer ones are cut.
MAX_SHOWN: Final = 200
_IDENTIFIER: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: A part of a URL (a path segment, a query key or value) too long to show whole.
_LONG_URL_PART: Final = re.compile(rf"[^/?&=#]{{{MAX_SHOWN + 1},}}")


def shortened(text: str) -> str:
    """``text`` as a message shows it: its first :data:`MAX_SHOWN` characters and "..."."""
    return text if len(text) <= MAX_SHOWN else f"{text[:MAX_SHOWN]}..."


def shortened_repr(value: object) -> str:
    """``repr(value)`` as a message shows it: a long string's cut inside its quotes.

    ``shortened(repr(x))`` drops a long string's closing quote (``'abc...``); this keeps
    it and says how long the value was, so the cut cannot be read as the value's own
    ``...``: ``'abc...' (5000 characters)``, with :data:`MAX_SHOWN` characters inside the
    quotes, as the command line cuts a quoted value (it leaves this one as it is). The
    value is cut before ``repr``, so no escape is split: the longest prefix whose
    ``repr`` is at most :data:`MAX_SHOWN` characters and its quotes. Any other value's
    ``repr`` is cut as :func:`shortened` cuts it; an integer too long for Python to
    write out (over 4,300 digits) is named as such.
    """
    try:
        text = repr(value)
    except ValueError:  # int's repr past sys.get_int_max_str_digits()
        return f"an integer of {value.bit_length()} bits" if isinstance(value, int) else "?"
    if len(text) <= MAX_SHOWN:
        return text
    if not isinstance(value, str | bytes):
        return shortened(text)
    short, long = 0, MAX_SHOWN + 1  # the longest prefix whose repr fits: short <= it < long
    while long - short > 1:
        middle = (short + long) // 2
        if len(repr(value[:middle])) <= MAX_SHOWN + 2:
            short = middle
        else:
            long = middle
    if short >= len(value):  # its repr fits, quotes aside
        return text
    cut = repr(value[:short])
    unit = "characters" if isinstance(value, str) else "bytes"
    return f"{cut[:-1]}...{cut[-1]} ({len(value)} {unit})"


#: How many values of a list a message shows (:func:`shortened_list`).
MAX_LISTED: Final = 10


def shortened_list(values: Iterable[object]) -> str:
    """A list of values as a message shows it: each cut, at most :data:`MAX_LISTED`.

    As the list's ``repr`` when it is short (``['a', 'b']``); each value as
    :func:`shortened_repr` cuts it, and past ten, how many there are in all.
    """
    values = list(values)
    shown = ", ".join(shortened_repr(value) for value in values[:MAX_LISTED])
    more = f", ... ({len(values)} in all)" if len(values) > MAX_LISTED else ""
    return f"[{shown}{more}]"


def shortened_url(url: str) -> str:
    """``url`` as a message shows it: each part over :data:`MAX_SHOWN` characters cut.

    A 5,000-character id (a caller's, or one a server gave) is one path segment.
    """
    if len(url) <= MAX_SHOWN:
        return url
    return _LONG_URL_PART.sub(lambda part: shortened(part.group()), url)


def non_finite_at(text: str | bytes) -> str:
    """Where the first non-finite number in ``text`` is, as a JSON path (``$.a[2].b``).

    Only for an error message, once a read refused the text: it is read again as
    ``json.loads`` reads it (``NaN``, ``Infinity`` and ``1e999`` as floats; the text is
    already size-capped) and walked by :func:`non_finite_in`. ``$`` when that fails.
    """
    try:
        path = non_finite_in(json.loads(text)) or "$"
    except (ValueError, RecursionError):
        return "$"
    return shortened(path)


def _int_or_inf(text: str) -> float | int:
    try:
        return int(text)
    except ValueError:  # more digits than Python converts: found below as an infinity
        return math.inf


def _first_long_kept(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object as ``json.loads`` makes it, but a repeated key keeps a long integer it had."""
    made: dict[str, Any] = {}
    for key, value in pairs:
        if key not in made or non_finite_in(made[key]) is None:
            made.pop(key, None)  # where it stands in the text now, as json.loads does not keep
            made[key] = value
    return made


def long_integer_at(text: str | bytes) -> str | None:
    """Where the first integer too long for Python to read is, as a JSON path; else ``None``.

    Only for an error message, once a read refused the text with a ``ValueError``
    (``json.loads`` refuses an integer of more than ``sys.get_int_max_str_digits()``
    digits): read again with such integers as infinities (and no other number as one),
    and walked by :func:`non_finite_in`: the first in the text's order, even under a key
    repeated after it. A hook for every integer only here: it would slow every read.
    """
    try:
        data = json.loads(
            text,
            parse_int=_int_or_inf,
            parse_float=lambda _: 0.0,  # NaN, Infinity and 1e999 are not what is looked for
            parse_constant=lambda _: 0.0,
            object_pairs_hook=_first_long_kept,
        )
    except (ValueError, RecursionError):
        return None
    path = non_finite_in(data)
    return None if path is None else shortened(path)


def non_finite_in(value: Any, path: str = "$") -> str | None:
    """The path to the first ``nan`` or infinity in a JSON-ready value, if it holds one.

    A request body is checked so before a bulk run journals it: :func:`dumps` would
    refuse it only as it is sent. The path is built only for a value that holds one.
    """
    if path == "$" and not _holds_non_finite(value):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else path
    if isinstance(value, dict):
        for key, item in value.items():
            found = non_finite_in(item, path + _member(str(key)))
            if found is not None:
                return found
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = non_finite_in(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None


def refuse_non_finite(body: Any, index: int) -> None:
    """Refuse bulk request ``index`` whose body holds ``nan`` or an infinity.

    Raises:
        ValueError: naming the request and where in its body the number is.
    """
    at = non_finite_in(body)
    if at is not None:
        raise ValueError(f"request {index} holds a number JSON cannot carry at {at}")


def _holds_non_finite(value: Any) -> bool:
    # Asked of every bulk request: the usual leaves (text, ids, flags) are passed by their
    # exact class before any isinstance, and no generator is made per container.
    cls = value.__class__
    if cls is dict:
        items: Any = value.values()
    elif cls is list:
        items = value
    elif cls is str or cls is int or cls is bool or value is None:
        return False
    elif isinstance(value, float):
        return not math.isfinite(value)
    elif isinstance(value, dict):
        items = value.values()
    elif isinstance(value, list | tuple):
        items = value
    else:
        return False
    for item in items:
        kind = item.__class__
        if kind is str or kind is int or kind is bool or item is None:
            continue
        if _holds_non_finite(item):
            return True
    return False


def _member(key: str) -> str:
    if _IDENTIFIER.fullmatch(key):
        return f".{key[:40]}"
    return f"[{json.dumps(key[:40])}]"


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
    """``json.loads(raw)``: the same value, or the same error; non-finite numbers refused.

    Raises:
        NonFiniteNumberError: ``NaN``, ``Infinity`` or a number such as ``1e999``.

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
    return json.loads(raw, **FINITE_ONLY)


def dumps(data: Any) -> str:
    """A request body as JSON text; a non-finite float is refused before anything is sent.

    ``json.dumps`` would write it as ``NaN`` or ``Infinity``, which no JSON server reads.

    Raises:
        ValueError: ``data`` holds ``nan`` or an infinity (or cannot be JSON at all).
    """
    try:
        return json.dumps(data, allow_nan=False)
    except ValueError as exc:
        if "Out of range float" not in str(exc):
            raise
        raise ValueError(
            f"the request body holds a number JSON cannot carry ({exc}); nothing was sent"
        ) from None
