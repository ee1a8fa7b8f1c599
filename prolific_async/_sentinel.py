"""The ``NOT_GIVEN`` sentinel: "leave this field alone", as distinct from ``None``."""

from __future__ import annotations

import enum
from typing import Final, Literal


class NotGiven(enum.Enum):
    """Type of :data:`NOT_GIVEN`.

    An update (PATCH) sends only the fields the caller gave. ``None`` cannot mean
    "not given", because for some fields ``None`` would be a value of its own, so a
    separate falsy sentinel marks an argument that was left out.
    """

    NOT_GIVEN = "NOT_GIVEN"

    def __bool__(self) -> Literal[False]:
        return False

    def __repr__(self) -> str:
        return "NOT_GIVEN"


#: Default of every optional update argument: the field is left out of the request.
NOT_GIVEN: Final = NotGiven.NOT_GIVEN
