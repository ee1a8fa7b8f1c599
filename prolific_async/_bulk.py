"""The bulk layer's run: read requests, send each once, reconcile, journal, report.

See :mod:`prolific_async.bulk` for the design. The pieces live beside this module: the
request bodies in the converter, the match key in ``_match_key``, the reconciler in
``_reconcile`` (with the listing checks of ``_listing``), the journal's records in
``_journal``, the bounded reading of the input in ``_fanout``, one item's sends in
``_bulk_send`` and the rule that stops a run that cannot succeed in ``_bulk_stop``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Coroutine, Iterable
from typing import TYPE_CHECKING, Any, Final, Literal, cast

from ._base_client import BaseClient
from ._bulk_progress import BulkProgress
from ._bulk_send import Item, Sender, journal_unfinished
from ._bulk_stop import DEFAULT_MAX_CONSECUTIVE_UNSENT, RunStop, scope_of
from ._converter import converter
from ._fanout import Parking, fan_out
from ._fingerprint import body_fingerprint
from ._journal import ItemKey, Journal, JournalEntry
from ._json import refuse_non_finite
from ._listing import fetch_listing
from ._logging import first_capped_run, logger
from ._outcome import Outcome, error_outcome
from ._paths import DUPLICATE_TEMPLATE
from ._reconcile import MatchKey, Member, Reconciler, reconcile_seconds
from ._resource import expand
from ._testing import testing_enabled
from .errors import APIStatusError, JournalError, ProlificError
from .models.batches import Batch
from .models.bulk import BulkRequest, BulkResult, CreateBatchRequest, DuplicateBatchRequest

if TYPE_CHECKING:
    from .resources.batches import BatchesResource

__all__ = [
    "DEFAULT_MAX_CONSECUTIVE_UNSENT",
    "DEFAULT_RECONCILE_MARGIN",
    "MAX_WAITING_PER_SLOT",
    "Operation",
    "run_bulk",
]

#: In test mode the default reconcile delay is at most this (an emulator applies at once).
TEST_MODE_RECONCILE_DELAY: Final = 0.05
DEFAULT_RECONCILE_MARGIN: Final = 10.0
#: Requests being reconciled hold no slot, up to this many per slot of ``concurrency``;
#: beyond that, they count toward the concurrency again.
MAX_WAITING_PER_SLOT: Final = 8

#: ``mixed`` takes creates and duplicates in one run (the command line's manifests).
Operation = Literal["create", "duplicate", "mixed"]
_EXPECTED: Final[dict[str, tuple[type, ...]]] = {
    "create": (CreateBatchRequest,),
    "duplicate": (DuplicateBatchRequest,),
    "mixed": (CreateBatchRequest, DuplicateBatchRequest),
}


# -- one run -----------------------------------------------------------------------------


class _Run:
    """One bulk call: reads requests, runs them, reconciles, journals, yields results."""

    def __init__(
        self,
        client: BaseClient,
        batches: BatchesResource,
        operation: Operation,
        *,
        concurrency: int,
        journal: Journal | None,
        retry_failed: bool,
        reconcile_margin: float,
        reconcile_delay: float | None,
        max_consecutive_unsent: int,
        progress: BulkProgress | None = None,
    ) -> None:
        if operation not in _EXPECTED:
            raise ValueError(f"operation must be one of {sorted(_EXPECTED)}, got {operation!r}")
        if not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError(f"concurrency must be an integer >= 1, got {concurrency!r}")
        margin = reconcile_seconds("reconcile_margin", reconcile_margin)
        self.client = client
        self.batches = batches
        self.operation: Operation = operation
        self.journal = journal
        self.retry_failed = retry_failed
        self.concurrency = concurrency
        if concurrency > client.max_connections and first_capped_run(client):
            logger.warning(
                "concurrency=%d is above the client's max_connections=%d: at most %d "
                "requests of this run are in flight (raise max_connections to go higher)",
                concurrency,
                client.max_connections,
                client.max_connections,
            )
        self.progress = progress if progress is not None else BulkProgress()
        self.parking = Parking(MAX_WAITING_PER_SLOT * concurrency)
        self.entries: dict[ItemKey, JournalEntry] = {}
        if reconcile_delay is None:
            # The server may still be working on a request we gave up on: give it as
            # long as we gave it to answer (test mode, against an emulator, need not).
            reconcile_delay = client.attempt_timeout
            if testing_enabled():
                reconcile_delay = min(reconcile_delay, TEST_MODE_RECONCILE_DELAY)
        self.reconciler = Reconciler(
            functools.partial(fetch_listing, client),
            margin=margin,
            delay=reconcile_seconds("reconcile_delay", reconcile_delay),
            park=self._park,
            waiting=self.progress.waiting,
            relisting=self.progress.relisting,
        )
        self.stop = RunStop(max_consecutive_unsent)
        self.sender = Sender(
            client,
            batches,
            reconciler=self.reconciler,
            journal=journal,
            stop=self.stop,
            max_sends=client.retry_policy.attempts,
            max_in_flight=concurrency,
            sending=self.progress.sending,
        )
        self.sources: dict[str, asyncio.Task[Batch]] = {}
        self.user_keys: dict[str, int] = {}

    # -- the driver ----------------------------------------------------------------------

    async def results(
        self, requests: Iterable[BulkRequest] | AsyncIterable[BulkRequest]
    ) -> AsyncGenerator[BulkResult, None]:
        if self.journal is not None:
            self.journal.open(self.operation)
            # Its batches are claimed by a look-up, not loaded: a long journal costs no memory.
            self.reconciler.claimed = self.journal.claimed_ids()
        try:
            # A task that raises (a bug, a journal failure) stops the run.
            async for result in fan_out(
                requests, self._start, limit=self.concurrency, parking=self.parking
            ):
                self.progress.sending.discard(result.index)  # reported: no longer in doubt
                yield result
        finally:
            await self._shutdown()

    def _start(self, index: int, request: object) -> Coroutine[Any, Any, BulkResult] | BulkResult:
        """Admit one request: its result from the journal, or the work to make its batch."""
        item = self._admit(index, request)
        resumed = self._resumed(item)
        return resumed if resumed is not None else self._process(item)

    @contextlib.asynccontextmanager
    async def _park(self, member: Member) -> AsyncIterator[None]:
        """Hold a request being reconciled: it sends nothing, so it frees its slot."""
        with self.parking.parked():
            yield

    async def _shutdown(self) -> None:
        """Stop the source fetches and listings still running, then close the journal."""
        tasks: list[asyncio.Task[Any]] = [*self.sources.values(), *self.reconciler.tasks()]
        for task in tasks:
            task.cancel()
        try:
            if tasks:
                await asyncio.wait(tasks)
        finally:
            for task in tasks:
                if task.done() and not task.cancelled():
                    task.exception()  # retrieved: no "exception was never retrieved" noise
            if self.journal is not None:
                await self.journal.close()

    def _admit(self, index: int, request: object) -> Item:
        """Check one input request and turn it into an item (before anything is sent)."""
        expected = _EXPECTED[self.operation]
        if not isinstance(request, expected):
            names = " or ".join(cls.__name__ for cls in expected)
            raise TypeError(f"request {index} must be a {names}, got {type(request).__name__}")
        request = cast("BulkRequest", request)
        key: ItemKey = index
        if request.key is not None:
            previous = self.user_keys.setdefault(request.key, index)
            if previous != index:
                raise ValueError(
                    f"request {index} repeats the key {request.key!r} of request {previous}; "
                    "keys must be unique in a manifest"
                )
            key = request.key
        body = converter.unstructure(request)
        refuse_non_finite(body, index)
        item = Item(
            index=index,
            key=key,
            request=request,
            # Only a journal reads the fingerprint: a run without one skips the digest.
            fingerprint=body_fingerprint(request, body) if self.journal is not None else "",
            scope=scope_of(request),
            body=body,
        )
        entry = self.journal.entry(key) if self.journal is not None else None
        if entry is not None:
            self.entries[key] = entry  # kept until _resumed reports it: one at a time
        elif self.journal is not None:
            self.journal.check_keyed_as_before(index, request.key, item.fingerprint)
        if entry is not None and entry.fingerprint != item.fingerprint:
            raise JournalError(
                f"request {index} (journal item {key!r}) differs from what the journal "
                f"{self.journal.path if self.journal else ''} recorded for it: this journal "
                "belongs to another manifest"
            )
        return item

    def _resumed(self, item: Item) -> BulkResult | None:
        """The item's result as the journal has it, or ``None`` if it is still to do."""
        entry = self.entries.pop(item.key, None)
        if entry is None or self.journal is None:
            return None
        batch = self.journal.batch_of(item.key, entry)
        state = "failed before" if entry.error is not None else "unfinished, checked again"
        logger.info(
            "request %d (journal item %r) resumed from journal %s: %s",
            item.index,
            item.key,
            self.journal.path,
            state if batch is None else f"made {batch.id}",
        )
        rid = entry.request_id
        if batch is not None:
            return BulkResult(
                index=item.index,
                request=item.request,
                batch=batch,
                reconciled=entry.reconciled,
                resumed=True,
                request_id=rid,
            )
        error = entry.to_error()
        if error is not None and not self.retry_failed:
            return BulkResult(
                index=item.index, request=item.request, error=error, resumed=True, request_id=rid
            )
        item.doubted = entry.started_at is not None  # sent by an earlier run: in doubt
        if error is None:
            item.started_at = entry.started_at
            item.last_sent_at = entry.last_sent_at
            if item.doubted:  # still to reconcile
                self.progress.sending.add(item.index)
        return None

    # -- one item ------------------------------------------------------------------------

    async def _process(self, item: Item) -> BulkResult:
        self.progress.in_progress += 1
        try:
            return await self._make(item)
        finally:
            self.progress.in_progress -= 1

    async def _make(self, item: Item) -> BulkResult:
        try:
            self.stop.check(item.scope)  # before a duplicate's source is fetched
            request = item.request
            # A create's key is at hand: no coroutine for it (a duplicate's needs its source).
            if isinstance(request, CreateBatchRequest):
                match_key = MatchKey.of_request(request)
            else:
                match_key = await self._duplicate_key(item, request)
            group = self.reconciler.join(match_key)
            try:
                batch, reconciled = await self.sender.make_once(item, group)
            finally:
                self.reconciler.leave(group)
        except ProlificError as error:
            if isinstance(error, JournalError):
                raise
            rid = error.request_id if isinstance(error, APIStatusError) else item.request_id
            if self.journal is not None:
                await journal_unfinished(self.journal, item, error)
            return BulkResult(
                index=item.index,
                request=item.request,
                error=error,
                attempts=item.attempts,
                unsent_attempts=item.unsent_attempts,
                request_id=rid,
            )
        if self.journal is not None:
            # Reported once its record is durable; the commit holds no slot meanwhile.
            done = self.journal.write_done(
                item.key,
                item.fingerprint,
                batch=batch,
                reconciled=reconciled,
                attempts=item.attempts,
                request_id=item.request_id,
            )
            await self.parking.waiting(done)
        return BulkResult(
            index=item.index,
            request=item.request,
            batch=batch,
            attempts=item.attempts,
            unsent_attempts=item.unsent_attempts,
            reconciled=reconciled,
            request_id=item.request_id,
        )

    async def _duplicate_key(self, item: Item, request: DuplicateBatchRequest) -> MatchKey:
        """Set a duplicate's path (its body is built when it is admitted); return its key."""
        source = await self._source(item, request.batch_id)
        item.path = expand(DUPLICATE_TEMPLATE, {"batch_id": request.batch_id})
        item.template = DUPLICATE_TEMPLATE
        return MatchKey.of_request(request, source)

    async def _source(self, item: Item, batch_id: str) -> Batch:
        """The duplicate's source, fetched once per run however many copies it has.

        The fetch is shared, its failure too: a source that is not found fails every
        copy of it at once. A copy that was waiting on a fetch that stopped the run
        (or its source's scope) is reported as not attempted.
        """
        task = self.sources.get(batch_id)
        shared = task is not None
        if task is None:
            task = asyncio.create_task(self._fetch_source(batch_id, item.scope))
            self.sources[batch_id] = task
        try:
            source = await asyncio.shield(task)
        except ProlificError:
            if shared:
                self.stop.check(item.scope)
            raise
        self.reconciler.claimed.add(source.id)  # a source is never adopted as its own copy
        return source

    async def _fetch_source(self, batch_id: str, scope: str) -> Batch:
        """GET a source, telling the run's stop how it went, as a send does.

        A fetch that never reached the server counts toward ``max_consecutive_unsent``;
        a 401 stops the run; a 403 stops the copies of this source.
        """
        try:
            source = await self.batches.get(batch_id)
        except ProlificError as error:
            if error_outcome(error) is Outcome.NOT_SENT:
                self.stop.not_sent(error)
            else:
                self.stop.reached(error, scope)
            raise
        self.stop.reached(None, scope)
        return source


def run_bulk(
    client: BaseClient,
    batches: BatchesResource,
    operation: Operation,
    requests: Iterable[BulkRequest] | AsyncIterable[BulkRequest],
    *,
    concurrency: int,
    journal: Journal | None,
    retry_failed: bool,
    reconcile_margin: float,
    reconcile_delay: float | None = None,
    max_consecutive_unsent: int = DEFAULT_MAX_CONSECUTIVE_UNSENT,
    progress: BulkProgress | None = None,
) -> AsyncGenerator[BulkResult, None]:
    """Start a bulk run; the resources' ``create_many``/``duplicate_many`` call this.

    ``operation`` is ``"create"``, ``"duplicate"``, or ``"mixed"`` for a run taking both
    kinds of request (the command line's ``provision``); the other arguments are those
    of :meth:`~prolific_async.resources.batches.BatchesResource.create_many`.
    ``progress``, a :class:`~prolific_async.BulkProgress`, shows what the run is doing.

    Raises:
        ValueError: an unknown operation, or a bad concurrency, reconcile or stop setting.
    """
    run = _Run(
        client,
        batches,
        operation,
        concurrency=concurrency,
        journal=journal,
        retry_failed=retry_failed,
        reconcile_margin=reconcile_margin,
        reconcile_delay=reconcile_delay,
        max_consecutive_unsent=max_consecutive_unsent,
        progress=progress,
    )
    return run.results(requests)
