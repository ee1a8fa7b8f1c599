"""The bulk layer's own cost: ``create_many`` against a plain ``gather`` over ``create``.

Part 1, no latency: N creates (default 5,000) at concurrency 64, through
``create_many`` and through ``asyncio.gather`` over ``batches.create`` bounded by a
semaphore of 64, against the emulator running in another process. Figures are the
client process's CPU per item (``time.process_time``) and the wall time, the median
of 3 rounds that interleave the two; the ratio is ``create_many`` / ``gather``
(target: at most 1.15x of CPU per item).

Part 1b, the layer alone: the same two runners in this process with the POST replaced
by a stub that answers a batch at once (no network, no server): what remains is the
bulk layer's own work against ``create``'s, without the noise of a shared machine.

Part 2, 100 ms latency: the same two at concurrency 16 and 64 (default 1,000 items),
each against the ideal wall ``N x latency / concurrency`` (target: within 1.05-1.10x).

Run: ``python benchmarks/bulk_overhead.py [--items 5000] [--latency-items 1000]
[--rounds 3] [--json FILE]``. Prints a table; ``--json`` writes the same figures with
the environment (versions, CPU count, load average). The client and the server each keep
to a CPU of their own when there are two (``--no-pin``: not), which steadies the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing
import os
import socket
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _env import settle_allocator, table, write_json

TOKEN = "bench-token"  # noqa: S105 (a stand-in for the local emulator)
WORKSPACE = "6278acb09062db3b35bcbeb0"
CONCURRENCY = 64
LATENCY = 0.1
LATENCY_CONCURRENCIES = (16, 64)
TARGET = 1.15


def pin(cpu: int | None) -> None:
    """Keep this process on one CPU (client and server on their own: steadier figures)."""
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})


def cpus_to_pin(wanted: bool) -> tuple[int | None, int | None]:
    """The client's and the server's CPU, or ``None`` each (one CPU, or ``--no-pin``)."""
    available = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if not wanted or len(available) < 2:
        return None, None
    return available[0], available[1]


def serve(port: int, latency: float, ready: Any, cpu: int | None = None) -> None:
    """The server process: the emulator on ``port`` with ``latency``, until terminated."""
    from prolific_async.testing import FakeProlific

    pin(cpu)

    async def main() -> None:
        async with FakeProlific(port=port, token=TOKEN, seed=3, latency=latency):
            ready.set()
            await asyncio.Event().wait()

    asyncio.run(main())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(latency: float, cpu: int | None = None) -> tuple[multiprocessing.Process, str]:
    port = free_port()
    ready = multiprocessing.Event()
    process = multiprocessing.Process(target=serve, args=(port, latency, ready, cpu), daemon=True)
    process.start()
    if not ready.wait(30):
        process.terminate()
        raise SystemExit("the emulator process did not start")
    return process, f"http://127.0.0.1:{port}"


Runner = Callable[[Any, list[Any], int], Awaitable[int]]


async def bulk(client: Any, items: list[Any], concurrency: int) -> int:
    """``create_many``: every item's result, counted."""
    ok = 0
    async for result in client.batches.create_many(items, concurrency=concurrency):
        ok += result.ok
    return ok


async def gather(client: Any, items: list[Any], concurrency: int) -> int:
    """What a user writes without the bulk layer: ``gather`` behind a semaphore."""
    gate = asyncio.Semaphore(concurrency)

    async def one(item: Any) -> bool:
        async with gate:
            await client.batches.create(
                name=item.name, workspace_id=item.workspace_id, task_details=item.task_details
            )
            return True

    return sum(await asyncio.gather(*(one(item) for item in items)))


RUNNERS: dict[str, Runner] = {"create_many": bulk, "gather": gather}


async def run_one(
    runner: Runner, base: str, count: int, concurrency: int, prefix: str
) -> dict[str, float]:
    """One run of ``count`` creates: client CPU per item (µs) and wall (s)."""
    from prolific_async import CreateBatchRequest, ProlificClient, TaskDetails

    details = TaskDetails(task_name="Bench", task_introduction="<p>i</p>", task_steps="<ol></ol>")
    warm = [CreateBatchRequest(f"{prefix}-w{i}", WORKSPACE, details) for i in range(20)]
    items = [CreateBatchRequest(f"{prefix}-{i}", WORKSPACE, details) for i in range(count)]
    async with ProlificClient(token=TOKEN, base_url=base) as client:
        await runner(client, warm, concurrency)  # connections, generated hooks
        gc.collect()  # the previous run's garbage is not this one's cost
        cpu, wall = time.process_time(), time.perf_counter()
        ok = await runner(client, items, concurrency)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    if ok != count:
        raise SystemExit(f"{runner.__name__}: {ok} of {count} items made")
    return {"cpu_us_per_item": cpu / count * 1e6, "wall_s": wall}


async def stubbed_runs(count: int, concurrency: int, rounds: int) -> dict[str, Any]:
    """Both runners with the POST stubbed (in this process): CPU per item (µs)."""
    import prolific_async._bulk_send as bulk_send
    import prolific_async.resources.batches as batches_resource
    from prolific_async import CreateBatchRequest, ProlificClient, TaskDetails
    from prolific_async._converter import converter
    from prolific_async.models import Batch
    from prolific_async.testing import FakeProlific

    details = TaskDetails(task_name="Bench", task_introduction="<p>i</p>", task_steps="<ol></ol>")
    async with FakeProlific(seed=3) as fake, fake.client() as real:
        made = await real.batches.create(name="t", workspace_id=WORKSPACE, task_details=details)
    answer: dict[str, Any] = converter.unstructure(made)
    ids = iter(range(1 << 62))

    async def post(client: Any, path: str, *, body: Any, **kwargs: Any) -> Any:
        state = kwargs.get("state")
        if state is not None:
            state.sent += 1
        await asyncio.sleep(0)
        return converter.structure({**answer, "id": f"{next(ids):024x}", **body}, Batch)

    saved = bulk_send.post_creating, batches_resource.post_creating
    bulk_send.post_creating = batches_resource.post_creating = post  # type: ignore[assignment]
    samples: dict[str, list[float]] = {name: [] for name in RUNNERS}
    try:
        async with ProlificClient(token=TOKEN, base_url="http://127.0.0.1:9") as client:
            for round_ in range(rounds):
                order = list(RUNNERS) if round_ % 2 == 0 else list(reversed(RUNNERS))
                for name in order:
                    prefix = f"stub-{name}-{round_}"
                    items = [
                        CreateBatchRequest(f"{prefix}-{i}", WORKSPACE, details)
                        for i in range(count)
                    ]
                    gc.collect()
                    cpu = time.process_time()
                    await RUNNERS[name](client, items, concurrency)
                    samples[name].append((time.process_time() - cpu) / count * 1e6)
    finally:
        bulk_send.post_creating, batches_resource.post_creating = saved
    out: dict[str, Any] = {"items": count, "concurrency": concurrency}
    for name, runs in samples.items():
        out[name] = {"cpu_us_per_item": statistics.median(runs), "rounds": runs}
    out["cpu_added_us_per_item"] = (
        out["create_many"]["cpu_us_per_item"] - out["gather"]["cpu_us_per_item"]
    )
    return out


def measure(base: str, count: int, concurrency: int, rounds: int, tag: str) -> dict[str, Any]:
    """Both runners, ``rounds`` interleaved rounds; medians, and every round."""
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in RUNNERS}
    for round_ in range(rounds):
        order = list(RUNNERS) if round_ % 2 == 0 else list(reversed(RUNNERS))
        for name in order:
            prefix = f"{tag}-{name}-{round_}"
            samples[name].append(
                asyncio.run(run_one(RUNNERS[name], base, count, concurrency, prefix))
            )
    out: dict[str, Any] = {"items": count, "concurrency": concurrency}
    for name, runs in samples.items():
        out[name] = {
            "cpu_us_per_item": statistics.median(run["cpu_us_per_item"] for run in runs),
            "wall_s": statistics.median(run["wall_s"] for run in runs),
            "rounds": runs,
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--items", type=int, default=5000, help="creates, no latency")
    parser.add_argument(
        "--latency-items", type=int, default=1000, help="creates at 100 ms (0: skip that part)"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--no-pin", action="store_true", help="do not keep client and server on a CPU each"
    )
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    client_cpu, server_cpu = cpus_to_pin(not args.no_pin)
    pin(client_cpu)
    settle_allocator()  # else the two runners' reads may cost differently

    server, base = start_server(0.0, server_cpu)
    try:
        plain = measure(base, args.items, CONCURRENCY, args.rounds, "plain")
    finally:
        server.terminate()
        server.join()
    bulk_cpu = plain["create_many"]["cpu_us_per_item"]
    gather_cpu = plain["gather"]["cpu_us_per_item"]
    plain["cpu_ratio"] = bulk_cpu / gather_cpu
    plain["cpu_added_us_per_item"] = bulk_cpu - gather_cpu
    plain["wall_ratio"] = plain["create_many"]["wall_s"] / plain["gather"]["wall_s"]
    plain["target_met"] = plain["cpu_ratio"] <= TARGET

    stub = asyncio.run(stubbed_runs(args.items, CONCURRENCY, args.rounds))
    stub["added_ratio_to_real_gather"] = stub["cpu_added_us_per_item"] / gather_cpu

    latency: list[dict[str, Any]] = []
    if args.latency_items:  # 0 skips the latency part
        server, base = start_server(LATENCY, server_cpu)
        try:
            latency = [
                measure(base, args.latency_items, concurrency, args.rounds, f"lat{concurrency}")
                for concurrency in LATENCY_CONCURRENCIES
            ]
        finally:
            server.terminate()
            server.join()
    for row in latency:
        row["ideal_s"] = row["items"] * LATENCY / row["concurrency"]
        for name in RUNNERS:
            row[name]["x_ideal"] = row[name]["wall_s"] / row["ideal_s"]

    print(f"No latency, {args.items} creates at concurrency {CONCURRENCY}:\n")
    rows = [
        [
            name,
            f"{plain[name]['cpu_us_per_item']:.0f} µs",
            f"{plain[name]['wall_s']:.2f} s",
            f"{plain['cpu_ratio']:.2f}x" if name == "create_many" else "1.00x",
        ]
        for name in RUNNERS
    ]
    print(table(["run", "client CPU per item", "wall", "CPU ratio"], rows))
    verdict = "met" if plain["target_met"] else "missed"
    print(
        f"\nbulk layer adds {plain['cpu_added_us_per_item']:.0f} µs per item; "
        f"target (<= {TARGET}x): {verdict}"
    )
    print(
        f"the layer alone (POST stubbed): create_many "
        f"{stub['create_many']['cpu_us_per_item']:.1f} µs, gather "
        f"{stub['gather']['cpu_us_per_item']:.1f} µs per item: the bulk layer adds "
        f"{stub['cpu_added_us_per_item']:.1f} µs "
        f"({1 + stub['added_ratio_to_real_gather']:.2f}x of the real gather)\n"
    )
    if latency:
        print(f"Latency {LATENCY * 1000:.0f} ms, {args.latency_items} creates:\n")
    rows = [
        [
            str(row["concurrency"]),
            f"{row['ideal_s']:.2f} s",
            *(f"{row[name]['wall_s']:.2f} s ({row[name]['x_ideal']:.2f}x)" for name in RUNNERS),
        ]
        for row in latency
    ]
    if latency:
        print(table(["concurrency", "ideal", "create_many", "gather"], rows))
    figures = {
        "pinned": {"client_cpu": client_cpu, "server_cpu": server_cpu},
        "no_latency": plain,
        "stubbed": stub,
        "latency_s": LATENCY,
        "latency": latency,
    }
    write_json(args.json, figures)


if __name__ == "__main__":
    main()
