"""The one redactor: the client's own token never reaches an exception, a repr or a log.

A server (or a proxy in front of it) may echo the ``Authorization`` header it got, in an
error body, a header or a message. The token never expires and has full account rights,
so everything the client builds from an answer passes through :class:`Redactor` first.
"""

from __future__ import annotations

import copy
import re
import traceback
from collections.abc import Iterable, Mapping
from typing import Final, TypeVar

from multidict import CIMultiDict

__all__ = [
    "KNOWN",
    "MASK",
    "Redactor",
    "Secret",
    "forget_locals_below",
    "frameless",
    "mask_known",
    "mask_optional",
]

MASK: Final = "***"
#: A secret at least this long is masked wherever it appears; a shorter one (a test's
#: ``"t"``) only as the header value it was sent in, or every letter would be masked.
BARE_MINIMUM: Final = 8


#: The charsets whose ASCII text has NULs between its characters, read as bytes.
_WIDE_CODECS: Final = ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")

#: The runs of characters found to be pieces of the secret (see ``Redactor.text``).
_RUNS: Final = re.compile(b"\x01+")

#: The short escapes a JSON string may use for a character (``\\u`` works for any).
_SHORT_ESCAPES: Final = {
    '"': '\\"',
    "\\": "\\\\",
    "/": "\\/",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}


def _hex(code: int) -> str:
    r"""``\uXXXX`` for a UTF-16 code unit, as a pattern matching its hex in either case."""
    return "\\\\u" + "".join(
        f"[{digit.lower()}{digit.upper()}]" if digit.isalpha() else digit for digit in f"{code:04x}"
    )


def _escaped_pattern(secret: str) -> str:
    """A pattern for ``secret`` as JSON may write it: each character as itself or escaped."""
    parts = []
    for char in secret:
        code = ord(char)
        forms = [re.escape(char)]
        if char in _SHORT_ESCAPES:
            forms.append(re.escape(_SHORT_ESCAPES[char]))
        if code > 0xFFFF:  # a surrogate pair
            code -= 0x10000
            forms.append(_hex(0xD800 + (code >> 10)) + _hex(0xDC00 + (code & 0x3FF)))
        else:
            forms.append(_hex(code))
        parts.append("(?:" + "|".join(forms) + ")")
    return "".join(parts)


class Redactor:
    r"""Replaces one secret, wherever it appears, with :data:`MASK`.

    Also where it is written with JSON escapes (``Token \u0073\u0065...``, in any mix
    with plain characters): a body that decodes to the secret is masked before it is
    decoded, and text quoting such a body shows no readable form of it either. In text,
    a piece cut short of a secret of at least :data:`BARE_MINIMUM` characters is masked
    too (an error's body is, as the error decodes it). And in a body in UTF-16 or UTF-32,
    whose ASCII characters read as UTF-8 are the secret's with NULs between them.
    """

    def __init__(self, secret: str) -> None:
        self._text = secret if len(secret) >= BARE_MINIMUM else f"Token {secret}"
        self._bytes = self._text.encode()
        pattern = _escaped_pattern(self._text)
        self._escaped_text = re.compile(pattern)
        self._escaped_bytes = re.compile(pattern.encode())
        size = BARE_MINIMUM
        #: Every run of BARE_MINIMUM characters of the secret (none for a short one):
        #: text cut short where it quotes the secret (aiohttp quotes 100 bytes of a line
        #: too long, a parser the part of a line in one read) holds only a piece of it.
        self._pieces = tuple(
            dict.fromkeys(secret[at : at + size] for at in range(len(secret) - size + 1))
        )
        #: The secret and the mask in UTF-16 and UTF-32, either byte order: a body in
        #: such a charset read as UTF-8 shows the secret's ASCII characters between NULs,
        #: which a terminal shows as nothing.
        self._wide = tuple((self._text.encode(c), MASK.encode(c)) for c in _WIDE_CODECS)

    def __repr__(self) -> str:
        return "<Redactor>"

    def text(self, value: str) -> str:
        """``value`` with the secret masked, written plainly or with JSON escapes.

        So is any piece of it :data:`BARE_MINIMUM` characters long or more, where a quote
        cut it short: at most ``BARE_MINIMUM - 1`` of its characters show at a cut.
        """
        if "\x00" in value:
            # A body in UTF-16 or UTF-32 read as UTF-8: NULs between the characters.
            # Shown without them when that uncovers the secret (they show as nothing).
            bare = value.replace("\x00", "")
            masked = self._masked(bare)
            if masked != bare:
                return masked
        return self._masked(value)

    def _masked(self, value: str) -> str:
        if self._text in value:
            value = value.replace(self._text, MASK)
        if "\\" in value:
            value = self._escaped_text.sub(MASK, value)
        return _without_pieces(value, self._pieces)

    def data(self, raw: bytes) -> bytes:
        """Raw bytes (a body) with the secret masked, written plainly or with JSON escapes.

        Only whole: a piece of it is masked where the body is quoted as text (an error's,
        once decoded), not in the bytes (a listing's may be megabytes).
        """
        if self._bytes in raw:
            raw = raw.replace(self._bytes, MASK.encode())
        if b"\\" in raw:
            raw = self._escaped_bytes.sub(MASK.encode(), raw)
        if b"\x00" in raw:  # UTF-16 or UTF-32: the mask in the body's own charset
            for wide, mask in self._wide:
                if wide in raw:
                    raw = raw.replace(wide, mask)
            raw = self._wide_escapes_masked(raw)
        return raw

    def _wide_escapes_masked(self, raw: bytes) -> bytes:
        """``raw`` with the secret's JSON-escaped forms masked in each wide charset it reads in."""
        for codec in _WIDE_CODECS:
            cut = len(raw) - len(raw) % (2 if "16" in codec else 4)  # a stray byte at the end
            try:
                text = raw[:cut].decode(codec, "surrogatepass")
            except UnicodeDecodeError:  # not in this charset: its plain forms were masked
                continue
            if "\\" in text and (masked := self._escaped_text.sub(MASK, text)) != text:
                raw = masked.encode(codec, "surrogatepass") + raw[cut:]
        return raw

    def headers(self, headers: Mapping[str, str]) -> CIMultiDict[str]:
        """A copy of ``headers`` with the secret masked in every name and value."""
        return CIMultiDict((self.text(key), self.text(value)) for key, value in headers.items())


def _without_pieces(value: str, pieces: tuple[str, ...]) -> str:
    """``value`` with each run of characters that are ``pieces`` of the secret masked."""
    if not any(piece in value for piece in pieces):
        return value
    covered = bytearray(len(value))
    for piece in pieces:
        at = value.find(piece)
        while at >= 0:
            covered[at : at + len(piece)] = b"\x01" * len(piece)
            at = value.find(piece, at + 1)
    kept: list[str] = []
    end = 0
    for run in _RUNS.finditer(covered):
        kept += (value[end : run.start()], MASK)
        end = run.end()
    kept.append(value[end:])
    return "".join(kept)


#: The redactors of the secrets masked now, by secret: the token of every live client and
#: of the last few closed ones (kept by the logger's filter, which masks records with them).
KNOWN: Final[dict[str, Redactor]] = {}


def mask_known(text: str, redactors: Iterable[Redactor] | None = None) -> str:
    """``text`` with every secret in :data:`KNOWN` masked (as a log record is).

    ``redactors``: a snapshot of them taken once, for many texts in a row.
    """
    for redactor in list(KNOWN.values()) if redactors is None else redactors:
        text = redactor.text(text)
    return text


def mask_optional(text: str | None) -> str | None:
    """:func:`mask_known` for a value the server may have left out (``None`` stays)."""
    return None if text is None else mask_known(text)


class Secret(str):
    """A string that is itself when sent, joined or compared, and :data:`MASK` when repr'd.

    The ``Authorization`` value is one. aiohttp copies a request's headers into its own
    objects and frames (a ``request_info``, a connection error's traceback): wherever a
    repr shows them, as a traceback with its locals does for an error tracker, the token
    reads as ``'***'``. ``str(secret)`` and an f-string give the plain text.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(MASK)


def forget_locals_below(error: BaseException) -> None:
    """Clear the locals of the frames ``error`` has passed below the one handling it.

    For an error raised from an answer, or a cancellation passing through the call: those
    frames have all ended (``error`` left each of them) and may hold what the server sent,
    which may echo the token; a traceback recorded with its locals would show them. Their
    lines stay in the traceback. Never for an error aiohttp may have raised in another
    call too (its frames may still run): see :func:`frameless`.
    """
    handled_in = error.__traceback__
    if handled_in is not None and handled_in.tb_next is not None:
        traceback.clear_frames(handled_in.tb_next)


E = TypeVar("E", bound=BaseException)


def frameless(error: E) -> E | None:
    """A copy of ``error`` (its type, message and attributes) with no traceback nor chain.

    What is chained as a cause: the frames of aiohttp's error hold the response (whose
    headers may echo the token) and the request's headers as written, bytes no repr
    masks. They are not cleared (one of them may be another call's, still running):
    the copy leaves them out. ``None`` for an error that cannot be copied.
    """
    try:
        return copy.copy(error)
    except Exception:  # an exception type whose arguments do not rebuild it
        return None
