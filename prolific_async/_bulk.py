"""The bulk layer's run: read requests, send each once, reconcile, journal, report.

See :mod:`prolific_async.bulk` for the design. The pieces live beside this module: the
request bodies in the converter, the match key and the reconciler in ``_reconcile``,
the limit on sends in flight in ``_limiter``, the journal's records in ``_journal``,
and the bounded reading of the input in ``_fanout``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterable, Coroutine, Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Literal, cast

from attrs import define, field

from ._base_client import BaseClient
from ._call import CallState
from ._converter import converter
from ._creation import post_creating
from ._fanout import fan_out
from ._journal import ItemKey, Journal, JournalEntry, fingerprint, is_final_failure
from ._limiter import Limiter
from ._outcome import BulkStep, Outcome, bulk_step, error_outcome
from ._paths import BATCHES_PATH, DUPLICATE_TEMPLATE
from ._reconcile import Adopt, Group, MatchKey, Reconciler
from ._resource import expand
from ._retry import parse_retry_after
from ._testing import testing_enabled
from .errors import (
    CreatedButUnreadableError,
    JournalError,
    ProlificError,
    RateLimitError,
)
from .models.batches import Batch
from .models.bulk import BulkRequest, BulkResult, CreateBatchRequest, DuplicateBatchRequest

if TYPE_CHECKING:
    from .resources.batches import BatchesResource

__all__ = ["DEFAULT_RECONCILE_MARGIN", "Operation", "run_bulk"]

#: How often one request may be sent in a run (each send may retry 429s inside the client).
MAX_SENDS: Final = 5
#: How often one request may be refused with 429 before it is reported as failed.
MAX_THROTTLED: Final = 50
#: In test mode the default reconcile delay is at most this (an emulator applies at once).
TEST_MODE_RECONCILE_DELAY: Final = 0.05
DEFAULT_RECONCILE_MARGIN: Final = 10.0

#: ``mixed`` takes creates and duplicates in one run (the command line's manifests).
Operation = Literal["create", "duplicate", "mixed"]
_EXPECTED: Final[dict[str, tuple[type, ...]]] = {
    "create": (CreateBatchRequest,),
    "duplicate": (DuplicateBatchRequest,),
    "mixed": (CreateBatchRequest, DuplicateBatchRequest),
}


# -- one run -----------------------------------------------------------------------------


@define(eq=False)
class _Item:
    """One request in progress, and what reconciliation needs to know of it."""

    index: int
    key: ItemKey
    request: BulkRequest
    fingerprint: str
    started_at: datetime | None = None
    last_sent_at: datetime | None = None
    attempts: int = 0
    sends: int = 0
    throttled: int = 0
    body: dict[str, Any] = field(factory=dict)
    path: str = BATCHES_PATH
    template: str = BATCHES_PATH


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
    ) -> None:
        if operation not in _EXPECTED:
            raise ValueError(f"operation must be one of {sorted(_EXPECTED)}, got {operation!r}")
        if not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError(f"concurrency must be an integer >= 1, got {concurrency!r}")
        if reconcile_margin < 0:
            raise ValueError(f"reconcile_margin must be >= 0, got {reconcile_margin!r}")
        self.client = client
        self.batches = batches
        self.operation: Operation = operation
        self.journal = journal
        self.retry_failed = retry_failed
        self.limiter = Limiter(concurrency)
        self.entries: dict[ItemKey, JournalEntry] = {}
        if reconcile_delay is None:
            # The server may still be working on a request we gave up on: give it as
            # long as we gave it to answer (test mode, against an emulator, need not).
            reconcile_delay = client.attempt_timeout
            if testing_enabled():
                reconcile_delay = min(reconcile_delay, TEST_MODE_RECONCILE_DELAY)
        if reconcile_delay < 0:
            raise ValueError(f"reconcile_delay must be >= 0, got {reconcile_delay!r}")
        self.reconciler = Reconciler(
            batches.list,
            margin=timedelta(seconds=reconcile_margin),
            delay=timedelta(seconds=reconcile_delay),
        )
        self.sources: dict[str, asyncio.Task[Batch]] = {}
        self.user_keys: dict[str, int] = {}

    # -- the driver ----------------------------------------------------------------------

    async def results(
        self, requests: Iterable[BulkRequest] | AsyncIterable[BulkRequest]
    ) -> AsyncGenerator[BulkResult, None]:
        if self.journal is not None:
            self.journal.open(self.operation)
            # The journal's batches are claimed by a look-up when a listing shows one,
            # not loaded: a long journal costs no memory.
            self.reconciler.claimed = self.journal.claimed_ids()
        try:
            # A task that raises (a bug, a journal failure) stops the run.
            async for result in fan_out(requests, self._start, limit=self.limiter.ceiling):
                yield result
        finally:
            await self._shutdown()

    def _start(self, index: int, request: object) -> Coroutine[Any, Any, BulkResult] | BulkResult:
        """Admit one request: its result from the journal, or the work to make its batch."""
        item = self._admit(index, request)
        resumed = self._resumed(item)
        return resumed if resumed is not None else self._process(item)

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

    def _admit(self, index: int, request: object) -> _Item:
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
        item = _Item(index=index, key=key, request=request, fingerprint=fingerprint(request))
        entry = self.journal.entry(key) if self.journal is not None else None
        if entry is not None:
            self.entries[key] = entry  # kept until _resumed reports it: one at a time
        if entry is not None and entry.fingerprint != item.fingerprint:
            raise JournalError(
                f"request {index} (journal item {key!r}) differs from what the journal "
                f"{self.journal.path if self.journal else ''} recorded for it: this journal "
                "belongs to another manifest"
            )
        return item

    def _resumed(self, item: _Item) -> BulkResult | None:
        """The item's result as the journal has it, or ``None`` if it is still to do."""
        entry = self.entries.pop(item.key, None)
        if entry is None or self.journal is None:
            return None
        batch = self.journal.batch_of(item.key, entry)
        if batch is not None:
            return BulkResult(
                index=item.index,
                request=item.request,
                batch=batch,
                attempts=0,
                reconciled=entry.reconciled,
                resumed=True,
            )
        error = entry.to_error()
        if error is not None and not self.retry_failed:
            return BulkResult(index=item.index, request=item.request, error=error, resumed=True)
        if error is None:
            item.started_at = entry.started_at
            item.last_sent_at = entry.last_sent_at
        return None

    # -- one item ------------------------------------------------------------------------

    async def _process(self, item: _Item) -> BulkResult:
        try:
            match_key = await self._prepare(item)
            async with self.reconciler.group(match_key) as group:
                batch, reconciled = await self._make_once(item, group)
        except ProlificError as error:
            if isinstance(error, JournalError):
                raise
            if self.journal is not None and is_final_failure(error):
                await self.journal.write_failed(item.key, item.fingerprint, error=error)
            return BulkResult(
                index=item.index, request=item.request, error=error, attempts=item.attempts
            )
        if self.journal is not None:
            await self.journal.write_done(
                item.key,
                item.fingerprint,
                batch=batch,
                reconciled=reconciled,
                attempts=item.attempts,
            )
        return BulkResult(
            index=item.index,
            request=item.request,
            batch=batch,
            attempts=item.attempts,
            reconciled=reconciled,
        )

    async def _prepare(self, item: _Item) -> MatchKey:
        """Build the item's request body and path, and return its match key."""
        request = item.request
        item.body = converter.unstructure(request)
        if isinstance(request, CreateBatchRequest):
            return MatchKey.of_request(request)
        source = await self._source(request.batch_id)
        item.path = expand(DUPLICATE_TEMPLATE, {"batch_id": request.batch_id})
        item.template = DUPLICATE_TEMPLATE
        return MatchKey.of_request(request, source)

    async def _source(self, batch_id: str) -> Batch:
        """The duplicate's source, fetched once per run however many copies it has."""
        task = self.sources.get(batch_id)
        if task is None or (task.done() and task.exception() is not None):
            # A failed fetch is not kept: the next copy of this source tries again.
            task = asyncio.create_task(self.batches.get(batch_id))
            self.sources[batch_id] = task
        source = await asyncio.shield(task)
        self.reconciler.claimed.add(source.id)  # a source is never adopted as its own copy
        return source

    async def _make_once(self, item: _Item, group: Group) -> tuple[Batch, bool]:
        """Send, and on an ambiguous failure reconcile, until the batch exists once.

        Every pass but the last sends once (answered, lost, or refused with a 429), so
        the caps on sends and refusals end the loop by its last pass.
        """
        ambiguous = item.started_at is not None  # in flight when a previous run stopped
        last_error: ProlificError | None = None
        for _ in range(MAX_SENDS + MAX_THROTTLED):
            if ambiguous:
                decision = await self.reconciler.reconcile(item, group)
                if isinstance(decision, Adopt):
                    return decision.batch, True
                if isinstance(decision, ProlificError):
                    raise decision
            if last_error is not None and (
                item.sends >= MAX_SENDS or item.throttled >= MAX_THROTTLED
            ):
                raise last_error
            try:
                return await self._send(item, group), False
            except ProlificError as error:
                step = bulk_step(error)
                if isinstance(error, CreatedButUnreadableError) and error.batch_id is not None:
                    return await self._read_created(error.batch_id, error), False
                if step in (BulkStep.FAIL, BulkStep.READ) or (
                    isinstance(error, RateLimitError) and self._wait_too_long(error)
                ):
                    raise
                last_error = error
                ambiguous = step is BulkStep.RECONCILE
        # Not reached: by the last pass the caps are met, and it raises or adopts.
        raise last_error or RuntimeError("no request was sent")

    async def _send(self, item: _Item, group: Group) -> Batch:
        async with (
            self.reconciler.sending(item, group) as outcome,
            self.limiter.slot() as epoch,
        ):
            # Journal (and time) the send only once it is about to go out: after the
            # wait for a slot and for the 429 gate, which can be long. Reconciliation
            # waits reconcile_delay from this moment.
            await self.client.rate_gate.wait_open()
            now = datetime.now(UTC)
            first = item.started_at is None
            if first:
                item.started_at = now
            if self.journal is not None:
                if first:
                    await self.journal.write_start(item.key, item.fingerprint, at=now)
                else:
                    await self.journal.write_sent(item.key, item.fingerprint, at=now)
            item.last_sent_at = now
            state = CallState(
                deadline=0.0, return_rate_limited=True, throttle_round=item.throttled + 1
            )
            try:
                batch = await post_creating(
                    self.client, item.path, body=item.body, state=state, template=item.template
                )
            except ProlificError as error:
                outcome.ambiguous = error_outcome(error) is Outcome.MAYBE_APPLIED
                if isinstance(error, RateLimitError):
                    item.throttled += 1  # refused, not sent: it does not use up a send
                else:
                    item.sends += 1
                raise
            else:
                item.sends += 1
            finally:
                item.attempts += state.sent
                if state.sent_at is not None and state.sent_at > now:
                    item.last_sent_at = state.sent_at  # a retry inside the call went later
                self.limiter.observe(
                    epoch,
                    throttled=state.rate_limited > 0,
                    succeeded=not outcome.ambiguous and state.rate_limited == 0,
                )
            self.reconciler.claimed.add(batch.id)
            return batch

    async def _read_created(self, batch_id: str, error: CreatedButUnreadableError) -> Batch:
        """The batch a create made although its answer was unreadable: read it by id.

        No listing is needed: the answer named the id. If the batch cannot be read
        either, the item fails with the original error (the batch exists; nothing is
        sent again, and the id stays claimed).
        """
        self.reconciler.claimed.add(batch_id)
        try:
            return await self.batches.get(batch_id)
        except ProlificError:
            raise error from None

    def _wait_too_long(self, error: RateLimitError) -> bool:
        """A 429 asking for longer than ``retry_after_cap``: fail, as a single call would."""
        wait = parse_retry_after(error.headers)
        return wait is not None and wait > self.client.retry_policy.retry_after_cap


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
) -> AsyncGenerator[BulkResult, None]:
    """Start a bulk run; the resources' ``create_many``/``duplicate_many`` call this.

    ``operation`` is ``"create"``, ``"duplicate"``, or ``"mixed"`` for a run taking both
    kinds of request (the command line's ``provision``); the other arguments are those
    of :meth:`~prolific_async.resources.batches.BatchesResource.create_many`.

    Raises:
        ValueError: an unknown operation, or a bad concurrency or reconcile setting.
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
    )
    return run.results(requests)
