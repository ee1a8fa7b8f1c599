"""Run the emulator standalone: ``python -m prolific_async.testing [--port 8765]``.

It prints the URL and token to use (``PROLIFIC_URL`` / ``PROLIFIC_TOKEN``), so code in
any language can talk to it, and serves until Ctrl-C or SIGTERM (see :func:`._serve.serve`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import math
import os
import sys
from typing import Final

from .._config import SENDABLE_RULE, sendable_token
from ._serve import listen_refusal, serve

__all__ = ["main"]


def _port(text: str) -> int:
    port = int(text)  # argparse reports a ValueError as "invalid _port value"
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0 to 65535, got {port}")
    return port


def _latency(text: str) -> float:
    latency = float(text)
    if not 0 <= latency < math.inf:  # NaN too
        raise argparse.ArgumentTypeError(f"latency must be finite and >= 0 seconds, got {text}")
    return latency


def _token(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("token must not be empty (leave it out for a random one)")
    if not sendable_token(text.strip()):  # never quoted: it is a token (trimmed, as used)
        raise argparse.ArgumentTypeError(f"token {SENDABLE_RULE}")
    return text


def _host(text: str) -> str:
    if not text.strip():  # aiohttp would listen on every interface
        raise argparse.ArgumentTypeError("host must name an interface, such as 127.0.0.1")
    return text


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m prolific_async.testing",
        description="Serve an in-memory Prolific AI Task Builder API for local testing.",
    )
    parser.add_argument(
        "--host", type=_host, default="127.0.0.1", help="interface (default: 127.0.0.1)"
    )
    parser.add_argument(
        "--port", type=_port, default=8765, help="port, 0 for any free one (default: 8765)"
    )
    parser.add_argument(
        "--token", type=_token, help="the API token clients must send (default: random)"
    )
    parser.add_argument("--seed", type=int, help="seed for ids and faults (default: random)")
    parser.add_argument(
        "--latency", type=_latency, default=0.0, help="seconds added to each request (default: 0)"
    )
    parser.add_argument(
        "--tls",
        action="store_true",
        help="serve HTTPS with a throwaway CA and print SSL_CERT_FILE=<its PEM file> "
        "(needs prolific-async[tls])",
    )
    parser.add_argument(
        "--legacy-exports",
        action="store_true",
        help="answer export requests the older way: 200 'complete' with the URL at once",
    )
    parser.add_argument(
        "--legacy-v3-uploads",
        action="store_true",
        help="give a V3 dataset's upload URL no import_id, as the API docs describe it",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, serve until interrupted, and return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if sys.stdout is None:  # started with stdout closed (``>&-``)
        parser.exit(2, "error: stdout is closed: the emulator prints its URL and token there\n")
    try:
        asyncio.run(
            serve(
                host=args.host,
                port=args.port,
                token=args.token,
                seed=args.seed,
                latency=args.latency,
                tls=args.tls,
                legacy_exports=args.legacy_exports,
                legacy_v3_uploads=args.legacy_v3_uploads,
            )
        )
    except KeyboardInterrupt:  # Ctrl-C where no signal handler could be installed
        pass
    except ImportError as exc:  # --tls without the tls extra
        parser.exit(1, f"error: {exc}\n")
    except ValueError as exc:  # an argument the emulator refuses
        parser.exit(2, f"error: {exc}\n")
    except OSError as exc:
        if exc.errno in _OUTPUT_ERRORS:  # ``| true``: the reader of its URL and token is gone
            _quiet_stdout()
            parser.exit(1, f"error: cannot print the emulator's URL and token: {exc.strerror}\n")
        refusal = listen_refusal(exc, args.host, args.port)
        if refusal is not None:  # a --port taken, a --host not here: bad input
            parser.exit(2, f"error: {refusal}\n")
        parser.exit(1, f"error: cannot listen on {args.host}:{args.port}: {exc}\n")
    return 0


#: A write to stdout failing so: its reader is gone, or it cannot take more.
_OUTPUT_ERRORS: Final = frozenset({errno.EPIPE, errno.EBADF, errno.EIO, errno.ENOSPC})


def _quiet_stdout() -> None:
    """Point stdout at the null device: Python's flush at exit would fail again, loudly."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)


if __name__ == "__main__":
    sys.exit(main())
