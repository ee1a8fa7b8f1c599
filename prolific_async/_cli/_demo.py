"""``provision --emulator``: the demo's emulator, and its check that each item has one batch."""

from __future__ import annotations

import contextlib
import hashlib
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Final

import attrs
from rich.table import Table

from .._manifest import read_manifest
from .._retry import RetryPolicy
from ..models.batches import TaskDetails
from ..models.bulk import DuplicateBatchRequest
from ._shared import stdout
from ._summary import Summary

if TYPE_CHECKING:
    from ..testing import FakeProlific

__all__ = ["DEMO_RETRY", "demo_emulator", "fault_log_digest", "print_emulator_check"]

#: The demo's emulator: realistic latency and a taste of every fault the client handles.
#: Each fault hits a request by its identity (see ``FakeProlific.fault_log``), so one
#: ``--seed`` faults the same requests in every run. Identical manifest lines make
#: identical requests: among them the draw goes by arrival order (the first to arrive is
#: attempt 1), so which of them a fault hits may differ between runs.
DEMO_WORKSPACE: Final = "6278acb09062db3b35bcbeb0"
DEMO_RETRY: Final = RetryPolicy(attempts=8, timeout=30.0, wait_initial=0.05, wait_max=1.0)


@contextlib.asynccontextmanager
async def demo_emulator(manifest: Path, seed: int) -> AsyncIterator[FakeProlific]:
    from ..testing import FakeProlific, RateLimit  # only --emulator needs the emulator

    fake = FakeProlific(
        seed=seed,
        latency=lambda rng: rng.uniform(0.01, 0.06),
        rate_limit=RateLimit(rate=400.0, burst=60),
    )
    for path in ("/api/v1/data-collection/batches", "/api/v1/data-collection/batches/*/duplicate"):
        fake.add_fault("POST", path, "status", times=None, probability=0.03, status=503)
        fake.add_fault("POST", path, "drop_after", times=None, probability=0.03)
        fake.add_fault("POST", path, "status_after", times=None, probability=0.02, status=502)
    # The source reads, not the listings: a listing serves every item reconciled with it,
    # so how many are taken depends on timing, and faulting them would not replay.
    fake.add_fault(
        "GET", "/api/v1/data-collection/batches/*", "status", times=None, probability=0.2
    )
    async with fake:
        for number, source in enumerate(_sources(manifest), start=1):
            fake.add_batch(
                batch_id=source,
                name=f"Template {number}",
                workspace_id=DEMO_WORKSPACE,
                task_details=TaskDetails(
                    task_name=f"Template task {number}",
                    task_introduction="<p>Label each item.</p>",
                    task_steps="<ol><li>Read</li><li>Label</li></ol>",
                ),
            )
        yield fake


def _sources(manifest: Path) -> list[str]:
    seen: dict[str, None] = {}
    for _, request in read_manifest(manifest):
        if isinstance(request, DuplicateBatchRequest):
            seen.setdefault(request.batch_id)
    return list(seen)


def fault_log_digest(fake: FakeProlific) -> str:
    """A short digest of the faults that fired, the same whenever the same ones did."""
    entries = sorted({repr(attrs.astuple(entry)) for entry in fake.fault_log})
    return hashlib.sha256("\n".join(entries).encode()).hexdigest()[:12]


def print_emulator_check(fake: FakeProlific, manifest: Path, summary: Summary) -> bool:
    """Count, in the emulator's own state, the batches each manifest item ended up with.

    Returns:
        Whether every item has exactly one batch.
    """
    sources = set(_sources(manifest))
    made = Counter(
        batch.name for batch_id, batch in fake.batches.items() if batch_id not in sources
    )
    names = {batch.id: batch.name for batch in fake.batches.values()}
    wanted: Counter[str] = Counter()
    for index, (_, request) in enumerate(read_manifest(manifest)):
        if index in summary.resumed_indexes:
            continue  # made by an earlier run, against an earlier emulator
        if isinstance(request, DuplicateBatchRequest):
            wanted[request.name or f"{names[request.batch_id]} (Copy)"] += 1
        else:
            wanted[request.name] += 1
    exact = sum(wanted[name] for name in wanted if made[name] == wanted[name])
    extra = sum(made.values()) - sum(wanted.values())
    if summary.resumed:
        stdout.print(
            f"{summary.resumed} items were reported from the journal of an earlier run; the "
            "check below counts the items this run provisioned."
        )
    table = Table(title="Emulator check: batches per manifest item", show_header=False)
    table.add_row("items provisioned in this run", str(sum(wanted.values())))
    table.add_row("batches the emulator holds for them", str(sum(made.values())))
    table.add_row("items with exactly one batch", str(exact))
    table.add_row("extra (duplicate) batches", str(extra))
    table.add_row(
        "faults injected (--seed replays them)",
        f"{len(fake.fault_log)}, digest {fault_log_digest(fake)}",
    )
    stdout.print(table)
    if extra == 0 and all(made[name] == wanted[name] for name in wanted):
        stdout.print("[green]Every manifest item has exactly one batch.[/green]")
        return True
    stdout.print("[red]Some items do not have exactly one batch: see above.[/red]")
    return False
