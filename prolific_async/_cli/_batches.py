"""``prolific-async batches``: single operations, setup and readiness, results and exports."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.text import Text

from .._client import ProlificClient
from .._converter import converter
from .._sentinel import NOT_GIVEN, NotGiven
from ..models.batches import Batch, TaskDetails
from ..models.exports import BatchExport, BatchReport
from ._render import batch_table, expiry, responses_table, status_text
from ._shared import call, json_option, note, out, poll_option, print_json, say, timeout_option

__all__ = ["batches"]


@click.group()
def batches() -> None:
    """Create, set up, follow and export batches.

    get, create, update, duplicate and list print JSON; setup, status, wait, responses,
    report and export print tables, or JSON with --json.
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
    batch = call(
        lambda c: c.batches.create(
            name=name, workspace_id=workspace_id, task_details=details, dataset_id=dataset_id
        )
    )
    print_json(converter.unstructure(batch))


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
    batch = call(
        lambda c: c.batches.update(
            batch_id, name=new_name, task_details=new_details, dataset_id=new_dataset
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


# -- setup and readiness -------------------------------------------------------------


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
@timeout_option("with --wait for READY")
@poll_option
@json_option
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
        note(f"Setup of batch {batch_id} started; waiting for READY...")
        return await client.batches.wait_until_ready(
            batch_id, timeout=timeout, poll_interval=poll_interval
        )

    outcome = call(go)
    if isinstance(outcome, Batch):
        _show_batch(outcome, as_json)
    elif as_json:
        print_json({"batch_id": batch_id, "status": outcome})
    else:
        say(
            f"Setup of batch {batch_id} started (status {outcome}); "
            f"follow it with: prolific-async batches wait {batch_id}"
        )


def _show_batch(batch: Batch, as_json: bool) -> None:
    if as_json:
        print_json(converter.unstructure(batch))
    else:
        out().print(batch_table(batch))


@batches.command("status")
@click.argument("batch_id")
@json_option
def batches_status(batch_id: str, as_json: bool) -> None:
    """Show a batch's status: UNINITIALISED, PROCESSING, READY or ERROR."""
    status = str(call(lambda c: c.batches.get_status(batch_id)))
    if as_json:
        print_json({"batch_id": batch_id, "status": status})
    else:
        say(Text.assemble(f"Batch {batch_id}: ", status_text(status)))


@batches.command("wait")
@click.argument("batch_id")
@timeout_option("for READY")
@poll_option
@json_option
def batches_wait(batch_id: str, timeout: float, poll_interval: float, as_json: bool) -> None:
    """Wait until a batch is READY and show it.

    Exits 1 if the batch ends in ERROR or is not READY within --timeout.
    """
    note(f"Waiting for batch {batch_id} to be READY (at most {timeout:g} s)...")
    batch = call(
        lambda c: c.batches.wait_until_ready(batch_id, timeout=timeout, poll_interval=poll_interval)
    )
    _show_batch(batch, as_json)


# -- results -------------------------------------------------------------------------


@batches.command("responses")
@click.argument("batch_id")
@json_option
def batches_responses(batch_id: str, as_json: bool) -> None:
    """Show every response of a batch."""
    responses = call(lambda c: c.batches.responses(batch_id))
    if as_json:
        print_json([converter.unstructure(item) for item in responses])
    elif not responses:
        say(f"No responses for batch {batch_id} yet.")
    else:
        out().print(responses_table(batch_id, responses))


@batches.command("report")
@click.argument("batch_id")
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path),
    default=None,
    help="Download the CSV report to this file (or into this directory).",
)
@json_option
def batches_report(batch_id: str, output: Path | None, as_json: bool) -> None:
    """Link to a batch's CSV report, or download it.

    The link is presigned (it needs no token) and expires.
    """

    async def go(client: ProlificClient) -> tuple[BatchReport, Path | None]:
        report = await client.batches.report(batch_id)
        if output is None:
            return report, None
        return report, await client.batches.download_export(report.url, output)

    report, path = call(go)
    if as_json:
        print_json({**converter.unstructure(report), "path": str(path) if path else None})
    elif path is not None:
        say(f"Saved the report of batch {batch_id} to {path} ({path.stat().st_size} bytes).")
    else:
        say(f"Report of batch {batch_id} (CSV{expiry(report.expires_at)}):")
        say(report.url)


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
@timeout_option("for the export to be generated")
@poll_option
@json_option
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
        note(f"Waiting for the export of batch {batch_id} (at most {timeout:g} s)...")
        export = await client.batches.wait_for_export(
            batch_id, export, timeout=timeout, poll_interval=poll_interval
        )
        if output is None:
            return export, None
        return export, await client.batches.download_export(export, output)

    export, path = call(go)
    if as_json:
        print_json({**converter.unstructure(export), "path": str(path) if path else None})
        return
    name = f"Export {export.export_id}" if export.export_id else "The export"
    if path is not None:
        say(f"{name} of batch {batch_id}: saved to {path} ({path.stat().st_size} bytes).")
    else:
        say(f"{name} of batch {batch_id} is complete (ZIP{expiry(export.expires_at)}):")
        say(export.url or "")
