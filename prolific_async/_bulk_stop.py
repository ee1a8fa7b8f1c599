"""When a bulk run stops sending: nothing can succeed, or not in one workspace or source.

A run against a server it cannot reach (a closed port, a DNS name that does not
resolve, a certificate it does not trust) would otherwise send every item, each to
its own cap, and fail them one by one. :class:`RunStop` watches every send's outcome:

* after ``max_consecutive_unsent`` sends in a row that failed before reaching the
  server, the run stops sending;
* a 401 stops it at once (a token does not get better by retrying);
* a 403 fails its item and stops only the items of the same workspace (creates) or of
  the same duplicate source.

When the run stops, the sends still waiting inside the client to retry a connection
that was never made are cancelled (nothing of them reached the server), so a run
against a closed port ends within one send's retries. Every item the stop catches
before its send is reported with
:class:`~prolific_async.errors.RunStoppedError`, which the journal does not record as
final, so a plain re-run does those items.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

from ._call import CallState
from ._logging import logger
from .errors import AuthenticationError, PermissionDeniedError, ProlificError, RunStoppedError
from .models.bulk import BulkRequest, CreateBatchRequest

__all__ = ["DEFAULT_MAX_CONSECUTIVE_UNSENT", "RunStop", "scope_of"]

#: Sends in a row that failed before reaching the server, after which a run stops.
DEFAULT_MAX_CONSECUTIVE_UNSENT: Final = 20


def scope_of(request: BulkRequest) -> str:
    """What a 403 on this request stops: its workspace, or its duplicate source."""
    if isinstance(request, CreateBatchRequest):
        return f"workspace {request.workspace_id!r}"
    return f"duplicate source {request.batch_id!r}"


class RunStop:
    """Whether the run, or one scope of it, has stopped sending, and why."""

    def __init__(self, max_consecutive_unsent: int) -> None:
        if (
            not isinstance(max_consecutive_unsent, int)
            or isinstance(max_consecutive_unsent, bool)
            or max_consecutive_unsent < 1
        ):
            raise ValueError(
                f"max_consecutive_unsent must be an integer >= 1, got {max_consecutive_unsent!r}"
            )
        self.limit = max_consecutive_unsent
        self.consecutive_unsent = 0
        self._run: tuple[str, ProlificError] | None = None
        self._scopes: dict[str, tuple[str, ProlificError]] = {}
        self._sends: dict[asyncio.Task[Any], CallState] = {}
        self._cancelled: set[asyncio.Task[Any]] = set()

    @property
    def stopped(self) -> bool:
        """Whether the whole run has stopped sending."""
        return self._run is not None

    def track(self, task: asyncio.Task[Any], state: CallState) -> None:
        """Watch the task sending a POST, to cancel it at a stop while it has sent nothing.

        The task is the item's own (no task per send): the sender calls :meth:`untrack`
        as the send ends, and a ``CancelledError`` it meets is the stop's only if
        :meth:`untrack` says so.
        """
        self._sends[task] = state

    def untrack(self, task: asyncio.Task[Any]) -> bool:
        """Stop watching ``task``; whether the stop cancelled it meanwhile."""
        self._sends.pop(task, None)
        if task in self._cancelled:
            self._cancelled.discard(task)
            return True
        return False

    def _stop(self, reason: str, cause: ProlificError) -> None:
        logger.info("the run stopped sending %s", reason)
        self._run = (reason, cause)
        for task, state in list(self._sends.items()):
            # Between attempts, or connecting: no byte of this POST reached the server.
            if not state.maybe_sent and task not in self._cancelled:
                task.cancel()
                self._cancelled.add(task)

    def check(self, scope: str) -> None:
        """Refuse a send once the run, or ``scope``, has stopped.

        Raises:
            RunStoppedError: the send must not go out.
        """
        if self._run is None and not self._scopes:
            return  # the happy path: nothing has stopped
        stopped = self._run or self._scopes.get(scope)
        if stopped is not None:
            reason, cause = stopped
            raise RunStoppedError(
                f"not attempted: the run stopped sending {reason}. Nothing was made for "
                "this request; a re-run (the journal records nothing final) does it.",
                cause=cause,
            )

    def not_sent(self, error: ProlificError) -> None:
        """A send failed before reaching the server."""
        self.consecutive_unsent += 1
        if self.consecutive_unsent >= self.limit and self._run is None:
            self._stop(
                f"after {self.consecutive_unsent} sends in a row failed before reaching the "
                f"server (the last: {error})",
                error,
            )

    def reached(self, error: ProlificError | None, scope: str) -> None:
        """A send reached the server; ``error`` is what it answered, if it failed."""
        self.consecutive_unsent = 0
        if isinstance(error, AuthenticationError) and self._run is None:
            self._stop(f"because the server refused the token ({error})", error)
        elif isinstance(error, PermissionDeniedError) and scope not in self._scopes:
            self._scopes[scope] = (f"to {scope} because the server refused it ({error})", error)
            logger.info("the run stopped sending %s", self._scopes[scope][0])
