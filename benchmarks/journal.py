"""The journal's cost: ``create_many`` with a journal against the same run without one.

Both runs make N batches at the same concurrency against the embedded emulator with no
latency, in the same process, alternating (``--rounds`` pairs); the table shows the
median wall time of each and their ratio (target: at most 1.2x). The journal keeps
``synchronous=FULL``: every record is on disk before the item's result is reported.

Run: ``python benchmarks/journal.py [--items 10000] [--concurrency 32] [--rounds 1]
[--json FILE]``. The test suite runs :func:`main` at a small N (no timing asserted).
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import attrs

sys.path.insert(0, str(Path(__file__).parent))

from _env import add_json_option, write_json

from prolific_async import CreateBatchRequest, Journal, TaskDetails
from prolific_async.testing import FakeProlific

WORKSPACE = "6278acb09062db3b35bcbeb0"
DETAILS = TaskDetails(task_name="Bench", task_introduction="<p>i</p>", task_steps="<ol></ol>")
TARGET = 1.2


@attrs.frozen
class Measurement:
    """One run: with or without a journal, how long it took and how many items were made."""

    journal: bool
    items: int
    made: int
    seconds: float


async def measure(
    count: int, *, concurrency: int = 32, journal: bool, directory: Path | None = None
) -> Measurement:
    """Create ``count`` batches, with a journal in ``directory`` (a temporary one) or not."""
    requests = [CreateBatchRequest(f"j-{i}", WORKSPACE, DETAILS) for i in range(count)]
    with tempfile.TemporaryDirectory(dir=directory) as scratch:
        run_journal = Journal(Path(scratch) / "run.journal") if journal else None
        async with FakeProlific(seed=3) as fake, fake.client() as client:
            started = time.perf_counter()
            made = 0
            async for result in client.batches.create_many(
                requests, concurrency=concurrency, journal=run_journal
            ):
                made += result.ok
            seconds = time.perf_counter() - started
    return Measurement(journal=journal, items=count, made=made, seconds=seconds)


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=1, help="pairs of runs (median shown)")
    add_json_option(parser)
    args = parser.parse_args(argv)
    runs: dict[bool, list[Measurement]] = {False: [], True: []}
    for _ in range(args.rounds):
        for journal in (False, True):
            runs[journal].append(
                await measure(args.items, concurrency=args.concurrency, journal=journal)
            )
    off = statistics.median(run.seconds for run in runs[False])
    on = statistics.median(run.seconds for run in runs[True])
    ratio = on / off
    header = f"{'run':<14} {'items':>7} {'made':>7} {'seconds':>8} {'items/s':>8} {'ratio':>7}"
    print(header)
    print("-" * len(header))
    for journal, seconds in ((False, off), (True, on)):
        last = runs[journal][-1]
        label = "journal" if journal else "no journal"
        shown = f"{ratio:.2f}x" if journal else "1.00x"
        print(
            f"{label:<14} {last.items:>7} {last.made:>7} {seconds:>8.2f} "
            f"{last.items / seconds:>8.0f} {shown:>7}"
        )
    verdict = "met" if ratio <= TARGET else "missed"
    print(f"\njournal on / off: {ratio:.2f}x (target <= {TARGET}x: {verdict}), ")
    print(f"concurrency {args.concurrency}, no latency, median of {args.rounds} pair(s).")
    figures = {
        "items": args.items,
        "concurrency": args.concurrency,
        "rounds": args.rounds,
        "sqlite": sqlite3.sqlite_version,
        "seconds_without_journal": off,
        "seconds_with_journal": on,
        "ratio": ratio,
        "target": TARGET,
        "runs": [attrs.asdict(run) for runs_of in runs.values() for run in runs_of],
    }
    write_json(args.json, figures, script="journal")


if __name__ == "__main__":
    asyncio.run(main())
