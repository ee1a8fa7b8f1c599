"""``prolific-async batches``: setting a batch up, following it to READY, its tasks."""

from __future__ import annotations

import click
from rich.text import Text

from .._client import ProlificClient
from .._sentinel import NOT_GIVEN, NotGiven
from ..models.batches import Batch
from ._options import emit, id_argument, output_options
from ._render import batch_table, counted, ids_table, status_text
from ._shared import call, note, out, poll_option, say, timeout_option

__all__ = ["SETUP_COMMANDS"]


@click.command("setup")
@id_argument("batch_id", "-b")
@click.option("-d", "--dataset-id", default=None, help="Attach this dataset first.")
@click.option(
    "--tasks-per-group",
    type=click.IntRange(min=1),
    default=None,
    help="How many tasks one participant gets together.",
)
@click.option("--wait", is_flag=True, help="Wait until the batch is READY and show it.")
@timeout_option("with --wait for READY")
@poll_option
@output_options()
def batches_setup(
    batch_id: str,
    dataset_id: str | None,
    tasks_per_group: int | None,
    wait: bool,
    timeout: float,
    poll_interval: float,
    output_format: str,
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
        note(f"Setup of batch {batch_id} started; waiting for READY...")
        return await client.batches.wait_until_ready(
            batch_id, timeout=timeout, poll_interval=poll_interval
        )

    outcome = call(go)
    if isinstance(outcome, Batch):
        _show_batch(outcome, output_format)
        return
    emit(
        output_format,
        {"batch_id": batch_id, "status": outcome},
        lambda: say(
            f"Setup of batch {batch_id} started (status {outcome}); "
            f"follow it with: prolific-async batches wait {batch_id}"
        ),
    )


def _show_batch(batch: Batch, output_format: str) -> None:
    emit(output_format, batch, lambda: out().print(batch_table(batch)))


@click.command("status")
@id_argument("batch_id", "-b")
@output_options()
def batches_status(batch_id: str, output_format: str) -> None:
    """Show a batch's status: UNINITIALISED, PROCESSING, READY or ERROR."""
    status = str(call(lambda c: c.batches.get_status(batch_id)))
    emit(
        output_format,
        {"batch_id": batch_id, "status": status},
        lambda: say(Text.assemble(f"Batch {batch_id}: ", status_text(status))),
    )


@click.command("wait")
@id_argument("batch_id", "-b")
@timeout_option("for READY")
@poll_option
@output_options()
def batches_wait(batch_id: str, timeout: float, poll_interval: float, output_format: str) -> None:
    """Wait until a batch is READY and show it.

    Exits 1 if the batch ends in ERROR or is not READY within --timeout.
    """
    note(f"Waiting for batch {batch_id} to be READY (--timeout {timeout:g} s)...")
    batch = call(
        lambda c: c.batches.wait_until_ready(batch_id, timeout=timeout, poll_interval=poll_interval)
    )
    _show_batch(batch, output_format)


@click.command("tasks")
@id_argument("batch_id", "-b")
@output_options()
def batches_tasks(batch_id: str, output_format: str) -> None:
    """Show the ids of a batch's tasks (none until setup has built them)."""
    tasks = call(lambda c: c.batches.tasks(batch_id))

    def table() -> None:
        if not tasks:
            say(f"Batch {batch_id} has no tasks yet: setup builds them from its dataset.")
            return
        title = f"{counted(len(tasks), 'task')} of batch {batch_id}"
        out().print(ids_table(title, "task", tasks))

    emit(output_format, tasks, table, column="task_id")


@click.command("task-groups")
@id_argument("batch_id", "-b")
@output_options()
def batches_task_groups(batch_id: str, output_format: str) -> None:
    """Show the ids of a batch's task groups (the tasks one participant gets together)."""
    groups = call(lambda c: c.batches.task_groups(batch_id))

    def table() -> None:
        if not groups:
            say(f"Batch {batch_id} has no task groups yet: setup builds them from its dataset.")
            return
        title = f"{counted(len(groups), 'task group')} of batch {batch_id}"
        out().print(ids_table(title, "task group", groups))

    emit(output_format, groups, table, column="task_group_id")


#: The commands of this module, registered on the ``batches`` group by ``_batches``.
SETUP_COMMANDS = (batches_setup, batches_status, batches_wait, batches_tasks, batches_task_groups)
