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

``item`` is the request's index (an int) or the caller's ``key`` (a str). The header's
``operation`` is ``create``, ``duplicate``, or ``provision`` for a run mixing both (the
name it had when the format was fixed; the code calls that operation ``mixed``).

This module is the one place the format is read (:meth:`Journal.open`) and written (the
``write_*`` methods beside the reader). Records that
arrive in the same turn of the event loop share one write and one fsync. The write is
done on the loop's own thread: it cannot be interrupted half-way by a cancellation, and
a write that fails is cut back off the file, so no torn record is ever followed by
another.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from attrs import define

from ._converter import converter
from ._outcome import Outcome, error_outcome
from ._status_errors import status_error_class
from .errors import (
    APIStatusError,
    AuthenticationError,
    JournalError,
    PermissionDeniedError,
    ProlificError,
)
from .models.batches import Batch
from .models.bulk import BulkRequest, CreateBatchRequest

__all__ = ["ItemKey", "Journal", "JournalEntry", "fingerprint", "is_final_failure"]

VERSION: Final = 1
ItemKey = int | str
#: How an operation is named in a header, where that differs from the code's name.
STORED_OPERATION: Final = {"mixed": "provision"}


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

    @property
    def batch_id(self) -> str | None:
        """The id of the batch recorded as made for the item, if any."""
        return None if self.batch is None else str(self.batch["id"])

    def to_batch(self) -> Batch | None:
        """The batch recorded as made for the item, if any."""
        return None if self.batch is None else converter.structure(self.batch, Batch)

    def to_error(self) -> ProlificError | None:
        """The recorded failure, if any, as the error it was (its message says so)."""
        if self.error is None:
            return None
        status = self.error.get("status_code")
        message = f"{self.error.get('message', 'failed')} (from the journal)"
        if isinstance(status, int):
            return status_error_class(status)(
                message,
                status_code=status,
                body=None,
                request_id=None,
                method=str(self.error.get("method", "POST")),
                url=str(self.error.get("url", "")),
            )
        return ProlificError(message)


class Journal:
    """An append-only, fsynced JSON Lines file recording each item of a bulk run.

    Pass the same journal (the same path) to a re-run of the same manifest: items that
    finished are reported from it without a request, items that were in flight when the
    run stopped are reconciled, and the rest are done. A journal belongs to one kind of
    run (create, duplicate, or mixed) and one manifest; it is refused for another.

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
        operation = STORED_OPERATION.get(operation, operation)
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
        return self._load(STORED_OPERATION.get(operation, operation))[0]

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

    # -- the records, written -----------------------------------------------------------

    async def write_start(self, item: ItemKey, fingerprint: str, *, at: datetime) -> None:
        """Record the first send of ``item``, before it goes out."""
        await self.append(_record("start", item, fingerprint, started_at=at.isoformat()))

    async def write_sent(self, item: ItemKey, fingerprint: str, *, at: datetime) -> None:
        """Record a later send of ``item``, before it goes out."""
        await self.append(_record("sent", item, fingerprint, at=at.isoformat()))

    async def write_done(
        self, item: ItemKey, fingerprint: str, *, batch: Batch, reconciled: bool, attempts: int
    ) -> None:
        """Record the batch that exists for ``item``."""
        record = _record(
            "done",
            item,
            fingerprint,
            batch=converter.unstructure(batch),
            reconciled=reconciled,
            attempts=attempts,
        )
        await self.append(record)

    async def write_failed(self, item: ItemKey, fingerprint: str, *, error: ProlificError) -> None:
        """Record that ``item`` failed for good (a re-run reports it unless retrying)."""
        recorded: dict[str, Any] = {"type": type(error).__name__, "message": str(error)}
        if isinstance(error, APIStatusError):
            recorded.update(status_code=error.status_code, method=error.method, url=error.url)
        await self.append(_record("failed", item, fingerprint, error=recorded))

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


def fingerprint(request: BulkRequest) -> str:
    """A stable digest of what a request asks for: its wire form, its ``key`` left out.

    A journal knows each request by it, to refuse a journal of another manifest. The
    digest is of the request's POST body (and a duplicate's source id), with the fields
    of the first journal format always present (a create's ``dataset_id`` and a
    duplicate's ``name``, ``null`` when not given), so every journal written since keeps
    matching its manifest. Fields added since, such as a create's ``batch_items`` and
    ``auto_sync_enabled``, enter only when set. Those two do not join the match key
    (``_reconcile.MatchKey``): a listing cannot show them as the request gave them.
    """
    if isinstance(request, CreateBatchRequest):
        data = {"dataset_id": None, **converter.unstructure(request)}
    else:
        data = {"batch_id": request.batch_id, "name": None, **converter.unstructure(request)}
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _record(kind: str, item: ItemKey, fingerprint: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "item": item, "fingerprint": fingerprint, **fields}


def _encode(record: dict[str, Any]) -> bytes:
    return (json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n").encode()


def is_final_failure(error: ProlificError) -> bool:
    """Whether a re-run should report this failure instead of trying again.

    A definitive 4xx, but not a 401/403: those are about the token, and a re-run with a
    good one should try the item again without ``retry_failed``.
    """
    return (
        isinstance(error, APIStatusError)
        and error_outcome(error) is Outcome.REJECTED
        and not isinstance(error, AuthenticationError | PermissionDeniedError)
    )
