"""Bulk creates under the emulator's token bucket: the pacer against a plain semaphore loop.

Four configurations (R = 150/s with burst 10 and R = 200/s with burst 20, each at 20 ms
and 100 ms latency), N creates each at concurrency 64. ``create_many`` runs against two
baselines measured in the same run:

* ``semaphore``: a plain ``asyncio.Semaphore`` loop over ``client.batches.create`` on
  the same kind of client (so it is paced by the same rate gate and retried by the same
  policy, but an item that runs out of retries is lost);
* ``plain loop``: the same semaphore loop over raw aiohttp POSTs, with no pacer and no
  retry: a 429 is a failed item. The difference between it and ``semaphore`` is what
  the client's pacer and its ``Retry-After`` holds buy.

The table shows, per run:

* ``rate/R``: batches made per second after the first 10 s (over the whole run when it
  is shorter), as a share of R (target: at least 0.9);
* ``429 %``: the share of requests the emulator answered 429 (target: under 2 %);
* ``failed``: items reported failed (target: 0);
* ``RA viol.``: requests that arrived before a ``Retry-After`` the emulator gave was
  over (``EmulatorStats.retry_after_violations``; target: 0).

Run: ``python benchmarks/ratelimit.py [--items 6000] [--json FILE]``. The test suite runs
:func:`measure` at a small N (no timing asserted).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import attrs

sys.path.insert(0, str(Path(__file__).parent))

from _env import add_json_option, write_json

from prolific_async import CreateBatchRequest, ProlificClient, ProlificError, TaskDetails
from prolific_async._converter import converter
from prolific_async.testing import FakeProlific, RateLimit

WORKSPACE = "6278acb09062db3b35bcbeb0"
DETAILS = TaskDetails(task_name="Bench", task_introduction="<p>i</p>", task_steps="<ol></ol>")
CONCURRENCY = 64
WARM_UP = 10.0
#: (R, burst, latency in seconds)
CONFIGURATIONS = ((150.0, 10, 0.02), (150.0, 10, 0.1), (200.0, 20, 0.02), (200.0, 20, 0.1))


@attrs.frozen
class Measurement:
    """One run under one rate limit."""

    runner: str
    rate: float
    burst: int
    latency: float
    items: int
    made: int
    failed: int
    seconds: float
    steady_rate: float
    """Batches made per second after the warm-up (or over the run when it is shorter)."""
    requests: int
    rate_limited: int
    retry_after_violations: int

    @property
    def share_of_rate(self) -> float:
        return self.steady_rate / self.rate

    @property
    def rate_limited_percent(self) -> float:
        return 100.0 * self.rate_limited / max(1, self.requests)


Runner = Callable[[ProlificClient, list[CreateBatchRequest], int, list[float], str], Awaitable[int]]


async def run_bulk(
    client: ProlificClient,
    items: list[CreateBatchRequest],
    concurrency: int,
    made: list[float],
    token: str,
) -> int:
    """``create_many``; appends the time each batch was made; returns the failures."""
    failed = 0
    async for result in client.batches.create_many(items, concurrency=concurrency):
        if result.ok:
            made.append(time.perf_counter())
        else:
            failed += 1
    return failed


async def run_baseline(
    client: ProlificClient,
    items: list[CreateBatchRequest],
    concurrency: int,
    made: list[float],
    token: str,
) -> int:
    """A semaphore loop over ``batches.create``, giving up on an item at its error."""
    gate = asyncio.Semaphore(concurrency)

    async def one(item: CreateBatchRequest) -> bool:
        async with gate:
            try:
                await client.batches.create(
                    name=item.name, workspace_id=item.workspace_id, task_details=item.task_details
                )
            except ProlificError:
                return False
            made.append(time.perf_counter())
            return True

    return sum(1 for ok in await asyncio.gather(*(one(item) for item in items)) if not ok)


async def run_plain(
    client: ProlificClient,
    items: list[CreateBatchRequest],
    concurrency: int,
    made: list[float],
    token: str,
) -> int:
    """A semaphore loop of raw aiohttp POSTs: no pacer, no retry; a 429 is a failed item."""
    gate = asyncio.Semaphore(concurrency)
    url = client.base_url.rstrip("/") + "/api/v1/data-collection/batches"
    headers = {"Authorization": f"Token {token}"}
    async with aiohttp.ClientSession(headers=headers) as session:

        async def one(item: CreateBatchRequest) -> bool:
            async with gate:
                try:
                    async with session.post(url, json=converter.unstructure(item)) as response:
                        await response.read()
                        if response.status >= 300:
                            return False
                except aiohttp.ClientError:
                    return False
                made.append(time.perf_counter())
                return True

        return sum(1 for ok in await asyncio.gather(*(one(item) for item in items)) if not ok)


RUNNERS: dict[str, Runner] = {
    "create_many": run_bulk,
    "semaphore": run_baseline,
    "plain loop": run_plain,
}


def steady_rate(made: list[float], started: float, warm_up: float) -> float:
    """Batches made per second after ``warm_up`` seconds (over the run if it is shorter)."""
    if not made:
        return 0.0
    end = max(made)
    if end - started > warm_up + 1.0:
        later = [at for at in made if at >= started + warm_up]
        return len(later) / (end - started - warm_up)
    return len(made) / max(end - started, 1e-9)


async def measure(
    runner: str,
    rate: float,
    burst: int,
    latency: float,
    count: int,
    *,
    concurrency: int = CONCURRENCY,
    warm_up: float = WARM_UP,
) -> Measurement:
    """One run of ``runner`` (a key of :data:`RUNNERS`) under one rate limit."""
    tag = runner.replace(" ", "-")
    items = [CreateBatchRequest(f"{tag}-{i}", WORKSPACE, DETAILS) for i in range(count)]
    fake = FakeProlific(seed=5, latency=latency)
    fake.rate_limit = RateLimit(rate=rate, burst=burst)
    made: list[float] = []
    async with fake, fake.client() as client:
        started = time.perf_counter()
        failed = await RUNNERS[runner](client, items, concurrency, made, fake.token)
        seconds = time.perf_counter() - started
        stats = fake.stats
        requests, limited = stats.total, stats.rate_limited
        violations = stats.retry_after_violations
    return Measurement(
        runner=runner,
        rate=rate,
        burst=burst,
        latency=latency,
        items=count,
        made=len(made),
        failed=failed,
        seconds=seconds,
        steady_rate=steady_rate(made, started, warm_up),
        requests=requests,
        rate_limited=limited,
        retry_after_violations=violations,
    )


def configuration(text: str) -> tuple[float, int, float]:
    """``"150,10,0.02"`` as (R, burst, latency)."""
    rate, burst, latency = text.split(",")
    return float(rate), int(burst), float(latency)


def print_table(rows: list[Measurement]) -> None:
    header = (
        f"{'R/s':>4} {'burst':>5} {'latency':>7} {'runner':<11} {'made':>11} {'rate/R':>7} "
        f"{'429 %':>6} {'failed':>6} {'RA viol.':>8} {'seconds':>7} {'vs baseline':>11}"
    )
    print(header)
    print("-" * len(header))
    baselines = {(r.rate, r.burst, r.latency): r for r in rows if r.runner == "semaphore"}
    for row in rows:
        base = baselines.get((row.rate, row.burst, row.latency))
        ratio = ""
        if row.runner == "create_many" and base is not None and base.steady_rate:
            ratio = f"{row.steady_rate / base.steady_rate:.2f}x"
        print(
            f"{row.rate:>4.0f} {row.burst:>5} {row.latency * 1000:>5.0f}ms {row.runner:<11} "
            f"{f'{row.made}/{row.items}':>11} {row.share_of_rate:>7.2f} "
            f"{row.rate_limited_percent:>6.2f} {row.failed:>6} {row.retry_after_violations:>8} "
            f"{row.seconds:>7.1f} {ratio:>11}"
        )


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=6000)
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
    parser.add_argument("--only", choices=sorted(RUNNERS), help="run one runner alone")
    parser.add_argument(
        "--config",
        action="append",
        type=configuration,
        metavar="R,BURST,LATENCY",
        help="run this configuration instead of the four defaults (repeatable; latency in s)",
    )
    add_json_option(parser)
    args = parser.parse_args(argv)
    rows = []
    for rate, burst, latency in args.config or CONFIGURATIONS:
        for runner in RUNNERS:
            if args.only is None or args.only == runner:
                row = await measure(
                    runner, rate, burst, latency, args.items, concurrency=args.concurrency
                )
                rows.append(row)
    print_table(rows)
    print(
        f"\nrate/R: batches made per second after the first {WARM_UP:.0f} s, over R; targets "
        "for create_many: rate/R >= 0.9, 429 % < 2, failed 0, RA viol. 0."
    )
    figures = {
        "items": args.items,
        "concurrency": args.concurrency,
        "warm_up_seconds": WARM_UP,
        "rows": [
            {
                **attrs.asdict(row),
                "share_of_rate": row.share_of_rate,
                "rate_limited_percent": row.rate_limited_percent,
            }
            for row in rows
        ],
    }
    write_json(args.json, figures, script="ratelimit")


if __name__ == "__main__":
    asyncio.run(main())
