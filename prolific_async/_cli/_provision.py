"""``prolific-async provision``: every batch of a manifest, each exactly once, resumable."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Final

import click
from attrs import frozen
from rich.markup import escape

from .._bulk import DEFAULT_MAX_CONSECUTIVE_UNSENT
from .._bulk_progress import BulkProgress
from .._journal import Journal
from .._manifest import (
    ManifestChangedError,
    ManifestError,
    Stamp,
    read_manifest,
    validate_manifest,
)
from .._reconcile import MAX_RECONCILE_SECONDS
from ..bulk import run_bulk
from ..errors import JournalError, MissingTokenError, ProlificError
from ..models.bulk import BulkRequest, CreateBatchRequest
from ._demo import DEMO_RETRY, demo_emulator, print_emulator_check
from ._dry_run import print_dry_run
from ._exit import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    SIGNAL_STATUS,
    broken_output,
    message_of,
    output_message,
    print_error,
    unexpected,
)
from ._options import output_options
from ._progress import ResultsWriteError, progress_bar, result_record, results_file
from ._provision_checks import journal_refusal, path_refusal
from ._shared import client_from_environment, os_message, stderr
from ._summary import Summary

if TYPE_CHECKING:
    from ..testing import FakeProlific

#: ``ProlificClient``'s default ``max_connections``: the floor of the command's own.
DEFAULT_MAX_CONNECTIONS: Final = 100

__all__ = ["provision"]

#: Signals that stop a run as Ctrl-C does (summary, resume advice, exit 128 + signal).
STOP_SIGNALS: Final = tuple(
    signum for signum in (signal.SIGTERM, getattr(signal, "SIGHUP", None)) if signum is not None
)


@frozen(kw_only=True)
class _Options:
    stamp: Stamp  # the manifest as it was checked
    concurrency: int
    journal: Path | None
    results: Path | None
    retry_failed: bool
    progress: bool
    reconcile_delay: float | None
    max_consecutive_unsent: int


def _finite(seconds: float | None) -> float | None:
    """``--reconcile-delay``'s value, refused when it is not a number (``nan``)."""
    if seconds is not None and seconds != seconds:
        raise click.BadParameter("must be a number of seconds, not nan")
    return seconds


@click.command()
@click.argument(
    "manifest", type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path)
)
@click.option(
    "--concurrency",
    default=32,
    show_default=True,
    type=click.IntRange(1, 1024),
    help="Requests in progress at once (under a rate limit the client paces its sends).",
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
    type=click.FloatRange(min=0.0, max=MAX_RECONCILE_SECONDS),
    callback=lambda _ctx, _param, value: _finite(value),
    default=None,
    help="Seconds an ambiguous request's batch is given to appear. Its workspace is listed "
    "at once and a batch found is adopted; the request is sent again only if a listing "
    "begun this long after its last send shows none (default: the per-attempt timeout, 30 s).",
)
@click.option(
    "--max-consecutive-unsent",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_CONSECUTIVE_UNSENT,
    show_default=True,
    help="Stop sending after this many requests in a row failed before reaching the server.",
)
@click.option(
    "--seed",
    default=0,
    show_default=True,
    help=(
        "The emulator's seed: the same seed faults the same requests (identical "
        "manifest lines by arrival order)."
    ),
)
@click.option("--progress/--no-progress", default=True, help="Show the live progress bar.")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Check the manifest and print what would be sent (counts, first bodies); send nothing.",
)
@output_options()
def provision(
    manifest: Path,
    concurrency: int,
    journal: Path | None,
    results: Path | None,
    use_emulator: bool,
    retry_failed: bool,
    reconcile_delay: float | None,
    max_consecutive_unsent: int,
    seed: int,
    progress: bool,
    dry_run: bool,
    output_format: str,
) -> int:
    """Create and duplicate every batch of MANIFEST (JSON Lines), each exactly once.

    Each line is a create {"name", "workspace_id", "task_details", "dataset_id"?} or a
    duplicate {"duplicate_of", "name"?, "upload_new_dataset"?}; either may have a "key".
    Every line is checked before any request is sent. The summary is a table, or JSON or
    CSV on stdout with --format (results stay in --results). Exit status: 0 when every batch
    exists, 1 when any request failed, 2 for a bad manifest, journal or option; SIGINT,
    SIGTERM and SIGHUP stop the run with its summary (130, 143, 129), unless the command
    was started with the signal ignored (nohup).
    """
    # Decided at start: a signal the command was started with ignored stays ignored.
    stop_signals = [s for s in STOP_SIGNALS if signal.getsignal(s) is not signal.SIG_IGN]
    refusal = path_refusal(manifest, journal, results)
    if refusal is not None:
        print_error(refusal)
        return EXIT_USAGE
    try:
        check = validate_manifest(manifest)
    except RecursionError:  # a line of JSON nested thousands of levels deep
        print_error(f"{manifest}: a line is nested too deeply to read; nothing was sent")
        return EXIT_USAGE
    count = check.count
    if check.problems:
        for problem in check.problems:
            print_error(str(problem))
        stderr.print(escape(f"{manifest}: nothing was sent; fix the lines above and run again."))
        return EXIT_USAGE
    if count == 0:
        print_error(f"{manifest}: no requests in the manifest; nothing to do.")
        return EXIT_USAGE
    if dry_run:  # no token, journal or emulator needed: nothing will be sent
        print_dry_run(manifest, count, output_format)
        return EXIT_OK
    if journal is not None:
        refusal = journal_refusal(manifest, check.stamp, journal, use_emulator)
        if refusal is not None:
            print_error(refusal)
            return EXIT_USAGE
    options = _Options(
        stamp=check.stamp,
        concurrency=concurrency,
        journal=journal,
        results=results,
        retry_failed=retry_failed,
        progress=progress,
        reconcile_delay=reconcile_delay,
        max_consecutive_unsent=max_consecutive_unsent,
    )
    summary = Summary(count)
    summary.output_format = output_format
    received: list[int] = []  # the signal that stopped the run, if one did
    run = _provision(manifest, options, use_emulator, seed, summary, (stop_signals, received))
    try:
        return asyncio.run(run)
    except KeyboardInterrupt:  # Ctrl-C: asyncio.run cancelled the run
        signum = received[0] if received else signal.SIGINT
    except asyncio.CancelledError:  # SIGTERM or SIGHUP: _stop_on cancelled the run
        if not received:
            raise
        signum = received[0]
    except click.ClickException:
        raise  # no token, a bad PROLIFIC_URL: reported by the caller
    except (JournalError, ManifestError, MissingTokenError) as exc:
        print_error(message_of(exc))  # the input is wrong (changed since it was checked)
        return EXIT_USAGE
    except Exception as exc:  # an error that stopped the whole run: its summary first
        if summary.read and not broken_output(exc):
            summary.print(interrupted=True, journaled=journal is not None)
        print_error(_failure(exc, results))
        return EXIT_FAILED
    summary.print(interrupted=True, journaled=journal is not None)
    stderr.print(escape(_interrupted(options, use_emulator, summary, signum)))
    return SIGNAL_STATUS[signal.Signals(signum)]


def _failure(exc: Exception, results: Path | None) -> str:
    """What stopped the whole run: an error of the library, a file, the output, or a bug."""
    if isinstance(exc, ProlificError | ResultsWriteError):
        return message_of(exc)
    if broken_output(exc):
        kept = f"; every finished request is in --results {results}" if results else ""
        return f"{output_message(exc)}{kept}"
    if isinstance(exc, OSError):
        return os_message(exc)
    return unexpected(exc)


def _interrupted(options: _Options, use_emulator: bool, summary: Summary, signum: int) -> str:
    """What an interrupted run kept, and how to go on without making batches twice."""
    how = "Interrupted" if signum == signal.SIGINT else f"Stopped by {signal.Signals(signum).name}"
    kept = f" Results so far are in {options.results}." if options.results and summary.done else ""
    if use_emulator:
        advice = (
            "The emulator's batches ended with it: a new --emulator run starts afresh "
            "(with another --journal, if any)."
        )
    elif options.journal is not None:
        advice = (
            f"Run the same command again with --journal {options.journal} to resume: "
            f"the {summary.in_flight} requests in flight may have made their batch, and "
            "the resumed run finds them instead of sending them again."
        )
    else:
        advice = (
            f"{summary.done - summary.failed} batches were made before the interruption, "
            f"and up to {summary.in_flight} more may exist (requests in flight); without a "
            "--journal, running the same command again would make them again."
        )
    return f"{how}.{kept} {advice}"


def _stop_on(signals: list[int], received: list[int]) -> None:
    """Cancel the run (as Ctrl-C does) on the first of ``signals``, noting which it was."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()

    def stop(signum: int) -> None:
        if not received and task is not None:  # a second signal: the stop is under way
            received.append(signum)
            task.cancel()

    for signum in signals:
        # Not on Windows, nor off the main thread (a test running the command in-process).
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stop, signum)


async def _provision(
    manifest: Path,
    options: _Options,
    use_emulator: bool,
    seed: int,
    summary: Summary,
    stopping: tuple[list[int], list[int]],
) -> int:
    _stop_on(*stopping)
    # The command line's user cannot set max_connections: the run's concurrency is never
    # capped by the client's connection limit (the default, 100, stays the floor).
    connections = max(DEFAULT_MAX_CONNECTIONS, options.concurrency)
    async with contextlib.AsyncExitStack() as stack:
        fake: FakeProlific | None = None
        if use_emulator:
            fake = await stack.enter_async_context(demo_emulator(manifest, seed))
            client = await stack.enter_async_context(
                fake.client(retry=DEMO_RETRY, timeout=2.0, max_connections=connections)
            )
            stderr.print(f"Emulator on {fake.url} with latency and injected faults (seed {seed}).")
        else:
            client = await stack.enter_async_context(
                client_from_environment(max_connections=connections)
            )
        sink = stack.enter_context(results_file(options.results))
        summary.rate_gate = client.rate_gate
        lines: dict[int, int] = {}
        kinds: dict[int, str] = {}  # of the requests in progress, for the bar's wait

        changed: list[ManifestChangedError] = []  # the manifest, since it was checked

        def requests() -> Iterator[BulkRequest]:
            try:
                for index, (line, request) in enumerate(
                    read_manifest(manifest, checked=options.stamp)
                ):
                    lines[index] = line
                    kinds[index] = (
                        "create" if isinstance(request, CreateBatchRequest) else "duplicate"
                    )
                    summary.read += 1
                    yield request
            except ManifestChangedError as exc:  # the requests read so far still finish
                changed.append(exc)

        journal = Journal(options.journal) if options.journal is not None else None
        progress = summary.progress = BulkProgress()
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
            max_consecutive_unsent=options.max_consecutive_unsent,
            progress=progress,
        )
        with progress_bar(options.progress, progress, kinds) as bar:
            task = bar.add_task("Provisioning", total=summary.total, **summary.fields())
            async with contextlib.aclosing(outcomes) as results:
                async for result in results:
                    line = lines.pop(result.index, 0)
                    kinds.pop(result.index, None)
                    summary.add(result, line)
                    if sink is not None:
                        sink.add(result_record(result, line))
                    bar.update(task, advance=1, **summary.fields())
        summary.print()
        if changed:
            print_error(f"{changed[0]}; {_changed_advice(options, summary)}")
            return EXIT_USAGE
        exact = print_emulator_check(fake, manifest, summary) if fake is not None else True
        return 1 if summary.failed or not exact else 0


def _changed_advice(options: _Options, summary: Summary) -> str:
    """How to go on after the manifest changed under a run, without making batches twice."""
    made = f"the {summary.read} requests read before it finished"
    if options.journal is not None:
        return f"{made}; restore the manifest and run again with --journal {options.journal}"
    return f"{made}; without a --journal, running the manifest again would make them again"
