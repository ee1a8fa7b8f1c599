"""``prolific-async batches``: the group, and the single operations on one batch.

Setup, readiness and tasks are in :mod:`._batch_setup`; syncs in :mod:`._batch_sync`;
responses, the report and exports in :mod:`._batch_results`. Their commands are
registered here, at the end.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from .._loaders import load_layout
from .._sentinel import NOT_GIVEN, NotGiven
from ..models.batches import Batch, TaskDetails
from ..models.layout import Page
from ._batch_results import RESULT_COMMANDS
from ._batch_setup import SETUP_COMMANDS
from ._batch_sync import SYNC_COMMANDS
from ._options import emit, id_argument, output_options, workspace_option
from ._render import batch_table, status_text
from ._shared import call, out, read_file

__all__ = ["batches"]


@click.group()
def batches() -> None:
    """Create, set up, follow and export batches.

    get, create, update, duplicate and list print JSON unless given --format table or
    csv; the other commands print tables unless given --format json or csv (or --json).
    """


def _show(batch: Batch, output_format: str) -> None:
    emit(output_format, batch, lambda: out().print(batch_table(batch)))


def _list_table(workspace_id: str, found: list[Batch]) -> Table:
    table = Table(title=f"{len(found)} batches in workspace {workspace_id}", title_justify="left")
    for column in ("batch", "name", "status", "tasks", "datasets", "created"):
        table.add_column(column, overflow="fold")
    for batch in found:
        table.add_row(
            batch.id,
            batch.name,
            status_text(batch.status),
            str(batch.total_task_count),
            ", ".join(dataset.id for dataset in batch.datasets),
            batch.created_at.isoformat(),
        )
    return table


# -- single operations ---------------------------------------------------------------


@batches.command("get")
@id_argument("batch_id", "-b")
@output_options(default="json")
def batches_get(batch_id: str, output_format: str) -> None:
    """Print one batch."""
    _show(call(lambda c: c.batches.get(batch_id)), output_format)


@batches.command("list")
@workspace_option("The workspace to list.")
@output_options(default="json")
def batches_list(workspace_id: str, output_format: str) -> None:
    """Print every batch of a workspace."""
    found = call(lambda c: c.batches.list(workspace_id))
    emit(
        output_format,
        found,
        lambda: out().print(_list_table(workspace_id, found)),
        item=Batch,
    )


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


_layout_options = [
    click.option(
        "-f",
        "--batch-items-file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=None,
        help=(
            "A JSON file with the batch's layout: an array of pages, or an object with a "
            "batch_items key (a batch as `batches get` prints it)."
        ),
    ),
    click.option(
        "--auto-sync/--no-auto-sync",
        default=None,
        help="Turn datapoints added to the dataset later into tasks automatically (or not).",
    ),
]


def _with_options(options: list[Callable[..., Any]]) -> Callable[..., Any]:
    def add(command: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            command = option(command)
        return command

    return add


def _layout(file: Path | None) -> list[Page] | None:
    return None if file is None else read_file(load_layout, file, "--batch-items-file")


@batches.command("create")
@click.option("-n", "--name", required=True, help="The batch's name.")
@workspace_option("The workspace to create it in.")
@_with_options(_task_options)
@click.option("-d", "--dataset-id", default=None, help="A dataset to attach.")
@_with_options(_layout_options)
@output_options(default="json")
def batches_create(
    name: str,
    workspace_id: str,
    task_name: str | None,
    task_introduction: str | None,
    task_steps: str | None,
    dataset_id: str | None,
    batch_items_file: Path | None,
    auto_sync: bool | None,
    output_format: str,
) -> None:
    """Create a batch (sent once; see OutcomeUnknownError in the README)."""
    details = _task_details(task_name, task_introduction, task_steps)
    if details is None:
        raise click.UsageError("a batch needs --task-name, --task-introduction and --task-steps")
    layout = _layout(batch_items_file)
    batch = call(
        lambda c: c.batches.create(
            name=name,
            workspace_id=workspace_id,
            task_details=details,
            dataset_id=dataset_id,
            batch_items=layout,
            auto_sync_enabled=auto_sync,
        )
    )
    _show(batch, output_format)


@batches.command("update")
@id_argument("batch_id", "-b")
@click.option("-n", "--name", default=None, help="A new name.")
@_with_options(_task_options)
@click.option("-d", "--dataset-id", default=None, help="A dataset to attach.")
@_with_options(_layout_options)
@output_options(default="json")
def batches_update(
    batch_id: str,
    name: str | None,
    task_name: str | None,
    task_introduction: str | None,
    task_steps: str | None,
    dataset_id: str | None,
    batch_items_file: Path | None,
    auto_sync: bool | None,
    output_format: str,
) -> None:
    """Update the given fields of a batch.

    A --batch-items-file layout replaces the whole current one: pages, rows, columns
    and items keep their id to be kept (edit what `batches get` printed), and any left
    out are removed.
    """
    details = _task_details(task_name, task_introduction, task_steps)
    if all(given is None for given in (name, details, dataset_id, batch_items_file, auto_sync)):
        raise click.UsageError(
            "give --name, --task-name with --task-introduction and --task-steps, "
            "--dataset-id, --batch-items-file or --auto-sync/--no-auto-sync: an empty "
            "update changes nothing"
        )
    layout = _layout(batch_items_file)
    new_name: str | NotGiven = NOT_GIVEN if name is None else name
    new_details: TaskDetails | NotGiven = NOT_GIVEN if details is None else details
    new_dataset: str | NotGiven = NOT_GIVEN if dataset_id is None else dataset_id
    new_layout: list[Page] | NotGiven = NOT_GIVEN if layout is None else layout
    new_sync: bool | NotGiven = NOT_GIVEN if auto_sync is None else auto_sync
    batch = call(
        lambda c: c.batches.update(
            batch_id,
            name=new_name,
            task_details=new_details,
            dataset_id=new_dataset,
            batch_items=new_layout,
            auto_sync_enabled=new_sync,
        )
    )
    _show(batch, output_format)


@batches.command("duplicate")
@id_argument("batch_id", "-b")
@click.option("-n", "--name", default=None, help="Default: '<source name> (Copy)'.")
@click.option("--upload-new-dataset", is_flag=True, help="Do not share the source's dataset.")
@output_options(default="json")
def batches_duplicate(
    batch_id: str, name: str | None, upload_new_dataset: bool, output_format: str
) -> None:
    """Duplicate a batch."""
    batch = call(
        lambda c: c.batches.duplicate(batch_id, name=name, upload_new_dataset=upload_new_dataset)
    )
    _show(batch, output_format)


for _command in (*SETUP_COMMANDS, *SYNC_COMMANDS, *RESULT_COMMANDS):
    batches.add_command(_command)
