"""The answers a fault sends in place of the API's: canned, hostile, or pointing elsewhere.

A ``status``, ``html`` or ``not_json`` fault (and ``status_after``, once applied) sends a
canned answer. Four more answer the way a broken proxy, a captive portal or a compromised
endpoint does, to test a client's bounds; none is applied:

* ``oversized``: a JSON object of ``size`` bytes (default 2 GiB), streamed in chunks
  without a ``Content-Length`` (``headers={"Content-Length": ...}`` announces one), for
  as long as the client reads it;
* ``compressed``: a gzip body of a few hundred KB that decompresses to a JSON object of
  ``size`` bytes (default 300 MiB, over a client's default listing cap);
* ``deep_json``: a JSON object whose one field nests arrays ``size`` levels deep (default
  100,000, far past Python's recursion limit);
* ``redirect``: a 3xx (default 307) whose ``Location`` is another host
  (``http://elsewhere.invalid`` and the request's path, unless ``headers`` names one: a
  second loopback listener, say): a client that follows it sends its token there.
"""

from __future__ import annotations

import functools
import json
import struct
import zlib
from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web
from multidict import CIMultiDict

from ._errors import error_body, status_phrase
from ._faults import DEFAULT_STATUS, Fault, FaultKind

__all__ = ["canned_response", "fault_answer", "gzip_json", "html_page"]

#: The sizes an ``oversized``, ``compressed`` or ``deep_json`` fault uses by default.
DEFAULT_SIZE: Final = {
    FaultKind.OVERSIZED: 2 * 1024**3,
    FaultKind.COMPRESSED: 300 * 1024**2,
    FaultKind.DEEP_JSON: 100_000,
}
#: Where a ``redirect`` fault points by default: a name that never resolves (RFC 6761).
ELSEWHERE: Final = "http://elsewhere.invalid"
_HEAD, _TAIL = b'{"padding": "', b'"}'
_BLOCK: Final = 1 << 20
_WRITE: Final = 64 * 1024


def _frame(size: int) -> tuple[bytes, int, bytes]:
    """A ``size``-byte JSON object as its start, filler length and end (too small: filler)."""
    if size < len(_HEAD) + len(_TAIL):
        return b"", size, b""
    return _HEAD, size - len(_HEAD) - len(_TAIL), _TAIL


def html_page(status: int) -> str:
    """A reverse proxy's error page, as a load balancer in front of an API sends it."""
    title = f"{status} {status_phrase(status)}"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    )


def _status(fault: Fault) -> int:
    return fault.status if fault.status is not None else DEFAULT_STATUS[fault.kind]


def canned_response(fault: Fault) -> web.Response:
    """The answer a ``status``, ``html``, ``not_json`` or ``status_after`` fault sends."""
    status = _status(fault)
    headers: CIMultiDict[str] = CIMultiDict(fault.headers)
    body = fault.body
    if body is None:
        if fault.kind is FaultKind.HTML:
            body, content_type = html_page(status), "text/html; charset=utf-8"
        elif fault.kind is FaultKind.NOT_JSON:
            body, content_type = "OK", "text/plain; charset=utf-8"
        else:
            body, content_type = error_body(status, status_phrase(status)), "application/json"
    elif isinstance(body, str | bytes):
        content_type = "text/plain; charset=utf-8"
    else:
        content_type = "application/json"
    data = body.encode() if isinstance(body, str) else body
    if not isinstance(data, bytes):
        data = json.dumps(data).encode()
    headers.setdefault("Content-Type", content_type)
    return web.Response(status=status, reason=status_phrase(status), body=data, headers=headers)


@functools.lru_cache(maxsize=8)
def gzip_json(size: int) -> bytes:
    """A gzip stream of a ``size``-byte JSON object, made without compressing all of it.

    The filler is deflated once per MiB, each block ended by a full flush (which resets
    the compressor), so the same compressed block can be repeated.
    """
    head, fill, end = _frame(size)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    parts = [compressor.compress(head), compressor.flush(zlib.Z_FULL_FLUSH)]
    crc = zlib.crc32(head)
    blocks, rest = divmod(fill, _BLOCK)
    if blocks:
        block = b"x" * _BLOCK
        deflated = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
        parts.extend([deflated] * blocks)
        for _ in range(blocks):
            crc = zlib.crc32(block, crc)
    tail = b"x" * rest + end
    parts += [compressor.compress(tail), compressor.flush(zlib.Z_FINISH)]
    crc = zlib.crc32(tail, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    return header + b"".join(parts) + struct.pack("<II", crc, size & 0xFFFFFFFF)


def _deep_json(depth: int) -> bytes:
    return b'{"id": ' + b"[" * depth + b"]" * depth + b"}"


def _redirect(request: web.Request, fault: Fault) -> web.Response:
    headers: CIMultiDict[str] = CIMultiDict(fault.headers)
    headers.setdefault("Location", ELSEWHERE + request.path_qs)
    status = _status(fault)
    body = f'<html><body><a href="{headers["Location"]}">Moved</a></body></html>\r\n'
    headers.setdefault("Content-Type", "text/html; charset=utf-8")
    return web.Response(
        status=status, reason=status_phrase(status), body=body.encode(), headers=headers
    )


async def _stream_oversized(
    request: web.Request, fault: Fault, size: int, pause: Callable[[float], Awaitable[bool]]
) -> web.StreamResponse:
    """Send a ``size``-byte JSON object 64 KiB at a time, until done or the client leaves."""
    headers: CIMultiDict[str] = CIMultiDict(fault.headers)
    headers.setdefault("Content-Type", "application/json")
    status = _status(fault)
    response = web.StreamResponse(status=status, reason=status_phrase(status), headers=headers)
    if "Content-Length" not in headers:
        response.enable_chunked_encoding()
    head, fill, tail = _frame(size)
    try:
        await response.prepare(request)
        await response.write(head)
        chunk = b"x" * _WRITE
        for start in range(0, fill, _WRITE):
            if await pause(0.0):  # the fake stops
                transport = request.transport
                if transport is not None:
                    transport.close()
                return response
            await response.write(chunk[: min(_WRITE, fill - start)])
        await response.write(tail)
        await response.write_eof()
    except ConnectionError:  # the client stopped reading (its cap): nothing more to send
        pass
    return response


async def fault_answer(
    request: web.Request, fault: Fault, pause: Callable[[float], Awaitable[bool]]
) -> web.StreamResponse:
    """What a fault that answers in place of the API sends (not ``drop_before``).

    ``pause`` says whether the fake is stopping (an ``oversized`` stream then ends).
    """
    size = fault.size if fault.size is not None else DEFAULT_SIZE.get(fault.kind, 0)
    status = _status(fault)
    if fault.kind is FaultKind.OVERSIZED:
        return await _stream_oversized(request, fault, size, pause)
    if fault.kind is FaultKind.REDIRECT:
        return _redirect(request, fault)
    if fault.kind is FaultKind.COMPRESSED:
        headers: CIMultiDict[str] = CIMultiDict(fault.headers)
        headers.setdefault("Content-Type", "application/json")
        headers["Content-Encoding"] = "gzip"
        body = gzip_json(size)
    elif fault.kind is FaultKind.DEEP_JSON:
        headers = CIMultiDict(fault.headers)
        headers.setdefault("Content-Type", "application/json")
        body = _deep_json(size)
    else:
        return canned_response(fault)
    return web.Response(status=status, reason=status_phrase(status), body=body, headers=headers)
