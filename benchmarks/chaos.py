"""The chaos soak: exactly once under random faults, SIGKILLs, resumes and a rival run.

Soak: N creates against the embedded emulator (hosted by this process, so it outlives
every provisioning process), with about 10 % of requests faulted at random (seeded,
every fault kind whose request is applied within ``reconcile_delay``, ``late_apply``
included). The provisioning runs are child processes (this script's ``worker``: the
library's ``create_many`` with a journal). Three are killed with SIGKILL at seeded
points, counted in batches the server holds (never by sleeping), and resumed; while the
second runs (paused with SIGSTOP, so it holds the lock whatever the timing), a rival
run is started on the same journal: it must be refused with ``JournalError`` (exit
status 2) before it sends anything. The last run must finish
with every item reported once, every item's batch existing exactly once on the
server, no task left running and no connection still acquired.

Late applies: a separate run in which 2 % of creates are cut and applied *later* than
``reconcile_delay`` (the documented limit of exactly once; the emulator holds them until
the run has ended, so no timing decides it): the report counts the duplicates they make
(one per late apply: the item was resent before its first request took effect).

Run: ``python benchmarks/chaos.py [--items 10000] [--seed 0] [--json FILE]``. The suite
runs :func:`soak` at a small N (``tests/test_chaos.py``) and this script at a tiny N.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import attrs

sys.path.insert(0, str(Path(__file__).parent))

from _env import add_json_option, write_json

from prolific_async import (
    CreateBatchRequest,
    Journal,
    JournalError,
    ProlificClient,
    RetryPolicy,
    TaskDetails,
)
from prolific_async.testing import FakeProlific, FaultKind

WORKSPACE = "6278acb09062db3b35bcbeb0"
DETAILS = TaskDetails(task_name="Chaos", task_introduction="<p>i</p>", task_steps="<ol></ol>")
CREATE = "/api/v1/data-collection/batches"
#: The worker's client: quick retries, and attempts that time out (stall_after) at once.
POLICY = RetryPolicy(attempts=12, timeout=120.0, wait_initial=0.01, wait_max=0.2)
ATTEMPT_TIMEOUT = 0.5
#: The faults of the soak, per method: (label, kind, options). Every fault kind that
#: applies (or refuses) a request within ``reconcile_delay`` is here, and every request
#: of each kind is applied at once or within ``late_apply``'s delay, which
#: :func:`add_chaos_faults` keeps below ``reconcile_delay``.
#: The hostile answers are sized over the client's caps, not to their 2 GiB defaults.
RETRY_AFTER_429: dict[str, Any] = {"status": 429, "headers": {"Retry-After": "0"}}
POST_FAULTS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("status", "status", {}),
    ("429", "status", RETRY_AFTER_429),
    ("html", "html", {}),
    ("not_json", "not_json", {}),
    ("drop_before", "drop_before", {}),
    ("stall_upload", "stall_upload", {"delay": 0.05}),
    ("delay", "delay", {"delay": 0.05}),
    ("truncated", "truncated", {}),
    ("drop_after", "drop_after", {}),
    ("status_after", "status_after", {}),
    ("stall_after", "stall_after", {"delay": ATTEMPT_TIMEOUT * 1.2}),
    ("trickle", "trickle", {"delay": 0.002, "chunk_size": 64}),
    ("claimed_id", "claimed_id", {}),
    ("late_apply", "late_apply", {}),  # delay: within reconcile_delay
    ("oversized", "oversized", {"size": 4 * 2**20}),
    ("compressed", "compressed", {"size": 8 * 2**20}),
    ("deep_json", "deep_json", {"size": 5_000}),
    ("redirect", "redirect", {}),
    # Listings are the other kind of request; the kinds left out for a create:
    # repeat_listing and incomplete_listing (they rewrite listings only).
)
GET_FAULTS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    # First: the kinds only a listing meets take the first listings, so a run with
    # fewer listings than kinds leaves out ones creates meet too (see ``coverage``).
    ("repeat_listing", "repeat_listing", {}),
    ("incomplete_listing", "incomplete_listing", {}),
    ("status", "status", {}),
    ("429", "status", RETRY_AFTER_429),
    ("html", "html", {}),
    ("drop_before", "drop_before", {}),
    ("delay", "delay", {"delay": 0.05}),
    ("truncated", "truncated", {}),
    ("drop_after", "drop_after", {}),
    ("status_after", "status_after", {}),
    ("stall_after", "stall_after", {"delay": ATTEMPT_TIMEOUT * 1.2}),
    ("trickle", "trickle", {"delay": 0.002, "chunk_size": 256}),
    # Left out for a listing: stall_upload (a GET has no body to hold back); late_apply
    # and claimed_id (a listing applies nothing, names no new batch); and a 200 that
    # cannot be read as a listing, by design the end of the items' reconciliation (a
    # ReconciliationError or ResponseValidationError for a human, never a resend):
    # not_json, oversized, compressed, deep_json, and redirect (to another host, which
    # the client refuses). tests/test_fault_matrix.py covers those on listings.
)
KILLS = 3
SCRIPT = Path(__file__).resolve()
#: The rival run's token: wrong, so the emulator answers 401 to anything it sends.
RIVAL_TOKEN = "rival-token"  # noqa: S105 (not a secret)


def requests(count: int) -> list[CreateBatchRequest]:
    """The soak's manifest: ``count`` creates with distinct names (one batch each)."""
    return [CreateBatchRequest(f"chaos-{i:05d}", WORKSPACE, DETAILS) for i in range(count)]


def add_chaos_faults(fake: FakeProlific, reconcile_delay: float, rate: float = 0.10) -> list[str]:
    """About ``rate`` of creates and of listings faulted, spread evenly over the kinds.

    Each kind also fires once for sure, on the first requests of its method (a fault
    with ``times=1`` ahead of the random ones), so every kind is met whatever the draw.

    Returns:
        The label of each fault added (``"POST 429"``...), in the order added: the
        ``fault`` number of a :attr:`~FakeProlific.fault_log` entry, less one, indexes it.
    """
    labels: list[str] = []
    for method, faults in (("POST", POST_FAULTS), ("GET", GET_FAULTS)):
        share = 1 - (1 - rate) ** (1 / len(faults))  # together: rate of the requests
        for times, probability in ((1, 1.0), (None, share)):
            for label, kind, options in faults:
                if kind == "late_apply":
                    # A request that reaches the emulator after this delay sees the
                    # batch, however late the emulator's timer runs.
                    options = {"delay": reconcile_delay / 3}
                fake.add_fault(
                    method, CREATE, kind, times=times, probability=probability, **options
                )
                labels.append(f"{method} {label}")
    return labels


# -- the worker: one provisioning process ------------------------------------------------


async def _work(
    url: str, token: str, journal: Path, items: int, options: argparse.Namespace
) -> int:
    """Provision the manifest with the journal; one JSON line per result, then a leak count."""
    out = sys.stdout
    failed = 0
    async with ProlificClient(
        token=token, base_url=url, retry=POLICY, timeout=options.timeout
    ) as client:
        baseline = set(asyncio.all_tasks())
        try:
            async for result in client.batches.create_many(
                requests(items),
                concurrency=options.concurrency,
                journal=Journal(journal),
                reconcile_delay=options.reconcile_delay,
            ):
                failed += not result.ok
                record = {
                    "index": result.index,
                    "ok": result.ok,
                    "id": result.batch.id if result.batch else None,
                    "resumed": result.resumed,
                    "reconciled": result.reconciled,
                    "error": None if result.error is None else str(result.error),
                }
                out.write(json.dumps(record) + "\n")
                out.flush()
        except JournalError as exc:
            out.write(json.dumps({"refused": str(exc)}) + "\n")
            return 2
        leaked = [task for task in asyncio.all_tasks() - baseline if not task.done()]
        async with client.storage_session() as session:
            # aiohttp has no public count of the connections in use: this private read.
            busy = len(session.connector._acquired) if session.connector else 0
        out.write(json.dumps({"done": True, "leaked_tasks": len(leaked), "busy": busy}) + "\n")
    return 1 if failed else 0


def worker(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="chaos.py worker")
    parser.add_argument("url")
    parser.add_argument("token")
    parser.add_argument("journal", type=Path)
    parser.add_argument("items", type=int)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--reconcile-delay", type=float, default=0.5)
    parser.add_argument("--timeout", type=float, default=ATTEMPT_TIMEOUT)
    options = parser.parse_args(argv)
    return asyncio.run(_work(options.url, options.token, options.journal, options.items, options))


# -- the soak ----------------------------------------------------------------------------


@attrs.define
class SoakReport:
    items: int
    seed: int
    kills: int
    runs: int = 0
    killed_at: list[int] = attrs.field(factory=list)
    rival_status: int | None = None
    rival_refusal: str = ""
    rival_requests: int = 0
    reported: int = 0
    reported_twice: int = 0
    reported_ok: int = 0
    batches: int = 0
    exactly_once: int = 0
    duplicates: int = 0
    missing: int = 0
    leaked_tasks: int = -1
    busy_connections: int = -1
    requests: int = 0
    faults: dict[str, int] = attrs.field(factory=dict)
    """How often each configured fault fired, by method and label (``"GET 429"``)."""
    listings: int = 0
    """Listing requests (GETs of the batches collection) the emulator got, faulted ones too."""
    unfired: list[str] = attrs.field(factory=list)
    """Configured faults that never fired although their turn came: a kind went untested."""
    unreached: list[str] = attrs.field(factory=list)
    """Listing kinds whose turn never came. Each of the first listing requests takes the
    next kind for sure, so with fewer listings than kinds the last ones cannot fire (how
    many listings a run makes depends on when its creates fail and its kills land)."""
    errors: dict[str, int] = attrs.field(factory=dict)
    """The last run's failed items, by the first words of their error."""
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return (
            len(self.killed_at) == self.kills
            and self.rival_status == 2
            and "in use" in self.rival_refusal
            and self.rival_requests == 0
            and self.reported == self.reported_ok == self.exactly_once == self.items
            and self.reported_twice == self.duplicates == self.missing == 0
            and self.leaked_tasks == 0
            and self.busy_connections == 0
        )


async def _spawn(
    fake: FakeProlific, journal: Path, items: int, out: Path, *, token: str = "", **kw: Any
) -> asyncio.subprocess.Process:
    """Start a worker writing its results to ``out``; its stderr goes to ``out.err``."""
    args = [sys.executable, str(SCRIPT), "worker", fake.url, token or fake.token]
    args += [str(journal), str(items)]
    args += [f"--{key.replace('_', '-')}={value}" for key, value in kw.items()]
    with out.open("w") as sink, out.with_suffix(".err").open("w") as errors:
        return await asyncio.create_subprocess_exec(*args, stdout=sink, stderr=errors)


def _lines(path: Path) -> int:
    with path.open("rb") as file:
        return file.read().count(b"\n")


def _holds(fake: FakeProlific, count: int) -> bool:
    return len(fake.batches) >= count


def _made(fake: FakeProlific) -> Counter[str]:
    return Counter(batch.name for batch in fake.batches.values())


def _drain(fake: FakeProlific, traffic: Counter[str]) -> None:
    """Count the requests the emulator recorded (401s apart), then drop them.

    Each record holds its answer, listings of the whole workspace included: kept, they
    would grow the host's memory with the square of the items.
    """
    traffic["requests"] += len(fake.requests)
    traffic["listings"] += sum(1 for r in fake.requests if r.method == "GET" and r.path == CREATE)
    traffic["401"] += sum(1 for request in fake.requests if request.response_status == 401)
    fake.requests.clear()


async def _until(check: Any, process: Any, fake: FakeProlific, traffic: Counter[str]) -> bool:
    """Poll ``check()`` until it holds (True) or the process ends first (False)."""
    while not check():
        _drain(fake, traffic)
        if process.returncode is not None:
            return False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), 0.01)
    return True


async def soak(
    items: int,
    *,
    seed: int = 0,
    concurrency: int = 32,
    reconcile_delay: float = 0.5,
    kills: int = KILLS,
    attempt_timeout: float = ATTEMPT_TIMEOUT,
    directory: Path,
) -> SoakReport:
    """Run the soak (see the module docstring); the report says what happened."""
    started = time.monotonic()
    report = SoakReport(items=items, seed=seed, kills=kills)
    # One point in each of the first ``kills`` shares of the items: every run gets work done.
    rng = random.Random(seed)
    quarter = items // (kills + 1)
    kill_points = [k * quarter + rng.randrange(quarter // 5, quarter) for k in range(kills)]
    journal = directory / "chaos.journal"
    traffic: Counter[str] = Counter()
    async with FakeProlific(seed=seed) as fake:
        labels = add_chaos_faults(fake, reconcile_delay)
        options = {"concurrency": concurrency, "reconcile_delay": reconcile_delay}
        options["timeout"] = attempt_timeout
        for run in range(kills + 1):
            out = directory / f"run-{run}.jsonl"
            process = await _spawn(fake, journal, items, out, **options)
            report.runs += 1
            # Its first result line: it has opened the journal, so it holds the lock.
            started_run = await _until(functools.partial(_lines, out), process, fake, traffic)
            if run == min(1, kills) and started_run:
                # The rival meets a run that holds the lock: paused (SIGSTOP) while the
                # rival starts, so it cannot end or be killed first; its requests in
                # flight go on at the server, and may time out when it resumes.
                process.send_signal(signal.SIGSTOP)
                try:
                    _drain(fake, traffic)
                    before = traffic["401"]
                    await _rival(fake, journal, items, directory, report, options)
                    _drain(fake, traffic)
                    report.rival_requests = traffic["401"] - before
                finally:
                    process.send_signal(signal.SIGCONT)
            reached = functools.partial(_holds, fake, kill_points[run]) if run < kills else None
            if reached is not None and await _until(reached, process, fake, traffic):
                process.send_signal(signal.SIGKILL)
                report.killed_at.append(len(fake.batches))
            await _until(functools.partial(bool, False), process, fake, traffic)  # its end
        _final(report, out)
        # Every late apply has landed (they land within reconcile_delay).
        await _settle(fake)
        made = _made(fake)
        names = {request.name for request in requests(items)}
        report.batches = sum(made.values())
        report.exactly_once = sum(1 for name in names if made[name] == 1)
        report.duplicates = sum(count - 1 for count in made.values() if count > 1)
        report.missing = sum(1 for name in names if made[name] == 0)
        _drain(fake, traffic)
        report.requests = traffic["requests"]
        report.listings = traffic["listings"]
        fired = Counter(labels[entry.fault - 1] for entry in fake.fault_log)
        report.faults = dict(sorted(fired.items()))
        report.unfired, report.unreached = coverage(labels, set(fired), report.listings)
    report.seconds = time.monotonic() - started
    return report


def coverage(labels: list[str], fired: set[str], listings: int) -> tuple[list[str], list[str]]:
    """The configured kinds that never fired although their turn came, and those with no turn.

    The first listing requests take the listing kinds in order, one each, for sure: with
    ``listings`` of them, the kinds past that count had no listing to fire on.
    """
    turnless = {f"GET {label}" for label, _, _ in GET_FAULTS[listings:]}
    return sorted(set(labels) - fired - turnless), sorted(turnless - fired)


async def _rival(
    fake: FakeProlific,
    journal: Path,
    items: int,
    directory: Path,
    report: SoakReport,
    options: dict[str, Any],
) -> None:
    """A second run on the journal in use: it must be refused and send nothing.

    It carries a wrong token, so any request it sent would be answered 401 (the real
    runs never meet one): counting 401s counts what it sent.
    """
    out = directory / "rival.jsonl"
    process = await _spawn(fake, journal, items, out, token=RIVAL_TOKEN, **options)
    await process.wait()
    report.rival_status = process.returncode
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    report.rival_refusal = next((line["refused"] for line in lines if "refused" in line), "")


def _final(report: SoakReport, out: Path) -> None:
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    results = [line for line in lines if "index" in line]
    seen = Counter(result["index"] for result in results)
    report.reported = len(seen)
    report.reported_twice = sum(1 for count in seen.values() if count > 1)
    report.reported_ok = sum(1 for result in results if result["ok"])
    errors = Counter(" ".join(str(r["error"]).split()[:8]) for r in results if not r["ok"])
    report.errors = dict(errors.most_common())
    done = next((line for line in lines if line.get("done")), None)
    if done is not None:
        report.leaked_tasks = done["leaked_tasks"]
        report.busy_connections = done["busy"]


async def _settle(fake: FakeProlific, seconds: float = 30.0) -> None:
    """Wait until no request is being served (late applies included), polling.

    Raises:
        TimeoutError: the emulator still served requests ``seconds`` later (counting
            the batches now would report a late apply's batch missing, or miss a duplicate).
    """
    deadline = time.monotonic() + seconds
    while fake.stats.in_flight or _late_pending(fake):
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"the emulator did not settle within {seconds} s: {fake.stats.in_flight} "
                "request(s) in flight, or a late apply pending"
            )
        await asyncio.sleep(0.01)


def _late_pending(fake: FakeProlific) -> bool:
    # The emulator runs a late apply as a task of its own; they end within their delay.
    return any(
        "_apply_late" in repr(task.get_coro()) for task in asyncio.all_tasks() if not task.done()
    )


# -- applies later than reconcile_delay --------------------------------------------------


@attrs.define
class LateReport:
    items: int
    late_applies: int = 0
    reported_ok: int = 0
    batches: int = 0
    duplicates: int = 0
    seconds: float = 0.0


async def late_applies(
    items: int,
    *,
    seed: int = 0,
    rate: float = 0.02,
    concurrency: int = 32,
    reconcile_delay: float = 0.1,
) -> LateReport:
    """Creates cut and applied only once the run has ended: the duplicates they make.

    The emulator holds each cut create (``late_apply`` without ``delay``) until the run
    is over, so every one is applied later than ``reconcile_delay`` whatever the timing:
    its item was listed, waited, listed again and was resent first.
    """
    started = time.monotonic()
    report = LateReport(items=items)
    async with FakeProlific(seed=seed) as fake:
        late = fake.add_fault("POST", CREATE, FaultKind.LATE_APPLY, times=None, probability=rate)
        async with fake.client(retry=POLICY, timeout=ATTEMPT_TIMEOUT) as client:
            async for result in client.batches.create_many(
                requests(items), concurrency=concurrency, reconcile_delay=reconcile_delay
            ):
                report.reported_ok += result.ok
        applied = await fake.apply_late()
        assert applied == late.fired  # noqa: S101 (every cut create was held)
        report.late_applies = applied
        report.batches = len(fake.batches)
        report.duplicates = report.batches - items
    report.seconds = time.monotonic() - started
    return report


# -- the script --------------------------------------------------------------------------


def table(soak_report: SoakReport, late: LateReport) -> str:
    rows = [
        ("items", soak_report.items),
        ("provisioning runs (all but the last killed)", soak_report.runs),
        ("killed when the server held (batches)", ", ".join(map(str, soak_report.killed_at))),
        ("rival run on the journal: exit status", soak_report.rival_status),
        ("rival run: requests it sent", soak_report.rival_requests),
        ("requests the emulator served", soak_report.requests),
        ("faults injected", sum(soak_report.faults.values())),
        ("indexes reported by the last run", soak_report.reported),
        ("  of them ok", soak_report.reported_ok),
        ("items with exactly one batch", soak_report.exactly_once),
        ("duplicate batches", soak_report.duplicates),
        ("items with no batch", soak_report.missing),
        (
            "leaked tasks / busy connections",
            f"{soak_report.leaked_tasks} / {soak_report.busy_connections}",
        ),
        ("soak seconds", f"{soak_report.seconds:.1f}"),
        ("soak passed", soak_report.passed),
        ("listing requests", soak_report.listings),
        ("every configured fault kind fired (once its turn came)", not soak_report.unfired),
        ("late applies (after reconcile_delay): items", late.items),
        ("  late applies", late.late_applies),
        ("  duplicate batches they made", late.duplicates),
        ("  seconds", f"{late.seconds:.1f}"),
    ]
    width = max(len(label) for label, _ in rows)
    lines = [f"{label:<{width}}  {value}" for label, value in rows]
    lines.append("faults by kind: " + ", ".join(f"{k} {v}" for k, v in soak_report.faults.items()))
    lines.append("kinds that never fired: " + (", ".join(soak_report.unfired) or "none"))
    if soak_report.unreached:
        lines.append(
            "listing kinds with no listing left to fire on: " + ", ".join(soak_report.unreached)
        )
    lines += [f"failed: {count} x {error}" for error, count in soak_report.errors.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["worker"]:
        return worker(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--late-items", type=int, default=None, help="default: --items / 5")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--reconcile-delay", type=float, default=0.5)
    parser.add_argument("--kills", type=int, default=KILLS, help="SIGKILLs (default 3)")
    parser.add_argument("--timeout", type=float, default=ATTEMPT_TIMEOUT, help="per attempt")
    add_json_option(parser)
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="chaos-") as directory:
        soak_report = asyncio.run(
            soak(
                options.items,
                seed=options.seed,
                concurrency=options.concurrency,
                reconcile_delay=options.reconcile_delay,
                kills=options.kills,
                attempt_timeout=options.timeout,
                directory=Path(directory),
            )
        )
    late_items = options.late_items or max(options.items // 5, 10)
    late = asyncio.run(late_applies(late_items, seed=options.seed))
    print(table(soak_report, late))
    figures = {
        "soak": attrs.asdict(soak_report) | {"passed": soak_report.passed},
        "late_applies": attrs.asdict(late),
    }
    write_json(options.json, figures, script="chaos")
    return 0 if soak_report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
