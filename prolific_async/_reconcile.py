"""Reconciliation for the bulk layer: which batch, if any, an ambiguous request made.

See :mod:`prolific_async.bulk` for the design. This module holds the mechanics: requests
grouped by match key, the gate that drains a group's POSTs before it is reconciled, one
shared listing per workspace, and the decision (adopt, resend, or ask a human). The match
key itself is in ``_match_key``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol

from attrs import define, field

from ._listing import BatchListing, RawListing
from ._logging import logger
from ._match_key import MatchKey, layout_digest
from ._signal import Signal
from .errors import ProlificError, ReconciliationError, ResponseTooLargeError
from .models.batches import Batch

__all__ = ["Adopt", "Decision", "MatchKey", "Reconciler", "Resend", "layout_digest"]

#: How often a leader waits again for members that joined its group while it waited.
SETTLE_ROUNDS: Final = 8
#: How many listings a leader takes while the server says they are incomplete.
LISTING_ROUNDS: Final = 3

#: What lists a workspace: a listing with its ``meta``, or plain batches (taken as whole).
ListWorkspace = Callable[[str], Coroutine[Any, Any, RawListing | BatchListing | list[Batch]]]


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


def _describe(decision: Decision) -> str:
    if isinstance(decision, Adopt):
        return f"adopted {decision.batch.id}"
    if isinstance(decision, Resend):
        return "sent again"
    return f"failed ({type(decision).__name__})"


def _logged(match_key: MatchKey, decisions: dict[int, Decision]) -> dict[int, Decision]:
    """``decisions``, after one INFO line saying what became of each request."""
    logger.info(
        "reconciled %d request(s) of unknown outcome in workspace %r: %s",
        len(decisions),
        match_key.workspace_id,
        ", ".join(f"request {index} {_describe(decisions[index])}" for index in sorted(decisions)),
    )
    return decisions


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
        list_workspace: ListWorkspace,
        *,
        margin: timedelta,
        delay: timedelta,
    ) -> None:
        self._list_workspace = list_workspace
        self._margin = margin
        self._delay = delay
        self.claimed: set[str] = set()
        self._groups: dict[MatchKey, Group] = {}
        self._listings: dict[str, tuple[datetime, asyncio.Task[Any]]] = {}
        self._listing_tasks: set[asyncio.Task[Any]] = set()

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
            listing = await self._whole_listing(group.key, not_before=not_before)
            if isinstance(listing, ProlificError):
                group.decisions.update({member.index: listing for member in members})
                return
            group.decisions.update(self.decide(group.key, members, listing))
        finally:
            if all(member.index in group.decisions for member in members):
                group.ambiguous = [m for m in group.ambiguous if m not in members]
            group.reconciling = False
            group.signal.notify()

    async def _whole_listing(
        self, key: MatchKey, *, not_before: datetime
    ) -> list[Batch] | ProlificError:
        """The workspace's batches from a listing that says it holds all of them.

        A listing that says it is partial cannot prove a batch was not made, and the
        endpoint has no page to follow: wait ``delay``, list again, and after
        :data:`LISTING_ROUNDS` partial answers give up for a human, never resend.
        """
        reason = ""
        workspace_id = key.workspace_id
        for round_ in range(LISTING_ROUNDS):
            if round_:
                await asyncio.sleep(self._delay.total_seconds())
                not_before = datetime.now(UTC)  # a fresh listing, not the partial one
            try:
                answer = await self._listing(workspace_id, not_before=not_before)
            except ResponseTooLargeError as error:
                # As unusable as a partial listing: it cannot prove a batch was not made.
                return ReconciliationError(
                    f"the listing of workspace {workspace_id!r} was larger than the "
                    f"client's max_listing_bytes ({error.limit} bytes), so it cannot tell "
                    "whether a request whose outcome is unknown made its batch. Nothing was "
                    "sent again: raise max_listing_bytes or check the workspace by hand, "
                    "then run again.",
                    candidates=[],
                )
            except ProlificError as error:
                return error
            if not isinstance(answer, RawListing | BatchListing):
                return answer
            reason = answer.incomplete or ""
            if not reason and isinstance(answer, RawListing):
                # Only the batches that can match the key are read (issue 14).
                try:
                    return answer.matching(key)
                except ProlificError as error:
                    return error
            if not reason:
                return answer.results
        return ReconciliationError(
            f"the listing of workspace {workspace_id!r} said it was incomplete "
            f"{LISTING_ROUNDS} times ({reason}), so it cannot tell whether a request whose "
            "outcome is unknown made its batch. Nothing was sent again: check the "
            "workspace by hand, then run again.",
            candidates=[],
        )

    def _not_before(self, members: list[Member]) -> datetime:
        """When a listing can show every batch ``members`` may have made."""
        last = max((m.last_sent_at or m.started_at or datetime.now(UTC)) for m in members)
        return last + self._delay

    def decide(
        self, match_key: MatchKey, members: list[Member], listing: list[Batch]
    ) -> dict[int, Decision]:
        """Share the unclaimed batches of ``listing`` that match out among ``members``.

        Entries the listing repeats (the same id) count once.

        A candidate matches ``match_key``, is not claimed, and was created no earlier
        than the members' earliest first send minus the margin. With ``k`` members and
        ``m`` candidates: if ``m <= k``, the first ``m`` members (by index) adopt one
        each, oldest batch first, and claim it; the others are sent again, unless an
        unclaimed look-alike (:meth:`MatchKey.matches` is ``None``) is in the window:
        then they fail with :class:`~prolific_async.errors.ReconciliationError` instead of
        risking a second batch. If ``m > k``, every member fails with it.
        """
        earliest = min(member.started_at or datetime.now(UTC) for member in members)
        # A listing may repeat an entry: one batch counted twice would be given to two
        # requests, or look like two candidates.
        unique = list({batch.id: batch for batch in listing}.values())
        in_window = [
            batch
            for batch in unique
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
            return _logged(match_key, {member.index: error for member in members})
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
        return _logged(match_key, decisions)

    async def _listing(
        self, workspace_id: str, *, not_before: datetime
    ) -> RawListing | BatchListing | list[Batch]:
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
