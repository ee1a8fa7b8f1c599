"""The journal's writer: one thread owns the write connection; the loop never waits on it.

The event loop folds each record into its item's row (:mod:`._journal`) and queues the
row; the rows are handed over once per turn of the loop (rows that arrive in the same
turn share one transaction and one fsync, as do rows handed over while the previous
commit was running). The thread commits them in a few multi-row statements (each
statement makes the thread give up the GIL and wait to take it back while the loop is
busy) and resolves each row's future on the loop: a caller that must know its record is
durable (a ``start`` before its POST goes out) awaits that future; the loop itself never
blocks on a write.

A transaction is all or nothing: a commit that fails is rolled back, and the writer then
refuses every later record (what the journal holds is all true, and nothing is left
half-written). Closing writes what is queued, then ends the thread and its connection,
even when the closer is cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._journal_store import write_rows
from .errors import JournalError

__all__ = ["Writer"]

_Group = list[tuple[tuple[Any, ...], "asyncio.Future[None]"]]


class Writer:
    """The thread that owns ``connection`` and commits the rows the loop queues."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._connection = connection
        self._path = path
        self._loop = asyncio.get_running_loop()
        self._pending: _Group = []
        self._scheduled = False
        self._inbox: queue.SimpleQueue[_Group | None] = queue.SimpleQueue()
        self._broken: JournalError | None = None
        self._finished: asyncio.Future[None] = self._loop.create_future()
        self._closing = False
        self._thread = threading.Thread(
            target=self._run, name=f"prolific-async journal {path.name}", daemon=True
        )
        self._thread.start()

    # -- on the loop ----------------------------------------------------------------------

    def submit(self, row: tuple[Any, ...]) -> asyncio.Future[None]:
        """Queue an item's whole ``row``; the future resolves once it is committed (or fails).

        Raises:
            JournalError: an earlier commit failed, or the writer is closing.
        """
        if self._broken is not None:
            raise self._broken
        if self._closing:
            raise JournalError(f"{self._path} is closed")
        done: asyncio.Future[None] = self._loop.create_future()
        self._pending.append((row, done))
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._hand_over)
        return done

    def _hand_over(self) -> None:
        self._scheduled = False
        group, self._pending = self._pending, []
        if group:
            self._inbox.put(group)

    async def close(self) -> None:
        """Commit what is queued, then end the thread and close the connection."""
        if not self._closing:
            self._closing = True
            self._hand_over()
            self._inbox.put(None)
        try:
            await asyncio.shield(self._finished)
        finally:
            # Cancelled while waiting: wait here instead, for at most the commit that
            # is running, so no thread or connection outlives the journal.
            self._thread.join()

    def _settle(self, futures: list[asyncio.Future[None]], failure: JournalError | None) -> None:
        for done in futures:
            if done.done():
                continue
            if failure is None:
                done.set_result(None)
            else:
                done.set_exception(failure)

    def _finish(self) -> None:
        if not self._finished.done():
            self._finished.set_result(None)

    # -- on the writer thread -------------------------------------------------------------

    def _run(self) -> None:
        try:
            stop = False
            while not stop:
                group = self._inbox.get()
                if group is None:
                    break
                # Records handed over while the last commit ran share this one.
                while True:
                    try:
                        more = self._inbox.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        stop = True
                        break
                    group.extend(more)
                self._commit(group)
        finally:
            self._connection.close()
            self._call(self._finish)

    def _commit(self, group: _Group) -> None:
        failure = self._broken
        if failure is None:
            try:
                write_rows(self._connection, [row for row, _ in group])
            except JournalError as exc:
                failure = self._broken = exc
            except Exception as exc:  # a disk error or a bug: either way, stop journaling
                failure = self._broken = JournalError(f"could not write to {self._path}: {exc}")
        self._call(self._settle, [done for _, done in group], failure)

    def _call(self, callback: Callable[..., None], *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting
            self._loop.call_soon_threadsafe(callback, *args)
