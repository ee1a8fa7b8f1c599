"""``prolific-async datasets``: create a dataset, upload a file to it, show its status.

Changing a V4 dataset (update, add-datapoints, schema-migration) is in
:mod:`._dataset_changes`; its commands are registered here, at the end.
"""

from __future__ import annotations

from pathlib import Path

import click

from .._client import ProlificClient
from .._loaders import load_schema
from ..errors import DatasetProcessingError
from ..models.datasets import Dataset, DatasetUpload, ImportJob
from ._dataset_changes import DATASET_CHANGE_COMMANDS
from ._options import arguments, emit, id_argument, output_options, workspace_option
from ._render import dataset_tables, rejected_table
from ._shared import (
    call,
    note,
    out,
    poll_option,
    read_file,
    say,
    stderr,
    timeout_option,
)

__all__ = ["datasets"]


@click.group()
def datasets() -> None:
    """Create datasets and upload files to them (tables, or --format json|csv)."""


@datasets.command("create")
@click.option("-n", "--name", required=True, help="The dataset's name.")
@workspace_option("The workspace to create it in.")
@click.option(
    "--schema",
    "schema_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help='A JSON file {"strict": ..., "fields": {...}}: makes a V4 dataset.',
)
@output_options()
def datasets_create(
    name: str, workspace_id: str, schema_file: Path | None, output_format: str
) -> None:
    """Create a dataset: V3 without --schema, V4 with one (sent once)."""
    schema = None if schema_file is None else read_file(load_schema, schema_file, "--schema")
    dataset = call(lambda c: c.datasets.create(name=name, workspace_id=workspace_id, schema=schema))
    _show(dataset, output_format)


def _show(dataset: Dataset, output_format: str) -> None:
    def tables() -> None:
        for table in dataset_tables(dataset):
            out().print(table)

    emit(output_format, dataset, tables)


@datasets.command("status")
@id_argument("dataset_id", "-d")
@output_options()
def datasets_status(dataset_id: str, output_format: str) -> None:
    """Show a dataset: its status (V3) or its import jobs (V4)."""
    _show(call(lambda c: c.datasets.get(dataset_id)), output_format)


@datasets.command("upload")
@arguments(
    ("dataset_id", "-d", None),
    ("file", "-f", click.Path(exists=True, dir_okay=False, readable=True, path_type=Path)),
)
@timeout_option("for the data to be usable")
@poll_option
@output_options()
def datasets_upload(
    dataset_id: str, file: Path, timeout: float, poll_interval: float, output_format: str
) -> None:
    """Upload FILE to a dataset and wait until its data is usable.

    V3: .csv or .zip, until the dataset is READY. V4: .csv or .jsonl, until the import
    finishes; a partial import lists the records it rejected (and exits 0: the accepted
    ones are usable). A failed import or processing error exits 1.
    """

    async def go(client: ProlificClient) -> DatasetUpload:
        note(f"Uploading {file.name} to dataset {dataset_id} and waiting for it...")
        try:
            return await client.datasets.upload(
                dataset_id, file, timeout=timeout, poll_interval=poll_interval
            )
        except DatasetProcessingError as exc:
            _show_failed_import(exc.import_job, output_format)
            raise

    result = call(go)
    if output_format != "table":
        emit(output_format, result, lambda: None)
        return
    job: ImportJob | None = result.import_job
    if job is None:
        say(f"Uploaded {result.filename} to dataset {dataset_id}: {result.status}.")
        return
    counts = f"{job.accepted_count or 0} accepted, {job.rejected_count or 0} rejected"
    say(
        f"Uploaded {result.filename} to dataset {dataset_id}: import {job.import_id} "
        f"{job.status} ({counts})."
    )
    if result.rejected_records:
        out().print(rejected_table(result.rejected_records))


def _show_failed_import(job: object, output_format: str) -> None:
    """Before the error message: the failed V4 import job (JSON) or its rejected records."""
    if not isinstance(job, ImportJob):
        return
    if output_format != "table":
        emit(output_format, job, lambda: None)
    elif job.errors:
        stderr.print(rejected_table(job.errors))


for _command in DATASET_CHANGE_COMMANDS:
    datasets.add_command(_command)
