"""``prolific-async datasets``: changing a V4 dataset: its name or schema, more datapoints."""

from __future__ import annotations

from pathlib import Path

import click

from .._client import ProlificClient
from .._loaders import load_records, load_schema
from .._sentinel import NOT_GIVEN, NotGiven
from ..models.dataset_changes import SchemaMigration
from ..models.datasets import DatasetSchema
from ._options import arguments, emit, id_argument, output_options
from ._render import dataset_tables, migration_tables, rejected_table
from ._shared import call, note, out, poll_option, read_file, say, timeout_option

__all__ = ["DATASET_CHANGE_COMMANDS"]

_file = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.command("update")
@id_argument("dataset_id", "-d")
@click.option("-n", "--name", default=None, help="A new name.")
@click.option(
    "--schema",
    "schema_file",
    type=_file,
    default=None,
    help='A new schema, a JSON file {"strict": ..., "fields": {...}} (V4 datasets).',
)
@output_options()
def datasets_update(
    dataset_id: str, name: str | None, schema_file: Path | None, output_format: str
) -> None:
    """Rename a V4 dataset or give it a new schema.

    A new schema for a dataset that had one starts a migration of its datapoints:
    follow it with `datasets schema-migration DATASET_ID JOB_ID --wait`.
    """
    if name is None and schema_file is None:
        raise click.UsageError("give --name, --schema or both: an empty update changes nothing")
    new_name: str | NotGiven = NOT_GIVEN if name is None else name
    new_schema: DatasetSchema | NotGiven = (
        NOT_GIVEN if schema_file is None else read_file(load_schema, schema_file, "--schema")
    )
    update = call(lambda c: c.datasets.update(dataset_id, name=new_name, schema=new_schema))
    if output_format != "table":
        emit(output_format, update, lambda: None)
        return
    for table in dataset_tables(update.dataset):
        out().print(table)
    job = update.migration_job_id
    if job is not None:
        say(
            f"Schema migration {job} started; follow it with: "
            f"prolific-async datasets schema-migration {dataset_id} {job} --wait"
        )


@click.command("add-datapoints")
@arguments(("dataset_id", "-d", None), ("file", "-f", _file))
@output_options()
def datasets_add_datapoints(dataset_id: str, file: Path, output_format: str) -> None:
    """Append the records of FILE (JSON Lines, or a JSON array) to a V4 dataset.

    Each record is checked against the dataset's schema; rejected ones are listed (and
    exit 0: the accepted ones are in). Batches with auto-sync on get tasks for them;
    others need `batches sync`. At most 1000 records at a time: upload a file for more.
    """
    records = read_file(load_records, file, "FILE")
    appended = call(lambda c: c.datasets.add_datapoints(dataset_id, records))
    if output_format != "table":
        emit(output_format, appended, lambda: None)
        return
    say(
        f"Appended {file.name} to dataset {dataset_id}: "
        f"{appended.accepted_count} accepted, {appended.rejected_count} rejected."
    )
    if appended.errors:
        out().print(rejected_table(appended.errors))


@click.command("schema-migration")
@arguments(("dataset_id", "-d", None), ("job_id", None, None))
@click.option(
    "--wait", is_flag=True, help="Wait until the migration is complete, partial or failed."
)
@timeout_option("with --wait for the migration to finish")
@poll_option
@output_options()
def datasets_schema_migration(
    dataset_id: str,
    job_id: str,
    wait: bool,
    timeout: float,
    poll_interval: float,
    output_format: str,
) -> None:
    """Show a schema migration: processing, then complete, partial or failed.

    With --wait, follows it to the end; a partial migration (some fields nulled) exits
    0 and lists them, a failed one exits 1 with its reason.
    """

    async def go(client: ProlificClient) -> SchemaMigration:
        if not wait:
            return await client.datasets.get_schema_migration(dataset_id, job_id)
        note(f"Waiting for schema migration {job_id} of dataset {dataset_id}...")
        return await client.datasets.wait_for_schema_migration(
            dataset_id, job_id, timeout=timeout, poll_interval=poll_interval
        )

    migration = call(go)

    def tables() -> None:
        for table in migration_tables(dataset_id, migration):
            out().print(table)

    emit(output_format, migration, tables)


#: The commands of this module, registered on the ``datasets`` group by ``_datasets``.
DATASET_CHANGE_COMMANDS = (datasets_update, datasets_add_datapoints, datasets_schema_migration)
