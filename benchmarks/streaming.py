"""Streaming a long manifest through ``create_many``: memory and tasks stay bounded.

A generator of N create requests is fed to ``create_many`` against the embedded
emulator. The bulk layer reads the input only as send slots free up, so the requests
read but not yet reported, and the tasks alive, depend on the concurrency and not on N.
The table shows that for several N side by side; the last columns are the bounds the
design promises (``concurrency + 1`` read ahead, ``2 * concurrency + 8`` tasks).

Run: ``python benchmarks/streaming.py [--items 20000] [--concurrency 16] [--json FILE]``.
The test suite runs :func:`measure` at a small N, and :func:`main` at a tiny one.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import attrs

sys.path.insert(0, str(Path(__file__).parent))

from _env import add_json_option, write_json

from prolific_async import CreateBatchRequest, RetryPolicy, TaskDetails, set_testing
from prolific_async.testing import FakeProlific

WORKSPACE = "6278acb09062db3b35bcbeb0"
DETAILS = TaskDetails(task_name="Stream", task_introduction="<p>i</p>", task_steps="<ol></ol>")
POLICY = RetryPolicy(attempts=5, timeout=10.0, wait_initial=0.001, wait_max=0.01)


@attrs.frozen
class Measurement:
    """One streamed run: how many were made, how fast, and the peaks seen while it ran."""

    items: int
    made: int
    seconds: float
    peak_read_ahead: int
    peak_tasks: int

    @property
    def rate(self) -> float:
        return self.items / self.seconds if self.seconds else 0.0


async def measure(count: int, concurrency: int) -> Measurement:
    """Stream ``count`` creates through ``create_many`` and record the peaks."""
    read = 0

    def manifest() -> Iterator[CreateBatchRequest]:
        nonlocal read
        for i in range(count):
            read += 1
            yield CreateBatchRequest(f"s{i}", WORKSPACE, DETAILS)

    async with FakeProlific(seed=1) as fake, fake.client(retry=POLICY, timeout=5.0) as client:
        baseline = len(asyncio.all_tasks())
        peak_tasks = peak_ahead = done = 0
        started = time.perf_counter()
        async for result in client.batches.create_many(manifest(), concurrency=concurrency):
            done += result.ok
            peak_tasks = max(peak_tasks, len(asyncio.all_tasks()) - baseline)
            peak_ahead = max(peak_ahead, read - done)
        elapsed = time.perf_counter() - started
        made = len(fake.batches)
    return Measurement(count, made, elapsed, peak_ahead, peak_tasks)


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=16)
    add_json_option(parser)
    args = parser.parse_args(argv)
    sizes = sorted({max(1, args.items // 100), max(1, args.items // 10), args.items})
    header = (
        f"{'items':>7} {'made':>7} {'seconds':>8} {'items/s':>8} "
        f"{'peak read ahead':>16} {'peak tasks':>11} {'bound (ahead/tasks)':>20}"
    )
    print(header)
    print("-" * len(header))
    bound = f"{args.concurrency + 1}/{2 * args.concurrency + 8}"
    rows = []
    with set_testing():
        for size in sizes:
            row = await measure(size, args.concurrency)
            rows.append(row)
            print(
                f"{row.items:>7} {row.made:>7} {row.seconds:>8.1f} {row.rate:>8.0f} "
                f"{row.peak_read_ahead:>16} {row.peak_tasks:>11} {bound:>20}"
            )
    print("\nThe peaks stay flat as the input grows: nothing is read before a slot is free.")
    figures = {
        "concurrency": args.concurrency,
        "bound_read_ahead": args.concurrency + 1,
        "bound_tasks": 2 * args.concurrency + 8,
        "rows": [attrs.asdict(row) | {"items_per_s": row.rate} for row in rows],
    }
    write_json(args.json, figures, script="streaming")


if __name__ == "__main__":
    asyncio.run(main())
