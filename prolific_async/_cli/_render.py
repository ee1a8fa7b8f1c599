"""How results look: table cells and tables (the provisioning summary is in ``_summary``)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Final

from rich.table import Table
from rich.text import Text

from ..models.batches import Batch
from ..models.dataset_changes import SchemaMigration
from ..models.datasets import Dataset, ImportRecordError
from ..models.exports import BatchExport
from ..models.responses import ResponseAnswer, TaskResponse
from ..models.syncs import BatchSync
from ._exit import terminal_safe

__all__ = [
    "batch_table",
    "counted",
    "dataset_tables",
    "expiry",
    "exports_table",
    "ids_table",
    "migration_tables",
    "rejected_table",
    "responses_table",
    "status_text",
    "sync_table",
]

#: Statuses shown in green, yellow or red (the rest plain).
GOOD: Final = frozenset({"READY", "complete"})
MIXED: Final = frozenset({"partial", "PROCESSING", "processing", "generating", "queued"})
BAD: Final = frozenset({"ERROR", "failed", "pending_schema"})


# -- cells ---------------------------------------------------------------------------


def _time(value: datetime) -> str:
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    try:
        return aware.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except OverflowError:  # a server's year 1 at +01:00 is in year 0 in UTC
        return aware.isoformat()


def _cell(value: object) -> Text:
    if value is None or value == "":
        return Text("-", style="dim")
    if isinstance(value, Text):
        return value
    if isinstance(value, datetime):
        return Text(_time(value))
    return Text(terminal_safe(str(value)))


def status_text(value: object) -> Text:
    """A status, coloured by whether it is good, in between or bad."""
    if value is None:
        return _cell(None)
    text = str(value)
    style = "green" if text in GOOD else "yellow" if text in MIXED else "red" if text in BAD else ""
    return Text(terminal_safe(text), style=style)


def counted(number: int, noun: str) -> str:
    """``"1 task"``, ``"3 tasks"``."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def expiry(expires_at: datetime | None) -> str:
    """``", link expires <time>"`` for a presigned link, or nothing if it has no expiry."""
    return f", link expires {_time(expires_at)}" if expires_at is not None else ""


# -- tables --------------------------------------------------------------------------


def _details(title: str, rows: Iterable[tuple[str, object]]) -> Table:
    table = Table(title=Text(terminal_safe(title)), title_justify="left", show_header=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for label, value in rows:
        table.add_row(label, _cell(value))
    return table


def _table(title: str, columns: Iterable[str]) -> Table:
    table = Table(title=Text(terminal_safe(title)), title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def batch_table(batch: Batch) -> Table:
    """One batch, a field per row."""
    datasets = ", ".join(dataset.id for dataset in batch.datasets)
    return _details(
        f"Batch {batch.id}",
        [
            ("name", batch.name),
            ("status", status_text(batch.status)),
            ("workspace", batch.workspace_id),
            ("datasets", datasets),
            ("tasks", batch.total_task_count),
            ("task groups", batch.total_task_groups),
            ("instructions", batch.total_instruction_count),
            ("created", batch.created_at),
        ],
    )


def dataset_tables(dataset: Dataset) -> list[Table]:
    """One dataset, a field per row, then its import jobs (V4) if it has any."""
    rows: list[tuple[str, object]] = [
        ("name", dataset.name),
        ("version", "V4 (schema)" if dataset.schema is not None else "V3"),
    ]
    if dataset.schema is None:
        rows += [("status", status_text(dataset.status)), ("file", dataset.filename)]
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
                status_text(job.status),
                _cell(job.accepted_count),
                _cell(job.rejected_count),
                _cell(job.reason),
                _cell(job.updated_at),
            )
        tables.append(imports)
    return tables


def ids_table(title: str, column: str, ids: Iterable[str]) -> Table:
    """A list of ids (tasks, task groups), one per row."""
    table = _table(title, [column])
    for value in ids:
        table.add_row(_cell(value))
    return table


def exports_table(batch_id: str, exports: list[BatchExport]) -> Table:
    """A batch's export jobs, one row each (the URL only in --json: it is long)."""
    table = _table(
        f"{counted(len(exports), 'export job')} of batch {batch_id}",
        ["export", "status", "created", "study", "from", "to", "link expires"],
    )
    for export in exports:
        table.add_row(
            _cell(export.export_id),
            status_text(export.status),
            _cell(export.created_at),
            _cell(export.study_id),
            _cell(export.from_),
            _cell(export.to),
            _cell(export.expires_at),
        )
    return table


def sync_table(batch_id: str, sync: BatchSync) -> Table:
    """A sync job of a batch, a field per row (the counts once it is complete)."""
    title = (
        f"Sync {sync.sync_id} of batch {batch_id}" if sync.sync_id else f"Sync of batch {batch_id}"
    )
    return _details(
        title,
        [
            ("status", status_text(sync.status)),
            ("dataset", sync.dataset_id),
            ("tasks created", sync.tasks_created),
            ("datapoints processed", sync.datapoints_processed),
            ("groups created", sync.groups_created),
            ("groups expanded", sync.groups_expanded),
            ("reason", sync.reason),
            ("created", sync.created_at),
        ],
    )


def migration_tables(dataset_id: str, migration: SchemaMigration) -> list[Table]:
    """A schema migration job, a field per row; then what it could not re-normalise."""
    tables = [
        _details(
            f"Schema migration {migration.job_id} of dataset {dataset_id}",
            [
                ("status", status_text(migration.status)),
                ("schema version", migration.schema_version),
                ("reprocessed", migration.reprocessed_count),
                ("failed", migration.failed_count),
                ("reason", migration.reason),
                ("created", migration.created_at),
                ("updated", migration.updated_at),
            ],
        )
    ]
    if migration.errors:
        problems = _table(counted(len(migration.errors), "problem"), ["problem"])
        for entry in migration.errors:  # the reference does not fix an entry's shape
            problems.add_row(_cell(json.dumps(entry, ensure_ascii=False)))
        tables.append(problems)
    return tables


def rejected_table(records: list[ImportRecordError]) -> Table:
    """The records an import rejected, and why."""
    table = _table(counted(len(records), "rejected record"), ["record", "field", "reason"])
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


def responses_table(batch_id: str, responses: list[TaskResponse]) -> Table:
    """A batch's responses, one row each."""
    table = _table(
        f"{counted(len(responses), 'response')} of batch {batch_id}",
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
