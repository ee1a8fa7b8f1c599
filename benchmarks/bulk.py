"""Bulk provisioning against the embedded emulator, side by side with a naive baseline.

The baseline is what a user would write without the bulk layer: ``asyncio.gather`` over
``client.batches.create`` behind a semaphore of the same size, giving up on an item at
its first error. Both run in the same process against the same emulator settings.

Scenarios:
    plain       latency only: raw throughput.
    rate-limit  a token bucket of R requests/s: achieved rate (close to R?) and 429s met.
    faults      5 % of creates dropped after the server made them: how many items end
                with exactly one batch.

Run: ``python benchmarks/bulk.py [--items 600] [--rate 150] [--json FILE]``. Prints a
table; ratios are bulk layer / baseline. The suite runs :func:`main` at a tiny N.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _env import add_json_option, write_json

from prolific_async import (
    CreateBatchRequest,
    ProlificClient,
    ProlificError,
    RetryPolicy,
    TaskDetails,
)
from prolific_async.testing import FakeProlific, RateLimit

WORKSPACE = "6278acb09062db3b35bcbeb0"
DETAILS = TaskDetails(task_name="Bench", task_introduction="<p>i</p>", task_steps="<ol></ol>")
POLICY = RetryPolicy(attempts=10, timeout=60.0, wait_initial=0.05, wait_max=1.0)
CONCURRENCY = 32


def requests(count: int, prefix: str) -> list[CreateBatchRequest]:
    return [CreateBatchRequest(f"{prefix}-{i}", WORKSPACE, DETAILS) for i in range(count)]


async def run_bulk(client: ProlificClient, items: list[CreateBatchRequest]) -> int:
    ok = 0
    async for result in client.batches.create_many(items, concurrency=CONCURRENCY):
        ok += result.ok
    return ok


async def run_baseline(client: ProlificClient, items: list[CreateBatchRequest]) -> int:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(item: CreateBatchRequest) -> bool:
        async with gate:
            try:
                await client.batches.create(
                    name=item.name, workspace_id=item.workspace_id, task_details=item.task_details
                )
            except ProlificError:
                return False
            return True

    return sum(await asyncio.gather(*(one(item) for item in items)))


Runner = Callable[[ProlificClient, list[CreateBatchRequest]], Awaitable[int]]


async def measure(scenario: str, runner: Runner, count: int, rate: float) -> dict[str, float]:
    fake = FakeProlific(seed=11, latency=lambda rng: rng.uniform(0.01, 0.03))
    if scenario == "rate-limit":
        fake.rate_limit = RateLimit(rate=rate, burst=10)
    async with fake:
        if scenario == "faults":
            fake.add_fault(
                "POST",
                "/api/v1/data-collection/batches",
                "drop_after",
                times=None,
                probability=0.05,
            )
        items = requests(count, scenario)
        async with fake.client(retry=POLICY, timeout=5.0) as client:
            started = time.perf_counter()
            ok = await runner(client, items)
            elapsed = time.perf_counter() - started
            throttled = client.rate_gate.rate_limited_total
        made = Counter(batch.name for batch in fake.batches.values())
        exact = sum(1 for item in items if made[item.name] == 1)
    return {
        "ok": ok,
        "exact": exact,
        "seconds": elapsed,
        "rate": count / elapsed,
        "429s": throttled,
        "items": count,
    }


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=600)
    parser.add_argument("--rate", type=float, default=150.0)
    add_json_option(parser)
    args = parser.parse_args(argv)
    rows = []
    for scenario in ("plain", "rate-limit", "faults"):
        bulk = await measure(scenario, run_bulk, args.items, args.rate)
        base = await measure(scenario, run_baseline, args.items, args.rate)
        rows.append((scenario, bulk, base))
    header = (
        f"{'scenario':<11} {'runner':<9} {'items/s':>8} {'429s':>6} "
        f"{'reported ok':>12} {'exactly once':>13} {'ratio (items/s)':>16}"
    )
    print(header)
    print("-" * len(header))
    for scenario, bulk, base in rows:
        for name, row in (("bulk", bulk), ("baseline", base)):
            ratio = f"{bulk['rate'] / base['rate']:.2f}x" if name == "bulk" else ""
            exact = f"{int(row['exact'])}/{int(row['items'])}"
            reported = f"{int(row['ok'])}/{int(row['items'])}"
            print(
                f"{scenario:<11} {name:<9} {row['rate']:>8.0f} {int(row['429s']):>6} "
                f"{reported:>12} {exact:>13} {ratio:>16}"
            )
    limit = f"{args.rate:.0f} requests/s, burst 10, Retry-After >= 1 s"
    print(f"\nrate-limit: the emulator allows {limit}.")
    print("faults: 'reported ok' < 'exactly once' means the caller was told an item failed")
    print("although its batch exists (the baseline cannot tell a dropped create from a lost one).")
    figures = {
        "items": args.items,
        "rate": args.rate,
        "burst": 10,
        "concurrency": CONCURRENCY,
        "rows": [
            {
                "scenario": scenario,
                "bulk": bulk,
                "baseline": base,
                "ratio_items_per_s": bulk["rate"] / base["rate"],
            }
            for scenario, bulk, base in rows
        ],
    }
    write_json(args.json, figures, script="bulk")


if __name__ == "__main__":
    asyncio.run(main())
