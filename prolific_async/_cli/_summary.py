"""The provisioning run's counts, for the live bar (``_progress``) and the final summary."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.table import Table

from ..errors import RunStoppedError
from ..models.bulk import BulkResult
from ._exit import shorten, terminal_safe
from ._options import emit
from ._shared import stdout

if TYPE_CHECKING:
    from .._bulk_progress import BulkProgress
    from .._rate_gate import RateGate

__all__ = ["Summary"]

#: Failures listed one per line after the summary (items the run stopped are folded).
LISTED_FAILURES = 10


def _described(error: BaseException | None) -> str:
    """The error as its summary line shows it (the JSON and CSV forms escape it their way)."""
    return shorten(f"{type(error).__name__}: {error}")


class Summary:
    """The counts of one provisioning run, for the progress bar and the final table.

    Args:
        total: how many requests the manifest holds.
    """

    def __init__(self, total: int) -> None:
        self.rate_gate: RateGate | None = None  # the client's, for its 429 count
        self.progress: BulkProgress | None = None  # the run's, for the requests sent
        self.total = total
        self.read = 0
        self.done = 0
        self.failed = 0
        self.reconciled = 0
        self.resumed = 0
        self.server_posts = 0  # attempts that may have reached the server
        self.unsent_attempts = 0  # attempts that provably did not
        self.started = time.monotonic()
        self.failures: list[tuple[int, BulkResult]] = []
        self.other_failures = 0  # failed, not stopped, and beyond the listed ones
        #: Items the run stopped before their turn, by what stopped it.
        self.stopped: dict[str, int] = {}
        self.resumed_indexes: set[int] = set()
        #: ``table`` for people; ``json``/``csv``: :meth:`data` on stdout instead.
        self.output_format = "table"

    def add(self, result: BulkResult, line: int) -> None:
        """Count one finished request (``line``: its line in the manifest)."""
        self.done += 1
        self.server_posts += result.server_attempts
        self.unsent_attempts += result.unsent_attempts
        self.reconciled += result.reconciled
        if result.resumed:
            self.resumed += 1
            self.resumed_indexes.add(result.index)
        if result.batch is None:
            self.failed += 1
            if isinstance(result.error, RunStoppedError):
                cause = _described(result.error.cause)
                self.stopped[cause] = self.stopped.get(cause, 0) + 1
            elif len(self.failures) < LISTED_FAILURES:
                self.failures.append((line, result))
            else:
                self.other_failures += 1

    @property
    def not_attempted(self) -> int:
        """Items the run stopped before they were sent."""
        return sum(self.stopped.values())

    @property
    def throttled(self) -> int:
        """How many 429 answers the client met."""
        return self.rate_gate.rate_limited_total if self.rate_gate is not None else 0

    @property
    def in_flight(self) -> int:
        """Requests sent and not finished: each may have made its batch already.

        Requests read and never sent are not among them (:attr:`unsent`).
        """
        if self.progress is None:
            return self.read - self.done
        return len(self.progress.sending)

    @property
    def unsent(self) -> int:
        """Requests not finished and never sent: read, or not even read yet."""
        return self.total - self.done - self.in_flight

    def fields(self) -> dict[str, Any]:
        """The progress bar's fields."""
        elapsed = max(time.monotonic() - self.started, 1e-6)
        return {
            "failed": self.failed,
            "in_flight": self.in_flight,
            # This run's work only: results replayed from the journal cost nothing.
            "rate": (self.done - self.resumed) / elapsed,
            "throttled": self.throttled,
        }

    def data(self, *, interrupted: bool = False) -> dict[str, Any]:
        """The summary as JSON-shaped values (``--format json``/``csv``)."""
        elapsed = time.monotonic() - self.started
        return {
            "requests": self.total,
            "batches": self.done - self.failed,
            "reconciled": self.reconciled,
            "resumed": self.resumed,
            "failed": self.failed,
            "not_attempted": self.not_attempted,
            "interrupted": interrupted,
            "in_flight": self.in_flight if interrupted else 0,
            "not_started": self.total - self.read,
            "server_posts": self.server_posts,
            "unsent_attempts": self.unsent_attempts,
            "rate_limited": self.throttled,
            "elapsed_seconds": round(elapsed, 3),
            "failures": [
                {"line": line, "error": _described(result.error), "request_id": result.request_id}
                for line, result in self.failures
            ],
            "more_failures": self.other_failures,
            "stopped": dict(self.stopped),
        }

    def print(self, *, interrupted: bool = False, journaled: bool = False) -> None:
        """Print the summary table and the first failures on stdout (or :meth:`data`).

        Args:
            interrupted: the run was stopped: the requests in flight are counted as
                batches that may exist.
            journaled: the run has a journal, which a resumed run reconciles them from.
        """
        if self.output_format != "table":
            emit(self.output_format, self.data(interrupted=interrupted), lambda: None)
            return
        elapsed = time.monotonic() - self.started
        table = Table(title="Provisioning summary", show_header=False)
        rows: list[tuple[str, object]] = [
            ("requests", self.total),
            ("batches that exist", self.done - self.failed),
            ("  found by reconciliation", self.reconciled),
            ("  reported from the journal", self.resumed),
        ]
        if interrupted:
            fate = (
                "the journal will reconcile them"
                if journaled
                else "without a journal, a new run may make them again"
            )
            rows.append(("in flight when interrupted", f"{self.in_flight} (may exist: {fate})"))
            rows.append(("not attempted yet", self.unsent))  # a re-run does them
        elif self.read < self.total:  # the manifest changed under the run
            rows.append(("not read from the manifest", self.total - self.read))
        rows += [
            ("failed", self.failed),
            ("  not attempted (the run stopped)", self.not_attempted),
            ("POSTs that may have reached the server", self.server_posts),
            ("attempts that provably did not", self.unsent_attempts),
            ("429 answers met", self.throttled),
            ("elapsed", f"{elapsed:.1f} s"),
            ("throughput", f"{self.done / max(elapsed, 1e-6):.0f} requests/s"),
        ]
        values = [str(value) for _, value in rows]
        # A narrow console (a pipe: 80) wraps the labels, not the values.
        widest = max(len(value) for value in values)
        table.add_column(max_width=max(16, stdout.width - widest - 7))
        table.add_column()
        for (label, _), value in zip(rows, values, strict=True):
            table.add_row(label, value)
        stdout.print(table)
        for line, result in self.failures:
            shown = escape(terminal_safe(_described(result.error)))
            stdout.print(f"[red]line {line}[/red]: {shown}")
        if self.other_failures:
            stdout.print(f"... and {self.other_failures} more failures")
        for cause, count in self.stopped.items():
            items = "1 item" if count == 1 else f"{count} items"
            stdout.print(
                escape(
                    terminal_safe(
                        f"{items} not attempted: the run stopped ({cause}); a re-run does them"
                    )
                )
            )
