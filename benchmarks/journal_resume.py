"""Resuming a long journal: the peak memory of a resume does not grow with the journal.

For each N a synthetic journal of N finished items is written straight into the SQLite
file (no server is needed: every item is done), then a child process resumes it with
``create_many`` (each item is reported from the journal without a request) and reports
its own peak RSS, the whole process's. A run looks each item up when it comes to it, so
the 100k-item resume should stay within 10 % of the 10k-item one (the first format held
every entry: about 280 MB at 100k).

Run: ``python benchmarks/journal_resume.py [--sizes 10000 100000] [--json FILE]``. The
test suite runs :func:`measure` at a small N, and :func:`main` at a tiny one (asserting
nothing about memory).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import attrs

sys.path.insert(0, str(Path(__file__).parent))

from _env import add_json_option, write_json

from prolific_async import Batch, CreateBatchRequest, Journal, ProlificClient, TaskDetails
from prolific_async._converter import converter
from prolific_async._journal_records import JournalEntry, entry_to_row
from prolific_async._journal_store import REPLACE_ITEM, connect_for_writing
from prolific_async.bulk import fingerprint

WORKSPACE = "6278acb09062db3b35bcbeb0"
DETAILS = TaskDetails(
    task_name="Resume", task_introduction="<p>Label each item.</p>", task_steps="<ol></ol>"
)


@attrs.frozen
class Measurement:
    """One resume: how many items, how many were reported from the journal, the peak."""

    items: int
    resumed: int
    seconds: float
    peak_rss_mb: float


def requests(count: int) -> Iterator[CreateBatchRequest]:
    """The manifest both the synthetic journal and the resume are made from."""
    for index in range(count):
        yield CreateBatchRequest(f"batch-{index}", WORKSPACE, DETAILS)


def write_journal(path: Path, count: int) -> None:
    """A journal in which every one of ``count`` items is done, written in one transaction."""
    at = datetime(2026, 1, 1, tzinfo=UTC)
    template = converter.unstructure(
        Batch(
            id="",
            created_at=at,
            created_by="benchmark",
            datasets=[],
            name="",
            status="UNINITIALISED",
            total_task_count=0,
            total_instruction_count=0,
            workspace_id=WORKSPACE,
            task_details=DETAILS,
        )
    )
    connection = connect_for_writing(path, "create")
    try:
        connection.execute("BEGIN")
        for index, request in enumerate(requests(count)):
            batch = {**template, "id": f"{index:024x}", "name": request.name}
            entry = JournalEntry(
                fingerprint=fingerprint(request), started_at=at, last_sent_at=at, batch=batch
            )
            connection.execute(REPLACE_ITEM, entry_to_row(index, entry))
        connection.execute("COMMIT")
    finally:
        connection.close()


async def _resume(path: Path, count: int) -> int:
    """Resume the journal; nothing is sent (the client's URL serves nothing)."""
    resumed = 0
    async with ProlificClient("benchmark-token", base_url="http://127.0.0.1:9") as client:
        async for result in client.batches.create_many(requests(count), journal=Journal(path)):
            resumed += result.resumed
    return resumed


def _child(path: Path, count: int) -> None:
    import resource  # POSIX only, like the benchmark

    started = time.perf_counter()
    resumed = asyncio.run(_resume(path, count))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak_mb = peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes vs KiB
    seconds = time.perf_counter() - started
    print(json.dumps({"resumed": resumed, "peak_rss_mb": peak_mb, "seconds": seconds}))


def measure(count: int, *, directory: Path) -> Measurement:
    """Write a journal of ``count`` done items in ``directory`` and resume it in a child."""
    path = directory / f"resume-{count}.journal"
    write_journal(path, count)
    child = subprocess.run(  # noqa: S603 (our own interpreter, our own script)
        [sys.executable, __file__, "--child", str(path), str(count)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    report = json.loads(child.stdout.strip().splitlines()[-1])
    return Measurement(
        items=count,
        resumed=report["resumed"],
        seconds=report["seconds"],
        peak_rss_mb=report["peak_rss_mb"],
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--child", nargs=2, metavar=("JOURNAL", "ITEMS"), help=argparse.SUPPRESS)
    add_json_option(parser)
    options = parser.parse_args(argv)
    if options.child:
        _child(Path(options.child[0]), int(options.child[1]))
        return
    with tempfile.TemporaryDirectory() as directory:
        rows = [measure(size, directory=Path(directory)) for size in options.sizes]
    header = f"{'items':>9} {'resumed':>9} {'seconds':>8} {'peak RSS (MB)':>14} {'vs first':>9}"
    print(header)
    print("-" * len(header))
    for row in rows:
        ratio = row.peak_rss_mb / rows[0].peak_rss_mb
        print(
            f"{row.items:>9} {row.resumed:>9} {row.seconds:>8.1f} "
            f"{row.peak_rss_mb:>14.1f} {ratio:>8.2f}x"
        )
    figures = [
        attrs.asdict(row) | {"peak_vs_first": row.peak_rss_mb / rows[0].peak_rss_mb} for row in rows
    ]
    write_json(options.json, figures, script="journal_resume")


if __name__ == "__main__":
    main()
