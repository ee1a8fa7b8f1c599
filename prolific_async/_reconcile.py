"""Reconciliation for the bulk layer: which batch, if any, an ambiguous request made.

See :mod:`prolific_async.bulk` for the design. This module holds the mechanics: requests
grouped by match key, the gate that drains a group's POSTs before it is reconciled, one
shared listing per workspace, and the decision (adopt, resend, or ask a human). The match
key itself is in ``_match_key``.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from ._json import shortened, shortened_list, shortened_repr
from ._logging import logger
from ._match_key import MatchKey, layout_digest
from ._reconcile_group import Adopt, Decision, Group, Member, Resend
from ._reconcile_listing import Listings, ListWorkspace
from .errors import ProlificError, ReconciliationError
from .models.batches import Batch

__all__ = [
    "MAX_RECONCILE_SECONDS",
    "Adopt",
    "Decision",
    "Group",
    "MatchKey",
    "Member",
    "Park",
    "Reconciler",
    "Resend",
    "layout_digest",
    "reconcile_seconds",
]


#: The longest ``reconcile_delay`` or ``reconcile_margin`` a run takes: a week. A longer
#: one is a mistake (and past a few thousand years no datetime can hold it).
MAX_RECONCILE_SECONDS: Final = 7 * 24 * 3600.0


def reconcile_seconds(name: str, value: float) -> timedelta:
    """``value`` seconds as a timedelta, refused unless finite, >= 0 and at most a week.

    Raises:
        ValueError: naming ``name`` and the bound.
    """
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ValueError(f"{name} must be a number of seconds, got {shortened_repr(value)}")
    # Compared first: an int too large for a float is refused, not an OverflowError.
    if not (0 <= value <= MAX_RECONCILE_SECONDS and math.isfinite(value)):
        raise ValueError(
            f"{name} must be from 0 to {MAX_RECONCILE_SECONDS:.0f} seconds (a week), "
            f"got {shortened_repr(value)}"
        )
    return timedelta(seconds=value)


def _describe(decision: Decision) -> str:
    if isinstance(decision, Adopt):
        return f"adopted {shortened(decision.batch.id)}"
    if isinstance(decision, Resend):
        return "sent again"
    return f"failed ({type(decision).__name__})"


def _logged(match_key: MatchKey, decisions: dict[int, Decision]) -> dict[int, Decision]:
    """``decisions``, after one INFO line saying what became of each request."""
    if not decisions:
        return decisions
    logger.info(
        "reconciled %d request(s) of unknown outcome in workspace %s: %s",
        len(decisions),
        shortened_repr(match_key.workspace_id),
        ", ".join(f"request {index} {_describe(decisions[index])}" for index in sorted(decisions)),
    )
    return decisions


#: Holds a member while it is reconciled (it sends nothing: the run frees its slot).
Park = Callable[[Member], AbstractAsyncContextManager[None]]


@contextlib.asynccontextmanager
async def _no_park(member: Member) -> AsyncIterator[None]:
    yield


class Reconciler:
    """The claimed batch ids, the groups in progress and the shared listings of one run.

    Args:
        park: entered while a member is reconciled (listed, or waiting out ``delay``),
            so the run can admit other work meanwhile.
        waiting: where the members waiting out ``delay`` are shown, by index, with
            when each lists again.
        relisting: where the waits after a partial listing are shown, by workspace.
    """

    def __init__(
        self,
        list_workspace: ListWorkspace,
        *,
        margin: timedelta,
        delay: timedelta,
        park: Park = _no_park,
        waiting: dict[int, datetime] | None = None,
        relisting: dict[str, tuple[datetime, str]] | None = None,
    ) -> None:
        self._listings = Listings(list_workspace, delay=delay, relisting=relisting)
        self._margin = margin
        self._delay = delay
        self._park = park
        self.waiting: dict[int, datetime] = {} if waiting is None else waiting
        self.claimed: set[str] = set()
        self._groups: dict[MatchKey, Group] = {}

    def tasks(self) -> list[asyncio.Task[Any]]:
        """Every listing still running, for the run to cancel when it stops."""
        return self._listings.tasks()

    def join(self, match_key: MatchKey) -> Group:
        """The group of ``match_key``, joined by one request in progress (see :meth:`leave`)."""
        group = self._groups.get(match_key)
        if group is None:
            group = self._groups[match_key] = Group(match_key)
        group.members += 1
        return group

    def leave(self, group: Group) -> None:
        """A request of ``group`` is done: the group goes once its last request is."""
        group.members -= 1
        if group.members == 0:  # memory stays bounded by what is in progress
            del self._groups[group.key]

    def shown_by_another(self, batch: Batch, group: Group, *, named: str | None = None) -> bool:
        """Whether ``batch`` shows the key of a request in progress other than ``group``'s.

        ``named``: only of a request whose name folds to it (see ``MatchKey.stored_name``).
        """
        return any(
            key.matches(batch) is not False
            for key in self._groups
            if key != group.key and (named is None or key.stored_name == named)
        )

    @contextlib.asynccontextmanager
    async def group(self, match_key: MatchKey) -> AsyncIterator[Group]:
        """The group of ``match_key`` while a request of it is in progress."""
        group = self.join(match_key)
        try:
            yield group
        finally:
            self.leave(group)

    @staticmethod
    def begin_now(group: Group) -> bool:
        """Count one POST of a quiet ``group`` in flight at once, with no coroutine.

        ``False``: the group is not quiet, await :meth:`send_begins` instead. Either way
        :meth:`send_ends` must follow.
        """
        if not group.quiet:
            return False
        group.in_flight += 1
        return True

    async def send_begins(self, group: Group) -> None:
        """Count one POST of ``group`` in flight; :meth:`send_ends` must follow it.

        New POSTs wait while members of the group want a listing, so its POSTs in
        flight drain and the listing sees every one of them.
        """
        while not self.begin_now(group):  # not quiet: something is in doubt
            await group.in_doubt().signal.wait_for(lambda: group.quiet)

    def send_ends(self, member: Member, group: Group, *, ambiguous: bool) -> None:
        """The POST is over; one that may have made a batch joins reconciliation."""
        group.in_flight -= 1
        if ambiguous:
            doubt = group.in_doubt()
            doubt.ambiguous.append(member)
            doubt.wanting.append(member)
            doubt.since[member.index] = datetime.now(UTC)
        group.notify()

    def due(self, member: Member) -> datetime:
        """When a listing can prove ``member`` made nothing: ``delay`` after its last send."""
        return (member.last_sent_at or member.started_at or datetime.now(UTC)) + self._delay

    async def reconcile(self, member: Member, group: Group) -> Decision:
        """Learn what this member made: adopt at once, send again only after ``delay``.

        The group's POSTs in flight settle, then the workspace is listed at once: a
        matching unclaimed batch is adopted. Deciding to send again waits for a listing
        taken ``delay`` after the member's last send; meanwhile it waits, parked.
        """
        doubt = group.in_doubt()
        if member not in doubt.ambiguous:
            doubt.ambiguous.append(member)  # resumed from a journal: in flight before we began
        if member not in doubt.wanting:
            doubt.wanting.append(member)
            # Resumed: its outcome was unknown by the time the last run stopped.
            doubt.since[member.index] = member.last_sent_at or datetime.now(UTC)
        doubt.signal.notify()
        try:
            async with self._park(member):
                return await self._decided(member, group)
        except BaseException:
            # A cancelled member must not be counted, or given a batch, by the next round.
            for members in (doubt.ambiguous, doubt.wanting):
                if member in members:
                    members.remove(member)
            doubt.decisions.pop(member.index, None)
            doubt.since.pop(member.index, None)
            doubt.signal.notify()
            raise

    async def _decided(self, member: Member, group: Group) -> Decision:
        """Lead rounds, or wait out ``delay``, until a round decides ``member``."""
        doubt = group.in_doubt()
        while member.index not in doubt.decisions:
            await doubt.signal.wait_for(
                lambda: (
                    member.index in doubt.decisions
                    or (not group.reconciling and group.in_flight == 0)
                )
            )
            if member.index in doubt.decisions:
                break
            if member in doubt.wanting:
                await self._lead(group)
            elif await self._wait(member, group):
                doubt.wanting.append(member)  # due: the next listing may decide it
                doubt.since[member.index] = self.due(member)
                doubt.signal.notify()
        return doubt.decisions.pop(member.index)

    async def _wait(self, member: Member, group: Group) -> bool:
        """Wait until ``member`` is due or another round decides it (shown in ``waiting``).

        Returns:
            Whether it is still undecided (and now due).
        """
        doubt = group.in_doubt()
        until = self.due(member)
        seconds = (until - datetime.now(UTC)).total_seconds()
        if seconds > 0:
            self.waiting[member.index] = until
            try:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(seconds):
                        await doubt.signal.wait_for(lambda: member.index in doubt.decisions)
            finally:
                del self.waiting[member.index]
        return member.index not in doubt.decisions

    async def _lead(self, group: Group) -> None:
        """One round: list the workspace now, and decide what that listing can decide."""
        doubt = group.in_doubt()
        group.reconciling = True
        wanting = list(doubt.wanting)
        members = wanting
        try:
            # Begun once every wanting member's outcome was unknown: it shows what
            # they made so far (shared with other groups of the workspace).
            not_before = max(doubt.since.get(m.index, datetime.now(UTC)) for m in wanting)
            answer = await self._listings.whole(group.key, not_before=not_before)
            if isinstance(answer, ProlificError):
                doubt.decisions.update({member.index: answer for member in wanting})
                return
            listed_at, listing = answer
            # Counted after the listing: a resumed peer that joined meanwhile may have a
            # batch in it, and must not make that batch look unexplained.
            members = [m for m in doubt.ambiguous if m.index not in doubt.decisions]
            due = {m.index for m in members if self.due(m) <= listed_at}
            doubt.decisions.update(self.decide(group.key, members, listing, due=due))
        finally:
            decided = [m for m in doubt.ambiguous if m.index in doubt.decisions]
            doubt.ambiguous = [m for m in doubt.ambiguous if m not in decided]
            doubt.wanting = [m for m in doubt.wanting if m not in members and m not in decided]
            doubt.since = {m.index: doubt.since[m.index] for m in doubt.wanting}
            group.reconciling = False
            doubt.signal.notify()

    def decide(
        self,
        match_key: MatchKey,
        members: list[Member],
        listing: list[Batch],
        *,
        due: set[int] | None = None,
    ) -> dict[int, Decision]:
        """Share the unclaimed batches of ``listing`` that match out among ``members``.

        Entries the listing repeats (the same id) count once. ``due`` names the members
        whose ``delay`` had passed when the listing began (default: all of them): only
        they may be sent again; the others, if they adopt nothing, stay undecided.

        A candidate matches ``match_key``, is not claimed, and was created no earlier
        than the members' earliest first send minus the margin. With ``k`` members and
        ``m`` candidates: if ``m <= k``, ``m`` members adopt one each (the due ones
        first, then by index; oldest batch first) and claim it; the other due ones are
        sent again, unless an unclaimed look-alike (:meth:`MatchKey.matches` is ``None``)
        is in the window: then they fail with
        :class:`~prolific_async.errors.ReconciliationError` instead of risking a second
        batch. If ``m > k``, every member fails with it.
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
        if len(candidates) > len(members):
            ids = [batch.id for batch in candidates]
            error = ReconciliationError(
                f"{len(candidates)} unclaimed batches in workspace "
                f"{shortened_repr(match_key.workspace_id)} match {len(members)} request(s) "
                f"whose outcome is unknown ({shortened_list(ids)}); another "
                "process may be creating the same batches. Nothing was adopted or sent "
                "again: check these batches by hand.",
                candidates=ids,
            )
            return _logged(match_key, {member.index: error for member in members})
        # A due member adopts first: a batch a member not yet due makes may still appear,
        # and the due one, if it adopted nothing, would be sent again beside it.
        is_due = (lambda index: True) if due is None else due.__contains__
        members = sorted(members, key=lambda member: (not is_due(member.index), member.index))
        decisions: dict[int, Decision] = {}
        for member, batch in zip(members, candidates, strict=False):
            self.claimed.add(batch.id)
            decisions[member.index] = Adopt(batch)
        unexplained: Decision = Resend()
        if lookalikes:
            unexplained = ReconciliationError(
                f"batches in workspace {shortened_repr(match_key.workspace_id)} look like the "
                "one a request whose outcome is unknown would make but differ in layout, "
                "auto-sync, or name (perhaps as the server stored it: trimmed, escaped or "
                f"cut short) ({shortened_list(lookalikes)}): another request of this run may "
                "have made them, or the server changed them. Nothing was sent again: "
                "check them by hand.",
                candidates=lookalikes,
            )
        for member in members[len(candidates) :]:
            if is_due(member.index):
                decisions[member.index] = unexplained
        return _logged(match_key, decisions)
