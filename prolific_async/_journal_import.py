"""Converting a JSON Lines journal of the first format into an SQLite journal.

The first format was one JSON record a line after a header line
(``{"type": "header", "version": 1, "operation": "create"}``); the records are those of
:mod:`._journal_records`. A last line cut short (the process died mid-write) is dropped,
as that format's reader did; any other line that is not a record of the documented shape
refuses the whole file, naming the line and the record. The new journal is built beside
its destination and renamed into place once complete, so an import that fails or is
interrupted leaves no half-made journal.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from ._journal_lock import RunLock
from ._journal_records import RecordError, apply_record, record_item
from ._journal_store import connect_for_writing, write_records
from .errors import JournalError

__all__ = ["import_journal"]

OLD_VERSION: Final = 1
#: How much of a bad record an error message quotes.
QUOTED: Final = 200


def import_journal(old: Path, new: Path) -> int:
    """Write the journal ``new`` with everything the JSON Lines journal ``old`` records.

    Returns:
        The number of records imported.

    Raises:
        JournalError: ``old`` is not a JSON Lines journal, a line of it is not a valid
            record, or ``new`` already exists.
    """
    if new.exists() and new.stat().st_size > 0:
        raise JournalError(f"{new} already exists: choose a new file for the import")
    operation = _header(old)
    lock = RunLock.acquire(new, file=False)  # new is replaced whole at the end
    building = new.with_name(f".{new.name}.importing-{os.getpid()}")
    try:
        _remove(building)
        connection = connect_for_writing(building, operation)
        try:
            counted = _Counted(_records(old))
            write_records(connection, counted)
        finally:
            connection.close()  # the last connection: SQLite folds the WAL back in
        os.replace(building, new)
    finally:
        _remove(building)
        lock.release()
    return counted.count


class _Counted:
    def __init__(self, records: Iterator[dict[str, Any]]) -> None:
        self._records = records
        self.count = 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for record in self._records:
            self.count += 1
            yield record


def _header(path: Path) -> str:
    """The operation the header of ``path`` names."""
    try:
        with path.open("rb") as file:
            first = file.readline()
    except OSError as exc:
        raise JournalError(f"cannot read {path}: {exc}") from exc
    try:
        header = json.loads(first)
    except (ValueError, RecursionError):  # not JSON, a 5000-digit number, nested too deep
        header = None
    if (
        not isinstance(header, dict)
        or header.get("type") != "header"
        or header.get("version") != OLD_VERSION
        or not isinstance(header.get("operation"), str)
    ):
        raise JournalError(
            f"{path}, line 1: not the header of a JSON Lines journal "
            '({"type": "header", "version": 1, "operation": ...})'
        )
    return str(header["operation"])


def _records(path: Path) -> Iterator[dict[str, Any]]:
    """The records of ``path`` after its header, each checked; a torn last line dropped."""
    torn: tuple[int, str] | None = None  # a line that is not JSON: fine only if last
    with path.open("rb") as file:
        file.readline()
        for number, line in enumerate(file, start=2):
            if torn is not None:
                raise JournalError(f"{path}, line {torn[0]}: not a valid record ({torn[1]})")
            if not line.strip():
                continue
            try:
                if not line.endswith(b"\n"):
                    raise ValueError("cut short")
                record = json.loads(line)
            except RecursionError:
                torn = (number, "nested too deeply to read")
                continue
            except ValueError as exc:  # not JSON, cut short, a 5000-digit number
                torn = (number, str(exc))
                continue
            try:
                record_item(record)
                apply_record(record, None)
            except RecordError as exc:
                quoted = line.decode(errors="replace").strip()[:QUOTED]
                message = f"{path}, line {number}: not a valid record ({exc}): {quoted}"
                raise JournalError(message) from exc
            yield record


def _remove(path: Path) -> None:
    for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()
