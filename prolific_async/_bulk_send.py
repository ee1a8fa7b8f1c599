"""One bulk item's sends: send, and on an ambiguous failure reconcile, until it exists once.

See :mod:`prolific_async.bulk` for the design. :class:`Sender` holds what every send of
a run shares (the client, the reconciler, the journal and the run's stop; the pace of
sends is the client's rate gate); :class:`Item` is one request in progress.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from attrs import define, field

from ._base_client import BaseClient
from ._bulk_answers import claimed_answer, foreign_answer, is_foreign, not_made
from ._bulk_stop import RunStop
from ._call import CallState
from ._creation import post_creating
from ._journal import ItemKey, Journal, is_final_failure
from ._late_send import LateSends
from ._names import as_stored
from ._outcome import BulkStep, Outcome, bulk_step, error_outcome
from ._paths import BATCHES_PATH
from ._reconcile import Adopt, Group, Reconciler
from ._retry import parse_retry_after
from ._slots import Slots
from .errors import (
    APIConnectionError,
    APIStatusError,
    CreatedButUnreadableError,
    OutcomeUnknownError,
    ProlificError,
    RateLimitError,
    ResponseValidationError,
    RunStoppedError,
)
from .models.batches import Batch
from .models.bulk import BulkRequest

if TYPE_CHECKING:
    from .resources.batches import BatchesResource

__all__ = ["MAX_THROTTLED", "Item", "Sender", "journal_unfinished"]

#: How often one request may be refused with 429 before it is reported as failed.
MAX_THROTTLED: Final = 50
#: What a server answers when it did not act on a send.
_REFUSED: Final = (Outcome.REJECTED, Outcome.REFUSED)


@define(eq=False)
class Item:
    """One request in progress, and what reconciliation needs to know of it."""

    index: int
    key: ItemKey
    request: BulkRequest
    fingerprint: str
    """What the journal knows the request by (empty in a run without a journal)."""
    scope: str
    """What a 403 on it stops (:func:`~prolific_async._bulk_stop.scope_of`)."""
    started_at: datetime | None = None
    last_sent_at: datetime | None = None
    journaled_at: datetime | None = None
    """The last send time the journal holds for it (``None``: this run journaled none)."""
    attempts: int = 0
    unsent_attempts: int = 0
    """Of ``attempts``, those that provably never reached the server."""
    doubted: bool = False
    """Whether a send of it, this run's or an earlier run's, may have made a batch.

    Once so, only a listing can tell, and the journal keeps its start: a listing that
    shows none is not proof for ever (a later run may list later, with a longer delay).
    """
    sends: int = 0
    throttled: int = 0
    request_id: str | None = None
    """The request id of the answer the last send read (``None``: it read none)."""
    body: dict[str, Any] = field(factory=dict)
    path: str = BATCHES_PATH
    template: str = BATCHES_PATH
    late_record: asyncio.Future[None] | None = None
    """The record of a late send's real time, queued as it went out (:mod:`._late_send`)."""


class Sender:
    """Sends the items of one run, each until its batch exists once or it fails.

    Args:
        max_sends: how often one request may be sent (the retry policy's ``attempts``);
            each send may retry 429s and unsent attempts inside the client.
        max_in_flight: the most POSTs in flight at once (the run's ``concurrency``:
            requests waiting to reconcile hold no slot, so more may be under way).
        sending: where the items sent at least once are noted, by index.
    """

    def __init__(
        self,
        client: BaseClient,
        batches: BatchesResource,
        *,
        reconciler: Reconciler,
        journal: Journal | None,
        stop: RunStop,
        max_sends: int,
        max_in_flight: int,
        sending: set[int] | None = None,
    ) -> None:
        self.client = client
        self.batches = batches
        self.reconciler = reconciler
        self.journal = journal
        self.stop = stop
        self.max_sends = max(1, max_sends)
        self._in_flight = Slots(max_in_flight)
        self.late = LateSends(journal)
        #: The indexes of the items sent at least once (the run's ``BulkProgress``).
        self.sending: set[int] = set() if sending is None else sending

    async def make_once(self, item: Item, group: Group) -> tuple[Batch, bool]:
        """Send, and on an ambiguous failure reconcile, until the batch exists once.

        Every pass but the last sends once (answered, lost, or refused with a 429), so
        the caps on sends and refusals end the loop by its last pass. The last
        ambiguous send is reconciled too, before the item gives up: a listing that
        shows no batch for it turns "may exist" into "was not made".
        """
        ambiguous = item.started_at is not None  # in flight when a previous run stopped
        last_error: ProlificError | None = None
        for _ in range(self.max_sends + MAX_THROTTLED):
            if ambiguous:
                decision = await self.reconciler.reconcile(item, group)
                if isinstance(decision, Adopt):
                    return decision.batch, True
                if isinstance(decision, ProlificError):
                    raise decision
                if isinstance(last_error, OutcomeUnknownError) and item.sends >= self.max_sends:
                    raise not_made(item.sends, last_error) from last_error
            if last_error is not None and (
                item.sends >= self.max_sends or item.throttled >= MAX_THROTTLED
            ):
                raise last_error
            try:
                return await self._send(item, group), False
            except RunStoppedError:
                # An item that was tried reports what its own sends met; only an item
                # never sent is "not attempted".
                if last_error is not None:
                    raise last_error from None
                raise
            except ProlificError as error:
                step = bulk_step(error)
                if isinstance(error, CreatedButUnreadableError) and error.batch_id is not None:
                    read = await self._read_created(item, group, error.batch_id, error)
                    if isinstance(read, Batch):
                        return read, False
                    error = read  # it named another batch: what this send made is unknown
                    step = BulkStep.RECONCILE
                if step in (BulkStep.FAIL, BulkStep.READ) or (
                    isinstance(error, RateLimitError) and self._wait_too_long(error)
                ):
                    raise
                last_error = error
                ambiguous = step is BulkStep.RECONCILE
        # Not reached: by the last pass the caps are met, and it raises or adopts.
        raise last_error or RuntimeError("no request was sent")

    async def _send(self, item: Item, group: Group) -> Batch:
        """Send the item once, then journal its real send time if it went out late.

        See :mod:`._late_send`: the record is queued as the send goes out, and the
        call's end waits for it (or, on a caller's session, writes it).
        """
        try:
            batch = await self._send_once(item, group)
        except ProlificError:
            if self.late.due(item):
                await self.late.record(item)
            raise
        if self.late.due(item):  # checked here: no coroutine for the usual send
            await self.late.record(item)
        return batch

    async def _send_once(self, item: Item, group: Group) -> Batch:
        if not self.reconciler.begin_now(group):  # members of the group want a listing
            await self.reconciler.send_begins(group)
        ambiguous = False
        try:
            if not self._in_flight.take_now():
                await self._in_flight.take()
            try:
                # Journal (and time) the send only once it is about to go out: after the
                # 429 hold, which can be long (the client's pacer then spaces the sends).
                # Reconciliation waits reconcile_delay from this moment.
                if self.client.rate_gate.holding():
                    await self.client.rate_gate.wait_open()
                self.stop.check(item.scope)
                now = datetime.now(UTC)
                first = item.started_at is None
                if first:
                    item.started_at = now
                if self.journal is not None:
                    if first:
                        await self.journal.write_start(item.key, item.fingerprint, at=now)
                    else:
                        await self.journal.write_sent(item.key, item.fingerprint, at=now)
                    item.journaled_at = now
                item.last_sent_at = now
                self.sending.add(item.index)
                state = CallState(
                    deadline=0.0, return_rate_limited=True, throttle_round=item.throttled + 1
                )
                self.late.watch(item, state)
                try:
                    batch = await self._post(item, state)
                    url = f"{self.client.base_url}{item.path}"
                    if batch.id in self.reconciler.claimed:
                        raise claimed_answer(item.index, batch.id, url)
                    if self._foreign(batch, group, now):
                        raise foreign_answer(item.index, batch, group.key, url)
                except RunStoppedError:
                    raise  # cancelled by the stop before it reached the server
                except ProlificError as error:
                    result = error_outcome(error)
                    ambiguous = result is Outcome.MAYBE_APPLIED
                    made_nothing = (isinstance(error, APIStatusError) and result in _REFUSED) or (
                        isinstance(error, APIConnectionError) and result is Outcome.NOT_SENT
                    )
                    item.doubted = item.doubted or not made_nothing
                    if isinstance(error, RateLimitError):
                        item.throttled += 1  # refused, not sent: it does not use up a send
                    else:
                        item.sends += 1
                    self._account(item, state, error, reached=result is not Outcome.NOT_SENT)
                    raise
                else:
                    item.sends += 1
                    self._account(item, state, None, reached=True)
                finally:
                    item.attempts += state.sent
                    item.request_id = state.request_id
                    if state.sent_at is not None and state.sent_at > now:
                        item.last_sent_at = state.sent_at  # a retry inside the call went later
                self.reconciler.claimed.add(batch.id)
                return batch
            finally:
                self._in_flight.give()
        finally:
            self.reconciler.send_ends(item, group, ambiguous=ambiguous)

    async def _post(self, item: Item, state: CallState) -> Batch:
        """POST the item; a stop of the run may cancel it while nothing reached the server.

        The send runs in the item's own task (a task per POST would cost every item):
        the stop cancels that task, and a ``CancelledError`` is the stop's only when
        :meth:`RunStop.untrack` says so and the run itself was not cancelled too.
        """
        task = asyncio.current_task()
        if task is None:  # pragma: no cover - always inside the run's task
            raise RuntimeError("a bulk send runs in a task")
        self.stop.track(task, state)
        try:
            return await post_creating(
                self.client, item.path, body=item.body, state=state, template=item.template
            )
        except CreatedButUnreadableError as error:
            if error.batch_id is not None and error.batch_id in self.reconciler.claimed:
                # Named a batch this run holds (or a duplicate's source): not proof of
                # what this send made, so the workspace is listed to find it.
                raise claimed_answer(item.index, error.batch_id, error.url) from error
            raise
        except asyncio.CancelledError:
            if not self.stop.untrack(task) or task.uncancel() > 0:
                raise  # the run itself is cancelled
            # Cancelled by the stop between attempts: nothing reached the server.
            item.unsent_attempts += state.sent
            self.stop.check(item.scope)
            raise RuntimeError("a send was cancelled although the run did not stop") from None
        finally:
            if self.stop.untrack(task):  # the stop's cancel is still to arrive: take it back
                task.uncancel()

    def _account(
        self, item: Item, state: CallState, error: ProlificError | None, *, reached: bool
    ) -> None:
        """Count the send's unsent attempts and tell the run's stop how it ended.

        Inside one send the client retries a POST only when the attempt provably did
        not reach the server, so every attempt but a last one that reached it was unsent.
        """
        item.unsent_attempts += state.sent - 1 if reached and state.sent else state.sent
        if reached:
            self.stop.reached(error, item.scope)
        elif error is not None:
            self.stop.not_sent(error)

    async def _read_created(
        self, item: Item, group: Group, batch_id: str, error: CreatedButUnreadableError
    ) -> Batch | ResponseValidationError:
        """The batch a create made although its answer was unreadable: read it by id.

        No listing is needed: the answer named the id. If the batch cannot be read
        either, the item fails with the original error (the batch exists; nothing is
        sent again, and the id stays claimed). A batch of another name or workspace is
        not this request's: the error to reconcile on is returned, and the id released.
        """
        self.reconciler.claimed.add(batch_id)
        try:
            batch = await self.batches.get(batch_id)
        except ProlificError:
            raise error from None
        if self._foreign(batch, group, item.last_sent_at or item.started_at):
            self.reconciler.claimed.discard(batch_id)
            return foreign_answer(item.index, batch, group.key, error.url)
        return batch

    def _foreign(self, batch: Batch, group: Group, sent_at: datetime | None) -> bool:
        """Whether a created answer names a batch this request cannot have made.

        See :func:`~._bulk_answers.is_foreign`; also a batch of another name that shows
        the key of another request of the run in progress: an answer meant for that
        request. Not when the name is this request's as the server may store it
        ("x " stored as "x", escaped: :func:`~._names.as_stored`); one that may be it cut
        short (``MatchKey.name_forms``) is another request's if that one is named so.
        """
        if is_foreign(batch, group.key, sent_at):
            return True
        name, key = batch.name, group.key
        if name == key.name:  # the usual answer: no name to fold
            return False
        folded = as_stored(name)
        if folded == key.stored_name:
            return False
        named = folded if folded in key.name_forms else None
        return self.reconciler.shown_by_another(batch, group, named=named)

    def _wait_too_long(self, error: RateLimitError) -> bool:
        """A 429 asking for longer than ``retry_after_cap``: fail, as a single call would."""
        wait = parse_retry_after(error.headers)
        return wait is not None and wait > self.client.retry_policy.retry_after_cap


async def journal_unfinished(journal: Journal, item: Item, error: ProlificError) -> None:
    """Record how ``item`` ended without a batch, where a re-run needs to know it.

    A final failure is recorded as failed (a re-run reports it); an item sent whose
    every send provably made nothing (refused, 429s included, or never connected) as
    not made, and one a stopped run never sent as not attempted (a re-run sends either
    at once). Anything else stays in flight: a re-run reconciles it.

    Called once the item's sends are over: after the last ``sent`` record a send wrote
    (:mod:`._late_send`), which must not follow these (imported, a
    ``sent`` with no start puts the item back in doubt).
    """
    if is_final_failure(error):
        await journal.write_failed(item.key, item.fingerprint, error=error)
    elif item.last_sent_at is not None and not item.doubted:
        await journal.write_not_made(item.key, item.fingerprint)
    elif isinstance(error, RunStoppedError):
        await journal.write_not_attempted(item.key, item.fingerprint)
