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

from .._converter import converter
from .._loaders import load_layout
from .._sentinel import NOT_GIVEN, NotGiven
from ..models.batches import TaskDetails
from ..models.layout import Page
from ._batch_results import RESULT_COMMANDS
from ._batch_setup import SETUP_COMMANDS
from ._batch_sync import SYNC_COMMANDS
from ._shared import call, print_json, read_file

__all__ = ["batches"]


@click.group()
def batches() -> None:
    """Create, set up, follow and export batches.

    get, create, update, duplicate and list print JSON; the other commands print
    tables, or JSON with --json.
    """


# -- single operations ---------------------------------------------------------------


@batches.command("get")
@click.argument("batch_id")
def batches_get(batch_id: str) -> None:
    """Print one batch."""
    print_json(converter.unstructure(call(lambda c: c.batches.get(batch_id))))


@batches.command("list")
@click.option("--workspace-id", required=True, help="The workspace to list.")
def batches_list(workspace_id: str) -> None:
    """Print every batch of a workspace."""
    found = call(lambda c: c.batches.list(workspace_id))
    print_json([converter.unstructure(batch) for batch in found])


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
@click.option("--name", required=True)
@click.option("--workspace-id", required=True)
@_with_options(_task_options)
@click.option("--dataset-id", default=None)
@_with_options(_layout_options)
def batches_create(
    name: str,
    workspace_id: str,
    task_name: str | None,
    task_introduction: str | None,
    task_steps: str | None,
    dataset_id: str | None,
    batch_items_file: Path | None,
    auto_sync: bool | None,
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
    print_json(converter.unstructure(batch))


@batches.command("update")
@click.argument("batch_id")
@click.option("--name", default=None)
@_with_options(_task_options)
@click.option("--dataset-id", default=None)
@_with_options(_layout_options)
def batches_update(
    batch_id: str,
    name: str | None,
    task_name: str | None,
    task_introduction: str | None,
    task_steps: str | None,
    dataset_id: str | None,
    batch_items_file: Path | None,
    auto_sync: bool | None,
) -> None:
    """Update the given fields of a batch.

    A --batch-items-file layout replaces the whole current one: pages, rows, columns
    and items keep their id to be kept (edit what `batches get` printed), and any left
    out are removed.
    """
    details = _task_details(task_name, task_introduction, task_steps)
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
    print_json(converter.unstructure(batch))


@batches.command("duplicate")
@click.argument("batch_id")
@click.option("--name", default=None, help="Default: '<source name> (Copy)'.")
@click.option("--upload-new-dataset", is_flag=True, help="Do not share the source's dataset.")
def batches_duplicate(batch_id: str, name: str | None, upload_new_dataset: bool) -> None:
    """Duplicate a batch."""
    batch = call(
        lambda c: c.batches.duplicate(batch_id, name=name, upload_new_dataset=upload_new_dataset)
    )
    print_json(converter.unstructure(batch))


for _command in (*SETUP_COMMANDS, *SYNC_COMMANDS, *RESULT_COMMANDS):
    batches.add_command(_command)
