"""What a journal knows of one item, and the records that change it (no I/O here).

A record is one step of one item, as the run reports it and as ``journal import`` reads
it (the JSON Lines journals of the first format stored one a line)::

    {"type": "start", "item": 0, "fingerprint": "...", "started_at": "2026-...Z"}
    {"type": "sent", "item": 0, "fingerprint": "...", "at": "..."}
    {"type": "done", "item": 0, "fingerprint": "...", "batch": {...}, "reconciled": false,
     "attempts": 1, "request_id": "..."}
    {"type": "failed", "item": 0, "fingerprint": "...", "error": {...}, "request_id": "..."}
    {"type": "not_attempted", "item": 0, "fingerprint": "..."}
    {"type": "not_made", "item": 0, "fingerprint": "..."}

``not_attempted`` is an item a stopped run never sent (``RunStoppedError``): not
final, so a plain re-run sends it. ``not_made`` is an item sent, every send of which
provably made nothing (refused with a 401, 403 or 429, or never connected): its start
is cleared, so a re-run sends it at once instead of waiting to reconcile it. Neither
changes an item whose batch is recorded. A ``sent`` puts an item with no batch in
flight (in doubt) whatever came before: a start if it had none, its failure cleared
(:func:`fold_sent`).

``request_id`` (optional: ``null`` or absent when no answer named one; the first format
never wrote it, and an imported record keeps one it has) is the id of the answer that
made or decided the item, so a resumed run reports it as the run that read it did.

:func:`apply_record` folds one into the item's :class:`JournalEntry`; the SQLite journal
stores the entry, one row per item (:data:`COLUMNS`). Both directions check the shape of
what they read and raise :class:`RecordError` saying what is wrong, which the callers turn
into a ``JournalError`` naming the record.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

from attrs import define, evolve

from ._converter import converter
from ._status_errors import status_error_class
from .errors import ProlificError
from .models.batches import Batch

__all__ = [
    "COLUMNS",
    "ItemKey",
    "JournalEntry",
    "RecordError",
    "apply_record",
    "entry_from_row",
    "entry_to_row",
    "fold_sent",
    "record_item",
    "status_of",
]

ItemKey = int | str
#: The columns of an item's row, in the order :func:`entry_to_row` gives them.
COLUMNS: Final = (
    "item",
    "fingerprint",
    "started_at",
    "last_sent_at",
    "batch_id",
    "batch",
    "reconciled",
    "attempts",
    "error",
    "request_id",
)
RECORD_TYPES: Final = ("start", "sent", "done", "failed", "not_attempted", "not_made")


class RecordError(ValueError):
    """A record or a stored row does not have the shape of a journal record."""


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
    request_id: str | None = None
    """Of the answer that made or decided the item (journal format 3).

    A run stores the id as its result reported it, masked already; one given in a
    record (:meth:`Journal.append`, ``journal import``) is stored as given.
    """

    @property
    def batch_id(self) -> str | None:
        """The id of the batch recorded as made for the item, if any."""
        return None if self.batch is None else str(self.batch["id"])

    def to_batch(self) -> Batch | None:
        """The batch recorded as made for the item, if any."""
        return None if self.batch is None else converter.structure(self.batch, Batch)

    def to_error(self) -> ProlificError | None:
        """The recorded failure, if any, as the error it was (its message says so).

        A status error is rebuilt with its status and request id; any other comes back
        as a :class:`ProlificError` with its message (the id stays in :attr:`request_id`).
        """
        if self.error is None:
            return None
        status = self.error.get("status_code")
        message = f"{self.error.get('message', 'failed')} (from the journal)"
        if isinstance(status, int):
            return status_error_class(status)(
                message,
                status_code=status,
                body=None,
                request_id=self.request_id,
                method=str(self.error.get("method", "POST")),
                url=str(self.error.get("url", "")),
            )
        return ProlificError(message)


def status_of(entry: JournalEntry) -> str:
    """``done``, ``failed``, ``in flight``, ``not made`` or ``not attempted``.

    What a re-run does with it: reports it, reconciles it, or sends it at once. An item
    never sent (a stopped run reached it, ``not_attempted``) has no start; one sent and
    provably not made (``not_made``) has a last send but no start.
    """
    if entry.batch is not None:
        return "done"
    if entry.error is not None:
        return "failed"
    if entry.started_at is not None:
        return "in flight"
    return "not attempted" if entry.last_sent_at is None else "not made"


# -- records, folded into entries -----------------------------------------------------------


def record_item(record: object) -> ItemKey:
    """The item a record is about (checking first that it is a record at all).

    Raises:
        RecordError: the record is not a JSON object, or its ``item`` is neither an
            integer index nor a string key.
    """
    if not isinstance(record, dict):
        raise RecordError("not a JSON object")
    return _item_key(record.get("item"))


def apply_record(record: dict[str, Any], current: JournalEntry | None) -> JournalEntry:
    """Fold ``record`` into its item's entry (``current``, or a new one) and return it.

    A record whose fingerprint differs from the entry's starts the entry afresh;
    ``current`` itself is never changed.

    Raises:
        RecordError: the record is not of one of the six kinds, or a field is missing
            or of the wrong type.
    """
    kind = record.get("type")
    if kind not in RECORD_TYPES:
        raise RecordError(f"unknown record type {kind!r}")
    fingerprint = record.get("fingerprint")
    if not isinstance(fingerprint, str):
        raise RecordError("'fingerprint' must be a string")
    if current is None or current.fingerprint != fingerprint:
        entry = JournalEntry(fingerprint=fingerprint)
    else:
        entry = evolve(current)
    if kind == "start":
        entry.started_at = _timestamp(_field(record, "started_at"), "started_at")
        entry.last_sent_at = entry.started_at
        entry.error = entry.request_id = None  # a retried failure starts over
    elif kind == "sent":
        fold_sent(entry, _timestamp(_field(record, "at"), "at"))
    elif kind == "done":
        entry.batch = _batch(_field(record, "batch"))
        entry.reconciled = _bool(record.get("reconciled", False), "reconciled")
        entry.attempts = _count(record.get("attempts", 0), "attempts")
        entry.request_id = _text(record.get("request_id"), "request_id")
    elif kind == "failed":
        entry.error = _object(_field(record, "error"), "error")
        entry.request_id = _text(record.get("request_id"), "request_id")
    elif kind == "not_made" and entry.batch is None:
        entry.started_at = None  # nothing to reconcile; the last send stays as it was
    # not_attempted: the entry as it was (a new one has no start, batch or error)
    return entry


def fold_sent(entry: JournalEntry, at: datetime) -> None:
    """Fold a ``sent`` record (a send of the item at ``at``) into ``entry``.

    A send may have made the batch, so an item with none recorded is in doubt after it:
    one with no start (after ``not_made``, or a ``sent`` first) takes ``at`` as its start,
    and a recorded failure is cleared with its request id, start or not, as a ``start``
    clears it. That failure was an earlier send's; kept, a re-run would report the item
    failed (or, retrying it, send it again without a listing) although this send may
    have made its batch. A run writes no ``sent`` after its item's ``failed``; a
    hand-written or imported journal may.
    """
    entry.last_sent_at = at
    if entry.batch is None:
        if entry.started_at is None:
            entry.started_at = at
        entry.error = entry.request_id = None


def _field(record: dict[str, Any], name: str) -> object:
    if name not in record:
        raise RecordError(f"a {record['type']!r} record needs {name!r}")
    return record[name]


def _item_key(value: object) -> ItemKey:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise RecordError("'item' must be an integer index or a string key")
    return value


def _timestamp(value: object, name: str) -> datetime:
    if not isinstance(value, str):
        raise RecordError(f"{name!r} must be an ISO 8601 timestamp")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise RecordError(f"{name!r} must be an ISO 8601 timestamp, got {value!r}") from None


def _batch(value: object) -> dict[str, Any]:
    batch = _object(value, "batch")
    if not isinstance(batch.get("id"), str) or not batch["id"]:
        raise RecordError("'batch' must have a string 'id'")
    return batch


def _object(value: object, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RecordError(f"{name!r} must be a JSON object")
    return dict(value)


def _text(value: object, name: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise RecordError(f"{name!r} must be a string or null")
    return value


def _bool(value: object, name: str) -> bool:
    if not isinstance(value, bool | int) or value not in (0, 1):
        raise RecordError(f"{name!r} must be true or false")
    return bool(value)


def _count(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RecordError(f"{name!r} must be a whole number >= 0")
    return value


# -- entries, stored as rows ------------------------------------------------------------------


def entry_to_row(item: ItemKey, entry: JournalEntry) -> tuple[object, ...]:
    """The item's row, in the order of :data:`COLUMNS`."""
    started_at = None if entry.started_at is None else entry.started_at.isoformat()
    last_sent_at = started_at  # a first send (the same time): formatted once
    if entry.last_sent_at is not entry.started_at:
        last_sent_at = None if entry.last_sent_at is None else entry.last_sent_at.isoformat()
    return (
        item,
        entry.fingerprint,
        started_at,
        last_sent_at,
        entry.batch_id,
        None if entry.batch is None else _dumps(entry.batch),
        int(entry.reconciled),
        entry.attempts,
        None if entry.error is None else _dumps(entry.error),
        entry.request_id,
    )


def entry_from_row(row: tuple[Any, ...]) -> tuple[ItemKey, JournalEntry]:
    """Read a row back, checking every column (a corrupted row is refused, not guessed).

    Raises:
        RecordError: a column has the wrong type or cannot be parsed.
    """
    if len(row) != len(COLUMNS):
        raise RecordError(f"{len(row)} columns, not {len(COLUMNS)}")
    item, fingerprint, started_at, last_sent_at, _, batch, reconciled, attempts, error, rid = row
    item = _item_key(item)
    if not isinstance(fingerprint, str):
        raise RecordError("'fingerprint' must be a string")
    entry = JournalEntry(
        fingerprint=fingerprint,
        started_at=None if started_at is None else _timestamp(started_at, "started_at"),
        last_sent_at=None if last_sent_at is None else _timestamp(last_sent_at, "last_sent_at"),
        batch=None if batch is None else _batch(_loads(batch, "batch")),
        error=None if error is None else _object(_loads(error, "error"), "error"),
        reconciled=_bool(reconciled, "reconciled"),
        attempts=_count(attempts, "attempts"),
        request_id=_text(rid, "request_id"),
    )
    return item, entry


def _dumps(value: dict[str, Any]) -> str:
    """Compact JSON text: msgspec's encoder when installed (the ``fast`` extra), else json's.

    Either text reads back as the same value for what a journal holds (a batch as the
    converter gives it, an error's fields); anything msgspec does not encode, such as
    an integer beyond 64 bits, goes to :func:`json.dumps`.
    """
    encode = _ENCODE[0] if _ENCODE else _find_encoder()
    if encode is not None:
        try:
            return encode(value).decode()
        except Exception:  # noqa: S110 (the standard library encodes it below, or says why)
            pass
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


_ENCODE: list[Callable[[Any], bytes] | None] = []


def _find_encoder() -> Callable[[Any], bytes] | None:
    """The JSON encoder of msgspec, looked for on first use (importing stays cheap)."""
    try:
        from msgspec.json import Encoder
    except ImportError:
        _ENCODE.append(None)
    else:
        _ENCODE.append(Encoder().encode)
    return _ENCODE[0]


def _loads(value: object, name: str) -> object:
    if not isinstance(value, str):
        raise RecordError(f"{name!r} must be JSON text")
    try:
        return json.loads(value)
    except (ValueError, RecursionError):  # a 5000-digit number, thousands of levels
        raise RecordError(f"{name!r} is not valid JSON") from None
