"""Telling the caller, once per endpoint, that the server marked an endpoint deprecated."""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Mapping
from typing import Final

__all__ = ["DeprecationNotices"]

_PACKAGE_DIR: Final = os.path.dirname(os.path.abspath(__file__))


def _caller_stacklevel() -> int:
    """The ``stacklevel`` that points a warning at the first frame outside this package.

    Python shows a ``DeprecationWarning`` by default only when it is attributed to the
    user's own ``__main__`` code, not to the library line that raised it.
    """
    frame = sys._getframe(1)  # the function that will call warnings.warn
    level = 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
        level += 1
    return level


class DeprecationNotices:
    """The endpoints one client has warned about (a warning per endpoint, not per call)."""

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def notice(self, method: str, endpoint: str, headers: Mapping[str, str]) -> None:
        """Warn that ``method endpoint`` is deprecated, unless this client already did."""
        key = f"{method} {endpoint}"
        if key in self._seen:
            return
        self._seen.add(key)
        sunset = headers.get("Sunset")
        when = f"; it stops working on {sunset}" if sunset else ""
        warnings.warn(
            f"Prolific marks {key} as deprecated{when}.",
            DeprecationWarning,
            stacklevel=_caller_stacklevel(),
        )
