"""The transport under every call: configuration, the session, its lifecycle, one request.

:class:`BaseClient` knows nothing of batches or datasets. It owns the one
``aiohttp.ClientSession`` (created lazily, inside the running loop), the retry middleware,
the 429 gate and the request path::

    get/post/patch/delete -> request: slot, deadline (_deadline), send, map errors
                                   -> _finish: deprecation, status, decode

Resources, the bulk layer, storage transfers and provisioning use only its public
members; :class:`~prolific_async.ProlificClient` adds the resources on top.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ssl
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeVar

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from ._body import (
    DEFAULT_MAX_LISTING_BYTES,
    DEFAULT_MAX_RESPONSE_BYTES,
    APIResponse,
    BodyCaps,
    decode_json,
    structure_response,
    with_body,
)
from ._call import CallState, current_call
from ._config import DEFAULT_BASE_URL, at_least_one, base_url_from, seconds, ssl_from, token_from
from ._deadline import Deadlines
from ._deprecation import DeprecationNotices
from ._headers import request_headers, with_more_defaults
from ._logging import configure_from_environment, register_secret
from ._options import Followers, attempt_timeout, derive, request_options
from ._rate_gate import RateGate
from ._raw import record_answer
from ._redact import Redactor, forget_locals_below, frameless
from ._retry import RetryMiddleware, RetryPolicy
from ._sentinel import NOT_GIVEN, NotGiven
from ._session import SessionLifecycle, proxy_for
from ._slots import Slots
from ._status_errors import closed_error, connection_error, deadline_error, make_status_error
from ._verbs import RequestVerbs
from .errors import ProlificError

if TYPE_CHECKING:
    from typing import Self

__all__ = ["DEFAULT_BASE_URL", "APIResponse", "BaseClient"]


T = TypeVar("T")


class BaseClient(RequestVerbs):
    """The configuration, session, lifecycle and request path (arguments: ``ProlificClient``)."""

    def __init__(
        self,
        token: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy = RetryPolicy(),  # noqa: B008 (frozen, shared safely)
        max_connections: int = 100,
        session: aiohttp.ClientSession | None = None,
        ssl_context: ssl.SSLContext | None = None,
        allow_insecure_http: bool = False,
        transfer_deadline: float = 900.0,
        default_headers: Mapping[str, str] | None = None,
        trace_configs: Sequence[aiohttp.TraceConfig] = (),
        proxy: str | None = None,
        trust_env: bool = True,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        max_listing_bytes: int = DEFAULT_MAX_LISTING_BYTES,
    ) -> None:
        try:
            token = token_from(token)
        except BaseException:
            token = None  # a refused token= argument: no frame of ours keeps it
            raise
        self._redactor: Final = Redactor(token)
        self._release_secret: Final = register_secret(token, self)  # masked in logs meanwhile
        configure_from_environment()
        base = base_url_from(base_url, allow_insecure_http=allow_insecure_http)
        at_least_one("max_connections", max_connections)
        if session is not None and (trace_configs or proxy is not None):
            raise ValueError(
                "trace_configs= and proxy= configure the session the client makes: "
                "set them on the aiohttp session you pass as session= instead"
            )
        self._body_caps: Final = BodyCaps(
            max_response_bytes=max_response_bytes, max_listing_bytes=max_listing_bytes
        )
        # Immutable, case-insensitive: our session's defaults, else passed per request.
        self._headers: Final = CIMultiDictProxy(
            CIMultiDict(request_headers(token, default_headers))
        )
        self._base_url: Final = base
        self._retry_policy: Final = retry
        self._transfer_deadline: Final = seconds("transfer_deadline", transfer_deadline)
        self._rate_gate: Final = RateGate()
        self._timeout: Final = attempt_timeout(timeout)
        self._owns_session: Final = session is None
        self._middleware: Final = RetryMiddleware(retry, self._rate_gate)
        self._in_flight: Final = Slots(max_connections)
        self._max_connections: Final = max_connections
        self._lifecycle: Final = SessionLifecycle(
            session,
            max_connections=max_connections,
            ssl=ssl_from(ssl_context, session),
            middleware=self._middleware,
            timeout=self._timeout,
            proxy=proxy_for(base, proxy=proxy, trust_env=trust_env),
            trace_configs=trace_configs,
            headers=self._headers,
        )
        self._deprecations: Final = DeprecationNotices()
        self._followers: Final = Followers()  # what aclose reaches beyond the session
        self._derived: Final = False
        self._parent: Final[BaseClient | None] = None  # a derived client's (kept alive)

    def __repr__(self) -> str:
        if not hasattr(self, "_lifecycle"):  # __init__ raised (a traceback's locals show it)
            return f"<{type(self).__name__} not made>"
        state = self._lifecycle.state.value
        return f"<{type(self).__name__} base_url={self._base_url!r} state={state}>"

    def with_options(
        self,
        *,
        timeout: float | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
        headers: Mapping[str, str] | None = None,
    ) -> Self:
        """A client like this one with another ``timeout``, ``retry`` policy or more ``headers``.

        ``await client.with_options(timeout=5).batches.get(batch_id)``: it shares this
        client's session, connection pool and limit and 429 gate, and keeps it alive; it
        owns nothing (closing it does nothing; closing this client ends it too, with
        :class:`ClientClosedError`). ``headers`` each replace a ``default_headers`` one;
        ``ValueError`` for a bad ``timeout`` or ``Authorization``.
        """
        policy = self._retry_policy if isinstance(retry, NotGiven) else retry
        per_attempt = self._timeout if isinstance(timeout, NotGiven) else attempt_timeout(timeout)
        middleware = RetryMiddleware(policy, self._rate_gate)
        return derive(
            self,
            _retry_policy=policy,
            _middleware=self._followers.add(middleware),
            _timeout=per_attempt,
            _headers=CIMultiDictProxy(
                CIMultiDict(with_more_defaults(self._headers, headers or {}))
            ),
            _derived=True,
        )

    # -- what lower layers may ask -----------------------------------------------------

    @property
    def base_url(self) -> str:
        """The API root requests go to."""
        return self._base_url

    @property
    def attempt_timeout(self) -> float:
        """Seconds allowed for each attempt to connect and for each read (``timeout``)."""
        return float(self._timeout.sock_read or 0.0)

    @property
    def retry_policy(self) -> RetryPolicy:
        """The retry policy applied to every request."""
        return self._retry_policy

    @property
    def max_connections(self) -> int:
        """How many requests this client keeps in flight at once (more wait their turn)."""
        return self._max_connections

    @property
    def rate_gate(self) -> RateGate:
        """The 429 gate every request of this client passes (and its 429 count)."""
        return self._rate_gate

    @property
    def transfer_timeout(self) -> aiohttp.ClientTimeout:
        """The per-attempt connect and read timeouts, for transfers outside the API."""
        return self._timeout

    @property
    def transfer_deadline(self) -> float:
        """Seconds one presigned transfer may take in all, retries included."""
        return self._transfer_deadline

    @property
    def is_closed(self) -> bool:
        """Whether :meth:`aclose` has been called."""
        return self._lifecycle.closed()

    def storage_session(self) -> contextlib.AbstractAsyncContextManager[aiohttp.ClientSession]:
        """The session for presigned transfers: a plain one, never with the API's headers."""
        return self._lifecycle.storage_session()

    def storage_proxy(self, url: str) -> URL | None:
        """The proxy a transfer to ``url`` goes through (``None``: direct); see ``Proxy``."""
        return self._lifecycle.proxy.for_storage(url)

    # -- lifecycle -----------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self._ensure_session()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the client and the session it created; safe to call more than once.

        A session passed in as ``session=`` is left open: its owner closes it. Closing
        a client made by :meth:`with_options` does nothing: its parent owns the session.
        """
        if not self._derived:
            self._followers.close()
            try:
                await self._lifecycle.close()
            finally:  # even cancelled: its calls' deadline timers, and its derived clients'
                self._followers.drop_timers()
            self._release_secret()

    def __del__(self, _warn: Any = warnings.warn) -> None:
        lifecycle = getattr(self, "_lifecycle", None)  # None: __init__ raised
        derived = getattr(self, "_derived", False)  # its parent warns for the session
        if lifecycle is not None and not derived and lifecycle.unclosed():
            _warn(
                f"Unclosed {self!r}: use 'async with {type(self).__name__}()' or await aclose()",
                ResourceWarning,
                source=self,
                stacklevel=1,
            )

    def _ensure_session(self) -> aiohttp.ClientSession:
        return self._lifecycle.ensure()

    # -- requests: the public escape hatch -------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        cast_to: type[T],
        body: Any = None,
        params: Mapping[str, str] | None = None,
        template: str | None = None,
        state: CallState | None = None,
    ) -> T:
        """Send one API call and decode its 2xx answer as ``cast_to``.

        ``state``, a :class:`CallState`, collects what the call did (attempts, 429s met,
        when it was last sent) even when it fails, for a layer that retries on its own.

        Raises:
            APIStatusError: (a subclass per status) for a non-2xx answer.
            APIConnectionError: no response; :class:`OutcomeUnknownError` for a
                non-idempotent request that may have taken effect.
            ResponseValidationError: a 2xx body that is not JSON or does not fit.
        """
        if state is None:
            state = CallState(deadline=0.0)
        caps = self._body_caps
        state.max_body_bytes = caps.for_answer(cast_to)
        state.max_error_bytes = caps.max_response_bytes
        url = self._base_url + path
        # The exchange, inline: a coroutine of its own would be one more frame to resume.
        loop = asyncio.get_running_loop()
        session = self._lifecycle.ensure(loop)  # refused in a loop it was not opened in
        if not self._in_flight.take_now():  # more calls than connections wait, untimed
            await self._in_flight.take()
            if self.is_closed:  # closed while this call waited for its slot
                self._in_flight.give()
                raise closed_error()
        try:
            now = loop.time()
            state.deadline = now + self._retry_policy.timeout
            state.tracks_connection = self._owns_session
            options = self._request_options
            if body is not None or params is not None:
                options = with_body(options, body, params, upload_timeout=self._timeout)
            reads_from = None if "data" in options else now  # a raw body: sock_read times it
            deadline = state.watch = self._deadlines.start(loop, state.deadline, reads_from)
            reset_token = current_call.set(state)
            failure: ProlificError | None = None
            try:
                async with session.request(method, URL(url, encoded=True), **options) as response:
                    read, state.body = state.body, None  # as the middleware read it
                    # None: a status the middleware left unread.
                    raw = (
                        read
                        if read is not None
                        else await self._middleware.read_left(response, state)
                    )
                status, reason, headers = response.status, response.reason, response.headers
            except aiohttp.ClientError as exc:
                failure = connection_error(
                    exc, method, url, state, closed=self.is_closed, redact=self._redactor.text
                )
            except (TimeoutError, asyncio.CancelledError) as exc:
                if isinstance(exc, asyncio.CancelledError) and not deadline.timed_out():
                    raise  # a cancel from outside, not the deadline's
                failure = deadline_error(exc, method, url, state, self._retry_policy.timeout)
            except (RuntimeError, AssertionError) as exc:
                # aiohttp's complaints of a session closed under the request; else a bug.
                if not self.is_closed:
                    raise
                failure = closed_error(method, url, state)
                failure.__cause__ = frameless(exc)
            finally:
                deadline.end()
                state.watch = None
                current_call.reset(reset_token)
            if failure is not None:
                # Outside the except block: aiohttp's errors hold our headers (the token).
                raise failure
        except BaseException as exc:  # a cancel, an answer refused as read (past its cap):
            response, read, raw = None, None, b""
            forget_locals_below(exc)  # no part of the answer in these locals, nor below
            raise
        finally:
            self._in_flight.give()
        # What the server sent (it may echo the token) stays out of the locals of errors.
        del options, session, response
        try:
            record_answer(
                state, status, headers, raw, method=method, url=url, redactor=self._redactor
            )
            data = self._finish(method, url, template or path, status, reason, headers, raw)
            if cast_to is APIResponse:
                return APIResponse(
                    status=status, data=data, method=method, url=url, sent=state.sent
                )  # type: ignore[return-value]
            return structure_response(data, cast_to, status_code=status, method=method, url=url)
        except BaseException as error:  # a status or decoding error; a warning made one
            del read, raw, headers, reason
            data = None
            forget_locals_below(error)
            raise

    # -- requests: the steps ---------------------------------------------------------------

    @functools.cached_property
    def _deadlines(self) -> Deadlines:
        """The deadlines of this client's calls under one timer; on our session, reads' too."""
        deadlines = Deadlines(idle=self._timeout.sock_read if self._owns_session else None)
        return self._followers.keep(deadlines)

    @functools.cached_property
    def _request_options(self) -> Mapping[str, Any]:
        """The ``session.request`` arguments of every call, made once per client (and derived)."""
        return request_options(
            headers=self._headers,
            timeout=self._timeout,
            middleware=self._middleware,
            session=None if self._owns_session else self._lifecycle.session,
            derived=self._derived,
            proxy=self._lifecycle.proxy.url,
        )

    def _finish(
        self,
        method: str,
        url: str,
        endpoint: str,
        status: int,
        reason: str | None,
        headers: Mapping[str, str],
        raw: bytes,
    ) -> Any:
        """Warn of a deprecated endpoint, raise for a non-2xx status, decode the body."""
        if "Deprecation" in headers:  # its Sunset is quoted: masked as an error's parts
            self._deprecations.notice(method, endpoint, self._redactor.headers(headers))
        if not 200 <= status < 300:
            raise make_status_error(  # whatever the server echoes, never with our token
                status_code=status,
                reason=reason and self._redactor.text(reason),
                raw_body=self._redactor.data(raw),
                headers=self._redactor.headers(headers),
                method=method,
                url=url,
            )
        return decode_json(raw, status, method, url, redact=self._redactor.text)
