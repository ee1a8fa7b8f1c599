"""``provision``'s live bar: it says when the run waits to reconcile, and counts this run."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console

from prolific_async import BulkProgress, BulkResult, CreateBatchRequest, Journal, TaskDetails
from prolific_async._cli._progress import progress_bar, wait_text
from prolific_async._cli._summary import Summary
from prolific_async.testing import FakeProlific

from ..conftest import wait_until
from ..test_bulk import CREATE, FAST, creates
from ..test_bulk_adopt import HOUR
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
    assert wait_text(waiting(4, 23.2), now=NOW, kinds=dict.fromkeys(range(5), "create")) == (
        "waiting 23 s to reconcile 4 item(s) whose create may have reached the server"
    )
    assert wait_text(BulkProgress(), now=NOW) == ""


def test_the_wait_names_the_kind_of_request_it_reconciles() -> None:
    """Duplicates are called duplicates; a mix, or unknown kinds, are requests."""
    progress = waiting(2, 5)
    copies = {0: "duplicate", 1: "duplicate"}
    assert "2 item(s) whose duplicate may" in wait_text(progress, now=NOW, kinds=copies)
    mixed = {0: "create", 1: "duplicate"}
    assert "2 item(s) whose request may" in wait_text(progress, now=NOW, kinds=mixed)
    assert "2 item(s) whose request may" in wait_text(progress, now=NOW)


def test_the_wait_after_a_partial_listing_says_why() -> None:
    """A listing that said it was partial shows the wait before the next one, and why."""
    progress = BulkProgress(in_progress=1)
    progress.relisting["ws"] = (NOW + timedelta(seconds=2), "meta.count is 5 but it holds 4")
    assert wait_text(progress, now=NOW) == (
        "waiting 2 s to list again: the listing said it was partial "
        "(meta.count is 5 but it holds 4)"
    )


def test_the_bar_shows_the_wait_and_the_work_in_progress_live() -> None:
    """The bar reads the run's progress when it is drawn, not only when a result comes."""
    progress = BulkProgress(in_progress=5)
    with progress_bar(False, progress, {3: "create"}) as bar:
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


async def test_a_resumed_run_waiting_to_reconcile_says_so_on_the_bar(tmp_path: Path) -> None:
    """A resume whose in-doubt item waits shows it in progress and waiting, at this run's rate."""
    path = tmp_path / "run.journal"
    requests = creates(3)
    async with FakeProlific(seed=1) as fake:
        fake.add_fault("POST", CREATE, "drop_before", times=1)  # in doubt, and never made
        async with fake.client(retry=FAST) as client:
            first = BulkProgress()
            run = client.batches.create_many(
                requests, journal=Journal(path), reconcile_delay=HOUR, progress=first
            )
            async with contextlib.aclosing(run) as results:
                assert [(await anext(results)).ok for _ in range(2)] == [True, True]
                await wait_until(lambda: bool(first.waiting))
        # Stopped while it waited: the journal has 2 items done and 1 in flight.
        progress = BulkProgress()
        summary = Summary(3)
        async with fake.client(retry=FAST) as client:
            run = client.batches.create_many(
                requests, journal=Journal(path), reconcile_delay=HOUR, progress=progress
            )
            async with contextlib.aclosing(run) as results:
                for line in (1, 2):
                    summary.add(await anext(results), line)
                await wait_until(lambda: bool(progress.waiting))
                kinds = dict.fromkeys(progress.waiting, "create")
                with progress_bar(False, progress, kinds) as bar:
                    bar.add_task("Provisioning", total=3, completed=2, **summary.fields())
                    console = Console(record=True, width=300)
                    console.print(bar.make_tasks_table(bar.tasks))
    drawn = console.export_text()
    assert summary.resumed == 2
    assert "in progress 1" in drawn
    assert re.search(r"waiting 3[56]\d\d s to reconcile 1 item\(s\) whose create may", drawn)
    assert " 0/s " in drawn  # the journal's replay is not this run's work


async def test_a_wait_after_a_partial_listing_is_on_the_bar() -> None:
    """A run whose listing said it was partial shows the wait to list again, and why."""
    progress = BulkProgress()
    async with FakeProlific(seed=1) as fake:
        fake.add_fault("POST", CREATE, "drop_after", times=1)  # made, answer lost: listed
        fake.add_fault("GET", CREATE, "incomplete_listing", times=None)
        async with fake.client(retry=FAST) as client:
            run = client.batches.create_many(creates(1), reconcile_delay=HOUR, progress=progress)
            async with contextlib.aclosing(run) as results:
                waiting = asyncio.ensure_future(anext(results))
                await wait_until(lambda: bool(progress.relisting))
                text = wait_text(progress)
                waiting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await waiting
    assert re.fullmatch(
        r"waiting 3[56]\d\d s to list again: the listing said it was partial "
        r"\(meta\.count is 1 but it holds 0 batches\)",
        text,
    )
    assert progress.relisting == {}  # the wait ended with the run
