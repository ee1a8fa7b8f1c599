"""FakeProlific: the emulator's lifecycle, faults and traffic knobs (its state: ``_staging``)."""

from __future__ import annotations

import enum
import functools
import random
import secrets
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web

from .._client import ProlificClient
from .._config import SENDABLE_RULE, sendable_token
from .._retry import RetryPolicy
from ._fault_schedule import FaultSchedule, FiredFault
from ._faults import Fault, FaultKind, make_fault
from ._listener import Listener
from ._pipeline import DEFAULT_MAX_UPLOAD_SIZE, Latency, RequestPipeline, check_latency
from ._request_ids import install_request_ids
from ._services import Services
from ._staging import StagingMixin, check_delay
from ._stamps import Stamps
from ._timeline import WorkflowConfig
from ._tls import ThrowawayCA, certificate_hosts
from ._traffic import EmulatorStats, RateLimit, RecordedRequest

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["FAST_RETRY_POLICY", "FakeProlific"]

#: Retries as the default policy decides, with millisecond waits: for tests.
FAST_RETRY_POLICY: Final = RetryPolicy(
    wait_initial=0.001, wait_max=0.01, wait_jitter=0.0, timeout=10.0
)
_utc_now: Final = functools.partial(datetime.now, UTC)


class _State(enum.Enum):
    UNSTARTED = "unstarted"
    RUNNING = "running"
    STOPPED = "stopped"


class FakeProlific(StagingMixin):
    """An in-memory Prolific API served over a real socket, with scriptable faults.

    Use it as an async context manager; it listens on ``127.0.0.1`` and a free port::

        async with FakeProlific() as fake:
            async with fake.client() as client:
                batch = await client.batches.create(...)
            assert batch.id in fake.batches

    Each request goes through, in order: the ``max_concurrency`` gate (requests beyond
    it wait their turn), ``latency``, the rate limit (429), the first matching fault,
    then routing (404 unknown path), authentication (401), 405 for a wrong method, and
    the endpoint itself. A request the client gave up on is still applied, as on a real
    server. Requests to the storage stand-in (``/_storage/``: upload URLs, report and
    export links) only meet the faults: no gate, latency, rate limit or token.

    With ``tls=True`` it serves HTTPS, storage links included, with a certificate from
    a CA made for this fake alone: :meth:`client` trusts it, other clients trust the
    PEM file at :attr:`ca_file` (``SSL_CERT_FILE=...``), deleted when the fake stops.

    What takes time on the real service takes time here: uploads are processed,
    setups and exports finish after their delay. Transitions are applied lazily, when
    a request or a view (:attr:`batches` ...) next looks, so no task ever runs in the
    background; delays are measured on a monotonic clock, never on ``clock``.

    Args:
        host: the interface to listen on.
        port: the port; 0 picks a free one (see :attr:`url`).
        token: the API token clients must send; ``None`` generates a random one.
        seed: seeds ids, latency and which requests random faults hit, so a run replays;
            ``None`` picks a random seed (read it back from :attr:`seed`).
        latency: seconds added to every request, or a callable drawing them from a
            ``random.Random`` (for benchmarks: ``lambda rng: rng.expovariate(50)``).
        rate_limit: a token bucket; requests finding it empty get 429 + ``Retry-After``.
        max_concurrency: how many requests are served at once; more wait (they are
            not refused), so a client's own concurrency bound can be observed.
        clock: returns "now" for ``created_at`` (skew it to test clock handling).
        fractional_seconds: render ``created_at`` with microseconds instead of the
            whole seconds of the API's examples.
        processing_delay: seconds an upload takes to process (settable).
        setup_delay: seconds a batch stays PROCESSING after setup (settable).
        export_delay: seconds an export job stays ``generating`` (settable).
        sync_delay: seconds a batch sync job takes, manual or automatic (settable).
        migration_delay: seconds a schema migration stays ``processing`` (settable).
        legacy_exports: answer export requests the older way, 200 ``complete`` with
            the URL at once (settable).
        legacy_v3_uploads: give a V3 dataset's upload URL no ``import_id``, as the docs
            describe it; the official CLI needs one (settable).
        tls: serve HTTPS with a throwaway CA (needs the ``tls`` extra: trustme).
        max_upload_size: the largest dataset file (bytes) the storage stand-in takes; a
            larger one answers 413 with Prolific's error body (API requests: 1 MiB).

    Raises:
        ValueError: a token no client can send (once trimmed), a latency below 0 or not
            finite, a delay below 0, or a limit below 1.
        ImportError: ``tls=True`` without trustme (the message names the extra).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        seed: int | None = 0,
        latency: Latency = 0.0,
        rate_limit: RateLimit | None = None,
        max_concurrency: int | None = None,
        clock: Callable[[], datetime] = _utc_now,
        fractional_seconds: bool = False,
        processing_delay: float = 0.05,
        setup_delay: float = 0.05,
        export_delay: float = 0.05,
        sync_delay: float = 0.05,
        migration_delay: float = 0.05,
        legacy_exports: bool = False,
        legacy_v3_uploads: bool = False,
        tls: bool = False,
        max_upload_size: int = DEFAULT_MAX_UPLOAD_SIZE,
    ) -> None:
        if token is not None and not sendable_token(token.strip()):  # never quoted: a token
            raise ValueError(f"token {SENDABLE_RULE}, or None to generate one")
        check_latency(latency)
        if max_concurrency is not None and max_concurrency < 1:
            raise ValueError(f"max_concurrency must be None or >= 1, got {max_concurrency!r}")
        if max_upload_size < 1:
            raise ValueError(f"max_upload_size must be >= 1 byte, got {max_upload_size!r}")
        self._seed: Final = seed if seed is not None else secrets.randbits(32)
        ids = random.Random(f"{self._seed}/ids")  # noqa: S311 (seeded: one stream per purpose)
        stamps = Stamps(
            rng=ids,
            clock=clock,
            user_id=f"{ids.getrandbits(96):024x}",
            fractional_seconds=fractional_seconds,
        )
        self._token: Final = token.strip() if token is not None else secrets.token_hex(20)
        self._pipeline = RequestPipeline(
            token=self._token,
            faults=FaultSchedule(self._seed),
            latency=latency,
            latency_rng=random.Random(f"{self._seed}/latency"),  # noqa: S311
            rate_limit=rate_limit,
            max_concurrency=max_concurrency,
            max_upload_size=max_upload_size,
        )
        config = WorkflowConfig(
            processing_delay=check_delay("processing_delay", processing_delay),
            setup_delay=check_delay("setup_delay", setup_delay),
            export_delay=check_delay("export_delay", export_delay),
            sync_delay=check_delay("sync_delay", sync_delay),
            migration_delay=check_delay("migration_delay", migration_delay),
            legacy_exports=legacy_exports,
            legacy_v3_uploads=legacy_v3_uploads,
        )
        storage_rng = random.Random(f"{self._seed}/storage")  # noqa: S311
        self._services = Services(stamps=stamps, config=config, storage_rng=storage_rng)
        self._host, self._port = host, port
        self._max_concurrency: Final = max_concurrency
        self._state = _State.UNSTARTED
        self._listener: Listener | None = None
        self._url: str | None = None
        self._clients: list[ProlificClient] = []
        # Made now, in memory, so a missing trustme fails here rather than at start().
        self._ca = ThrowawayCA(certificate_hosts(host)) if tls else None

    def __repr__(self) -> str:
        batches = len(self._services.batches.batches)
        return f"<FakeProlific url={self._url!r} state={self._state.value} batches={batches}>"

    # -- what tests read ---------------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL clients use, e.g. ``http://127.0.0.1:54321`` (``https`` with tls).

        Raises:
            RuntimeError: the fake has not been started.
        """
        if self._url is None:
            raise RuntimeError("FakeProlific has no URL before start(): use 'async with'")
        return self._url

    @property
    def tls(self) -> bool:
        """Whether the fake serves HTTPS (``tls=True``)."""
        return self._ca is not None

    @property
    def ca_file(self) -> Path | None:
        """The PEM file of the CA to trust for HTTPS (``SSL_CERT_FILE=<it>``).

        ``None`` without ``tls``, before :meth:`start` and after :meth:`stop` (which
        deletes the file).
        """
        return None if self._ca is None else self._ca.ca_file

    @property
    def token(self) -> str:
        """The token clients must send (``Authorization: Token <token>``)."""
        return self._token

    @property
    def seed(self) -> int:
        """The seed in use; pass it back as ``seed=`` to replay a run."""
        return self._seed

    @property
    def is_running(self) -> bool:
        """Whether the fake is serving (started and not stopped)."""
        return self._state is _State.RUNNING

    @property
    def faults(self) -> tuple[Fault, ...]:
        """Every fault added since the last :meth:`clear_faults`, exhausted ones included."""
        return tuple(self._pipeline.faults.faults)

    @property
    def fault_log(self) -> list[FiredFault]:
        """What fired on which request (named by identity, not time); clear it at will."""
        return self._pipeline.faults.log

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received, in arrival order, token redacted (clear it at will)."""
        return self._pipeline.requests

    @property
    def stats(self) -> EmulatorStats:
        """Requests by ``(method, route)`` and concurrency peaks; ``stats.reset()`` zeroes."""
        return self._pipeline.stats

    @property
    def latency(self) -> Latency:
        """Seconds added to every request, or a callable drawing them; settable."""
        return self._pipeline.latency

    @latency.setter
    def latency(self, value: Latency) -> None:
        self._pipeline.latency = check_latency(value)

    @property
    def rate_limit(self) -> RateLimit | None:
        """The rate limit; setting it (or ``None``) starts a full bucket."""
        return self._pipeline.rate_limit

    @rate_limit.setter
    def rate_limit(self, value: RateLimit | None) -> None:
        self._pipeline.rate_limit = value

    @property
    def max_concurrency(self) -> int | None:
        """How many requests are served at once (``None``: no limit)."""
        return self._max_concurrency

    # -- staging -----------------------------------------------------------------------

    def client(self, **kwargs: Any) -> ProlificClient:
        """Return a :class:`ProlificClient` bound to this fake (its URL and token).

        Keyword arguments go to :class:`ProlificClient` (``retry=``, ``timeout=`` ...).
        With ``tls``, its ``ssl_context`` trusts the fake's CA unless you pass one (or a
        ``session``). Close it yourself (``async with``); any still open are closed when
        the fake stops.

        Raises:
            RuntimeError: the fake is not running.
        """
        if self._state is not _State.RUNNING:
            raise RuntimeError(
                f"this FakeProlific is {self._state.value}: create clients while it runs, "
                "inside 'async with FakeProlific() as fake'"
            )
        if self._ca is not None and "ssl_context" not in kwargs and "session" not in kwargs:
            kwargs["ssl_context"] = self._ca.client_context()
        client = ProlificClient(token=self._token, base_url=self.url, **kwargs)
        self._clients = [known for known in self._clients if not known.is_closed]
        self._clients.append(client)
        return client

    def add_fault(
        self,
        method: str,
        path: str,
        kind: FaultKind | str,
        *,
        times: int | None = 1,
        probability: float = 1.0,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
        delay: float | None = None,
        chunk_size: int | None = None,
        size: int | None = None,
    ) -> Fault:
        """Script a fault for the next ``times`` requests matching ``method`` and ``path``.

        Args:
            method: the HTTP method, or ``"*"`` for any.
            path: an ``fnmatch`` pattern of the path without query, e.g.
                ``"/api/v1/data-collection/batches/*/duplicate"``.
            kind: a :class:`FaultKind` or its value (``"status"``, ``"drop_after"`` ...).
            times: how many matching requests it hits (``None``: all of them).
            probability: the seeded chance it fires on each matching request.
            status: the answer's status (defaults by kind: see :class:`FaultKind`).
            headers: extra headers of that answer, e.g. ``{"Retry-After": "1"}``.
            body: its body, ``str``/``bytes`` as is, else JSON (default: Prolific's error).
            delay: seconds before acting (required for ``delay``); a ``stall_after``'s
                or ``stall_upload``'s hold (``None``: until stop); a ``trickle``'s pause
                between writes; a ``late_apply``'s wait (``None``: :meth:`apply_late`).
            chunk_size: for ``trickle``, the bytes sent per write (default 1).
            size: the body's bytes (``oversized``, ``compressed``) or depth (``deep_json``).

        Returns:
            The fault; its ``fired`` counts the requests it hit.

        Raises:
            ValueError: an unknown kind, or an argument the kind does not use.
        """
        fault = make_fault(
            method,
            path,
            kind,
            times=times,
            probability=probability,
            status=status,
            headers=headers,
            body=body,
            delay=delay,
            chunk_size=chunk_size,
            size=size,
        )
        return self._pipeline.faults.add(fault)

    def clear_faults(self) -> None:
        """Remove every fault, fired or not."""
        self._pipeline.faults.clear()

    # -- lifecycle ---------------------------------------------------------------------

    async def __aenter__(self) -> FakeProlific:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> FakeProlific:
        """Start listening; returns the fake itself.

        Raises:
            RuntimeError: it was already started (a fake starts once).
            OSError: the address is in use or cannot be bound.
        """
        if self._state is not _State.UNSTARTED:
            raise RuntimeError(f"this FakeProlific is {self._state.value}; create a new one")
        app = web.Application(
            middlewares=[self._pipeline.middleware(), self._services.middleware()],
            client_max_size=self._pipeline.client_max_size,
        )
        install_request_ids(app)
        self._pipeline.route_names = self._services.install(app.router)
        self._listener = await Listener.open(app, self._host, self._port, self._ca)
        self._url = self._services.storage.base_url = self._listener.url
        self._state = _State.RUNNING
        return self

    async def stop(self) -> None:
        """Close the clients it made, release stalled requests and stop; idempotent."""
        if self._state is _State.STOPPED:
            return
        self._state = _State.STOPPED
        try:
            clients, self._clients = self._clients, []
            for client in clients:
                await client.aclose()
            # Wakes every stalled, delayed or slowed handler: they cut their connection.
            self._pipeline.stopping.set()
            if self._listener is not None:
                await self._listener.close()
        finally:
            # Even when cancelled: the CA file must not outlive the fake.
            if self._ca is not None:
                self._ca.delete_ca_file()
