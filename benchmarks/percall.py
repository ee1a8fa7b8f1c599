"""Client CPU per GET-a-batch, with the server in another process, side by side.

Clients: raw aiohttp + ``json.loads`` (the floor), raw aiohttp + our decoding (the
second baseline: the converter without the client's middleware), prolific_async
(``batches.get``), httpx + ``json.loads``, and pyrolific (shown as "not installed" when
absent; it has no Task Builder endpoints, so its row times its httpx client on the same
GET). Each runs sequentially and at concurrency 64, for the small batch and the
realistic one (with a layout). Figures are the client process's CPU time per call
(``time.process_time``), the median of 3 rounds that interleave the clients; ratios are
to the floor of the same round set. Each client runs in a fresh process of its own
for each round (its four figures in turn), which first settles glibc's ``mmap``
threshold (``_env.settle_allocator``): measured one after another in one process, a
client paid for the heap the others left, and every socket read of one process could
map a fresh buffer while the next one's did not.

With ``--ablate`` the same run also times prolific_async with one piece of its request
path switched off at a time (by monkeypatching, in its own process): the call's
deadline (``Deadlines``: one timer for all calls), each attempt's read timeout (kept
by the call's deadline), the retry middleware (and with it the rate gate), the rate gate
alone, the connection slot (``Slots``), connection tracking (the connector's hook), the
answer's bookkeeping (``record_answer``: ``CallState``), and decoding (the converter;
the JSON parser still runs); then all of them at once. Each row's "saves" is what
switching that piece off took off prolific_async's figure in the same run: where the
time over the floor goes, measured.

Run: ``python benchmarks/percall.py [--calls 2000] [--rounds 3] [--ablate] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

sys.path.insert(0, str(Path(__file__).parent))

from _env import add_json_option, settle_allocator, table, write_json
from _payloads import REALISTIC, SMALL, encoded

TOKEN = "bench-token"  # noqa: S105 (a stand-in the local server ignores)
PATH = "/api/v1/data-collection/batches/"
CONCURRENCY = 64
#: Seconds one client's process may take for its four figures.
CHILD_TIMEOUT = 600


def serve(port: int, ready: Any) -> None:
    """The server process: a bare aiohttp app answering each batch id with a fixed body."""
    from aiohttp import web

    settle_allocator()  # however it was started (forked or not): the same mode every run

    bodies = {"small": encoded(SMALL), "realistic": encoded(REALISTIC)}

    async def handler(request: web.Request) -> web.Response:
        body = bodies[request.match_info["kind"]]
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_get(PATH + "{kind}", handler)

    async def main() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(main())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


Call = Callable[[str], Awaitable[Any]]
Factory = Callable[[str], Awaitable[tuple[Call, Callable[[], Awaitable[None]]]]]


async def raw_aiohttp(base: str) -> tuple[Call, Callable[[], Awaitable[None]]]:
    import aiohttp

    session = aiohttp.ClientSession(headers={"Authorization": f"Token {TOKEN}"})

    async def call(kind: str) -> Any:
        async with session.get(base + PATH + kind) as response:
            return json.loads(await response.read())

    return call, session.close


async def raw_converter(base: str) -> tuple[Call, Callable[[], Awaitable[None]]]:
    import aiohttp

    from prolific_async._body import decode_json, structure_response
    from prolific_async.models import Batch

    session = aiohttp.ClientSession(headers={"Authorization": f"Token {TOKEN}"})

    async def call(kind: str) -> Any:
        url = base + PATH + kind
        async with session.get(url) as response:
            data = decode_json(await response.read(), response.status, "GET", url)
            return structure_response(data, Batch, status_code=200, method="GET", url=url)

    return call, session.close


async def ours(base: str) -> tuple[Call, Callable[[], Awaitable[None]]]:
    from prolific_async import ProlificClient

    client = ProlificClient(TOKEN, base_url=base, max_connections=100)

    async def call(kind: str) -> Any:
        return await client.batches.get(kind)

    return call, client.aclose


async def httpx_client(base: str) -> tuple[Call, Callable[[], Awaitable[None]]]:
    import httpx

    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    client = httpx.AsyncClient(headers={"Authorization": f"Token {TOKEN}"}, limits=limits)

    async def call(kind: str) -> Any:
        response = await client.get(base + PATH + kind)
        return json.loads(response.content)

    return call, client.aclose


async def pyrolific_client(base: str) -> tuple[Call, Callable[[], Awaitable[None]]]:
    import httpx
    import pyrolific

    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    client = pyrolific.AuthenticatedClient(
        base_url=base, token=TOKEN, prefix="Token", httpx_args={"limits": limits}
    )
    http = client.get_async_httpx_client()

    async def call(kind: str) -> Any:
        response = await http.request("get", PATH + kind)
        return json.loads(response.content)

    return call, http.aclose


# -- ablations: prolific_async with one piece of its request path switched off ----------


async def _passthrough(self: Any, req: Any, handler: Any) -> Any:
    return await handler(req)


class _NoDeadline:
    """A deadline that never expires and times no reads (the ablations' stand-in)."""

    expired = False
    idle = None
    touched = 0.0

    def timed_out(self) -> bool:
        return False

    def touch(self) -> None:
        pass

    def end(self) -> None:
        pass


class _NoDeadlines:
    """``Deadlines`` whose entries never expire."""

    def __init__(self, *, idle: float | None = None) -> None:
        self.idle = idle

    def start(self, _loop: Any, _deadline: float, _now: float | None = None) -> _NoDeadline:
        return _NoDeadline()

    def close(self) -> None:
        pass


def _no_reads(_self: Any, _now: float) -> None:
    return None


def _no_record(*_args: Any, **_kwargs: Any) -> None:
    return None


def _as_is(data: Any, _cls: Any, **_kwargs: Any) -> Any:
    return data


@contextlib.contextmanager
def _patched(*patches: Any) -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        for patch in patches:
            stack.enter_context(patch)
        yield


def _ablation(name: str) -> Any:
    """The patches that switch ``name`` off (fresh ones each time: mock patches are one-shot)."""
    import aiohttp

    from prolific_async import _base_client, _call, _deadline, _rate_gate, _retry, _slots

    patches = {
        "call deadline (Deadlines)": lambda: mock.patch.object(
            _base_client, "Deadlines", _NoDeadlines
        ),
        "read timeout (Deadline.begin_reads)": lambda: mock.patch.object(
            _deadline.Deadline, "begin_reads", _no_reads
        ),
        "retry middleware (and rate gate)": lambda: mock.patch.object(
            _retry.RetryMiddleware, "__call__", _passthrough
        ),
        "rate gate": lambda: mock.patch.multiple(
            _rate_gate.RateGate,
            pass_open=lambda self, loop: loop.time(),
            answered=lambda self, sent_at, now, status: None,
        ),
        "connection slot (Slots)": lambda: mock.patch.multiple(
            _slots.Slots, take_now=lambda self: True, give=lambda self: None
        ),
        "connection tracking (connector hook)": lambda: mock.patch.object(
            _call.TrackingConnector, "connect", aiohttp.TCPConnector.connect
        ),
        "CallState bookkeeping (record_answer)": lambda: mock.patch.object(
            _base_client, "record_answer", _no_record
        ),
        "decoding (converter)": lambda: mock.patch.object(
            _base_client, "structure_response", _as_is
        ),
    }
    if name == ALL_OFF:
        return _patched(*(make() for key, make in patches.items() if key != "rate gate"))
    return _patched(patches[name]())


ABLATIONS = (
    "call deadline (Deadlines)",
    "read timeout (Deadline.begin_reads)",
    "retry middleware (and rate gate)",
    "rate gate",
    "connection slot (Slots)",
    "connection tracking (connector hook)",
    "CallState bookkeeping (record_answer)",
    "decoding (converter)",
)
ALL_OFF = "all of the above"
OURS = "prolific_async"


CLIENTS: dict[str, Factory] = {
    "raw aiohttp + json.loads (floor)": raw_aiohttp,
    "raw aiohttp + our decoding": raw_converter,
    "prolific_async": ours,
    "httpx + json.loads": httpx_client,
    "pyrolific": pyrolific_client,
}


async def run_one(factory: Factory, base: str, kind: str, calls: int, concurrency: int) -> float:
    """CPU microseconds per call for ``calls`` GETs, ``concurrency`` at a time."""
    call, close = await factory(base)
    try:
        for _ in range(min(50, calls)):  # warm up: connections, generated hooks
            await call(kind)
        start = time.process_time()
        if concurrency == 1:
            for _ in range(calls):
                await call(kind)
        else:

            async def worker(count: int) -> None:
                for _ in range(count):
                    await call(kind)

            share, rest = divmod(calls, concurrency)
            counts = [share + (i < rest) for i in range(concurrency)]
            await asyncio.gather(*(worker(count) for count in counts if count))
        return (time.process_time() - start) / calls * 1e6
    finally:
        await close()


def available(name: str) -> bool:
    module = {"httpx + json.loads": "httpx", "pyrolific": "pyrolific"}.get(name)
    if module is None:
        return True
    try:
        __import__(module)
    except ImportError:
        return False
    return True


KINDS = ("small", "realistic")
#: The figures each client's process gives, in this order.
CONFIGS = tuple((kind, concurrency) for kind in KINDS for concurrency in (1, CONCURRENCY))


def measure_client(name: str, base: str, calls: int, ablation: str | None) -> list[float]:
    """One client's figure for each of :data:`CONFIGS` in turn (see :func:`in_child`).

    ``ablation``: prolific_async with that piece switched off (``name`` is then ours).
    """
    factory = ours if ablation is not None else CLIENTS[name]
    switch = _ablation(ablation) if ablation is not None else contextlib.nullcontext()
    with switch:
        return [
            asyncio.run(run_one(factory, base, kind, calls, concurrency))
            for kind, concurrency in CONFIGS
        ]


def in_child(name: str, base: str, calls: int, ablation: str | None) -> list[float]:
    """:func:`measure_client` in a fresh Python process of its own.

    A client measured after the others in one process paid for what they left behind
    (its heap, its caches): the floor at concurrency 64 measured 65 µs a call on its
    own and 78 µs after the other clients, which flattered every ratio to it. In a
    process of its own, each client runs after nothing but its own earlier figures.
    """
    job = json.dumps({"name": name, "base": base, "calls": calls, "ablation": ablation})
    what = name if ablation is None else f"{name} without {ablation}"
    try:
        done = subprocess.run(  # noqa: S603 (this script, run by the interpreter running it)
            [sys.executable, __file__, "--child", job],
            capture_output=True,
            text=True,
            timeout=CHILD_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise SystemExit(f"measuring {what!r} took over {CHILD_TIMEOUT} s") from exc
    lines = done.stdout.strip().splitlines()
    try:
        if done.returncode != 0 or not lines:
            raise ValueError(f"exit status {done.returncode}")
        figures = [float(figure) for figure in json.loads(lines[-1])]  # its last line
    except ValueError as exc:  # JSONDecodeError is one
        raise SystemExit(f"measuring {what!r} failed ({exc}):\n{done.stderr[-2000:]}") from exc
    if len(figures) != len(CONFIGS):
        raise SystemExit(f"measuring {what!r} gave {len(figures)} figures, not {len(CONFIGS)}")
    return figures


def measure(
    base: str, calls: int, rounds: int, ablations: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    names = [name for name in CLIENTS if available(name)]
    runs = [(name, None) for name in names] + [(f"without {off}", off) for off in ablations]
    samples: dict[tuple[str, str, int], list[float]] = {}
    for _ in range(rounds):  # interleaved: every client once per round, each in its process
        for label, off in runs:
            got = in_child(OURS if off else label, base, calls, off)
            for (kind, concurrency), figure in zip(CONFIGS, got, strict=True):
                samples.setdefault((label, kind, concurrency), []).append(figure)
    figures = []
    for kind, concurrency in CONFIGS:
        floor = statistics.median(samples[(next(iter(CLIENTS)), kind, concurrency)])
        whole = statistics.median(samples[(OURS, kind, concurrency)])
        for name in [*CLIENTS, *(f"without {off}" for off in ablations)]:
            taken = samples.get((name, kind, concurrency))
            median = statistics.median(taken) if taken else None
            row = {
                "client": name,
                "batch": kind,
                "concurrency": concurrency,
                "cpu_us_per_call": median,
                "ratio_to_floor": median / floor if median is not None else None,
                "rounds": taken or [],
            }
            if name.startswith("without ") and median is not None:
                row["saves_us"] = whole - median
                row["share_of_excess"] = (whole - median) / (whole - floor)
            figures.append(row)
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=2000, help="GETs per client and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--ablate", action="store_true", help="also time the client with pieces switched off"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)  # one client's figures (in_child)
    add_json_option(parser)
    args = parser.parse_args(argv)
    settle_allocator()  # one malloc mode for every client
    if args.child is not None:
        job = json.loads(args.child)
        print(json.dumps(measure_client(job["name"], job["base"], job["calls"], job["ablation"])))
        return
    ablations = (*ABLATIONS, ALL_OFF) if args.ablate else ()
    port = free_port()
    ready = multiprocessing.Event()
    server = multiprocessing.Process(target=serve, args=(port, ready), daemon=True)
    server.start()
    try:
        if not ready.wait(30):
            raise SystemExit("the server process did not start")
        figures = measure(f"http://127.0.0.1:{port}", args.calls, args.rounds, ablations)
    finally:
        server.terminate()
        server.join()
    rows: dict[str, list[str]] = {}
    for row in figures:
        if row["client"].startswith("without "):
            continue
        cells = rows.setdefault(row["client"], [row["client"]])
        value = row["cpu_us_per_call"]
        cells.append(
            "not installed" if value is None else f"{value:.0f} µs ({row['ratio_to_floor']:.2f}x)"
        )
    headers = [
        "client",
        "small, sequential",
        "small, c=64",
        "realistic, sequential",
        "realistic, c=64",
    ]
    print(table(headers, list(rows.values())))
    if ablations:
        ablated: dict[str, list[str]] = {}
        for row in figures:
            if row["client"].startswith("without "):
                cells = ablated.setdefault(row["client"], [row["client"]])
                cells.append(
                    f"{row['cpu_us_per_call']:.0f} µs ({row['ratio_to_floor']:.2f}x), "
                    f"saves {row['saves_us']:+.0f} µs ({row['share_of_excess']:.0%})"
                )
        print(
            f"\n{OURS} with one piece switched off (same run; saves: of its excess over the floor)"
        )
        print(table(["switched off", *headers[1:]], list(ablated.values())))
    write_json(args.json, figures, extra=("pyrolific",), script="percall")


if __name__ == "__main__":
    main()
