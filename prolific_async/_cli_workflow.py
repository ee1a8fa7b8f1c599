"""The Task Builder workflow on the command line: datasets, setup, readiness and results.

``prolific-async datasets create|upload|status`` and
``prolific-async batches setup|status|wait|responses|report|export``. Each prints a rich
table (or a one-line summary) by default and, with ``--json``, the converter's form of
the model(s) for scripts. A :class:`~prolific_async.errors.ProlificError` prints its
message to stderr and exits 1; a bad option exits 2.

The commands register on :mod:`._cli`'s ``app`` and ``batches`` group: ``_cli`` imports
this module at its end.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, TypeVar

import cattrs
import click
from cattrs.errors import BaseValidationError
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ._cli import _call, _print_json, app, batches, stderr
from ._client import ProlificClient
from ._converter import converter
from ._polling import DEFAULT_MAX_POLL_INTERVAL, DEFAULT_POLL_INTERVAL, DEFAULT_WAIT_TIMEOUT
from ._sentinel import NOT_GIVEN, NotGiven
from .errors import DatasetProcessingError
from .models.batches import Batch
from .models.datasets import (
    Dataset,
    DatasetSchema,
    DatasetUpload,
    ImportJob,
    ImportRecordError,
)
from .models.exports import BatchExport, BatchReport
from .models.responses import ResponseAnswer, TaskResponse

__all__ = ["datasets"]

T = TypeVar("T")

#: The keys a ``--schema`` file may hold, at the top and in each field.
SCHEMA_KEYS: Final = frozenset({"strict", "fields"})
FIELD_KEYS: Final = frozenset({"type", "label"})
#: Statuses shown in green, yellow or red (the rest plain).
GOOD: Final = frozenset({"READY", "complete"})
MIXED: Final = frozenset({"partial", "PROCESSING", "processing", "generating", "queued"})
BAD: Final = frozenset({"ERROR", "failed", "pending_schema"})
#: The width available to tables written to a pipe or file, so that no id is folded (a
#: table is only as wide as its content; at a terminal, the terminal's width is used).
PIPE_WIDTH: Final = 400

_seconds = click.FloatRange(min=0, min_open=True)
_json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print JSON (for scripts) instead of a table."
)
_poll_option = click.option(
    "--poll-interval",
    type=_seconds,
    default=DEFAULT_POLL_INTERVAL,
    show_default=True,
    help=(
        "Seconds before the first poll again; each wait is 1.5 times longer "
        f"(at most {DEFAULT_MAX_POLL_INTERVAL:g} s)."
    ),
)


def _timeout_option(what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(
        "--timeout",
        type=_seconds,
        default=DEFAULT_WAIT_TIMEOUT,
        show_default=True,
        help=f"Seconds to wait {what}, polls included; then exit 1.",
    )


def _run(make: Callable[[ProlificClient], Awaitable[T]]) -> T:
    """:func:`._cli._call`, with the client's argument checks (ValueError) as usage errors."""
    try:
        return _call(make)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc


def _out() -> Console:
    """The stdout console for tables: a terminal's width, or wide enough for ids in pipes."""
    wide = not sys.stdout.isatty() and not os.environ.get("COLUMNS")
    return Console(highlight=False, soft_wrap=True, width=PIPE_WIDTH if wide else None)


def _say(message: str | Text) -> None:
    """Print one summary line to stdout (no markup: names and URLs print as they are)."""
    _out().print(message if isinstance(message, Text) else Text(message))


def _note(message: str) -> None:
    """Tell a person at a terminal what is being waited for (nothing in pipes)."""
    if stderr.is_terminal:
        stderr.print(Text(message, style="dim"))


# -- cells ---------------------------------------------------------------------------


def _time(value: datetime) -> str:
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _cell(value: object) -> Text:
    if value is None or value == "":
        return Text("-", style="dim")
    if isinstance(value, Text):
        return value
    if isinstance(value, datetime):
        return Text(_time(value))
    return Text(str(value))


def _status(value: object) -> Text:
    if value is None:
        return _cell(None)
    text = str(value)
    style = "green" if text in GOOD else "yellow" if text in MIXED else "red" if text in BAD else ""
    return Text(text, style=style)


def _details(title: str, rows: Iterable[tuple[str, object]]) -> Table:
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for label, value in rows:
        table.add_row(label, _cell(value))
    return table


def _table(title: str, columns: Iterable[str]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def _batch_table(batch: Batch) -> Table:
    datasets = ", ".join(dataset.id for dataset in batch.datasets)
    return _details(
        f"Batch {batch.id}",
        [
            ("name", batch.name),
            ("status", _status(batch.status)),
            ("workspace", batch.workspace_id),
            ("datasets", datasets),
            ("tasks", batch.total_task_count),
            ("task groups", batch.total_task_groups),
            ("instructions", batch.total_instruction_count),
            ("created", batch.created_at),
        ],
    )


def _dataset_tables(dataset: Dataset) -> list[Table]:
    rows: list[tuple[str, object]] = [
        ("name", dataset.name),
        ("version", "V4 (schema)" if dataset.schema is not None else "V3"),
    ]
    if dataset.schema is None:
        rows += [("status", _status(dataset.status)), ("file", dataset.filename)]
    else:
        fields = [f"{name}: {field.type}" for name, field in dataset.schema.fields.items()]
        rows += [("schema fields", "\n".join(fields)), ("strict", dataset.schema.strict)]
    rows += [
        ("datapoints", dataset.total_datapoint_count),
        ("workspace", dataset.workspace_id),
        ("created", dataset.created_at),
    ]
    tables = [_details(f"Dataset {dataset.id}", rows)]
    if dataset.imports:
        imports = _table(
            "Imports", ["import", "file", "status", "accepted", "rejected", "reason", "updated"]
        )
        for job in dataset.imports:
            imports.add_row(
                _cell(job.import_id),
                _cell(job.filename),
                _status(job.status),
                _cell(job.accepted_count),
                _cell(job.rejected_count),
                _cell(job.reason),
                _cell(job.updated_at),
            )
        tables.append(imports)
    return tables


def _rejected_table(records: list[ImportRecordError]) -> Table:
    table = _table(f"{len(records)} rejected records", ["record", "field", "reason"])
    for record in records:
        table.add_row(_cell(record.record_index), _cell(record.field), _cell(record.reason))
    return table


def _answer(answer: ResponseAnswer) -> str:
    if answer.file_name is not None or answer.file_key is not None:
        return f"file {answer.file_name or answer.file_key}"
    # A number or a boolean is shown as JSON writes it (0 and false are answers too).
    if answer.value is None or isinstance(answer.value, str):
        value = answer.value or ""
    else:
        value = json.dumps(answer.value)
    text = " ".join(part for part in (value, answer.unit) if part)
    if answer.explanation:
        text = f"{text} ({answer.explanation})" if text else answer.explanation
    if not text and answer.extra:
        text = json.dumps(answer.extra, ensure_ascii=False)
    return text


def _responses_table(batch_id: str, responses: list[TaskResponse]) -> Table:
    table = _table(
        f"{len(responses)} responses of batch {batch_id}",
        ["task", "participant", "submission", "instruction", "type", "answer", "created"],
    )
    for item in responses:
        answers = "\n".join(_answer(answer) for answer in item.response.answer)
        table.add_row(
            _cell(item.task_id),
            _cell(item.participant_id),
            _cell(item.submission_id),
            _cell(item.response.instruction_id),
            _cell(item.response.type),
            _cell(answers),
            _cell(item.created_at),
        )
    return table


def _expiry(expires_at: datetime | None) -> str:
    return f", link expires {_time(expires_at)}" if expires_at is not None else ""


# -- datasets --------------------------------------------------------------------------


@app.group()
def datasets() -> None:
    """Create datasets and upload files to them (tables, or --json)."""


def _read_schema(path: Path) -> DatasetSchema:
    """The V4 schema in a JSON file, or a usage error saying what is wrong with it."""

    def bad(problem: str) -> click.BadParameter:
        return click.BadParameter(f"{path}: {problem}", param_hint="'--schema'")

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise bad(f"cannot be read ({exc})") from exc
    except ValueError as exc:
        raise bad(f"not valid JSON ({exc})") from exc
    shape = 'a JSON object {"strict": true|false, "fields": {"NAME": {"type": ...}}}'
    if not isinstance(data, dict) or "fields" not in data:
        raise bad(f"expected {shape}")
    unknown = sorted(set(data) - SCHEMA_KEYS)
    if unknown:
        raise bad(f"unknown key(s) {', '.join(unknown)}: expected {shape}")
    if isinstance(data["fields"], dict):
        for name, field in data["fields"].items():
            extra = sorted(set(field) - FIELD_KEYS) if isinstance(field, dict) else []
            if extra:
                raise bad(f"field {name!r} has unknown key(s) {', '.join(extra)} (type, label)")
    try:
        return converter.structure(data, DatasetSchema)
    except (BaseValidationError, TypeError, ValueError, KeyError) as exc:
        problems = cattrs.transform_error(exc, path="schema")
        raise bad("; ".join(problems)) from exc


@datasets.command("create")
@click.option("--name", required=True, help="The dataset's name.")
@click.option("--workspace-id", required=True, help="The workspace to create it in.")
@click.option(
    "--schema",
    "schema_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help='A JSON file {"strict": ..., "fields": {...}}: makes a V4 dataset.',
)
@_json_option
def datasets_create(name: str, workspace_id: str, schema_file: Path | None, as_json: bool) -> None:
    """Create a dataset: V3 without --schema, V4 with one (sent once)."""
    schema = _read_schema(schema_file) if schema_file is not None else None
    dataset = _run(lambda c: c.datasets.create(name=name, workspace_id=workspace_id, schema=schema))
    if as_json:
        _print_json(converter.unstructure(dataset))
        return
    for table in _dataset_tables(dataset):
        _out().print(table)


@datasets.command("status")
@click.argument("dataset_id")
@_json_option
def datasets_status(dataset_id: str, as_json: bool) -> None:
    """Show a dataset: its status (V3) or its import jobs (V4)."""
    dataset = _run(lambda c: c.datasets.get(dataset_id))
    if as_json:
        _print_json(converter.unstructure(dataset))
        return
    for table in _dataset_tables(dataset):
        _out().print(table)


@datasets.command("upload")
@click.argument("dataset_id")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path))
@_timeout_option("for the data to be usable")
@_poll_option
@_json_option
def datasets_upload(
    dataset_id: str, file: Path, timeout: float, poll_interval: float, as_json: bool
) -> None:
    """Upload FILE to a dataset and wait until its data is usable.

    V3: .csv or .zip, until the dataset is READY. V4: .csv or .jsonl, until the import
    finishes; a partial import lists the records it rejected (and exits 0: the accepted
    ones are usable). A failed import or processing error exits 1.
    """

    async def go(client: ProlificClient) -> DatasetUpload:
        _note(f"Uploading {file.name} to dataset {dataset_id} and waiting for it...")
        try:
            return await client.datasets.upload(
                dataset_id, file, timeout=timeout, poll_interval=poll_interval
            )
        except DatasetProcessingError as exc:
            _show_failed_import(exc.import_job, as_json)
            raise

    result = _run(go)
    if as_json:
        _print_json(converter.unstructure(result))
        return
    job: ImportJob | None = result.import_job
    if job is None:
        _say(f"Uploaded {result.filename} to dataset {dataset_id}: {result.status}.")
        return
    counts = f"{job.accepted_count or 0} accepted, {job.rejected_count or 0} rejected"
    _say(
        f"Uploaded {result.filename} to dataset {dataset_id}: import {job.import_id} "
        f"{job.status} ({counts})."
    )
    if result.rejected_records:
        _out().print(_rejected_table(result.rejected_records))


def _show_failed_import(job: object, as_json: bool) -> None:
    """Before the error message: the failed V4 import job (JSON) or its rejected records."""
    if not isinstance(job, ImportJob):
        return
    if as_json:
        _print_json(converter.unstructure(job))
    elif job.errors:
        stderr.print(_rejected_table(job.errors))


# -- batches: setup and readiness ------------------------------------------------------


@batches.command("setup")
@click.argument("batch_id")
@click.option("--dataset-id", default=None, help="Attach this dataset first.")
@click.option(
    "--tasks-per-group",
    type=click.IntRange(min=1),
    default=None,
    help="How many tasks one participant gets together.",
)
@click.option("--wait", is_flag=True, help="Wait until the batch is READY and show it.")
@_timeout_option("with --wait for READY")
@_poll_option
@_json_option
def batches_setup(
    batch_id: str,
    dataset_id: str | None,
    tasks_per_group: int | None,
    wait: bool,
    timeout: float,
    poll_interval: float,
    as_json: bool,
) -> None:
    """Build a batch's tasks from its dataset.

    The request is sent once. Without --wait, prints the status just after it (usually
    PROCESSING); with --wait, follows the batch to READY and shows it.
    """
    dataset: str | NotGiven = NOT_GIVEN if dataset_id is None else dataset_id
    per_group: int | NotGiven = NOT_GIVEN if tasks_per_group is None else tasks_per_group

    async def go(client: ProlificClient) -> Batch | str:
        await client.batches.setup(batch_id, dataset_id=dataset, tasks_per_group=per_group)
        if not wait:
            return str(await client.batches.get_status(batch_id))
        _note(f"Setup of batch {batch_id} started; waiting for READY...")
        return await client.batches.wait_until_ready(
            batch_id, timeout=timeout, poll_interval=poll_interval
        )

    outcome = _run(go)
    if isinstance(outcome, Batch):
        _show_batch(outcome, as_json)
    elif as_json:
        _print_json({"batch_id": batch_id, "status": outcome})
    else:
        _say(
            f"Setup of batch {batch_id} started (status {outcome}); "
            f"follow it with: prolific-async batches wait {batch_id}"
        )


def _show_batch(batch: Batch, as_json: bool) -> None:
    if as_json:
        _print_json(converter.unstructure(batch))
    else:
        _out().print(_batch_table(batch))


@batches.command("status")
@click.argument("batch_id")
@_json_option
def batches_status(batch_id: str, as_json: bool) -> None:
    """Show a batch's status: UNINITIALISED, PROCESSING, READY or ERROR."""
    status = str(_run(lambda c: c.batches.get_status(batch_id)))
    if as_json:
        _print_json({"batch_id": batch_id, "status": status})
    else:
        _say(Text.assemble(f"Batch {batch_id}: ", _status(status)))


@batches.command("wait")
@click.argument("batch_id")
@_timeout_option("for READY")
@_poll_option
@_json_option
def batches_wait(batch_id: str, timeout: float, poll_interval: float, as_json: bool) -> None:
    """Wait until a batch is READY and show it.

    Exits 1 if the batch ends in ERROR or is not READY within --timeout.
    """
    _note(f"Waiting for batch {batch_id} to be READY (at most {timeout:g} s)...")
    batch = _run(
        lambda c: c.batches.wait_until_ready(batch_id, timeout=timeout, poll_interval=poll_interval)
    )
    _show_batch(batch, as_json)


# -- batches: results ------------------------------------------------------------------


@batches.command("responses")
@click.argument("batch_id")
@_json_option
def batches_responses(batch_id: str, as_json: bool) -> None:
    """Show every response of a batch."""
    responses = _run(lambda c: c.batches.responses(batch_id))
    if as_json:
        _print_json([converter.unstructure(item) for item in responses])
    elif not responses:
        _say(f"No responses for batch {batch_id} yet.")
    else:
        _out().print(_responses_table(batch_id, responses))


@batches.command("report")
@click.argument("batch_id")
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path),
    default=None,
    help="Download the CSV report to this file (or into this directory).",
)
@_json_option
def batches_report(batch_id: str, output: Path | None, as_json: bool) -> None:
    """Link to a batch's CSV report, or download it.

    The link is presigned (it needs no token) and expires.
    """

    async def go(client: ProlificClient) -> tuple[BatchReport, Path | None]:
        report = await client.batches.report(batch_id)
        if output is None:
            return report, None
        return report, await client.batches.download_export(report.url, output)

    report, path = _run(go)
    if as_json:
        _print_json({**converter.unstructure(report), "path": str(path) if path else None})
    elif path is not None:
        _say(f"Saved the report of batch {batch_id} to {path} ({path.stat().st_size} bytes).")
    else:
        _say(f"Report of batch {batch_id} (CSV{_expiry(report.expires_at)}):")
        _say(report.url)


@batches.command("export")
@click.argument("batch_id")
@click.option("--study-id", default=None, help="Only responses from this study.")
@click.option(
    "--from", "from_", metavar="TIME", default=None, help="Only responses from TIME (ISO-8601)."
)
@click.option("--to", metavar="TIME", default=None, help="Only responses up to TIME (ISO-8601).")
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path),
    default=None,
    help="Download the ZIP to this file (or into this directory); else print its URL.",
)
@_timeout_option("for the export to be generated")
@_poll_option
@_json_option
def batches_export(
    batch_id: str,
    study_id: str | None,
    from_: str | None,
    to: str | None,
    output: Path | None,
    timeout: float,
    poll_interval: float,
    as_json: bool,
) -> None:
    """Export a batch's responses as a ZIP.

    Requests the export, waits until it is generated, then downloads it to --output or
    prints its URL (presigned: it needs no token, and expires). A batch holds at most 10
    export jobs; the 11th request fails until one is deleted.
    """

    async def go(client: ProlificClient) -> tuple[BatchExport, Path | None]:
        export = await client.batches.request_export(
            batch_id, study_id=study_id, from_=from_, to=to
        )
        _note(f"Waiting for the export of batch {batch_id} (at most {timeout:g} s)...")
        export = await client.batches.wait_for_export(
            batch_id, export, timeout=timeout, poll_interval=poll_interval
        )
        if output is None:
            return export, None
        return export, await client.batches.download_export(export, output)

    export, path = _run(go)
    if as_json:
        _print_json({**converter.unstructure(export), "path": str(path) if path else None})
        return
    name = f"Export {export.export_id}" if export.export_id else "The export"
    if path is not None:
        _say(f"{name} of batch {batch_id}: saved to {path} ({path.stat().st_size} bytes).")
    else:
        _say(f"{name} of batch {batch_id} is complete (ZIP{_expiry(export.expires_at)}):")
        _say(export.url or "")
