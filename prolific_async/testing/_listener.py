"""The emulator's socket: an ``aiohttp`` app served on a host and port, plain or TLS."""

from __future__ import annotations

import asyncio
from typing import Final

from aiohttp import web, web_app

from ._tls import ThrowawayCA

__all__ = ["Listener"]

#: How long stopping waits for handlers still running; stalled ones are woken first.
SHUTDOWN_TIMEOUT: Final = 0.5


class Listener:
    """An app listening on a socket; :meth:`open` starts it, :meth:`close` stops it.

    Args:
        runner: the app's runner, listening.
        url: the URL it is reachable at (``https`` with a CA).
    """

    def __init__(self, runner: web.AppRunner, url: str) -> None:
        self.runner: Final = runner
        self.url: Final = url

    @classmethod
    async def open(
        cls, app: web.Application, host: str, port: int, ca: ThrowawayCA | None
    ) -> Listener:
        """Serve ``app`` on ``host:port`` (``0``: a free port), over TLS when given a CA.

        With a CA, its certificate file is written once the socket listens, so a client
        started from it trusts the server; nothing is left behind if that fails.

        Raises:
            OSError: the address is in use or cannot be bound.
        """
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT)
        await runner.setup()
        ssl_context = None if ca is None else ca.server_context()
        try:
            await web.TCPSite(runner, host, port, ssl_context=ssl_context).start()
            if ca is not None:
                await asyncio.to_thread(ca.write_ca_file)
        except BaseException:
            await runner.cleanup()
            if ca is not None:
                ca.delete_ca_file()
            raise
        host, port = runner.addresses[0][:2]
        scheme = "http" if ca is None else "https"
        url = f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"
        return cls(runner, url)

    async def close(self) -> None:
        """Stop listening and finish the handlers (within the shutdown timeout)."""
        try:
            # Shielded: a cancelled caller must not leave the socket listening.
            await asyncio.shield(self.runner.cleanup())
        finally:
            _forget_middleware_chains()


def _forget_middleware_chains() -> None:
    """Empty aiohttp's cache of built middleware chains, so a stopped fake can be collected.

    aiohttp keeps each route's chain, with its application, in a process-wide cache of
    1,024 entries: without this, every stopped emulator's state (its batches, datasets
    and logs) stays alive for the rest of a test session, and garbage collection slows
    as it grows. The cache is aiohttp's own; other servers' chains are built again on
    their next request (a few ``partial`` objects).
    """
    cache = getattr(web_app, "_cached_build_middleware", None)
    if cache is not None and hasattr(cache, "cache_clear"):
        cache.cache_clear()
