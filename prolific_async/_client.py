"""ProlificClient: configuration, the lazily created aiohttp session, lifecycle, resources."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import os
import sys
import warnings
from functools import cached_property
from typing import TYPE_CHECKING, Any, Final, TypeVar

import aiohttp
from attrs import frozen
from yarl import URL

from ._converter import structure_response
from ._retry import (
    IDEMPOTENT_METHODS,
    CallState,
    ClientClosingError,
    RateGate,
    RetryMiddleware,
    RetryPolicy,
    connection_trace,
    current_call,
    never_sent,
)
from ._status import make_status_error
from ._version import __version__
from .errors import (
    APIConnectionError,
    APITimeoutError,
    ClientClosedError,
    MissingTokenError,
    OutcomeUnknownError,
    ProlificError,
    ResponseValidationError,
)

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Iterable, Sequence
    from types import TracebackType

    from .models.batches import Batch, TaskDetails
    from .models.datasets import DatasetSchema
    from .models.layout import Page
    from .models.provision import ProvisionRequest, ProvisionResult
    from .resources.batches import BatchesResource
    from .resources.datasets import DatasetsResource

__all__ = ["DEFAULT_BASE_URL", "ProlificClient"]

DEFAULT_BASE_URL: Final = "https://api.prolific.com"
USER_AGENT: Final = f"prolific_async/{__version__}"

T = TypeVar("T")


_PACKAGE_DIR: Final = os.path.dirname(os.path.abspath(__file__))


def _caller_stacklevel() -> int:
    """The ``stacklevel`` that points a warning at the first frame outside this package.

    Python shows a ``DeprecationWarning`` by default only when it is attributed to the
    user's own ``__main__`` code, not to the library line that raised it.
    """
    frame = sys._getframe(1)  # the function that will call warnings.warn
    level = 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
        level += 1
    return level


class _State(enum.Enum):
    UNOPENED = "unopened"
    OPENED = "opened"
    CLOSED = "closed"


@frozen
class APIResponse:
    """A decoded 2xx response, as the resources see it."""

    status: int
    data: Any
    method: str
    url: str
    sent: int
    """How many attempts the call sent (for a POST: how many POSTs it cost)."""


class ProlificClient:
    """An async client for Prolific's AI Task Builder API.

    One client holds one ``aiohttp.ClientSession`` and is safe to share between any
    number of concurrent tasks. Use it as an async context manager, or call
    :meth:`aclose` when done::

        async with ProlificClient() as client:
            batch = await client.batches.get(batch_id)

    Args:
        token: the API token; defaults to the ``PROLIFIC_TOKEN`` environment variable.
        base_url: the API's root; defaults to ``PROLIFIC_URL``, then
            ``https://api.prolific.com``.
        timeout: seconds allowed for each attempt to connect and for each read.
            ``retry.timeout`` bounds the whole call, retries included.
        retry: how requests are retried; see :class:`RetryPolicy`.
        max_connections: the connection limit of the connector this client creates, and
            the number of requests this client keeps in flight at once (more wait
            their turn, outside the timeouts).
        session: an ``aiohttp.ClientSession`` you own. The client then never closes it,
            and it keeps its own connector limits (``max_connections`` still caps this
            client's requests in flight). The retry policy applies to it too, in front
            of the session's own middlewares.

    Raises:
        MissingTokenError: no token was given and ``PROLIFIC_TOKEN`` is unset.
        ValueError: ``base_url``, ``timeout`` or ``max_connections`` is invalid.
    """

    def __init__(
        self,
        token: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy = RetryPolicy(),  # noqa: B008 (frozen, shared safely)
        max_connections: int = 100,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        token = token if token is not None else os.environ.get("PROLIFIC_TOKEN")
        token = token.strip() if isinstance(token, str) else token
        if not token:
            raise MissingTokenError(
                "No Prolific API token: pass token=... or set the PROLIFIC_TOKEN "
                "environment variable (create a token in the Prolific app under "
                "Settings > API tokens)."
            )
        base = (base_url or os.environ.get("PROLIFIC_URL") or DEFAULT_BASE_URL).rstrip("/")
        parsed = URL(base)
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError(f"base_url must be an http(s) URL with a host, got {base!r}")
        if not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        if not isinstance(max_connections, int) or max_connections < 1:
            raise ValueError(f"max_connections must be an integer >= 1, got {max_connections!r}")
        self._headers: Final = {
            "Authorization": f"Token {token}",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        self._base_url: Final = base
        self._retry_policy: Final = retry
        self._rate_gate: Final = RateGate()
        self._middleware = RetryMiddleware(retry, self._rate_gate)
        # `connect` covers DNS, waiting for a pooled connection and the handshake.
        self._timeout: Final = aiohttp.ClientTimeout(total=None, connect=timeout, sock_read=timeout)
        self._max_connections: Final = max_connections
        self._in_flight = asyncio.Semaphore(max_connections)
        self._session = session
        self._owns_session: Final = session is None
        self._state = _State.UNOPENED
        self._deprecations_seen: set[str] = set()

    def __repr__(self) -> str:
        return f"<ProlificClient base_url={self._base_url!r} state={self._state.value}>"

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
    def rate_gate(self) -> RateGate:
        """The 429 gate every request of this client passes (and its 429 count)."""
        return self._rate_gate

    @property
    def transfer_timeout(self) -> aiohttp.ClientTimeout:
        """The per-attempt connect and read timeouts, for transfers outside the API."""
        return self._timeout

    @contextlib.asynccontextmanager
    async def storage_session(self) -> AsyncIterator[aiohttp.ClientSession]:
        """The session for presigned storage transfers.

        The client's own session, or, beside a caller's ``session=`` (whose default
        headers might hold a token), a short-lived plain one, so nothing of the caller's
        reaches storage.
        """
        session = self._ensure_session()
        if self._owns_session:
            yield session
            return
        async with aiohttp.ClientSession() as plain:
            yield plain

    @property
    def is_closed(self) -> bool:
        """Whether :meth:`aclose` has been called."""
        return self._state is _State.CLOSED

    def _closed(self) -> bool:
        # A call, not the property: mypy would narrow the property across awaits.
        return self._state is _State.CLOSED

    @cached_property
    def batches(self) -> BatchesResource:
        """Create, get, update and duplicate batches."""
        from .resources.batches import BatchesResource

        return BatchesResource(self)

    @cached_property
    def datasets(self) -> DatasetsResource:
        """Create datasets, upload files to them and follow their processing."""
        from .resources.datasets import DatasetsResource

        return DatasetsResource(self)

    # -- the whole pipeline ------------------------------------------------------------

    async def provision_batch(
        self,
        *,
        name: str,
        workspace_id: str,
        task_details: TaskDetails,
        dataset: str | os.PathLike[str] | bytes,
        filename: str | None = None,
        schema: DatasetSchema | None = None,
        tasks_per_group: int | None = None,
        dataset_name: str | None = None,
        batch_items: Sequence[Page] | None = None,
        timeout: float = 900.0,  # noqa: ASYNC109 (each wait's deadline, not a cancel scope)
    ) -> Batch:
        """Make a READY batch from a data file: dataset, upload, batch, setup, wait.

        Args:
            name: the batch's name (and the dataset's, unless ``dataset_name``).
            workspace_id: the workspace both go into.
            task_details: what participants are shown.
            dataset: a path to a ``.csv``/``.zip``/``.jsonl`` file, or its bytes.
            filename: the name to upload as (required with bytes).
            schema: a V4 dataset schema; without one the dataset is V3.
            tasks_per_group: tasks per participant (server default 1).
            dataset_name: the dataset's name, if not ``name``.
            batch_items: a configurable layout for the batch.
            timeout: seconds each wait (upload processing, setup) may take.

        Returns:
            The READY batch.

        Raises:
            ProvisionError: a step failed; its ``step``, ``dataset`` and ``batch`` say
                how far it got and what exists, and its ``__cause__`` is the step's error.
        """
        from ._provision import provision_batch
        from .models.provision import ProvisionRequest

        request = ProvisionRequest(
            name=name,
            workspace_id=workspace_id,
            task_details=task_details,
            dataset=dataset,
            filename=filename,
            schema=schema,
            tasks_per_group=tasks_per_group,
            dataset_name=dataset_name,
            batch_items=batch_items,
            timeout=timeout,
        )
        return await provision_batch(self, request)

    def provision_many(
        self,
        requests: Iterable[ProvisionRequest] | AsyncIterable[ProvisionRequest],
        *,
        concurrency: int = 8,
    ) -> AsyncGenerator[ProvisionResult, None]:
        """Run :meth:`provision_batch` for many requests at once; yield results as they end.

        Batches are created through ``batches.create_many``, so each exists exactly once
        whatever the network does; datasets are created and filled, and batches set up
        and awaited, ``concurrency`` at a time. Requests are read lazily. ``batch_items``
        is not supported here (the bulk layer creates plain batches).
        """
        from ._provision import provision_many

        return provision_many(self, requests, concurrency=concurrency)

    # -- lifecycle -------------------------------------------------------------------

    async def __aenter__(self) -> ProlificClient:
        self._ensure_session()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the client and the session it created; safe to call more than once.

        A session passed in as ``session=`` is left open: its owner closes it.
        """
        if self._state is _State.CLOSED:
            return
        self._state = _State.CLOSED
        self._middleware.closing = True
        if self._owns_session and self._session is not None:
            # Shielded: a cancelled caller must not leave the connector half-closed.
            await asyncio.shield(self._session.close())

    def __del__(self, _warn: Any = warnings.warn) -> None:
        session = getattr(self, "_session", None)
        if getattr(self, "_owns_session", False) and session is not None and not session.closed:
            _warn(
                f"Unclosed {self!r}: use 'async with ProlificClient()' or await aclose()",
                ResourceWarning,
                source=self,
                stacklevel=1,
            )

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._state is _State.CLOSED:
            raise self._closed_error()
        if self._session is None:
            # Created here, not in __init__: aiohttp needs a running event loop.
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._max_connections),
                middlewares=(self._middleware,),
                trace_configs=[connection_trace()],
                timeout=self._timeout,
                json_serialize=json.dumps,
            )
        elif self._session.closed:
            raise ClientClosedError("The aiohttp session given as session= has been closed.")
        self._state = _State.OPENED
        return self._session

    # -- requests --------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: dict[str, str] | None = None,
        state: CallState | None = None,
        template: str | None = None,
    ) -> APIResponse:
        """Send one API call through the retry middleware and decode its JSON body.

        ``template`` names the endpoint (``/batches/{batch_id}/report/``) for the
        once-per-endpoint deprecation warning; it defaults to ``path``.

        ``state``, when given, collects what the call did (attempts sent, 429s met) even
        when it fails; the bulk layer reads it.

        Raises:
            APIStatusError: (a subclass per status) for a non-2xx answer.
            APIConnectionError: no response; :class:`OutcomeUnknownError` for a
                non-idempotent request that may have taken effect.
            ResponseValidationError: a 2xx body that is not JSON.
        """
        session = self._ensure_session()
        url = self._base_url + path
        extra: dict[str, Any] = {}
        if not self._owns_session:
            # A per-request list replaces the session's own, so keep theirs behind ours.
            extra["middlewares"] = (self._middleware, *getattr(session, "_middlewares", ()))
        loop = asyncio.get_running_loop()
        async with self._in_flight:
            if self._closed():  # closed while this call waited for a slot
                raise self._closed_error()
            if state is None:
                state = CallState(deadline=0.0)
            state.deadline = loop.time() + self._retry_policy.timeout
            state.tracks_connection = self._owns_session
            reset_token = current_call.set(state)
            failure: ProlificError | None = None
            try:
                async with (
                    asyncio.timeout_at(state.deadline),
                    session.request(
                        method,
                        URL(url, encoded=True),
                        json=json_body,
                        params=params,
                        headers=self._headers,
                        timeout=self._timeout,
                        allow_redirects=False,
                        raise_for_status=False,  # a caller's session may say otherwise
                        **extra,
                    ) as response,
                ):
                    raw = await response.read()
                    status, reason, headers = response.status, response.reason, response.headers
            except aiohttp.ClientError as exc:
                failure = self._connection_error(exc, method, url, state)
            except TimeoutError as exc:
                failure = self._deadline_error(exc, method, url, state)
            except (RuntimeError, AssertionError) as exc:
                # aiohttp's own complaints about a session closed under a running
                # request; anything else is a bug and propagates.
                if not self._closed():
                    raise
                failure = self._closed_error(method, url, state)
                failure.__cause__ = exc
            finally:
                current_call.reset(reset_token)
        if failure is not None:
            # Raised outside the except block: aiohttp's response errors carry the
            # request headers (our token), so they must not ride along as __context__.
            raise failure
        if "Deprecation" in headers:
            self._warn_deprecated(method, template or path, headers)
        if not 200 <= status < 300:
            raise make_status_error(
                status_code=status,
                reason=reason,
                raw_body=raw,
                headers=headers,
                method=method,
                url=url,
            )
        return APIResponse(
            status=status,
            data=self._decode(raw, status, method, url),
            method=method,
            url=url,
            sent=state.sent,
        )

    async def get(
        self,
        path: str,
        *,
        cast_to: type[T],
        params: dict[str, str] | None = None,
        template: str | None = None,
        state: CallState | None = None,
    ) -> T:
        """Send a GET to ``path`` (below the base URL) and decode its answer as ``cast_to``.

        The escape hatch for endpoints not wrapped yet: the request goes through the
        same retry policy, 429 gate and error mapping as every wrapped call.
        ``cast_to=APIResponse`` returns the decoded response as it is.
        """
        return await self._request_model(
            "GET", path, cast_to, params=params, state=state, template=template
        )

    async def post(
        self,
        path: str,
        *,
        cast_to: type[T],
        body: Any = None,
        params: dict[str, str] | None = None,
        template: str | None = None,
        state: CallState | None = None,
    ) -> T:
        """Send a POST with a JSON ``body``; retried only when it provably was not sent."""
        return await self._request_model(
            "POST", path, cast_to, json_body=body, params=params, state=state, template=template
        )

    async def patch(
        self,
        path: str,
        *,
        cast_to: type[T],
        body: Any = None,
        params: dict[str, str] | None = None,
        template: str | None = None,
        state: CallState | None = None,
    ) -> T:
        """Send a PATCH with a JSON ``body`` and decode its answer as ``cast_to``."""
        return await self._request_model(
            "PATCH", path, cast_to, json_body=body, params=params, state=state, template=template
        )

    async def delete(
        self,
        path: str,
        *,
        cast_to: type[T],
        params: dict[str, str] | None = None,
        template: str | None = None,
        state: CallState | None = None,
    ) -> T:
        """Send a DELETE to ``path`` and decode its answer as ``cast_to``."""
        return await self._request_model(
            "DELETE", path, cast_to, params=params, state=state, template=template
        )

    async def _request_model(
        self,
        method: str,
        path: str,
        cls: type[T],
        *,
        json_body: Any = None,
        params: dict[str, str] | None = None,
        state: CallState | None = None,
        template: str | None = None,
    ) -> T:
        response = await self._request(
            method, path, json_body=json_body, params=params, state=state, template=template
        )
        if cls is APIResponse:
            return response  # type: ignore[return-value]
        return structure_response(
            response.data, cls, status_code=response.status, method=method, url=response.url
        )

    def _warn_deprecated(self, method: str, endpoint: str, headers: Any) -> None:
        """Warn once per endpoint and client that the server marked it deprecated."""
        key = f"{method} {endpoint}"
        if key in self._deprecations_seen:
            return
        self._deprecations_seen.add(key)
        sunset = headers.get("Sunset")
        when = f"; it stops working on {sunset}" if sunset else ""
        warnings.warn(
            f"Prolific marks {key} as deprecated{when}.",
            DeprecationWarning,
            stacklevel=_caller_stacklevel(),
        )

    @staticmethod
    def _decode(raw: bytes, status: int, method: str, url: str) -> Any:
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except ValueError as exc:
            snippet = raw[:80].decode("utf-8", errors="replace")
            raise ResponseValidationError(
                f"{method} {url} returned {status} with a body that is not JSON: {snippet!r}",
                status_code=status,
                method=method,
                url=url,
                errors=["body is not JSON @ $"],
            ) from exc

    def _closed_error(
        self, method: str = "", url: str = "", state: CallState | None = None
    ) -> ProlificError:
        """The error for a call that the client's aclose() cut short."""
        if state is not None and state.maybe_sent and method not in IDEMPOTENT_METHODS:
            return OutcomeUnknownError(
                f"{method} {url}: the client was closed while the request may have reached "
                "the server; check whether it took effect before sending it again.",
                method=method,
                url=url,
            )
        return ClientClosedError("This ProlificClient was closed with aclose(); create a new one.")

    def _connection_error(
        self, exc: aiohttp.ClientError, method: str, url: str, state: CallState
    ) -> ProlificError:
        if self._closed() or isinstance(exc, ClientClosingError):
            closed = self._closed_error(method, url, state)
            closed.__cause__ = exc
            return closed
        attempts = f"after {state.sent} attempt{'s' if state.sent != 1 else ''}"
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        failure: APIConnectionError
        if never_sent(exc):
            cls = (
                APITimeoutError
                if isinstance(exc, aiohttp.ConnectionTimeoutError)
                else (APIConnectionError)
            )
            failure = cls(
                f"{method} {url}: could not connect {attempts} ({detail}); "
                "the request was not sent",
                method=method,
                url=url,
            )
        elif method not in IDEMPOTENT_METHODS:
            failure = OutcomeUnknownError(
                f"{method} {url}: the connection failed after the request may have reached "
                f"the server ({detail}). It was not retried, because repeating it could "
                "create a duplicate: check whether it took effect before sending it again.",
                method=method,
                url=url,
            )
        elif isinstance(exc, aiohttp.ServerTimeoutError):
            failure = APITimeoutError(
                f"{method} {url}: timed out reading the response {attempts} ({detail})",
                method=method,
                url=url,
            )
        else:
            failure = APIConnectionError(
                f"{method} {url}: connection failed {attempts} ({detail})", method=method, url=url
            )
        if not isinstance(exc, aiohttp.ClientResponseError):  # those carry our headers
            failure.__cause__ = exc
        return failure

    def _deadline_error(
        self, exc: TimeoutError, method: str, url: str, state: CallState
    ) -> APIConnectionError:
        seconds = self._retry_policy.timeout
        failure: APIConnectionError
        if state.maybe_sent and method not in IDEMPOTENT_METHODS:
            failure = OutcomeUnknownError(
                f"{method} {url}: no answer within the call's {seconds:g}s deadline "
                "(RetryPolicy.timeout) after the request may have reached the server. It "
                "was not retried: check whether it took effect before sending it again.",
                method=method,
                url=url,
            )
        else:
            failure = APITimeoutError(
                f"{method} {url}: no answer within the call's {seconds:g}s deadline "
                f"(RetryPolicy.timeout), {state.sent} attempt(s)",
                method=method,
                url=url,
            )
        failure.__cause__ = exc
        return failure
