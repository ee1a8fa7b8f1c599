"""The reconciler's listings: one at a time per workspace, shared, and checked whole.

See :mod:`prolific_async.bulk` for the design; ``_reconcile`` decides on what these
listings show.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from ._json import shortened_repr
from ._listing import BatchListing, RawListing
from ._match_key import MatchKey
from .errors import ProlificError, ReconciliationError, ResponseTooLargeError
from .models.batches import Batch

__all__ = ["LISTING_ROUNDS", "ListWorkspace", "Listings"]

#: How many listings a leader takes while the server says they are incomplete.
LISTING_ROUNDS: Final = 3

#: What lists a workspace: a listing with its ``meta``, or plain batches (taken as whole).
ListWorkspace = Callable[[str], Coroutine[Any, Any, RawListing | BatchListing | list[Batch]]]
#: A listing as the run's ``list_workspace`` answers it.
Answer = RawListing | BatchListing | list[Batch]


class Listings:
    """The listings of one run, by workspace.

    Args:
        list_workspace: what lists a workspace.
        delay: how long to wait before listing again after a partial answer.
        relisting: where those waits are shown: by workspace, until when, and why.
    """

    def __init__(
        self,
        list_workspace: ListWorkspace,
        *,
        delay: timedelta,
        relisting: dict[str, tuple[datetime, str]] | None = None,
    ) -> None:
        self._list_workspace = list_workspace
        self._delay = delay
        self.relisting: dict[str, tuple[datetime, str]] = {} if relisting is None else relisting
        self._listings: dict[str, tuple[datetime, asyncio.Task[Answer]]] = {}
        self._tasks: set[asyncio.Task[Answer]] = set()
        #: When the last listing of each workspace began and ended (monotonic).
        self._last: dict[str, tuple[float, float]] = {}

    def tasks(self) -> list[asyncio.Task[Any]]:
        """Every listing still running, for the run to cancel when it stops."""
        return list(self._tasks)

    async def whole(
        self, key: MatchKey, *, not_before: datetime
    ) -> tuple[datetime, list[Batch]] | ProlificError:
        """The batches that can match ``key``, from a listing that says it holds them all.

        Returns:
            When the listing began, and its batches (of a raw listing, only those named
            as ``key`` in its workspace are read: the others cannot match); or the error
            that ends the round.

        A listing that says it is partial cannot prove a batch was not made, and the
        endpoint has no page to follow: wait ``delay``, list again, and after
        :data:`LISTING_ROUNDS` partial answers give up for a human, never resend.
        """
        reason = ""
        workspace_id = key.workspace_id
        for round_ in range(LISTING_ROUNDS):
            if round_:
                await self._wait_to_list_again(workspace_id, reason)
                not_before = datetime.now(UTC)  # a fresh listing, not the partial one
            try:
                started, answer = await self._listing(workspace_id, not_before=not_before)
            except ResponseTooLargeError as error:
                # As unusable as a partial listing: it cannot prove a batch was not made.
                return ReconciliationError(
                    f"the listing of workspace {shortened_repr(workspace_id)} was larger than the "
                    f"client's max_listing_bytes ({error.limit} bytes), so it cannot tell "
                    "whether a request whose outcome is unknown made its batch. Nothing was "
                    "sent again: raise max_listing_bytes or check the workspace by hand, "
                    "then run again.",
                    candidates=[],
                )
            except ProlificError as error:
                return error
            if not isinstance(answer, RawListing | BatchListing):
                return started, answer
            reason = answer.incomplete or ""
            if reason:
                continue
            if isinstance(answer, BatchListing):
                return started, answer.results
            try:
                return started, answer.matching(key)
            except ProlificError as error:
                return error
        return ReconciliationError(
            f"the listing of workspace {shortened_repr(workspace_id)} said it was incomplete "
            f"{LISTING_ROUNDS} times ({reason}), so it cannot tell whether a request whose "
            "outcome is unknown made its batch. Nothing was sent again: check the "
            "workspace by hand, then run again.",
            candidates=[],
        )

    async def _wait_to_list_again(self, workspace_id: str, reason: str) -> None:
        """Wait ``delay`` after a partial listing, shown in ``relisting`` meanwhile."""
        shown = (datetime.now(UTC) + self._delay, reason)
        self.relisting[workspace_id] = shown
        try:
            await asyncio.sleep(self._delay.total_seconds())
        finally:
            if self.relisting.get(workspace_id) is shown:
                del self.relisting[workspace_id]

    async def _listing(self, workspace_id: str, *, not_before: datetime) -> tuple[datetime, Answer]:
        """When a shared listing of the workspace begun at ``not_before`` or later began, and it.

        Every group whose requests settled before a listing began can use it, and one
        listing of a workspace runs at a time: those who need a later one wait for it to
        end, then share the next. A listing begins no sooner after the last one ended than
        that one took (:meth:`_gap`), so listing a large workspace never takes more than
        half the run's time. Many ambiguous requests cost a few listings, not one each.
        """
        current = self._listings.get(workspace_id)
        while current is not None and current[0] < not_before and not current[1].done():
            await asyncio.wait([current[1]])
            current = self._listings.get(workspace_id)
        if (
            current is None
            or current[0] < not_before
            or (current[1].done() and (current[1].cancelled() or current[1].exception()))
        ):
            gap = self._gap(workspace_id)
            task = asyncio.create_task(self._list_after(workspace_id, gap))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            current = (datetime.now(UTC) + timedelta(seconds=gap), task)
            self._listings[workspace_id] = current
        return current[0], await asyncio.shield(current[1])

    def _gap(self, workspace_id: str) -> float:
        """Seconds until a listing of the workspace may begin: the last one's duration."""
        last = self._last.get(workspace_id)
        if last is None:
            return 0.0
        began, ended = last
        return max(0.0, ended + (ended - began) - time.monotonic())

    async def _list_after(self, workspace_id: str, gap: float) -> Answer:
        if gap > 0:
            await asyncio.sleep(gap)
        began = time.monotonic()
        try:
            return await self._list_workspace(workspace_id)
        finally:
            self._last[workspace_id] = (began, time.monotonic())
