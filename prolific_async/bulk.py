"""Bulk provisioning: create or duplicate many batches concurrently, each exactly once.

Design
------
The API has no idempotency keys, so a create (or duplicate) that fails *ambiguously*
(:class:`~prolific_async.errors.OutcomeUnknownError`, a read timeout, a 5xx, a 2xx body we
could not read) may or may not have made a batch. Sending it again could make a second
one; giving up could lose one. Instead the bulk layer **reconciles**:

1. Requests are grouped by *match key*: the fields a batch made for them would show in
   a listing. For a create: workspace, name, task details and dataset. For a duplicate:
   the source's workspace and task details, the expected name (the given one, or
   ``"<source name> (Copy)"``) and the source's dataset (none with
   ``upload_new_dataset``). Requests with equal keys are interchangeable: any batch
   matching the key satisfies any of them.
2. When a request's outcome is ambiguous, no new POST of its group starts. Once the
   group's POSTs in flight have all settled, and ``reconcile_delay`` has passed since the
   last of its ambiguous requests was sent (so a server still working on one has
   finished), the workspace is listed (``GET /batches?workspace_id=``; a listing started
   after that moment serves every group of the workspace that waits) and searched for
   *candidates*: batches that match the key, were created no earlier than the group's
   earliest first attempt minus ``reconcile_margin``, and are not *claimed*. Every batch
   id this run has seen (from a 201, an adoption, or the journal) is claimed and is never
   adopted twice; duplicate sources are never adopted.
3. With ``k`` ambiguous requests and ``m`` candidates: if ``m <= k``, ``m`` requests adopt
   a candidate each (``reconciled=True``) and the other ``k - m`` are sent again. If
   ``m > k``, more batches match than this run can explain (another process may be
   making the same batches): those ``k`` requests fail with
   :class:`~prolific_async.errors.ReconciliationError` naming the candidates, and nothing
   is adopted or sent. A human decides.

A :class:`~prolific_async.Journal` makes this survive the provisioning process itself:
each send of a request is recorded (fsynced) before it goes out, and each outcome after
it. A re-run with the same journal reports finished requests without sending anything,
reconciles the ones that were in flight when the process died (waiting
``reconcile_delay`` after their last recorded send, as above), and does the rest.

The limit
---------
Reconciliation can only see what the server has applied when it lists. A POST that the
server applies *after* that listing is invisible to it, and its request will be sent
again: that case can still make a duplicate. It takes a server that applies a request
more than ``reconcile_delay`` after it was sent, with the connection already gone: by
default that is the client's per-attempt ``timeout`` (30 s), the time we were willing to
wait for the answer. ``reconcile_margin`` (10 s) covers the other direction, server clocks
behind ours and whole-second timestamps, so a batch the request made is never left out of
the creation-time window. Raise ``reconcile_delay`` for a server known to be slower; a
lower value only makes sense against a server that applies at once (the emulator).

Flow control
------------
At most ``concurrency`` requests are in progress, and the input is read only as slots
free up, so the requests read and the tasks running are bounded by the concurrency, not
by the number of requests (a journal's finished entries are held until they are reported
again, and the claimed batch ids of the run are kept). A 429 seen by any request closes
the client's shared gate for its ``Retry-After`` (a longer wait than
``RetryPolicy.retry_after_cap`` fails the request instead); the request gives up its send
slot meanwhile, and the bulk layer halves its limit on sends in flight on a 429 (once
per round) and grows it back by one slot a second while sends succeed (AIMD), between 1
and ``concurrency``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Literal, cast

from attrs import define, field

from ._base_client import BaseClient
from ._call import CallState
from ._converter import converter
from ._journal import ItemKey, Journal, JournalEntry
from ._reconcile import Adopt, Group, MatchKey, Reconciler
from ._reconcile import Signal as _Freed
from ._resource import path_id
from ._retry import parse_retry_after
from ._status_errors import status_error_class
from ._testing import testing_enabled
from .errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    InternalServerError,
    JournalError,
    OutcomeUnknownError,
    PermissionDeniedError,
    ProlificError,
    RateLimitError,
    ResponseValidationError,
)
from .models.batches import Batch
from .models.bulk import BulkRequest, BulkResult, CreateBatchRequest, DuplicateBatchRequest

if TYPE_CHECKING:
    from .resources.batches import BatchesResource

__all__ = ["BulkResult", "CreateBatchRequest", "DuplicateBatchRequest", "Journal", "run_bulk"]

BATCHES_PATH: Final = "/api/v1/data-collection/batches"
#: How often one request may be sent in a run (each send may retry 429s inside the client).
MAX_SENDS: Final = 5
#: In test mode the default reconcile delay is at most this (an emulator applies at once).
TEST_MODE_RECONCILE_DELAY: Final = 0.05
#: After a 429 the in-flight limit grows back by one slot per this many seconds.
GROWTH_PERIOD: Final = 1.0
#: How often one request may be refused with 429 before it is reported as failed.
MAX_THROTTLED: Final = 50
DEFAULT_RECONCILE_MARGIN: Final = 10.0

#: "provision" mixes creates and duplicates in one run (the command line's manifests).
Operation = Literal["create", "duplicate", "provision"]
_EXPECTED: Final[dict[str, tuple[type, ...]]] = {
    "create": (CreateBatchRequest,),
    "duplicate": (DuplicateBatchRequest,),
    "provision": (CreateBatchRequest, DuplicateBatchRequest),
}


def fingerprint(request: BulkRequest) -> str:
    """A stable digest of what a request asks for (its ``key`` left out)."""
    if isinstance(request, CreateBatchRequest):
        data: dict[str, Any] = {
            "name": request.name,
            "workspace_id": request.workspace_id,
            "task_details": converter.unstructure(request.task_details),
            "dataset_id": request.dataset_id,
        }
    else:
        data = {
            "batch_id": request.batch_id,
            "name": request.name,
            "upload_new_dataset": request.upload_new_dataset,
        }
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def is_definitive(error: ProlificError) -> bool:
    """A 4xx answer that sending again will not change (400, 401, 403, 404, 409, 422 ...)."""
    return (
        isinstance(error, APIStatusError)
        and 400 <= error.status_code < 500
        and error.status_code not in (408, 429)
    )


def is_ambiguous(error: ProlificError) -> bool:
    """Whether the request may have made a batch even though it failed."""
    return isinstance(error, OutcomeUnknownError | InternalServerError | ResponseValidationError)


@define(eq=False)
class _Item:
    index: int
    key: ItemKey
    request: BulkRequest
    fingerprint: str
    started_at: datetime | None = None
    last_sent_at: datetime | None = None
    attempts: int = 0
    sends: int = 0
    throttled: int = 0
    match_key: MatchKey | None = None
    workspace_id: str = ""
    body: dict[str, Any] = field(factory=dict)
    path: str = BATCHES_PATH
    template: str = BATCHES_PATH


class _Limiter:
    """AIMD on the POSTs in flight: halve on a 429, then grow by one slot a second.

    It gates sends, not items: after a cut, requests already in progress wait for a
    slot instead of all firing together when the 429 gate reopens. Growth is slow on
    purpose: every 429 shuts the client's gate for its ``Retry-After`` (a second or
    more), so probing for capacity too eagerly costs more than it gains.
    """

    def __init__(self, ceiling: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.ceiling = ceiling
        self.limit = ceiling
        self.epoch = 0
        self.in_flight = 0
        self._clock = clock
        self._grown_at = clock()
        self._freed = _Freed()

    @property
    def slots(self) -> int:
        return self.limit

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[int]:
        """Hold one send slot; yields the epoch the send started in."""
        await self._freed.wait_for(lambda: self.in_flight < self.limit)
        self.in_flight += 1
        try:
            yield self.epoch
        finally:
            self.in_flight -= 1
            self._freed.notify()

    def observe(self, started_epoch: int, *, throttled: bool, succeeded: bool = True) -> None:
        """Record how a send that started in ``started_epoch`` went.

        Only a send that succeeded may grow the limit: a 5xx or a dropped connection
        says nothing good about the server's capacity.
        """
        now = self._clock()
        if throttled:
            if started_epoch == self.epoch:
                # Only sends started since the last cut may cut again: one cut per round.
                self.limit = max(1, self.limit // 2)
                self.epoch += 1
                self._grown_at = now
        elif succeeded and self.limit < self.ceiling and now - self._grown_at >= GROWTH_PERIOD:
            self.limit += 1
            self._grown_at = now
        self._freed.notify()


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
        if not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError(f"concurrency must be an integer >= 1, got {concurrency!r}")
        if reconcile_margin < 0:
            raise ValueError(f"reconcile_margin must be >= 0, got {reconcile_margin!r}")
        self.client = client
        self.batches = batches
        self.operation: Operation = operation
        self.journal = journal
        self.retry_failed = retry_failed
        self.limiter = _Limiter(concurrency)
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
        self.read = 0

    # -- the driver ----------------------------------------------------------------------

    async def results(
        self, requests: Iterable[BulkRequest] | AsyncIterable[BulkRequest]
    ) -> AsyncGenerator[BulkResult, None]:
        if self.journal is not None:
            self.entries = self.journal.open(self.operation)
            self.reconciler.claimed.update(
                str(entry.batch["id"]) for entry in self.entries.values() if entry.batch
            )
        source = aiter_any(requests)
        running: set[asyncio.Task[BulkResult]] = set()
        exhausted = False
        try:
            while True:
                while not exhausted and len(running) < self.limiter.ceiling:
                    try:
                        request = await anext(source)
                    except StopAsyncIteration:
                        exhausted = True
                        break
                    item = self._admit(request)
                    resumed = self._resumed(item)
                    if resumed is not None:
                        yield resumed
                        continue
                    running.add(asyncio.create_task(self._process(item)))
                if not running:
                    return
                done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                failures = [task.exception() for task in done]  # retrieves every one
                failure = next((error for error in failures if error is not None), None)
                if failure is not None:
                    raise failure  # a bug or a journal failure: stop the run
                for task in done:
                    yield task.result()
        finally:
            await self._shutdown(running, source)

    async def _shutdown(
        self, running: set[asyncio.Task[BulkResult]], source: AsyncIterator[BulkRequest]
    ) -> None:
        """Cancel what is in flight and release everything, even when cancelled again."""
        tasks: list[asyncio.Task[Any]] = [*running, *self.sources.values()]
        tasks += self.reconciler.tasks()
        for task in tasks:
            task.cancel()
        try:
            if tasks:
                await asyncio.wait(tasks)
        finally:
            for task in tasks:
                if task.done() and not task.cancelled():
                    task.exception()  # retrieved: no "exception was never retrieved" noise
            aclose = getattr(source, "aclose", None)
            try:
                if aclose is not None:
                    await aclose()
            finally:
                if self.journal is not None:
                    await self.journal.close()

    def _admit(self, request: object) -> _Item:
        """Check one input request and turn it into an item (before anything is sent)."""
        index = self.read
        self.read += 1
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
        entry = self.entries.get(key)  # kept until reported: see _resumed
        if entry is not None and entry.fingerprint != item.fingerprint:
            raise JournalError(
                f"request {index} (journal item {key!r}) differs from what the journal "
                f"{self.journal.path if self.journal else ''} recorded for it: this journal "
                "belongs to another manifest"
            )
        return item

    def _resumed(self, item: _Item) -> BulkResult | None:
        entry = self.entries.pop(item.key, None)  # memory shrinks as the run goes on
        if entry is None:
            return None
        if entry.batch is not None:
            batch = converter.structure(entry.batch, Batch)
            return BulkResult(
                index=item.index,
                request=item.request,
                batch=batch,
                attempts=0,
                reconciled=entry.reconciled,
                resumed=True,
            )
        if entry.error is not None and not self.retry_failed:
            return BulkResult(
                index=item.index,
                request=item.request,
                error=_error_from_record(entry.error),
                resumed=True,
            )
        if entry.error is None:
            item.started_at = entry.started_at
            item.last_sent_at = entry.last_sent_at
        return None

    # -- one item ------------------------------------------------------------------------

    async def _process(self, item: _Item) -> BulkResult:
        try:
            match_key = await self._prepare(item)
            async with self.reconciler.group(match_key) as group:
                batch, reconciled = await self._provision(item, group)
        except ProlificError as error:
            if isinstance(error, JournalError):
                raise
            if is_definitive(error) and not isinstance(
                error, AuthenticationError | PermissionDeniedError
            ):
                # Not a 401/403: those are about the token, and a re-run with a good one
                # should try the item again without --retry-failed.
                await self._journal(item, "failed", error=_error_record(error))
            return BulkResult(
                index=item.index, request=item.request, error=error, attempts=item.attempts
            )
        await self._journal(
            item,
            "done",
            batch=converter.unstructure(batch),
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
        if isinstance(request, CreateBatchRequest):
            item.body = {
                "name": request.name,
                "workspace_id": request.workspace_id,
                "task_details": converter.unstructure(request.task_details),
            }
            dataset_ids: frozenset[str] = frozenset()
            if request.dataset_id is not None:
                item.body["dataset_id"] = request.dataset_id
                dataset_ids = frozenset({request.dataset_id})
            details, name = request.task_details, request.name
            item.workspace_id = request.workspace_id
        else:
            source = await self._source(request.batch_id)
            item.path = f"{BATCHES_PATH}/{path_id(request.batch_id, 'batch_id')}/duplicate"
            item.template = f"{BATCHES_PATH}/{{batch_id}}/duplicate"
            item.body = {"upload_new_dataset": request.upload_new_dataset}
            if request.name is not None:
                item.body["name"] = request.name
            name = request.name if request.name is not None else f"{source.name} (Copy)"
            details = source.task_details
            dataset_ids = (
                frozenset()
                if request.upload_new_dataset
                else frozenset(dataset.id for dataset in source.datasets)
            )
            item.workspace_id = source.workspace_id
        item.match_key = (
            item.workspace_id,
            name,
            details.task_name,
            details.task_introduction,
            details.task_steps,
            dataset_ids,
        )
        return item.match_key

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

    async def _provision(self, item: _Item, group: Group) -> tuple[Batch, bool]:
        """Send, and on an ambiguous failure reconcile, until the batch exists once."""
        ambiguous = item.started_at is not None  # in flight when a previous run stopped
        last_error: ProlificError | None = None
        while True:
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
                if isinstance(error, JournalError) or is_definitive(error):
                    raise
                if isinstance(error, RateLimitError) and self._wait_too_long(error):
                    raise
                last_error = error
                ambiguous = is_ambiguous(error)
                if not ambiguous and not _never_applied(error):
                    raise

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
            if item.started_at is None:
                item.started_at = now
                await self._journal(item, "start", started_at=now.isoformat())
            else:
                await self._journal(item, "sent", at=now.isoformat())
            item.last_sent_at = now
            state = CallState(
                deadline=0.0, return_rate_limited=True, throttle_round=item.throttled + 1
            )
            try:
                batch = await self.client.post(
                    item.path, cast_to=Batch, body=item.body, state=state, template=item.template
                )
            except ProlificError as error:
                outcome.ambiguous = is_ambiguous(error)
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

    def _wait_too_long(self, error: RateLimitError) -> bool:
        """A 429 asking for longer than ``retry_after_cap``: fail, as a single call would."""
        wait = parse_retry_after(error.headers)
        return wait is not None and wait > self.client.retry_policy.retry_after_cap

    async def _journal(self, item: _Item, kind: str, **fields: Any) -> None:
        if self.journal is not None:
            record = {"type": kind, "item": item.key, "fingerprint": item.fingerprint}
            await self.journal.append({**record, **fields})


def _never_applied(error: ProlificError) -> bool:
    """Failures that prove the request did not take effect, so sending again is safe."""
    if isinstance(error, RateLimitError):
        return True
    if isinstance(error, APIStatusError):
        return error.status_code == 408
    return isinstance(error, APIConnectionError | APITimeoutError) and not isinstance(
        error, OutcomeUnknownError
    )


def _error_record(error: ProlificError) -> dict[str, Any]:
    record: dict[str, Any] = {"type": type(error).__name__, "message": str(error)}
    if isinstance(error, APIStatusError):
        record.update(status_code=error.status_code, method=error.method, url=error.url)
    return record


def _error_from_record(record: dict[str, Any]) -> ProlificError:
    status = record.get("status_code")
    message = f"{record.get('message', 'failed')} (from the journal)"
    if isinstance(status, int):
        return status_error_class(status)(
            message,
            status_code=status,
            body=None,
            request_id=None,
            method=str(record.get("method", "POST")),
            url=str(record.get("url", "")),
        )
    return ProlificError(message)


async def aiter_any(requests: Iterable[Any] | AsyncIterable[Any]) -> AsyncIterator[Any]:
    if isinstance(requests, AsyncIterable):
        async for request in requests:
            yield request
    else:
        for request in requests:
            yield request


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
    """Start a bulk run; the resources' ``create_many``/``duplicate_many`` call this."""
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
