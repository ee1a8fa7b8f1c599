"""Clients derived by ``with_options``: other options over their parent's session.

A derived client is its parent with a few attributes replaced (the request headers,
the retry policy and its middleware, the per-attempt timeout) and everything else
shared by reference: the session lifecycle, the connection limit, the 429 gate, the
redactor. It owns nothing: its parent closes the session, and tells the retry
middlewares of every client derived from it to stop retrying (:class:`Followers`).

A derived client holds its parent (``_parent``), so the parent, its session and its
token's registration with the log's masking filter live as long as any client derived
from it: ``ProlificClient(token).with_options(timeout=5)`` keeps working, and its token
stays masked, after the unnamed parent is out of reach. Closing still belongs to the
parent alone: one never closed warns (``ResourceWarning``) when the last of them goes.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Mapping
from typing import Any, TypeVar

import aiohttp
from yarl import URL

from ._config import seconds
from ._deadline import Deadlines
from ._retry import RetryMiddleware

__all__ = ["Followers", "attempt_timeout", "derive", "request_options"]

C = TypeVar("C")


def attempt_timeout(timeout: float) -> aiohttp.ClientTimeout:
    """The per-attempt timeouts for ``timeout=`` seconds (validated), with no total.

    ``connect`` covers DNS, waiting for a pooled connection and the handshake; the
    call's overall deadline is the retry policy's ``timeout``.

    Raises:
        ValueError: ``timeout`` is not a positive number of seconds.
    """
    seconds("timeout", timeout)
    return aiohttp.ClientTimeout(total=None, connect=timeout, sock_read=timeout)


def request_options(
    *,
    headers: Mapping[str, str],
    timeout: aiohttp.ClientTimeout,
    middleware: RetryMiddleware,
    session: aiohttp.ClientSession | None,
    derived: bool,
    proxy: URL | None,
) -> dict[str, Any]:
    """The ``session.request`` arguments every call of one client passes.

    ``session`` is a caller's ``session=`` (``None``: the client's own). A per-request
    ``middlewares=`` replaces the session's own list: a caller's session keeps its
    middlewares behind ours, a derived client's (on its parent's session) has its own.
    Our own session holds the headers as its defaults; a derived client passes its
    own, which replace them name by name (a caller's session gets them on each request).
    ``proxy`` goes with each request on our own session (storage chooses its own; a
    caller's session keeps its own proxy settings); ``None`` needs no argument, as our
    session has no proxy either. On our own session the call's deadline times the reads
    (:class:`~prolific_async._deadline.Deadline`), so ``sock_read`` is left out. Only
    what differs from aiohttp's defaults and our session's is passed: each argument
    costs its binding into ``ClientSession._request``'s long signature on every call.
    """
    if session is None:  # the call's deadline times the reads: no timer per read
        timeout = aiohttp.ClientTimeout(total=None, connect=timeout.connect)
    options: dict[str, Any] = {"timeout": timeout, "allow_redirects": False}
    if session is not None or derived:  # our own session holds ours as its defaults
        options["headers"] = headers
    if session is not None:
        options["raise_for_status"] = False  # a caller's session may say otherwise
        options["middlewares"] = (middleware, *getattr(session, "_middlewares", ()))
    elif derived:
        options["middlewares"] = (middleware,)  # the session holds its parent's
    if session is None and proxy is not None:
        options["proxy"] = proxy
    return options


class Followers:
    """What a client's close reaches, held weakly: its derived clients' retry middlewares.

    And the call deadlines of the client and of each client derived from it.
    """

    def __init__(self) -> None:
        self._middlewares = weakref.WeakSet[RetryMiddleware]()
        self._deadlines = weakref.WeakSet[Deadlines]()
        self._closing = False

    def add(self, middleware: RetryMiddleware) -> RetryMiddleware:
        """Follow ``middleware`` (already closing if the parent is)."""
        middleware.closing = self._closing
        self._middlewares.add(middleware)
        return middleware

    def close(self) -> None:
        """Tell every follower its client is closing: no attempt is retried after this."""
        self._closing = True
        for middleware in list(self._middlewares):
            middleware.closing = True

    def keep(self, deadlines: Deadlines) -> Deadlines:
        """Follow a client's call deadlines: :meth:`drop_timers` reaches them."""
        self._deadlines.add(deadlines)
        return deadlines

    def drop_timers(self) -> None:
        """The session is closed: each deadlines' timer goes, unless a call still runs."""
        for deadlines in list(self._deadlines):
            deadlines.close()


def derive(client: C, **replaced: Any) -> C:
    """A new ``client`` of the same class sharing its attributes, ``replaced`` aside.

    The new one holds ``client`` as its ``_parent`` (a strong reference: see above).
    What the class caches (``functools.cached_property``: a client's resources, bound
    to the client that made them) is left out, so the derived client makes its own.
    """
    cls = type(client)
    derived = object.__new__(cls)
    vars(derived).update(
        {
            name: value
            for name, value in vars(client).items()
            if not isinstance(getattr(cls, name, None), functools.cached_property)
        }
    )
    vars(derived).update(replaced, _parent=client)
    return derived
