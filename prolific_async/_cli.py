"""The ``prolific-async`` command line (click + rich, from the ``[cli]`` extra)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import IO, Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ._client import ProlificClient
from ._converter import converter
from ._journal import Journal
from ._manifest import ManifestError, read_manifest, validate_manifest
from ._retry import RetryPolicy
from ._sentinel import NOT_GIVEN, NotGiven
from ._version import __version__
from .bulk import fingerprint, run_bulk
from .errors import ProlificError
from .models.batches import TaskDetails
from .models.bulk import BulkRequest, BulkResult, DuplicateBatchRequest

__all__ = ["app", "run"]

T = TypeVar("T")
stderr = Console(stderr=True, highlight=False, soft_wrap=True)
stdout = Console(highlight=False, soft_wrap=True)

#: The demo's emulator: realistic latency and a taste of every fault the client handles.
DEMO_WORKSPACE = "6278acb09062db3b35bcbeb0"
DEMO_RETRY = RetryPolicy(attempts=8, timeout=30.0, wait_initial=0.05, wait_max=1.0)


def run(argv: list[str] | None) -> int:
    """Run the command group; return an exit status instead of exiting."""
    try:
        result = app.main(args=argv, prog_name="prolific-async", standalone_mode=False)
    except click.exceptions.Abort:
        stderr.print("Aborted.")
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    return result if isinstance(result, int) else 0


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="prolific-async")
def app() -> None:
    """Prolific AI Task Builder from the command line.

    API commands read the token from PROLIFIC_TOKEN and the API's URL from PROLIFIC_URL
    (default https://api.prolific.com), like Prolific's official CLI.
    """


def _call(make: Callable[[ProlificClient], Awaitable[T]]) -> T:
    async def go() -> T:
        async with ProlificClient() as client:
            return await make(client)

    try:
        return asyncio.run(go())
    except ProlificError as exc:
        raise click.ClickException(str(exc)) from exc


def _print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


# -- single operations ---------------------------------------------------------------------


@app.group()
def batches() -> None:
    """Create, set up, follow and export batches.

    get, create, update, duplicate and list print JSON; setup, status, wait, responses,
    report and export print tables, or JSON with --json.
    """


@batches.command("get")
@click.argument("batch_id")
def batches_get(batch_id: str) -> None:
    """Print one batch."""
    _print_json(converter.unstructure(_call(lambda c: c.batches.get(batch_id))))


@batches.command("list")
@click.option("--workspace-id", required=True, help="The workspace to list.")
def batches_list(workspace_id: str) -> None:
    """Print every batch of a workspace."""
    found = _call(lambda c: c.batches.list(workspace_id))
    _print_json([converter.unstructure(batch) for batch in found])


def _task_details(name: str | None, intro: str | None, steps: str | None) -> TaskDetails | None:
    given = [value is not None for value in (name, intro, steps)]
    if not any(given):
        return None
    if not all(given):
        raise click.UsageError(
            "--task-name, --task-introduction and --task-steps go together: give all three"
        )
    return TaskDetails(task_name=name or "", task_introduction=intro or "", task_steps=steps or "")


_task_options = [
    click.option("--task-name", help="Title shown to participants."),
    click.option("--task-introduction", help="HTML introduction."),
    click.option("--task-steps", help="HTML steps."),
]


def _with_task_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_task_options):
        command = option(command)
    return command


@batches.command("create")
@click.option("--name", required=True)
@click.option("--workspace-id", required=True)
@_with_task_options
@click.option("--dataset-id", default=None)
def batches_create(
    name: str,
    workspace_id: str,
    task_name: str | None,
    task_introduction: str | None,
    task_steps: str | None,
    dataset_id: str | None,
) -> None:
    """Create a batch (sent once; see OutcomeUnknownError in the README)."""
    details = _task_details(task_name, task_introduction, task_steps)
    if details is None:
        raise click.UsageError("a batch needs --task-name, --task-introduction and --task-steps")
    batch = _call(
        lambda c: c.batches.create(
            name=name, workspace_id=workspace_id, task_details=details, dataset_id=dataset_id
        )
    )
    _print_json(converter.unstructure(batch))


@batches.command("update")
@click.argument("batch_id")
@click.option("--name", default=None)
@_with_task_options
@click.option("--dataset-id", default=None)
def batches_update(
    batch_id: str,
    name: str | None,
    task_name: str | None,
    task_introduction: str | None,
    task_steps: str | None,
    dataset_id: str | None,
) -> None:
    """Update the given fields of a batch."""
    details = _task_details(task_name, task_introduction, task_steps)
    new_name: str | NotGiven = NOT_GIVEN if name is None else name
    new_details: TaskDetails | NotGiven = NOT_GIVEN if details is None else details
    new_dataset: str | NotGiven = NOT_GIVEN if dataset_id is None else dataset_id
    batch = _call(
        lambda c: c.batches.update(
            batch_id, name=new_name, task_details=new_details, dataset_id=new_dataset
        )
    )
    _print_json(converter.unstructure(batch))


@batches.command("duplicate")
@click.argument("batch_id")
@click.option("--name", default=None, help="Default: '<source name> (Copy)'.")
@click.option("--upload-new-dataset", is_flag=True, help="Do not share the source's dataset.")
def batches_duplicate(batch_id: str, name: str | None, upload_new_dataset: bool) -> None:
    """Duplicate a batch."""
    batch = _call(
        lambda c: c.batches.duplicate(batch_id, name=name, upload_new_dataset=upload_new_dataset)
    )
    _print_json(converter.unstructure(batch))


# -- the emulator ------------------------------------------------------------------------


@app.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8765, show_default=True, type=int)
@click.option("--token", default=None, help="Token clients must send (default: random).")
@click.option("--seed", default=None, type=int, help="Seed for ids and faults.")
@click.option("--latency", default=0.0, type=float, help="Seconds added to each request.")
def emulator(host: str, port: int, token: str | None, seed: int | None, latency: float) -> int:
    """Serve the embedded API emulator until Ctrl-C, printing its URL and token."""
    from .testing.__main__ import main as serve

    argv = ["--host", host, "--port", str(port), "--latency", str(latency)]
    if token is not None:
        argv += ["--token", token]
    if seed is not None:
        argv += ["--seed", str(seed)]
    return serve(argv)


# -- provisioning --------------------------------------------------------------------------


@app.command()
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
        mismatch = _journal_mismatch(manifest, Journal(journal))
        if mismatch:
            stderr.print(f"[red]error[/red] {escape(mismatch)}")
            return 2
        if use_emulator and journal.exists() and journal.stat().st_size > 0:
            stderr.print(
                escape(
                    f"error: {journal} holds an earlier run, but the emulator keeps no state "
                    "between runs: its batches are gone, so that run cannot be resumed against "
                    "a new emulator. Delete the journal or choose another --journal."
                )
            )
            return 2
    options = _Options(concurrency, journal, results, retry_failed, progress, reconcile_delay)
    summary = _Summary(count)
    try:
        return asyncio.run(_provision(manifest, options, use_emulator, seed, summary))
    except KeyboardInterrupt:
        summary.print()
        kept = f" Results so far are in {results}." if results else ""
        if use_emulator:
            advice = (
                "The emulator's batches ended with it: a new --emulator run starts afresh "
                "(with another --journal, if any)."
            )
        elif journal is not None:
            advice = f"Run the same command again with --journal {journal} to resume."
        else:
            advice = (
                f"{summary.done - summary.failed} batches were made before the interruption;"
                " without a --journal, running the same command again would make them again."
            )
        stderr.print(escape(f"Interrupted.{kept} {advice}"))
        return 130
    except (ProlificError, OSError) as exc:
        stderr.print(f"[red]error[/red] {escape(str(exc))}")
        return 2


class _Options:
    def __init__(
        self,
        concurrency: int,
        journal: Path | None,
        results: Path | None,
        retry_failed: bool,
        progress: bool,
        reconcile_delay: float | None,
    ) -> None:
        self.reconcile_delay = reconcile_delay
        self.concurrency = concurrency
        self.journal = journal
        self.results = results
        self.retry_failed = retry_failed
        self.progress = progress


def _journal_mismatch(manifest: Path, journal: Journal) -> str | None:
    """Compare the journal with every line before anything is sent."""
    try:
        entries = journal.read("mixed")
        for index, (line, request) in enumerate(read_manifest(manifest)):
            entry = entries.get(request.key if request.key is not None else index)
            if entry is not None and entry.fingerprint != fingerprint(request):
                return (
                    f"{manifest}:{line} differs from what {journal.path} recorded for it: "
                    "the journal belongs to another manifest (use another --journal)"
                )
    except (ProlificError, ManifestError) as exc:
        return str(exc)
    return None


async def _provision(
    manifest: Path, options: _Options, use_emulator: bool, seed: int, summary: _Summary
) -> int:
    async with contextlib.AsyncExitStack() as stack:
        fake: Any = None
        if use_emulator:
            fake = await stack.enter_async_context(_demo_emulator(manifest, seed))
            client = await stack.enter_async_context(fake.client(retry=DEMO_RETRY, timeout=2.0))
            stderr.print(f"Emulator on {fake.url} with latency and injected faults (seed {seed}).")
        else:
            client = await stack.enter_async_context(ProlificClient())
        sink = stack.enter_context(_results_file(options.results))
        summary.middleware = client.rate_gate
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
        with _progress(options.progress) as bar:
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
async def _demo_emulator(manifest: Path, seed: int) -> AsyncIterator[Any]:
    from .testing import FakeProlific, RateLimit

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


@contextlib.contextmanager
def _progress(enabled: bool) -> Iterator[Progress]:
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("failed [red]{task.fields[failed]}[/red]"),
        TextColumn("in progress {task.fields[in_flight]}"),
        TextColumn("{task.fields[rate]:.0f}/s"),
        TextColumn("429s {task.fields[throttled]}"),
        TimeElapsedColumn(),
        console=stderr,
        disable=not enabled,
    )
    with bar:
        yield bar


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


class _Summary:
    def __init__(self, total: int) -> None:
        self.middleware: Any = None  # the client's retry middleware, for its 429 count
        self.total = total
        self.read = 0
        self.done = 0
        self.failed = 0
        self.reconciled = 0
        self.resumed = 0
        self.posts = 0
        self.started = time.monotonic()
        self.failures: list[tuple[int, BulkResult]] = []
        self.resumed_indexes: set[int] = set()

    def add(self, result: BulkResult, line: int) -> None:
        self.done += 1
        self.posts += result.attempts
        self.reconciled += result.reconciled
        if result.resumed:
            self.resumed += 1
            self.resumed_indexes.add(result.index)
        if result.batch is None:
            self.failed += 1
            if len(self.failures) < 10:
                self.failures.append((line, result))

    @property
    def throttled(self) -> int:
        return int(getattr(self.middleware, "rate_limited_total", 0))

    def fields(self) -> dict[str, Any]:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        return {
            "failed": self.failed,
            "in_flight": self.read - self.done,
            "rate": self.done / elapsed,
            "throttled": self.throttled,
        }

    def print(self) -> None:
        elapsed = time.monotonic() - self.started
        table = Table(title="Provisioning summary", show_header=False)
        rows = [
            ("requests", self.total),
            ("batches that exist", self.done - self.failed),
            ("  found by reconciliation", self.reconciled),
            ("  reported from the journal", self.resumed),
            ("failed", self.failed),
            ("POSTs sent", self.posts),
            ("429 answers met", self.throttled),
            ("elapsed", f"{elapsed:.1f} s"),
            ("throughput", f"{self.done / max(elapsed, 1e-6):.0f} requests/s"),
        ]
        for label, value in rows:
            table.add_row(label, str(value))
        stdout.print(table)
        for line, result in self.failures:
            detail = escape(f"{type(result.error).__name__}: {result.error}")
            stdout.print(f"[red]line {line}[/red]: {detail}")
        if self.failed > len(self.failures):
            stdout.print(f"... and {self.failed - len(self.failures)} more failures")


def _print_emulator_check(fake: Any, manifest: Path, summary: _Summary) -> bool:
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


# The workflow commands (datasets, batch setup, readiness and results) register on `app`
# and `batches` when their module is imported; it imports the helpers above.
from . import _cli_workflow  # noqa: E402, F401
