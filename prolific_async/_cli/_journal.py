"""``prolific-async journal show|export|import``: look into a bulk journal, or convert one.

``show`` counts the items by what a re-run does with them; ``export`` prints every item's
record as one JSON line (for people and ``jq``); ``import`` converts a JSON Lines journal
of the first format into the SQLite journal this version writes. None of them sends a
request, and ``show`` and ``export`` may run while a run uses the journal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from .._journal import Journal
from .._journal_import import import_journal
from .._journal_lock import RunLock
from .._journal_records import ItemKey, JournalEntry, status_of
from ..errors import JournalError
from ._exit import EXIT_USAGE, json_text, print_error
from ._options import emit, output_options
from ._shared import stdout

__all__ = ["journal"]

_EXISTING = click.Path(exists=True, dir_okay=False, readable=True, path_type=Path)


@click.group()
def journal() -> None:
    """Look into the journal of a `provision --journal` run, or convert an old one."""


@journal.command()
@click.argument("file", type=_EXISTING)
@output_options()
def show(file: Path, output_format: str) -> int:
    """Summarise FILE: its operation, and its items done, failed, in flight, not sent yet."""
    try:
        with Journal(file).reading(None) as reader:
            counts = reader.counts()
            operation = reader.operation
    except JournalError as exc:
        return _refused(exc)
    holder = RunLock.holder(file)
    data = {
        "file": str(file),
        "operation": operation,
        **{name.replace(" ", "_"): count for name, count in counts.items()},
        "in_use_by": None if holder is None else str(holder),
    }
    emit(output_format, data, lambda: _print_show(file, operation, counts, holder))
    return 0


def _print_show(file: Path, operation: str | None, counts: dict[str, int], holder: object) -> None:
    if operation is None:  # an empty file: a run made it, and recorded nothing yet
        stdout.print(escape(f"{file}: an empty journal (no run has recorded anything in it)"))
        return
    stdout.print(escape(f"{file}: a {operation!r} journal with {counts['items']} items"))
    done = f"{counts['done']:>8}"
    if counts["reconciled"]:
        done += f"  ({counts['reconciled']} found by reconciliation)"
    stdout.print(f"  done      {done}")
    stdout.print(f"  failed    {counts['failed']:>8}")
    stdout.print(f"  in flight {counts['in flight']:>8}  (a re-run reconciles these)")
    if counts["not made"]:
        made = "(sent, provably not made: a re-run sends these)"
        stdout.print(f"  not made  {counts['not made']:>8}  {made}")
    if counts["not attempted"]:
        stdout.print(f"  not attempted {counts['not attempted']:>4}  (a re-run sends these)")
    if holder is not None:
        stdout.print(escape(f"In use now by {holder}."))


@journal.command()
@click.argument("file", type=_EXISTING)
@click.option("--format", "format_given", type=click.Choice(["json"]), help="Always JSON Lines.")
@click.option("--json", "as_json", is_flag=True, help="Same as --format json (the default).")
def export(file: Path, format_given: str | None, as_json: bool) -> int:
    """Print every item's record in FILE as one JSON line, in item order.

    Its only format is JSON Lines (one record a line, for jq); --format json and --json
    are accepted so that every command takes the same option.
    """
    try:
        with Journal(file).reading(None) as reader:
            for item, entry in reader.entries():
                click.echo(json_text(_exported(item, entry)))
    except JournalError as exc:
        return _refused(exc)
    return 0


@journal.command(name="import")
@click.argument("old", type=_EXISTING)
@click.argument("new", type=click.Path(dir_okay=False, path_type=Path))
@output_options()
def import_(old: Path, new: Path, output_format: str) -> int:
    """Convert OLD, a JSON Lines journal of an earlier version, into the journal NEW.

    Run `provision --journal NEW` afterwards to resume the run OLD recorded.
    """
    try:
        records = import_journal(old, new)
        with Journal(new).reading(None) as reader:
            counts = reader.counts()
    except JournalError as exc:
        return _refused(exc)
    data = {
        "old": str(old),
        "new": str(new),
        "records": records,
        **{name.replace(" ", "_"): count for name, count in counts.items()},
    }
    emit(
        output_format,
        data,
        lambda: stdout.print(
            escape(
                f"Imported {records} records of {counts['items']} items from {old} into "
                f"{new}: {counts['done']} done, {counts['failed']} failed, "
                f"{counts['in flight']} in flight, {counts['not made']} not made, "
                f"{counts['not attempted']} not attempted. Resume with --journal {new}."
            )
        ),
    )
    return 0


def _exported(item: ItemKey, entry: JournalEntry) -> dict[str, Any]:
    return {
        "item": item,
        "status": status_of(entry),
        "fingerprint": entry.fingerprint,
        "started_at": None if entry.started_at is None else entry.started_at.isoformat(),
        "last_sent_at": None if entry.last_sent_at is None else entry.last_sent_at.isoformat(),
        "batch_id": entry.batch_id,
        "reconciled": entry.reconciled,
        "attempts": entry.attempts,
        "batch": entry.batch,
        "error": entry.error,
        "request_id": entry.request_id,
    }


def _refused(exc: JournalError) -> int:
    print_error(str(exc))  # the one format; a journal that cannot be used is bad input
    return EXIT_USAGE
