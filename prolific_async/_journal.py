"""The bulk layer's journal: an append-only JSON Lines file that makes a run resumable.

Each line is one record, written whole and fsynced before the step it records is taken
(a ``start`` is durable before its POST is sent). Records::

    {"type": "header", "version": 1, "operation": "create"}
    {"type": "start", "item": 0, "fingerprint": "...", "started_at": "2026-...Z"}
    {"type": "done", "item": 0, "fingerprint": "...", "batch": {...}, "reconciled": false,
     "attempts": 1}
    {"type": "failed", "item": 0, "fingerprint": "...", "error": {...}}

A ``{"type": "sent", "item": 0, "fingerprint": "...", "at": "..."}`` record marks each
later send of the same item (reconciliation waits after the last one).

``item`` is the request's index (an int) or the caller's ``key`` (a str). Records that
arrive in the same turn of the event loop share one write and one fsync. The write is
done on the loop's own thread: it cannot be interrupted half-way by a cancellation, and
a write that fails is cut back off the file, so no torn record is ever followed by
another.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from attrs import define

from .errors import JournalError

__all__ = ["ItemKey", "Journal", "JournalEntry"]

VERSION: Final = 1
ItemKey = int | str


@define
class JournalEntry:
    """What the journal knows of one item."""

    fingerprint: str
    started_at: datetime | None = None
    last_sent_at: datetime | None = None
    batch: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    reconciled: bool = False
    attempts: int = 0


class Journal:
    """An append-only, fsynced JSON Lines file recording each item of a bulk run.

    Pass the same journal (the same path) to a re-run of the same manifest: items that
    finished are reported from it without a request, items that were in flight when the
    run stopped are reconciled, and the rest are done. A journal belongs to one kind of
    run (create or duplicate) and one manifest; it is refused for another.

    Args:
        path: the file; created if missing.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._path = Path(path)
        self._fd: int | None = None
        self._queue: list[tuple[bytes, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._broken: JournalError | None = None

    def __repr__(self) -> str:
        return f"Journal({str(self._path)!r})"

    @property
    def path(self) -> Path:
        """The journal file."""
        return self._path

    # -- opening: read what is there, drop a torn last line ------------------------------

    def open(self, operation: str) -> dict[ItemKey, JournalEntry]:
        """Load the journal for ``operation`` and open it for appending.

        Raises:
            JournalError: it is in use, belongs to another operation, or a line other
                than the last is not a valid record.
        """
        if self._fd is not None:
            raise JournalError(f"{self._path} is already in use by a running bulk call")
        entries, keep, has_header = self._load(operation)
        fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            if keep is not None:
                os.ftruncate(fd, keep)
            if not has_header:
                header = {"type": "header", "version": VERSION, "operation": operation}
                self._write(fd, _encode(header))
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        self._broken = None
        return entries

    def read(self, operation: str) -> dict[ItemKey, JournalEntry]:
        """Load the journal for ``operation`` without opening it for writing.

        Raises:
            JournalError: as :meth:`open`.
        """
        return self._load(operation)[0]

    def _load(self, operation: str) -> tuple[dict[ItemKey, JournalEntry], int | None, bool]:
        """Parse the file line by line: its entries, where to cut a torn end, a header?"""
        entries: dict[ItemKey, JournalEntry] = {}
        if not self._path.exists():
            return entries, None, False
        offset = 0
        number = 0
        bad: tuple[int, int, Exception] | None = None  # line, offset, error
        with self._path.open("rb") as file:
            for number, line in enumerate(file, start=1):
                if bad is not None:  # a bad record that is not the last one
                    message = f"{self._path}, line {bad[0]}: not a valid record ({bad[2]})"
                    raise JournalError(message) from bad[2]
                try:
                    if not line.endswith(b"\n"):
                        raise ValueError("cut short")
                    record = json.loads(line)
                    if not isinstance(record, dict):
                        raise TypeError("not a JSON object")
                    if number == 1:
                        self._check_header(record, operation)
                    else:
                        self._apply(entries, record)
                except (ValueError, TypeError, KeyError) as exc:
                    if number == 1 and line.endswith(b"\n"):
                        message = f"{self._path}, line 1: not a valid record ({exc})"
                        raise JournalError(message) from exc
                    bad = (number, offset, exc)
                offset += len(line)
        if bad is not None:  # a torn last record (power cut mid-write): drop it
            return entries, bad[1], bad[1] > 0
        return entries, None, number > 0

    def _check_header(self, record: dict[str, Any], operation: str) -> None:
        if record.get("type") != "header" or record.get("version") != VERSION:
            raise ValueError("the first line is not a prolific_async journal header")
        if record.get("operation") != operation:
            raise JournalError(
                f"{self._path} records a {record.get('operation')!r} run; it cannot be used "
                f"for a {operation!r} run"
            )

    @staticmethod
    def _apply(entries: dict[ItemKey, JournalEntry], record: dict[str, Any]) -> None:
        kind, item, fingerprint = record["type"], record["item"], record["fingerprint"]
        if not isinstance(item, int | str) or not isinstance(fingerprint, str):
            raise TypeError("item or fingerprint has the wrong type")
        entry = entries.get(item)
        if entry is None or entry.fingerprint != fingerprint:
            entry = entries[item] = JournalEntry(fingerprint=fingerprint)
        if kind == "start":
            entry.started_at = datetime.fromisoformat(record["started_at"])
            entry.last_sent_at = entry.started_at
            entry.error = None  # a retried failure starts over
        elif kind == "sent":
            entry.last_sent_at = datetime.fromisoformat(record["at"])
        elif kind == "done":
            entry.batch = dict(record["batch"])
            entry.reconciled = bool(record.get("reconciled", False))
            entry.attempts = int(record.get("attempts", 0))
        elif kind == "failed":
            entry.error = dict(record["error"])
        else:
            raise ValueError(f"unknown record type {kind!r}")

    # -- appending: grouped writes, each fsynced ----------------------------------------

    async def append(self, record: dict[str, Any]) -> None:
        """Write ``record`` and return once it is on disk.

        The write happens even if the caller is cancelled while waiting for it.

        Raises:
            JournalError: the journal is not open, or a write failed (the journal then
                refuses further records: what it holds is all true).
        """
        if self._broken is not None:
            raise self._broken
        if self._fd is None:
            raise JournalError(f"{self._path} is not open")
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((_encode(record), done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        await asyncio.shield(done)

    async def _flush(self) -> None:
        self._flush_now()

    def _flush_now(self) -> None:
        """Write what is queued, in one write and one fsync (on this thread, uncancellable)."""
        batch, self._queue = self._queue, []
        fd = self._fd
        failure: JournalError | None = self._broken
        if failure is None and fd is None:
            failure = JournalError(f"{self._path} was closed with writes pending")
        if failure is None and fd is not None:
            end = os.lseek(fd, 0, os.SEEK_END)
            try:
                self._write(fd, b"".join(line for line, _ in batch))
            except OSError as exc:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, end)  # no torn record stays in the file
                failure = self._broken = JournalError(f"could not write to {self._path}: {exc}")
        for _, done in batch:
            if done.done():
                continue
            if failure is None:
                done.set_result(None)
            else:
                done.set_exception(failure)

    @staticmethod
    def _write(fd: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)

    async def close(self) -> None:
        """Write what is still queued, then close the file. Safe to call more than once."""
        flusher = self._flusher
        try:
            if flusher is not None and not flusher.done():
                await asyncio.shield(flusher)
        finally:
            # Even when our caller is cancelled, the queued records reach the disk whole.
            self._flush_now()
            fd, self._fd, self._flusher = self._fd, None, None
            if fd is not None:
                os.close(fd)


def _encode(record: dict[str, Any]) -> bytes:
    return (json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n").encode()
