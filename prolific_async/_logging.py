"""The ``prolific_async`` logger: what the client did, never the token.

The library logs to one stdlib logger, ``prolific_async``, and installs no handler on it
(an application decides where its logs go). What it logs:

* DEBUG: one line per attempt the retry middleware sends (method, path, status or error,
  attempt number, the wait before the next one, request id, elapsed seconds), and one per
  attempt of a storage transfer (method, host and path without the presigned query, the
  storage host's request id: S3's ``x-amz-request-id``).
* INFO: retries (API calls and storage transfers), 429 holds of the client's gate,
  reconciliation decisions, journal resumes and fail-fast stops of a bulk run.

``PROLIFIC_LOG=info`` or ``PROLIFIC_LOG=debug`` (or ``PROLIFIC_DEBUG=1``, as Prolific's
own CLI reads it) switches it on without code, as ``OPENAI_LOG`` and ``ANTHROPIC_LOG``
do: the first client created attaches one stderr handler at that level.

Every record passes :class:`RedactingFilter` on the logger itself, before any handler
sees it: the token of every client alive (and of the last few closed) is masked in the
message, its arguments and a formatted traceback, at every level.

Every module of the library logs through :data:`logger`, this one object (a test keeps
it so: no other module calls ``logging.getLogger``). A logger filter sees only the
records logged on that logger, not those propagating from its children, so a child
logger an application makes itself (``logging.getLogger("prolific_async.mine")``) is
the application's: its records are not masked.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import weakref
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Final

from ._headers import request_id_of
from ._redact import KNOWN, Redactor

__all__ = [
    "configure_from_environment",
    "first_capped_run",
    "log_attempt",
    "log_retry",
    "logger",
    "register_secret",
    "request_id_of",
]

logger: Final = logging.getLogger("prolific_async")

#: The environment variables read by :func:`configure_from_environment`.
LOG_VARIABLE: Final = "PROLIFIC_LOG"
DEBUG_VARIABLE: Final = "PROLIFIC_DEBUG"

_LEVELS: Final = {"debug": logging.DEBUG, "info": logging.INFO}


class RedactingFilter(logging.Filter):
    """Masks the token of every live client in a record, then lets it through.

    A filter on the logger runs before its handlers and before a record propagates to the
    root logger's, so no handler an application installs ever sees the token. A token
    stays masked while a client holds it, and after its last client closes while it is
    among the :attr:`KEPT_AFTER_CLOSE` most recently released (an exception or a late
    task may still name it); then it is forgotten, so a process that makes clients for
    many tokens does not mask (and scan for) each of them forever.
    """

    KEPT_AFTER_CLOSE: Final = 16

    def __init__(self, redactors: dict[str, Redactor] | None = None) -> None:
        super().__init__()
        self._redactors = {} if redactors is None else redactors
        """The redactors of the secrets masked now (the logger's: ``_redact.KNOWN``,
        which the package's errors mask their messages with too)."""
        self._holders: dict[str, int] = {}
        self._released: OrderedDict[str, None] = OrderedDict()

    def add(self, secret: str) -> None:
        """Mask ``secret`` in every later record, until as many :meth:`release` calls."""
        self._holders[secret] = self._holders.get(secret, 0) + 1
        self._released.pop(secret, None)
        if secret not in self._redactors:
            self._redactors[secret] = Redactor(secret)

    def release(self, secret: str) -> None:
        """One holder of ``secret`` is gone; the last one's leaves it among the recent."""
        left = self._holders.get(secret, 0) - 1
        if left > 0:
            self._holders[secret] = left
            return
        self._holders.pop(secret, None)
        self._released[secret] = None
        while len(self._released) > self.KEPT_AFTER_CLOSE:
            forgotten, _ = self._released.popitem(last=False)
            self._redactors.pop(forgotten, None)

    def masks(self, secret: str) -> bool:
        """Whether ``secret`` is masked now."""
        return secret in self._redactors

    def filter(self, record: logging.LogRecord) -> bool:
        redactors = list(self._redactors.values())
        if not redactors:
            return True
        # Formatted once here, so a handler formats the masked text, not the arguments.
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        for redactor in redactors:
            message = redactor.text(message)
            if record.exc_text:
                record.exc_text = redactor.text(record.exc_text)
            if record.stack_info:
                record.stack_info = redactor.text(record.stack_info)
        record.msg, record.args = message, None
        return True


_filter: Final = RedactingFilter(KNOWN)
logger.addFilter(_filter)

_handler: logging.Handler | None = None


def register_secret(secret: str, owner: object) -> Callable[[], object]:
    """Mask ``secret`` (``owner``'s token) in every line the logger emits while it lives.

    Returns the release: call it when ``owner`` closes (calling it again does nothing);
    it runs by itself if ``owner`` is garbage-collected first.
    """
    _filter.add(secret)
    return weakref.finalize(owner, _filter.release, secret)


#: The clients already told that a bulk run's ``concurrency`` is above their
#: ``max_connections``: each is told once, not on every run.
_TOLD_CAPPED: Final[weakref.WeakSet[object]] = weakref.WeakSet()


def first_capped_run(client: object) -> bool:
    """Whether this is ``client``'s first bulk run capped by its ``max_connections``."""
    if client in _TOLD_CAPPED:
        return False
    _TOLD_CAPPED.add(client)
    return True


def level_from_environment() -> int | None:
    """The level ``PROLIFIC_LOG`` / ``PROLIFIC_DEBUG`` ask for, or ``None``."""
    if os.environ.get(DEBUG_VARIABLE, "").strip().lower() in {"1", "true", "yes"}:
        return logging.DEBUG
    return _LEVELS.get(os.environ.get(LOG_VARIABLE, "").strip().lower())


def configure_from_environment() -> None:
    """Attach one stderr handler if the environment asks for logging; once per process.

    An unknown ``PROLIFIC_LOG`` value is ignored, as ``OPENAI_LOG``'s is. A logger that
    already has a handler (the command line's ``-v``, or an application's own) gets none
    more, so no line is written twice.
    """
    global _handler
    if _handler is not None or logger.handlers:
        return
    level = level_from_environment()
    if level is None:
        return
    _handler = logging.StreamHandler(sys.stderr)
    _handler.setFormatter(logging.Formatter("[%(asctime)s %(levelname)s %(name)s] %(message)s"))
    logger.addHandler(_handler)
    if logger.level == logging.NOTSET or logger.level > level:
        logger.setLevel(level)


def log_attempt(
    method: str,
    path: str,
    outcome: int | BaseException,
    *,
    attempt: int,
    wait: float | None,
    headers: Mapping[str, str] | None,
    elapsed: float,
) -> None:
    """The DEBUG line of one attempt; ``wait`` is ``None`` when no retry follows it."""
    if not logger.isEnabledFor(logging.DEBUG):
        return
    if isinstance(outcome, int):
        result: object = outcome
    elif isinstance(outcome, asyncio.CancelledError):
        result = "cut (the call's deadline, or its caller, cancelled it)"
    else:
        result = type(outcome).__name__
    logger.debug(
        "attempt %d: %s %s -> %s in %.3fs, request id %s, %s",
        attempt,
        method,
        path,
        result,
        elapsed,
        request_id_of(headers) or "-",
        "final" if wait is None else f"retry in {wait:.2f}s",
    )


def log_retry(method: str, path: str, wait: float, attempt: int, attempts: int, cause: str) -> None:
    """The INFO line of a retry: ``attempt`` (the next one) of ``attempts`` in ``wait`` s."""
    logger.info(
        "retrying %s %s in %.2fs (attempt %d of %d: %s)",
        method,
        path,
        wait,
        attempt,
        attempts,
        cause,
    )
