"""Serve the emulator in the foreground until Ctrl-C or SIGTERM, printing how to reach it.

One coroutine behind both front ends, ``python -m prolific_async.testing`` and the
``prolific-async emulator`` command: each parses its own options and passes them here.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import shlex
import signal
import socket
import sys
import tempfile
from pathlib import Path

from ._server import FakeProlific

__all__ = ["listen_refusal", "serve"]


async def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    token: str | None = None,
    seed: int | None = None,
    latency: float = 0.0,
    tls: bool = False,
    legacy_exports: bool = False,
    legacy_v3_uploads: bool = False,
    env_file: Path | None = None,
) -> None:
    """Serve a :class:`FakeProlific` until SIGINT or SIGTERM, then stop it.

    Prints the URL and token to use (``PROLIFIC_URL`` / ``PROLIFIC_TOKEN``) on stdout once
    it listens, so code in any language can talk to it: as ``NAME=value`` lines, then as
    ``export NAME=value`` lines a shell can run; and ``Stopped.`` at the end. The server
    never stops on its own: only a signal ends it.

    Args:
        host: the interface to listen on.
        port: the port; 0 picks a free one.
        token: the API token clients must send; ``None`` generates a random one.
        seed: seeds ids and faults; ``None`` picks a random seed (it is printed).
        latency: seconds added to each request.
        tls: serve HTTPS with a throwaway CA, and print ``SSL_CERT_FILE=<its PEM file>``
            so any client can trust it (needs the ``tls`` extra).
        legacy_exports: answer export requests the older way, 200 ``complete`` with the
            URL at once (see :class:`FakeProlific`).
        legacy_v3_uploads: give a V3 dataset's upload URL no ``import_id``, as the docs
            describe it.
        env_file: once listening, write the ``export NAME=value`` lines to this file
            (whole, then renamed into place: a shell that sees it can ``source`` it). It
            is left in place when the server stops.

    Raises:
        OSError: the address is in use or cannot be bound, or ``env_file`` cannot be
            written (its ``filename`` is then ``env_file``).
        ValueError: a port outside 0-65535, a token no client can send, or a latency
            below 0 or not finite.
        ImportError: ``tls`` without the ``tls`` extra installed (the message says so).
    """
    if not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"port must be 0 to 65535, got {port!r}")
    fake = FakeProlific(
        host=host,
        port=port,
        token=token,
        seed=seed,
        latency=latency,
        tls=tls,
        legacy_exports=legacy_exports,
        legacy_v3_uploads=legacy_v3_uploads,
    )
    async with fake:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):  # Windows: Ctrl-C still works
                loop.add_signal_handler(signum, stop.set)
        variables = {"PROLIFIC_URL": fake.url, "PROLIFIC_TOKEN": fake.token}
        if fake.ca_file is not None:
            variables["SSL_CERT_FILE"] = str(fake.ca_file)
        exports = "".join(
            f"export {name}={shlex.quote(value)}\n" for name, value in variables.items()
        )
        if env_file is not None:
            _write_env_file(env_file, exports)
        sys.stdout.write(
            f"Prolific API emulator listening on {fake.url} (seed {fake.seed})\n"
            + "".join(f"{name}={value}\n" for name, value in variables.items())
            + exports
            + (f"Wrote them to {env_file} (source it in a shell).\n" if env_file else "")
            + "Press Ctrl-C to stop.\n"
        )
        sys.stdout.flush()
        await stop.wait()
    sys.stdout.write("Stopped.\n")
    sys.stdout.flush()


def _write_env_file(path: Path, text: str) -> None:
    """Write ``text`` beside ``path`` and rename it there: a reader never sees half of it."""
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                file.write(text)
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(path)) from exc


def listen_refusal(exc: OSError, host: str, port: int) -> str | None:
    """Why the emulator cannot listen on ``host``:``port``, when the choice was the user's.

    A port in use, a port the user may not bind (below 1024, unprivileged) or an address
    this machine does not have is bad input (exit 2 on the command line); ``None`` for
    any other failure.
    """
    code = exc.errno if exc.errno is not None else _bind_errno(host)
    if code == errno.EADDRINUSE:
        return (
            f"cannot listen on {host}:{port}: the port is in use; pick another --port "
            "(0 picks a free one)"
        )
    if code == errno.EACCES:  # a port below 1024 without the privilege to bind it
        return (
            f"cannot listen on {host}:{port}: permission denied (a port below 1024 needs "
            "privileges; a security policy may refuse others); pick another --port "
            "(0 picks a free one)"
        )
    if code == errno.EADDRNOTAVAIL:
        return (
            f"cannot listen on {host}:{port}: the address is not one of this machine's; "
            "pick another --host (127.0.0.1, the default, is always there)"
        )
    return None


def _bind_errno(host: str) -> int | None:
    """Why binding to ``host`` fails, tried again here.

    Python 3.13's asyncio reports an address this machine does not have only as "could
    not bind on any address", with no ``errno``.
    """
    try:
        addresses = socket.getaddrinfo(host, 0, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError:
        return None
    for family, kind, protocol, _, address in addresses:
        try:
            with socket.socket(family, kind, protocol) as probe:
                probe.bind(address)
        except OSError as exc:
            return exc.errno
    return None
