"""Serve the emulator in the foreground until Ctrl-C or SIGTERM, printing how to reach it.

One coroutine behind both front ends, ``python -m prolific_async.testing`` and the
``prolific-async emulator`` command: each parses its own options and passes them here.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys

from ._server import FakeProlific

__all__ = ["serve"]


async def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    token: str | None = None,
    seed: int | None = None,
    latency: float = 0.0,
    tls: bool = False,
) -> None:
    """Serve a :class:`FakeProlific` until SIGINT or SIGTERM, then stop it.

    Prints the URL and token to use (``PROLIFIC_URL`` / ``PROLIFIC_TOKEN``) on stdout once
    it listens, so code in any language can talk to it, and ``Stopped.`` at the end.

    Args:
        host: the interface to listen on.
        port: the port; 0 picks a free one.
        token: the API token clients must send; ``None`` generates a random one.
        seed: seeds ids and faults; ``None`` picks a random seed (it is printed).
        latency: seconds added to each request.
        tls: serve HTTPS with a throwaway CA, and print ``SSL_CERT_FILE=<its PEM file>``
            so any client can trust it (needs the ``tls`` extra).

    Raises:
        OSError: the address is in use or cannot be bound.
        ValueError: a port outside 0-65535, an empty token or a negative latency.
        ImportError: ``tls`` without the ``tls`` extra installed (the message says so).
    """
    if not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"port must be 0 to 65535, got {port!r}")
    fake = FakeProlific(host=host, port=port, token=token, seed=seed, latency=latency, tls=tls)
    async with fake:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):  # Windows: Ctrl-C still works
                loop.add_signal_handler(signum, stop.set)
        sys.stdout.write(
            f"Prolific API emulator listening on {fake.url} (seed {fake.seed})\n"
            f"PROLIFIC_URL={fake.url}\n"
            f"PROLIFIC_TOKEN={fake.token}\n"
            + (f"SSL_CERT_FILE={fake.ca_file}\n" if fake.ca_file is not None else "")
            + "Press Ctrl-C to stop.\n"
        )
        sys.stdout.flush()
        await stop.wait()
    sys.stdout.write("Stopped.\n")
    sys.stdout.flush()
