"""Client CPU per GET-a-batch over the floor, in short blocks taken in turn (paired).

The same figure as ``percall.py`` (the server in another process; raw aiohttp +
``json.loads`` the floor, raw aiohttp + our decoding the second baseline, then
prolific_async's ``batches.get``), measured to be trusted on a machine whose speed
drifts. ``percall.py`` times each client in a process of its own per round, seconds
apart: on a shared 2-core VM the floor's own rounds of one run have spread from 170 to
340 µs a call, more than the margin a target is judged by.

Here each client keeps one process (and its warm connection) per configuration, and
the parent has them run in turn, a block of ``--block`` calls each, for ``--blocks``
turns; the order rotates every turn so none always runs first. Blocks next to each
other meet the machine in about the same state, so each turn gives a ratio (the
client's block over the floor's of the same turn), and the figure is the median of
those ratios, with their quartiles to show how far one turn can be trusted. The
client's own CPU time (``time.process_time``, taken only while its block runs) is its
user and system time, as in ``percall.py``.

With ``--pin`` the clients run on one CPU and the server on another (see :func:`pin`).

Run: ``python benchmarks/percall_pairs.py [--block 1000] [--blocks 15] [--pin] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import select
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

sys.path.insert(0, str(Path(__file__).parent))

from _env import add_json_option, settle_allocator, table, write_json
from percall import CLIENTS, CONCURRENCY, KINDS, OURS, free_port, serve

FLOOR = "raw aiohttp + json.loads (floor)"
DECODING = "raw aiohttp + our decoding"
#: The clients paired with the floor (httpx and pyrolific are far off: see percall.py).
NAMES = (FLOOR, DECODING, OURS)
CONFIGS = tuple((kind, concurrency) for kind in KINDS for concurrency in (1, CONCURRENCY))
#: Seconds a child may take to answer one instruction (a block is well under one).
STEP_TIMEOUT = 120
#: Which of the machine's CPUs the clients and the server run on (see :func:`pin`).
CLIENT_CPU, SERVER_CPU = 0, 1


async def child(name: str, base: str, kind: str, concurrency: int) -> None:
    """Serve the parent's turns: ``go N`` runs N calls and prints CPU µs a call."""
    call, close = await CLIENTS[name](base)
    try:
        for _ in range(100):  # warm up: connections, generated hooks
            await call(kind)
        print("ready", flush=True)
        # A blocking read, on purpose: between blocks the loop has nothing to run.
        for line in sys.stdin:
            words = line.split()
            if words[:1] != ["go"]:
                break
            calls = int(words[1])
            share, rest = divmod(calls, concurrency)
            counts = [share + (i < rest) for i in range(concurrency)]

            async def worker(count: int) -> None:
                for _ in range(count):
                    await call(kind)

            start = time.process_time()
            if concurrency == 1:
                await worker(calls)
            else:
                await asyncio.gather(*(worker(count) for count in counts if count))
            print(f"{(time.process_time() - start) / calls * 1e6:.3f}", flush=True)
    finally:
        await close()


class Child:
    """One client's process for one configuration, driven a line at a time."""

    def __init__(self, name: str, base: str, kind: str, concurrency: int, *, pinned: bool) -> None:
        job = json.dumps([name, base, kind, concurrency])
        self.name = name
        self.process = subprocess.Popen(  # noqa: S603 (this script, by its interpreter)
            [sys.executable, __file__, "--child", job, *(["--pin"] if pinned else [])],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        if self._line() != "ready":
            raise SystemExit(f"{name!r} did not start")

    def _line(self) -> str:
        stdout: IO[str] | None = self.process.stdout
        if stdout is None:  # pragma: no cover - always piped
            raise SystemExit("no pipe to the child")
        # One line answers each instruction, so none waits in the reader's buffer.
        readable, _, _ = select.select([stdout], [], [], STEP_TIMEOUT)
        if not readable:
            self.process.kill()
            raise SystemExit(f"{self.name!r} gave no answer within {STEP_TIMEOUT} s")
        line = stdout.readline().strip()
        if not line:
            raise SystemExit(f"{self.name!r} exited with status {self.process.wait()}")
        return line

    def block(self, calls: int) -> float:
        stdin = self.process.stdin
        if stdin is None:  # pragma: no cover - always piped
            raise SystemExit("no pipe to the child")
        stdin.write(f"go {calls}\n")
        stdin.flush()
        line = self._line()
        try:
            return float(line)
        except ValueError:
            raise SystemExit(f"{self.name!r} answered {line!r}, not a figure") from None

    def stop(self) -> None:
        try:
            if self.process.stdin is not None:
                self.process.stdin.write("stop\n")
                self.process.stdin.close()
            self.process.wait(timeout=STEP_TIMEOUT)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()


def pin(cpu: int) -> None:
    """Keep this process on ``cpu`` (where there are two or more), with ``--pin``.

    Pinned, the client never shares a core with the server, nor moves: a regime of its
    own (a send always wakes the server on the other core, so concurrency saves less),
    not the one the targets were set in; it shows whether a ratio depends on placement.
    """
    if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2:
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[cpu]})


def pinned_server(port: int, ready: Any, pinned: bool) -> None:
    """The server of ``percall.py``, with ``--pin`` on a core of its own."""
    if pinned:
        pin(SERVER_CPU)
    serve(port, ready)


def quartiles(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return values[0], values[0]
    first, _, third = statistics.quantiles(values, n=4)
    return first, third


def measure_config(
    base: str, kind: str, concurrency: int, block: int, blocks: int, *, pinned: bool
) -> list[dict[str, Any]]:
    """Every client's blocks, taken in turn, and each turn's ratio to the floor's block."""
    children = [Child(name, base, kind, concurrency, pinned=pinned) for name in NAMES]
    times: dict[str, list[float]] = {name: [] for name in NAMES}
    try:
        for turn in range(blocks):
            shift = turn % len(children)
            for one in children[shift:] + children[:shift]:  # the order rotates
                times[one.name].append(one.block(block))
    finally:
        for one in children:
            one.stop()
    rows = []
    for name in NAMES:
        ratios = [mine / floor for mine, floor in zip(times[name], times[FLOOR], strict=True)]
        low, high = quartiles(ratios)
        rows.append(
            {
                "client": name,
                "batch": kind,
                "concurrency": concurrency,
                "cpu_us_per_call": statistics.median(times[name]),
                "ratio_to_floor": statistics.median(ratios),
                "ratio_quartiles": [low, high],
                "blocks": times[name],
            }
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--block", type=int, default=1000, help="calls per client and turn")
    parser.add_argument("--blocks", type=int, default=15, help="turns per configuration")
    parser.add_argument(
        "--pin", action="store_true", help="the clients on one CPU, the server on another"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)  # one client's process
    add_json_option(parser)
    args = parser.parse_args(argv)
    if args.block < CONCURRENCY or args.blocks < 1:
        parser.error(f"--block must be at least {CONCURRENCY} and --blocks at least 1")
    settle_allocator()  # one malloc mode for every client (see percall.py)
    if args.child is not None:  # on the parent's CPU, with --pin (inherited)
        name, base, kind, concurrency = json.loads(args.child)
        asyncio.run(child(name, base, kind, concurrency))
        return
    port = free_port()
    ready = multiprocessing.Event()
    server = multiprocessing.Process(
        target=pinned_server, args=(port, ready, args.pin), daemon=True
    )
    server.start()  # before the parent pins itself: the server still sees every CPU
    if args.pin:
        pin(CLIENT_CPU)  # the parent, and the children it starts from here on
    figures: list[dict[str, Any]] = []
    try:
        if not ready.wait(30):
            raise SystemExit("the server process did not start")
        for kind, concurrency in CONFIGS:
            base = f"http://127.0.0.1:{port}"
            figures += measure_config(
                base, kind, concurrency, args.block, args.blocks, pinned=args.pin
            )
    finally:
        server.terminate()
        server.join()
    rows: dict[str, list[str]] = {}
    for row in figures:
        low, high = row["ratio_quartiles"]
        rows.setdefault(row["client"], [row["client"]]).append(
            f"{row['cpu_us_per_call']:.0f} µs, {row['ratio_to_floor']:.2f}x ({low:.2f}-{high:.2f})"
        )
    headers = [
        "client (median of turns; ratio's quartiles)",
        "small, sequential",
        "small, c=64",
        "realistic, sequential",
        "realistic, c=64",
    ]
    print(table(headers, list(rows.values())))
    write_json(args.json, figures, script="percall_pairs")


if __name__ == "__main__":
    main()
