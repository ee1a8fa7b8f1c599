"""The client's one ``aiohttp`` session: created lazily inside the loop, closed once.

:class:`SessionLifecycle` holds the unopened → opened → closed state of a
:class:`~prolific_async._base_client.BaseClient` and the session it sends on: its own
(made on first use, because aiohttp needs a running event loop, and closed with the
client) or a caller's ``session=`` (used as is, and left open for its owner to close).
"""

from __future__ import annotations

import asyncio
import enum
import json
import ssl
from typing import Final

import aiohttp

from ._call import connection_trace
from ._retry import RetryMiddleware
from ._status_errors import closed_error
from .errors import ClientClosedError

__all__ = ["SessionLifecycle", "SessionState"]


class SessionState(enum.Enum):
    """Where a client is in its life; a closed client does not reopen."""

    UNOPENED = "unopened"
    OPENED = "opened"
    CLOSED = "closed"


class SessionLifecycle:
    """The session of one client and whether the client is open.

    Args:
        session: a caller's session, or ``None`` to make one on first use.
        max_connections: the connection limit of a session made here.
        ssl: the trust of a session made here (``True``: the system's).
        middleware: the retry middleware; told when the client is closing.
        timeout: the per-attempt connect and read timeouts.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession | None,
        *,
        max_connections: int,
        ssl: ssl.SSLContext | bool,
        middleware: RetryMiddleware,
        timeout: aiohttp.ClientTimeout,
    ) -> None:
        self.session = session
        self.owned: Final = session is None
        """Whether the session is made (and closed) here rather than given."""
        self.state = SessionState.UNOPENED
        self._max_connections: Final = max_connections
        self._ssl: Final = ssl
        self._middleware: Final = middleware
        self._timeout: Final = timeout

    def closed(self) -> bool:
        """Whether the client has been closed (a call: mypy would narrow a property)."""
        return self.state is SessionState.CLOSED

    def unclosed(self) -> bool:
        """Whether a session made here is still open (the client was never closed)."""
        return self.owned and self.session is not None and not self.session.closed

    def ensure(self) -> aiohttp.ClientSession:
        """The session, made now if needed; opens the client.

        Raises:
            ClientClosedError: the client, or the caller's session, is closed.
        """
        if self.state is SessionState.CLOSED:
            raise closed_error()
        if self.session is None:
            # Created here, not in __init__: aiohttp needs a running event loop.
            self.session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._max_connections, ssl=self._ssl),
                middlewares=(self._middleware,),
                trace_configs=[connection_trace()],
                timeout=self._timeout,
                json_serialize=json.dumps,
            )
        elif self.session.closed:
            raise ClientClosedError("The aiohttp session given as session= has been closed.")
        self.state = SessionState.OPENED
        return self.session

    async def close(self) -> None:
        """Close the client, and the session if it was made here; idempotent."""
        if self.state is SessionState.CLOSED:
            return
        self.state = SessionState.CLOSED
        self._middleware.closing = True
        if self.owned and self.session is not None:
            # Shielded: a cancelled caller must not leave the connector half-closed.
            await asyncio.shield(self.session.close())
