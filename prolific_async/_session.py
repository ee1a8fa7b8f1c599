"""The client's one ``aiohttp`` session: created lazily inside the loop, closed once.

:class:`SessionLifecycle` holds the unopened → opened → closed state of a
:class:`~prolific_async._base_client.BaseClient` and the session it sends on: its own
(made on first use, because aiohttp needs a running event loop, and closed with the
client) or a caller's ``session=`` (used as is, and left open for its owner to close).

:func:`proxy_for` decides, once per client, which proxy the API requests send
through: an explicit ``proxy=``, else the environment's (``HTTPS_PROXY``/``HTTP_PROXY``/
``ALL_PROXY``, honouring ``NO_PROXY``). The environment's proxy never applies to a
loopback API, so the emulator keeps working behind a corporate proxy setting; an
explicit ``proxy=`` carries a loopback API too.
Storage transfers go to other hosts, so :meth:`Proxy.for_storage` decides for each of
their URLs again: ``NO_PROXY`` naming the storage host is honoured, and a loopback
storage host is reached directly even through an explicit ``proxy=``. The choice is
passed with each request (``proxy=``), never set on the session: aiohttp takes a
request's ``proxy=None`` to mean the session's, so a session-wide proxy could not be
bypassed for one host. A caller's ``session=`` gets no ``proxy=`` on its API requests:
it keeps its own proxy settings (storage transfers, on a plain session, still choose).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import ssl
import urllib.request
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Final

import aiohttp
from yarl import URL

from ._call import TrackingConnector
from ._config import is_loopback
from ._json import dumps
from ._retry import RetryMiddleware
from ._status_errors import closed_error
from .errors import ClientClosedError

__all__ = ["Proxy", "SessionLifecycle", "SessionState", "is_loopback", "proxy_for"]
# is_loopback: the one rule lives in _config (the base URL check uses it too).

OTHER_LOOP: Final = (
    "This ProlificClient was opened in another event loop: a client belongs to the event "
    "loop it was opened in (its connections live there). Open one per asyncio.run(), "
    "inside the coroutine that uses it."
)


class Proxy:
    """Where API requests go: a proxy URL, or ``None`` (direct); and how storage's are chosen.

    Args:
        url: the proxy of the API's requests.
        explicit: the caller's ``proxy=``, if any.
        trust_env: whether the environment's proxy variables apply.
    """

    def __init__(
        self, url: URL | None = None, *, explicit: URL | None = None, trust_env: bool = False
    ) -> None:
        self.url: Final = url
        self._explicit: Final = explicit
        self._trust_env: Final = trust_env

    def __repr__(self) -> str:
        # Credentials in a proxy URL stay out of reprs and messages.
        return f"<Proxy {self.url.with_user(None) if self.url is not None else None}>"

    def for_storage(self, url: str) -> URL | None:
        """The proxy of a transfer to ``url``: loopback direct, else as for the API's host."""
        target = URL(url, encoded=True)
        if is_loopback(target.host):
            return None
        if self._explicit is not None:
            return self._explicit
        return _environment_proxy(target) if self._trust_env else None


def _environment_proxy(target: URL) -> URL | None:
    """The environment's proxy for ``target`` (``NO_PROXY`` read the stdlib's way)."""
    if urllib.request.proxy_bypass(target.host or ""):
        return None
    proxies = urllib.request.getproxies()
    chosen = proxies.get(target.scheme) or proxies.get("all")
    return URL(chosen) if chosen else None


def proxy_for(base_url: str, *, proxy: str | None, trust_env: bool) -> Proxy:
    """The proxy for requests to ``base_url``: ``proxy``, else the environment's, else none.

    The environment is read here, once, rather than by aiohttp on every request
    (``ClientSession(trust_env=True)``): aiohttp would also read ``~/.netrc``, whose
    credentials clash with our ``Authorization`` header, and look the variables up in a
    thread for each request.

    Raises:
        ValueError: ``proxy`` is not an ``http://`` or ``https://`` URL with a host.
    """
    if proxy is not None:
        url = URL(proxy)
        if url.scheme not in {"http", "https"} or not url.host:
            raise ValueError(f"proxy must be an http:// or https:// URL, got {proxy!r}")
        return Proxy(url, explicit=url)
    target = URL(base_url)
    if not trust_env or is_loopback(target.host):
        return Proxy(trust_env=trust_env)
    return Proxy(_environment_proxy(target), trust_env=True)


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
        proxy: where a session made here sends through (:func:`proxy_for`).
        trace_configs: a caller's trace configs, added after ours.
        headers: the API requests' headers (the token's too): the defaults of a session
            made here, so that no request passes them. Presigned transfers, which must
            never carry them, go through a plain session on the same connections.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession | None,
        *,
        max_connections: int,
        ssl: ssl.SSLContext | bool,
        middleware: RetryMiddleware,
        timeout: aiohttp.ClientTimeout,
        proxy: Proxy | None = None,
        trace_configs: Sequence[aiohttp.TraceConfig] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.session = session
        self.owned: Final = session is None
        """Whether the session is made (and closed) here rather than given."""
        self.state = SessionState.UNOPENED
        self._max_connections: Final = max_connections
        self._ssl: Final = ssl
        self._middleware: Final = middleware
        self._timeout: Final = timeout
        self.proxy: Final = proxy if proxy is not None else Proxy()
        self._trace_configs: Final = tuple(trace_configs)
        self._headers: Final = headers
        self._loop: asyncio.AbstractEventLoop | None = None
        """The event loop the client was opened in: its session's connections live there."""

    def closed(self) -> bool:
        """Whether the client has been closed (a call: mypy would narrow a property)."""
        return self.state is SessionState.CLOSED

    def unclosed(self) -> bool:
        """Whether a session made here is still open (the client was never closed)."""
        return self.owned and self.session is not None and not self.session.closed

    def ensure(self, loop: asyncio.AbstractEventLoop | None = None) -> aiohttp.ClientSession:
        """The session, made now if needed; opens the client in the running loop.

        ``loop``: the running loop, when the caller has it already.

        Raises:
            ClientClosedError: the client, or the caller's session, is closed; or the
                client was opened in another event loop (another ``asyncio.run()``).
        """
        session = self.session
        if (
            session is not None
            and self.owned
            and self.state is SessionState.OPENED
            and loop is self._loop  # a request passes the running loop: one comparison
        ):
            return session  # every call of an open client: the short way
        if self.state is SessionState.CLOSED:
            raise closed_error()
        running = asyncio.get_running_loop() if loop is None else loop
        if self._loop is not None and running is not self._loop:
            # aiohttp would fail deep inside with "Event loop is closed", or worse.
            raise ClientClosedError(OTHER_LOOP)
        self._loop = running
        if self.session is None:
            # Created here, not in __init__: aiohttp needs a running event loop.
            self.session = aiohttp.ClientSession(
                # It marks the call's attempt as connected (see TrackingConnector).
                connector=TrackingConnector(limit=self._max_connections, ssl=self._ssl),
                middlewares=(self._middleware,),
                trace_configs=list(self._trace_configs) or None,
                timeout=self._timeout,
                json_serialize=dumps,
                headers=self._headers,
                # No session-wide proxy: each request names its own (see Proxy).
            )
        elif self.session.closed:
            raise ClientClosedError("The aiohttp session given as session= has been closed.")
        self.state = SessionState.OPENED
        return self.session

    @contextlib.asynccontextmanager
    async def storage_session(self) -> AsyncIterator[aiohttp.ClientSession]:
        """The session for presigned transfers: a plain one, never the API's headers.

        One a transfer, closed when it ends (a client never closed then leaves no second
        session behind). Beside a session made here it shares that session's connections;
        beside a caller's (whose defaults may hold a token), it has a connector of its own.
        """
        session = self.ensure()
        if self.owned:
            plain = aiohttp.ClientSession(
                connector=session.connector,
                connector_owner=False,  # closed with the API's session
                trace_configs=list(self._trace_configs) or None,
                timeout=self._timeout,
            )
        else:
            plain = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=self._ssl))
        async with plain:
            yield plain

    async def close(self) -> None:
        """Close the client, and the session if it was made here; idempotent."""
        if self.state is SessionState.CLOSED:
            return
        self.state = SessionState.CLOSED
        self._middleware.closing = True
        if self.owned and self.session is not None:
            # Shielded: a cancelled caller must not leave the connector half-closed.
            await asyncio.shield(self.session.close())
