"""Reconciliation for the bulk layer: which batch, if any, an ambiguous request made.

See :mod:`prolific_async.bulk` for the design. This module holds the mechanics: requests
grouped by match key, the gate that drains a group's POSTs before it is reconciled, one
shared listing per workspace, and the decision (adopt, resend, or ask a human).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol

from attrs import define, field, frozen

from ._converter import converter
from ._signal import Signal
from .errors import ProlificError, ReconciliationError
from .models.batches import Batch, TaskDetails
from .models.bulk import BulkRequest, CreateBatchRequest
from .models.layout import Page

__all__ = ["Adopt", "Decision", "MatchKey", "Reconciler", "Resend", "layout_digest"]

#: How often a leader waits again for members that joined its group while it waited.
SETTLE_ROUNDS: Final = 8


def layout_digest(pages: Sequence[Page] | None) -> str | None:
    """A digest of a layout with every ``id`` left out (``None`` for no layout).

    The server gives pages, rows, columns and items ids of its own, so a listed
    batch's layout equals the request's only once the ids are dropped.
    """
    if not pages:
        return None
    wire = converter.unstructure(list(pages), list[Page])
    canonical = json.dumps(_without_ids(wire), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _without_ids(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _without_ids(item) for key, item in value.items() if key != "id"}
    if isinstance(value, list):
        return [_without_ids(item) for item in value]
    return value


@frozen
class MatchKey:
    """What a batch shows in a listing, and so what reconciliation can match it by.

    A batch made for a request shows the request's key (:meth:`of_request`); a listed
    batch is compared with :meth:`matches`. Requests with equal keys are
    interchangeable: any batch matching the key satisfies any of them. The layout
    (``batch_items``, ids left out) is part of the key, so two creates that differ only
    in their layout are never given each other's batch; ``auto_sync_enabled`` is
    compared only when the request sets it (left out, the server's default shows).
    """

    workspace_id: str
    name: str
    task_details: TaskDetails
    dataset_ids: frozenset[str]
    layout: str | None = None
    """:func:`layout_digest` of the batch's layout."""
    auto_sync_enabled: bool | None = None
    """The flag the request set; ``None``: any."""

    @classmethod
    def of_request(cls, request: BulkRequest, source: Batch | None = None) -> MatchKey:
        """The key a batch made for ``request`` shows; a duplicate needs its ``source``.

        A copy is in its source's workspace with its task details and layout, named as
        asked or ``"<source name> (Copy)"``, and shares the source's datasets unless it
        was made with ``upload_new_dataset``.

        Raises:
            ValueError: a duplicate without its source.
        """
        if isinstance(request, CreateBatchRequest):
            dataset_ids = () if request.dataset_id is None else (request.dataset_id,)
            return cls(
                request.workspace_id,
                request.name,
                request.task_details,
                frozenset(dataset_ids),
                layout_digest(request.batch_items),
                request.auto_sync_enabled,
            )
        if source is None:
            raise ValueError("the match key of a duplicate needs its source batch")
        return cls(
            source.workspace_id,
            request.name if request.name is not None else f"{source.name} (Copy)",
            source.task_details,
            frozenset() if request.upload_new_dataset else _dataset_ids(source),
            layout_digest(source.batch_items),
        )

    def matches(self, batch: Batch) -> bool | None:
        """Whether a listed batch is one a request of this key made.

        ``True``: it shows this key. ``False``: it is another batch. ``None``: it looks
        alike (workspace, name, task details and datasets) but its layout or sync flag
        differ: made by a request that differs only there, or changed by the server;
        reconciliation never resends while such a batch is unexplained.
        """
        if (
            batch.name != self.name
            or batch.workspace_id != self.workspace_id
            or batch.task_details != self.task_details
            or _dataset_ids(batch) != self.dataset_ids
        ):
            return False
        if layout_digest(batch.batch_items) != self.layout:
            return None
        if self.auto_sync_enabled is not None and batch.auto_sync_enabled is not None:
            return None if batch.auto_sync_enabled != self.auto_sync_enabled else True
        return True


def _dataset_ids(batch: Batch) -> frozenset[str]:
    return frozenset(dataset.id for dataset in batch.datasets)


class Member(Protocol):
    """What reconciliation needs to know of a request."""

    index: int
    started_at: datetime | None
    last_sent_at: datetime | None


@define(eq=False)
class Adopt:
    """The request made this batch: report it."""

    batch: Batch


@define(eq=False)
class Resend:
    """The request made nothing: send it again."""


Decision = Adopt | Resend | ProlificError


@define(eq=False)
class Group:
    """The requests of one match key: their POSTs in flight and their ambiguous members."""

    key: MatchKey
    members: int = 0
    in_flight: int = 0
    ambiguous: list[Member] = field(factory=list)
    reconciling: bool = False
    decisions: dict[int, Decision] = field(factory=dict)
    signal: Signal = field(factory=Signal)


@define(eq=False)
class SendOutcome:
    """Set by the sender: whether the POST failed ambiguously."""

    ambiguous: bool = False


class Reconciler:
    """The claimed batch ids, the groups in progress and the shared listings of one run."""

    def __init__(
        self,
        list_workspace: Callable[[str], Coroutine[Any, Any, list[Batch]]],
        *,
        margin: timedelta,
        delay: timedelta,
    ) -> None:
        self._list_workspace = list_workspace
        self._margin = margin
        self._delay = delay
        self.claimed: set[str] = set()
        self._groups: dict[MatchKey, Group] = {}
        self._listings: dict[str, tuple[datetime, asyncio.Task[list[Batch]]]] = {}
        self._listing_tasks: set[asyncio.Task[list[Batch]]] = set()

    def tasks(self) -> list[asyncio.Task[Any]]:
        """Every listing still running, for the run to cancel when it stops."""
        return list(self._listing_tasks)

    @contextlib.asynccontextmanager
    async def group(self, match_key: MatchKey) -> AsyncIterator[Group]:
        """The group of ``match_key`` while a request of it is in progress."""
        group = self._groups.get(match_key)
        if group is None:
            group = self._groups[match_key] = Group(match_key)
        group.members += 1
        try:
            yield group
        finally:
            group.members -= 1
            if group.members == 0:  # memory stays bounded by what is in progress
                del self._groups[match_key]

    @contextlib.asynccontextmanager
    async def sending(self, member: Member, group: Group) -> AsyncIterator[SendOutcome]:
        """Hold one POST of ``group`` in flight; an ambiguous outcome joins reconciliation.

        New POSTs wait while the group has a reconciliation pending, so its POSTs in
        flight drain and the listing sees every one of them.
        """
        await group.signal.wait_for(lambda: not group.ambiguous and not group.reconciling)
        group.in_flight += 1
        outcome = SendOutcome()
        try:
            yield outcome
        finally:
            group.in_flight -= 1
            if outcome.ambiguous:
                group.ambiguous.append(member)
            group.signal.notify()

    async def reconcile(self, member: Member, group: Group) -> Decision:
        """Wait until the group's POSTs settle, then learn what this member made."""
        if member not in group.ambiguous:
            group.ambiguous.append(member)  # resumed from a journal: in flight before we began
            group.signal.notify()
        try:
            # Each round decides every member that joined before it; a later one leads
            # the next round itself.
            while member.index not in group.decisions:
                await group.signal.wait_for(
                    lambda: (
                        member.index in group.decisions
                        or (not group.reconciling and group.in_flight == 0)
                    )
                )
                if member.index not in group.decisions:
                    await self._lead(group)
            return group.decisions.pop(member.index)
        except BaseException:
            # A cancelled member must not be counted, or given a batch, by the next round.
            if member in group.ambiguous:
                group.ambiguous.remove(member)
            group.decisions.pop(member.index, None)
            group.signal.notify()
            raise

    async def _lead(self, group: Group) -> None:
        group.reconciling = True
        members = list(group.ambiguous)
        try:
            # A request we gave up on may still be inside the server: give it ``delay``
            # after its last send before looking, and only trust a listing started then.
            # Members that join during the wait (a resumed run's peers) are counted too:
            # a snapshot taken before them would see their batches as unexplained.
            not_before = self._not_before(members)
            for _ in range(SETTLE_ROUNDS):
                wait = (not_before - datetime.now(UTC)).total_seconds()
                if wait > 0:
                    await asyncio.sleep(wait)
                members = list(group.ambiguous)
                later = self._not_before(members)
                if later <= not_before:
                    break
                not_before = later
            try:
                listing = await self._listing(group.key.workspace_id, not_before=not_before)
            except ProlificError as error:
                group.decisions.update({member.index: error for member in members})
                return
            group.decisions.update(self.decide(group.key, members, listing))
        finally:
            if all(member.index in group.decisions for member in members):
                group.ambiguous = [m for m in group.ambiguous if m not in members]
            group.reconciling = False
            group.signal.notify()

    def _not_before(self, members: list[Member]) -> datetime:
        """When a listing can show every batch ``members`` may have made."""
        last = max((m.last_sent_at or m.started_at or datetime.now(UTC)) for m in members)
        return last + self._delay

    def decide(
        self, match_key: MatchKey, members: list[Member], listing: list[Batch]
    ) -> dict[int, Decision]:
        """Share the unclaimed batches of ``listing`` that match out among ``members``.

        A candidate matches ``match_key``, is not claimed, and was created no earlier
        than the members' earliest first send minus the margin. With ``k`` members and
        ``m`` candidates: if ``m <= k``, the first ``m`` members (by index) adopt one
        each, oldest batch first, and claim it; the others are sent again, unless an
        unclaimed look-alike (:meth:`MatchKey.matches` is ``None``) is in the window:
        then they fail with :class:`~prolific_async.errors.ReconciliationError` instead of
        risking a second batch. If ``m > k``, every member fails with it.
        """
        earliest = min(member.started_at or datetime.now(UTC) for member in members)
        in_window = [
            batch
            for batch in listing
            if batch.id not in self.claimed and batch.created_at >= earliest - self._margin
        ]
        verdicts = [(batch, match_key.matches(batch)) for batch in in_window]
        candidates = sorted(
            (batch for batch, verdict in verdicts if verdict is True),
            key=lambda batch: (batch.created_at, batch.id),
        )
        lookalikes = [batch.id for batch, verdict in verdicts if verdict is None]
        members = sorted(members, key=lambda member: member.index)
        if len(candidates) > len(members):
            ids = [batch.id for batch in candidates]
            error = ReconciliationError(
                f"{len(candidates)} unclaimed batches in workspace {match_key.workspace_id!r} "
                f"match {len(members)} request(s) whose outcome is unknown ({ids}); another "
                "process may be creating the same batches. Nothing was adopted or sent "
                "again: check these batches by hand.",
                candidates=ids,
            )
            return {member.index: error for member in members}
        decisions: dict[int, Decision] = {}
        for member, batch in zip(members, candidates, strict=False):
            self.claimed.add(batch.id)
            decisions[member.index] = Adopt(batch)
        unexplained: Decision = Resend()
        if lookalikes:
            unexplained = ReconciliationError(
                f"batches in workspace {match_key.workspace_id!r} look like the one a request "
                f"whose outcome is unknown would make but differ in layout or auto-sync "
                f"({lookalikes}): another request of this run may have made them, or the "
                "server changed the layout. Nothing was sent again: check them by hand.",
                candidates=lookalikes,
            )
        for member in members[len(candidates) :]:
            decisions[member.index] = unexplained
        return decisions

    async def _listing(self, workspace_id: str, *, not_before: datetime) -> list[Batch]:
        """A listing of the workspace started no earlier than ``not_before``, shared.

        Every group whose requests settled before a listing began can use it, so many
        ambiguous requests in one workspace cost one listing, not one each.
        """
        current = self._listings.get(workspace_id)
        if (
            current is None
            or current[0] < not_before
            or (current[1].done() and current[1].exception() is not None)
        ):
            task = asyncio.create_task(self._list_workspace(workspace_id))
            self._listing_tasks.add(task)
            task.add_done_callback(self._listing_tasks.discard)
            current = (datetime.now(UTC), task)
            self._listings[workspace_id] = current
        return await asyncio.shield(current[1])
