"""Test mode: one process-wide flag that removes real waiting from retries and polls.

It lives apart from the retry middleware because polling and storage transfers read it
too, and none of them should import another's module for a flag.
"""

from __future__ import annotations

__all__ = ["set_testing", "testing_enabled"]

_testing = False


class _TestingRestorer:
    """Returned by :func:`set_testing`; as a context manager it restores the old state."""

    def __init__(self, previous: bool) -> None:
        self._previous = previous

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc_info: object) -> None:
        global _testing
        _testing = self._previous


def set_testing(testing: bool = True) -> _TestingRestorer:
    """Turn test mode on or off for every client in this process.

    In test mode retries happen as the policy says, but without sleeping: backoff waits
    and ``Retry-After`` waits are zero (a ``Retry-After`` above the cap still fails the
    call), and the ``wait_*`` methods poll every 10 ms whatever their ``poll_interval``.
    Use it once in a test suite, or as a context manager, which puts the previous mode
    back on exit::

        with prolific_async.set_testing():
            ...
    """
    global _testing
    previous, _testing = _testing, testing
    return _TestingRestorer(previous)


def testing_enabled() -> bool:
    """Whether :func:`set_testing` has turned test mode on."""
    return _testing
