"""What a provisioning run shows as it goes (the live bar) and writes (the results file).

The bar reads the run's :class:`~prolific_async.BulkProgress` at each refresh, so it
says when the run waits to reconcile, and why, even while no result arrives; its rate
counts only this run's work (results replayed from the journal cost nothing).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from ._shared import stderr

if TYPE_CHECKING:
    from rich.progress import Task

    from .._bulk_progress import BulkProgress
    from ..models.bulk import BulkResult

__all__ = ["progress_bar", "result_record", "results_file", "wait_text"]


def wait_text(progress: BulkProgress, now: datetime | None = None) -> str:
    """What the run waits for: e.g. ``waiting 23 s to reconcile 4 item(s) whose ...``.

    Empty when nothing waits.
    """
    until = progress.waiting_until
    if until is None:
        return ""
    seconds = max(0, round((until - (now or datetime.now(UTC))).total_seconds()))
    return (
        f"waiting {seconds} s to reconcile {len(progress.waiting)} item(s) whose create "
        "may have reached the server"
    )


class _Live(ProgressColumn):
    """A column read from the run's progress at every refresh, not only per result."""

    def __init__(self, progress: BulkProgress, *, waiting: bool) -> None:
        super().__init__()
        self._progress = progress
        self._waiting = waiting

    def render(self, task: Task) -> Text:
        if self._waiting:
            return Text(wait_text(self._progress), style="yellow")
        return Text(f"in progress {self._progress.in_progress}")


@contextlib.contextmanager
def progress_bar(enabled: bool, progress: BulkProgress) -> Iterator[Progress]:
    """The live bar of a provisioning run on stderr; its fields come from ``Summary``."""
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("failed [red]{task.fields[failed]}[/red]"),
        _Live(progress, waiting=False),
        TextColumn("{task.fields[rate]:.0f}/s"),
        TextColumn("429s {task.fields[throttled]}"),
        TimeElapsedColumn(),
        _Live(progress, waiting=True),
        console=stderr,
        disable=not enabled,
    )
    with bar:
        yield bar


@contextlib.contextmanager
def results_file(path: Path | None) -> Iterator[IO[str] | None]:
    """Write results to a temporary file beside ``path``, renamed into place at the end.

    Only whole lines are ever written, so on an interruption the file is renamed too:
    it lists every request that finished. Only a failure to write removes it.
    """
    if path is None:
        yield None
        return
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or ".")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            try:
                yield file
            finally:
                file.flush()
    except OSError:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    finally:
        if os.path.exists(temporary):
            os.replace(temporary, path)


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
