"""What every new record is stamped with: a seeded id, the fake's time and its user.

Ids come from the fake's seeded generator, so a run replays; times come from its
``clock`` (which a test may skew), never from the monotonic clock the state machines
run on (:mod:`._timeline`).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

__all__ = ["Stamps", "iso_z"]


def iso_z(moment: datetime) -> str:
    """Render an aware datetime as the API does: ISO-8601 UTC ending in ``Z``."""
    return moment.isoformat().replace("+00:00", "Z")


class Stamps:
    """The source of ids and creation times every service of one fake shares.

    Args:
        rng: the seeded generator ids are drawn from.
        clock: returns the current time (aware; a naive value is taken as UTC).
        user_id: the ``created_by`` of every record.
        fractional_seconds: keep microseconds in ``created_at`` instead of whole seconds.
    """

    def __init__(
        self,
        *,
        rng: random.Random,
        clock: Callable[[], datetime],
        user_id: str,
        fractional_seconds: bool,
    ) -> None:
        self.rng = rng
        self.clock = clock
        self.user_id = user_id
        self.fractional_seconds = fractional_seconds

    def new_id(self) -> str:
        """Draw a UUID4 string from the seeded generator, so runs replay."""
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def now(self) -> datetime:
        """The clock's time in UTC, truncated to whole seconds unless configured not to."""
        value = self.clock()
        value = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
        return value if self.fractional_seconds else value.replace(microsecond=0)
