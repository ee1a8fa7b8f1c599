"""The bulk layer's journal: an append-only JSON Lines file that makes a run resumable.

Each line is one record, written whole and fsynced before the step it records is taken
(a ``start`` is durable before its POST is sent). Records::

    {"type": "header", "version": 1, "operation": "create"}
    {"type": "start", "item": 0, "fingerprint": "...", "started_at": "2026-...Z"}
    {"type": "done", "item": 0, "fingerprint": "...", "batch": {...}, "reconciled": false,
     "attempts": 1}
    {"type": "failed", "item": 0, "fingerprint": "...", "error": {...}}

``item`` is the request's index (an int) or the caller's ``key`` (a str). Writes are
grouped: records that arrive while a write is under way share the next write and fsync.
"""

from __future__ import annotations

import asyncio
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
        entries, raw, keep, has_header = self._load(operation)
        fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            if keep < len(raw):
                os.ftruncate(fd, keep)
            if not has_header:
                header = {"type": "header", "version": VERSION, "operation": operation}
                self._write(fd, _encode(header))
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return entries

    def read(self, operation: str) -> dict[ItemKey, JournalEntry]:
        """Load the journal for ``operation`` without opening it for writing.

        Raises:
            JournalError: as :meth:`open`.
        """
        return self._load(operation)[0]

    def _load(self, operation: str) -> tuple[dict[ItemKey, JournalEntry], bytes, int, bool]:
        """Parse the file: its entries, its bytes, how many to keep, whether it has a header."""
        entries: dict[ItemKey, JournalEntry] = {}
        raw = self._path.read_bytes() if self._path.exists() else b""
        end = raw.rfind(b"\n") + 1  # bytes after the last newline are a torn write
        lines = raw[:end].splitlines()
        keep = end
        for number, line in enumerate(lines, start=1):
            try:
                record = json.loads(line)
                if not isinstance(record, dict):
                    raise TypeError("not a JSON object")
                if number == 1:
                    self._check_header(record, operation)
                else:
                    self._apply(entries, record)
            except (ValueError, TypeError, KeyError) as exc:
                if number == len(lines) and number > 1:
                    keep = end - len(line) - 1  # a torn last record: drop it
                    break
                message = f"{self._path}, line {number}: not a valid record ({exc})"
                raise JournalError(message) from exc
        return entries, raw, keep, bool(lines)

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
            entry.error = None  # a retried failure starts over
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
        """
        if self._fd is None:
            raise JournalError(f"{self._path} is not open")
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((_encode(record), done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        await asyncio.shield(done)

    async def _flush(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            fd = self._fd
            try:
                if fd is None:
                    raise JournalError(f"{self._path} was closed with writes pending")
                await asyncio.to_thread(self._write, fd, b"".join(line for line, _ in batch))
            except BaseException as exc:
                failure = (
                    exc
                    if isinstance(exc, JournalError)
                    else JournalError(f"could not write to {self._path}: {exc}")
                )
                for _, done in batch:
                    if not done.done():
                        done.set_exception(failure)
                if not isinstance(exc, Exception):
                    raise
            else:
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)

    @staticmethod
    def _write(fd: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)

    async def close(self) -> None:
        """Wait for pending writes, then close the file. Safe to call more than once."""
        flusher, fd = self._flusher, self._fd
        self._flusher = None
        self._fd = None
        if fd is None:
            return
        if flusher is None or flusher.done():
            os.close(fd)
            return
        # Close only after the last grouped write: even if our caller is cancelled while
        # waiting, the records it started writing reach the disk whole.
        flusher.add_done_callback(lambda _: os.close(fd))
        await asyncio.shield(flusher)


def _encode(record: dict[str, Any]) -> bytes:
    return (json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n").encode()
