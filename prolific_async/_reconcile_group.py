"""What reconciliation holds per request and per match key: members, decisions, groups.

A :class:`Group` is the requests of one match key in progress; its :class:`Doubt`,
made only once a member's outcome is unknown, holds what deciding them needs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from attrs import define, field

from ._match_key import MatchKey
from ._signal import Signal
from .errors import ProlificError
from .models.batches import Batch

__all__ = ["Adopt", "Decision", "Doubt", "Group", "Member", "Resend"]


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
class Doubt:
    """A group's members of unknown outcome and what deciding them needs.

    ``ambiguous`` holds every member not yet decided; ``wanting`` those of them that
    want a listing now (new ones, and waiters whose ``reconcile_delay`` has passed). A
    member listed once and not decided waits without being in ``wanting``: new POSTs of
    the group may go out meanwhile.
    """

    ambiguous: list[Member] = field(factory=list)
    wanting: list[Member] = field(factory=list)
    since: dict[int, datetime] = field(factory=dict)
    """When a listing begun can serve each member in ``wanting``: once its outcome was
    unknown (or its ``reconcile_delay`` had passed, for a waiter)."""
    decisions: dict[int, Decision] = field(factory=dict)
    signal: Signal = field(factory=Signal)


@define(eq=False)
class Group:
    """The requests of one match key: their POSTs in flight and their :class:`Doubt`.

    The doubt is made when a member's outcome is first unknown: most groups never need
    it, and a run keeps a group per request in progress.
    """

    key: MatchKey
    members: int = 0
    in_flight: int = 0
    reconciling: bool = False
    doubt: Doubt | None = None

    def in_doubt(self) -> Doubt:
        """The group's doubt, made now if nothing was in doubt before."""
        if self.doubt is None:
            self.doubt = Doubt()
        return self.doubt

    @property
    def quiet(self) -> bool:
        """No member wants a listing and none is being listed: a POST may begin at once."""
        return not self.reconciling and (self.doubt is None or not self.doubt.wanting)

    def notify(self) -> None:
        """Wake the group's waiters (none can wait before something was in doubt)."""
        if self.doubt is not None:
            self.doubt.signal.notify()
