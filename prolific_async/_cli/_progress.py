"""What a provisioning run shows as it goes (the live bar) and writes (the results file).

The bar reads the run's :class:`~prolific_async.BulkProgress` at each refresh, so it
says when the run waits to reconcile, and why, even while no result arrives; its rate
counts only this run's work (results replayed from the journal cost nothing).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from ._exit import print_error, terminal_safe
from ._shared import stderr

if TYPE_CHECKING:
    from rich.progress import Task

    from .._bulk_progress import BulkProgress
    from ..models.bulk import BulkResult

__all__ = [
    "ResultsFile",
    "ResultsWriteError",
    "progress_bar",
    "result_record",
    "results_file",
    "wait_text",
]


#: The longest account of why a listing was partial the bar shows.
REASON_WIDTH = 80


def wait_text(
    progress: BulkProgress, now: datetime | None = None, kinds: Mapping[int, str] | None = None
) -> str:
    """What the run waits for, and why; empty when nothing waits.

    E.g. ``waiting 23 s to reconcile 4 item(s) whose create may have reached the
    server``, by the kind of the waiting items (``kinds``: ``"create"`` or
    ``"duplicate"`` by index; ``request`` for a mix or when unknown), and ``waiting 2 s
    to list again: the listing said it was partial (...)``.
    """
    now = now or datetime.now(UTC)
    waits = []
    relisting = min(progress.relisting.values(), default=None)
    if relisting is not None:
        until, reason = relisting
        why = reason if len(reason) <= REASON_WIDTH else reason[: REASON_WIDTH - 3] + "..."
        why = terminal_safe(why)
        waits.append(
            f"waiting {_seconds(until, now)} s to list again: the listing said it was "
            f"partial ({why})"
        )
    first = progress.waiting_until
    if first is not None:
        found = {(kinds or {}).get(index) for index in progress.waiting}
        kind = found.pop() if len(found) == 1 and None not in found else "request"
        waits.append(
            f"waiting {_seconds(first, now)} s to reconcile {len(progress.waiting)} item(s) "
            f"whose {kind} may have reached the server"
        )
    return "; ".join(waits)


def _seconds(until: datetime, now: datetime) -> int:
    return max(0, round((until - now).total_seconds()))


class _Live(ProgressColumn):
    """A column read from the run's progress at every refresh, not only per result."""

    def __init__(
        self, progress: BulkProgress, *, waiting: bool, kinds: Mapping[int, str] | None = None
    ) -> None:
        super().__init__()
        self._progress = progress
        self._waiting = waiting
        self._kinds = kinds

    def render(self, task: Task) -> Text:
        if self._waiting:
            return Text(wait_text(self._progress, kinds=self._kinds), style="yellow")
        return Text(f"in progress {self._progress.in_progress}")


@contextlib.contextmanager
def progress_bar(
    enabled: bool, progress: BulkProgress, kinds: Mapping[int, str] | None = None
) -> Iterator[Progress]:
    """The live bar of a provisioning run on stderr; its fields come from ``Summary``.

    ``kinds``: each request in progress's kind (``"create"``, ``"duplicate"``), by index.
    """
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("failed [red]{task.fields[failed]}[/red]"),
        _Live(progress, waiting=False),
        TextColumn("{task.fields[rate]:.0f}/s"),
        TextColumn("429s {task.fields[throttled]}"),
        TimeElapsedColumn(),
        _Live(progress, waiting=True, kinds=kinds),
        console=stderr,
        disable=not enabled,
    )
    with bar:
        yield bar


class ResultsWriteError(Exception):
    """The ``--results`` file could not be written; the whole lines before it are kept."""


class ResultsFile:
    """The ``--results`` file being written: one whole JSON line per finished request.

    Each line is written unbuffered, at once: if a write fails (a full disk), the file
    is cut back to the last whole line and kept, and :class:`ResultsWriteError` says so.
    """

    def __init__(self, descriptor: int, path: Path) -> None:
        self.path = path
        self.lines = 0
        self.touched = False
        """Whether a result was given to it, written whole or not."""
        self._descriptor = descriptor
        self._size = 0  # of the whole lines written

    def add(self, record: Mapping[str, Any]) -> None:
        """Append one record as a line of JSON."""
        line = (json.dumps(record) + "\n").encode("utf-8")
        self.touched = True
        try:
            rest = memoryview(line)
            while rest:
                rest = rest[os.write(self._descriptor, rest) :]
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(self._descriptor, self._size)
            raise ResultsWriteError(
                f"cannot write --results {self.path}: {exc.strerror or exc}; the "
                f"{self.lines} results written before are kept there"
            ) from exc
        self._size += len(line)
        self.lines += 1


@contextlib.contextmanager
def results_file(path: Path | None) -> Iterator[ResultsFile | None]:
    """Write results to a temporary file beside ``path``, renamed into place at the end.

    Only whole lines are ever written, so however the run ends (done, interrupted, a
    failed write to the file or to the terminal) the file is renamed into place: it
    lists every request that finished. Nothing already written is thrown away: a run
    that ends before a result reached the file leaves one already at ``path`` as it was, and
    a rename that fails while the run is ending on an error (or Ctrl-C) is reported on
    stderr without hiding that error.
    """
    if path is None:
        yield None
        return
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or ".")
    sink = ResultsFile(descriptor, path)
    try:
        yield sink
    except BaseException:
        _put_in_place(descriptor, sink, temporary, ending_on_error=True)
        raise
    _put_in_place(descriptor, sink, temporary, ending_on_error=False)


def _put_in_place(
    descriptor: int, sink: ResultsFile, temporary: str, *, ending_on_error: bool
) -> None:
    os.close(descriptor)
    if not sink.touched and os.path.lexists(sink.path):
        with contextlib.suppress(OSError):  # nothing new: the earlier file stays
            os.unlink(temporary)
        return
    try:
        os.replace(temporary, sink.path)
    except OSError as exc:
        reason = exc.strerror or exc
        message = (
            f"cannot put the results in --results {sink.path} ({reason}): they are in {temporary}"
        )
        if not ending_on_error:
            raise ResultsWriteError(message) from exc
        with contextlib.suppress(OSError, ValueError):  # stderr gone: the run's error goes on
            print_error(message)


def result_record(result: BulkResult, line: int) -> dict[str, Any]:
    """One line of the results file."""
    batch = result.batch
    return {
        "index": result.index,
        "line": line,
        "key": result.request.key,
        "ok": result.ok,
        "batch_id": batch.id if batch else None,
        "name": batch.name if batch else None,
        "reconciled": result.reconciled,
        "resumed": result.resumed,
        "attempts": result.attempts,
        "request_id": result.request_id,
        "error": str(result.error) if result.error else None,
        "error_type": type(result.error).__name__ if result.error else None,
    }
