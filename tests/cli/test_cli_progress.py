"""``provision``'s live bar: it says when the run waits to reconcile, and counts this run."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from rich.console import Console

from prolific_async import BulkProgress, BulkResult, CreateBatchRequest, TaskDetails
from prolific_async._cli._progress import progress_bar, wait_text
from prolific_async._cli._summary import Summary

from ..test_reconcile import batch

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
REQUEST = CreateBatchRequest(
    "b", "ws", TaskDetails(task_name="t", task_introduction="", task_steps="")
)


def waiting(count: int, seconds: float) -> BulkProgress:
    """A progress with ``count`` items waiting, the first due in ``seconds``."""
    progress = BulkProgress(in_progress=count + 1)
    for index in range(count):
        progress.waiting[index] = NOW + timedelta(seconds=seconds + index)
    return progress


def test_the_wait_says_how_long_how_many_and_why() -> None:
    """Waiting items are described with the seconds until the first lists again."""
    assert wait_text(waiting(4, 23.2), now=NOW) == (
        "waiting 23 s to reconcile 4 item(s) whose create may have reached the server"
    )
    assert wait_text(BulkProgress(), now=NOW) == ""


def test_the_bar_shows_the_wait_and_the_work_in_progress_live() -> None:
    """The bar reads the run's progress when it is drawn, not only when a result comes."""
    progress = BulkProgress(in_progress=5)
    with progress_bar(False, progress) as bar:
        summary = Summary(10)
        task = bar.add_task("Provisioning", total=10, **summary.fields())
        console = Console(record=True, width=300)
        console.print(bar.make_tasks_table(bar.tasks))
        assert "in progress 5" in console.export_text()
        assert "waiting" not in console.export_text()
        progress.waiting[3] = datetime.now(UTC) + timedelta(seconds=30)
        console.print(bar.make_tasks_table([bar.tasks[task]]))
        drawn = console.export_text()
    assert "to reconcile 1 item(s) whose create may have reached the server" in drawn


def test_the_rate_counts_only_this_runs_work() -> None:
    """Results replayed from the journal do not count toward items per second."""
    summary = Summary(3)
    summary.started = time.monotonic() - 10.0
    made = batch("a")
    summary.add(BulkResult(index=0, request=REQUEST, batch=made, resumed=True), 1)
    summary.add(BulkResult(index=1, request=REQUEST, batch=made, resumed=True), 2)
    summary.add(BulkResult(index=2, request=REQUEST, batch=made, attempts=1), 3)
    assert 0.09 < summary.fields()["rate"] < 0.11  # 1 item in 10 s, not 3
