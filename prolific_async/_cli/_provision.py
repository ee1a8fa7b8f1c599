"""``prolific-async provision``: every batch of a manifest, each exactly once, resumable."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final

import click
from attrs import frozen
from rich.markup import escape
from rich.table import Table

from .._client import ProlificClient
from .._journal import Journal
from .._manifest import ManifestError, read_manifest, validate_manifest
from .._retry import RetryPolicy
from ..bulk import fingerprint, run_bulk
from ..errors import ProlificError
from ..models.batches import TaskDetails
from ..models.bulk import BulkRequest, BulkResult, DuplicateBatchRequest
from ._render import Summary, progress_bar
from ._shared import stderr, stdout

if TYPE_CHECKING:
    from ..testing import FakeProlific

__all__ = ["provision"]

#: The demo's emulator: realistic latency and a taste of every fault the client handles.
DEMO_WORKSPACE: Final = "6278acb09062db3b35bcbeb0"
DEMO_RETRY: Final = RetryPolicy(attempts=8, timeout=30.0, wait_initial=0.05, wait_max=1.0)


@frozen(kw_only=True)
class _Options:
    concurrency: int
    journal: Path | None
    results: Path | None
    retry_failed: bool
    progress: bool
    reconcile_delay: float | None


@click.command()
@click.argument(
    "manifest", type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path)
)
@click.option(
    "--concurrency",
    default=32,
    show_default=True,
    type=click.IntRange(1, 1024),
    help="Requests in progress at once (lowered automatically on 429).",
)
@click.option(
    "--journal",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Record progress here; run again with the same file to resume.",
)
@click.option(
    "--results",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write one JSON line per finished request here (kept if interrupted).",
)
@click.option(
    "--emulator",
    "use_emulator",
    is_flag=True,
    help="Run against the embedded emulator, with latency and injected faults.",
)
@click.option("--retry-failed", is_flag=True, help="Retry requests the journal has as failed.")
@click.option(
    "--reconcile-delay",
    type=click.FloatRange(min=0.0),
    default=None,
    help="Seconds to wait after an ambiguous request before looking for its batch "
    "(default: the per-attempt timeout, 30 s).",
)
@click.option("--seed", default=0, show_default=True, help="The emulator's seed.")
@click.option("--progress/--no-progress", default=True, help="Show the live progress bar.")
def provision(
    manifest: Path,
    concurrency: int,
    journal: Path | None,
    results: Path | None,
    use_emulator: bool,
    retry_failed: bool,
    reconcile_delay: float | None,
    seed: int,
    progress: bool,
) -> int:
    """Create and duplicate every batch of MANIFEST (JSON Lines), each exactly once.

    Each line is a create {"name", "workspace_id", "task_details", "dataset_id"?} or a
    duplicate {"duplicate_of", "name"?, "upload_new_dataset"?}; either may have a "key".
    Every line is checked before any request is sent. Exit status: 0 when every batch
    exists, 1 when any request failed, 2 for a bad manifest or journal.
    """
    count, problems = validate_manifest(manifest)
    if problems:
        for problem in problems:
            stderr.print(f"[red]error[/red] {escape(str(problem))}")
        stderr.print(escape(f"{manifest}: nothing was sent; fix the lines above and run again."))
        return 2
    if count == 0:
        stderr.print(escape(f"{manifest}: no requests in the manifest; nothing to do."))
        return 2
    if journal is not None:
        refusal = _journal_refusal(manifest, journal, use_emulator)
        if refusal is not None:
            stderr.print(refusal)
            return 2
    options = _Options(
        concurrency=concurrency,
        journal=journal,
        results=results,
        retry_failed=retry_failed,
        progress=progress,
        reconcile_delay=reconcile_delay,
    )
    summary = Summary(count)
    try:
        return asyncio.run(_provision(manifest, options, use_emulator, seed, summary))
    except KeyboardInterrupt:
        summary.print()
        stderr.print(escape(_interrupted(options, use_emulator, summary)))
        return 130
    except (ProlificError, OSError) as exc:
        stderr.print(f"[red]error[/red] {escape(str(exc))}")
        return 2


def _journal_refusal(manifest: Path, journal: Path, use_emulator: bool) -> str | None:
    """Why the journal cannot be used with this manifest (rich markup), if it cannot."""
    mismatch = _journal_mismatch(manifest, Journal(journal))
    if mismatch:
        return f"[red]error[/red] {escape(mismatch)}"
    if use_emulator and journal.exists() and journal.stat().st_size > 0:
        return escape(
            f"error: {journal} holds an earlier run, but the emulator keeps no state "
            "between runs: its batches are gone, so that run cannot be resumed against "
            "a new emulator. Delete the journal or choose another --journal."
        )
    return None


def _journal_mismatch(manifest: Path, journal: Journal) -> str | None:
    """Compare the journal with every line before anything is sent."""
    try:
        with journal.reading("mixed") as recorded:  # one item at a time: memory stays flat
            for index, (line, request) in enumerate(read_manifest(manifest)):
                entry = recorded.get(request.key if request.key is not None else index)
                if entry is not None and entry.fingerprint != fingerprint(request):
                    return (
                        f"{manifest}:{line} differs from what {journal.path} recorded for "
                        "it: the journal belongs to another manifest (use another --journal)"
                    )
    except (ProlificError, ManifestError) as exc:
        return str(exc)
    return None


def _interrupted(options: _Options, use_emulator: bool, summary: Summary) -> str:
    """What an interrupted run kept, and how to go on without making batches twice."""
    kept = f" Results so far are in {options.results}." if options.results else ""
    if use_emulator:
        advice = (
            "The emulator's batches ended with it: a new --emulator run starts afresh "
            "(with another --journal, if any)."
        )
    elif options.journal is not None:
        advice = f"Run the same command again with --journal {options.journal} to resume."
    else:
        advice = (
            f"{summary.done - summary.failed} batches were made before the interruption;"
            " without a --journal, running the same command again would make them again."
        )
    return f"Interrupted.{kept} {advice}"


async def _provision(
    manifest: Path, options: _Options, use_emulator: bool, seed: int, summary: Summary
) -> int:
    async with contextlib.AsyncExitStack() as stack:
        fake: FakeProlific | None = None
        if use_emulator:
            fake = await stack.enter_async_context(_demo_emulator(manifest, seed))
            client = await stack.enter_async_context(fake.client(retry=DEMO_RETRY, timeout=2.0))
            stderr.print(f"Emulator on {fake.url} with latency and injected faults (seed {seed}).")
        else:
            client = await stack.enter_async_context(ProlificClient())
        sink = stack.enter_context(_results_file(options.results))
        summary.rate_gate = client.rate_gate
        lines: dict[int, int] = {}

        def requests() -> Iterator[BulkRequest]:
            for index, (line, request) in enumerate(read_manifest(manifest)):
                lines[index] = line
                summary.read += 1
                yield request

        journal = Journal(options.journal) if options.journal is not None else None
        outcomes = run_bulk(
            client,
            client.batches,
            "mixed",
            requests(),
            concurrency=options.concurrency,
            journal=journal,
            retry_failed=options.retry_failed,
            reconcile_margin=10.0,
            reconcile_delay=options.reconcile_delay,
        )
        with progress_bar(options.progress) as bar:
            task = bar.add_task("Provisioning", total=summary.total, **summary.fields())
            async with contextlib.aclosing(outcomes) as results:
                async for result in results:
                    line = lines.pop(result.index, 0)
                    summary.add(result, line)
                    if sink is not None:
                        sink.write(json.dumps(_result_record(result, line)) + "\n")
                        sink.flush()
                    bar.update(task, advance=1, **summary.fields())
        summary.print()
        exact = _print_emulator_check(fake, manifest, summary) if fake is not None else True
        return 1 if summary.failed or not exact else 0


@contextlib.asynccontextmanager
async def _demo_emulator(manifest: Path, seed: int) -> AsyncIterator[FakeProlific]:
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
    fake.add_fault(
        "GET",
        "/api/v1/data-collection/batches*",
        "status",
        times=None,
        probability=0.02,
        status=503,
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


@contextlib.contextmanager
def _results_file(path: Path | None) -> Iterator[IO[str] | None]:
    """Write results to a temporary file beside ``path``, renamed into place at the end.

    Only whole lines are ever written, so on an interruption the file is renamed too:
    it lists every request that finished. Only a failure to write removes it.
    """
    if path is None:
        yield None
        return
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or ".")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            try:
                yield file
            finally:
                file.flush()
    except OSError:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    finally:
        if os.path.exists(temporary):
            os.replace(temporary, path)


def _result_record(result: BulkResult, line: int) -> dict[str, Any]:
    batch = result.batch
    return {
        "index": result.index,
        "line": line,
        "key": result.request.key,
        "ok": result.ok,
        "batch_id": batch.id if batch else None,
        "name": batch.name if batch else None,
        "reconciled": result.reconciled,
        "resumed": result.resumed,
        "attempts": result.attempts,
        "error": str(result.error) if result.error else None,
        "error_type": type(result.error).__name__ if result.error else None,
    }


def _print_emulator_check(fake: FakeProlific, manifest: Path, summary: Summary) -> bool:
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
    stdout.print(table)
    if extra == 0 and all(made[name] == wanted[name] for name in wanted):
        stdout.print("[green]Every manifest item has exactly one batch.[/green]")
        return True
    stdout.print("[red]Some items do not have exactly one batch: see above.[/red]")
    return False
