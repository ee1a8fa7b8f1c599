"""``prolific-async batches``: a batch's responses, its report, its exports."""

from __future__ import annotations

from pathlib import Path

import click

from .._client import ProlificClient
from ..models.exports import BatchExport, BatchReport
from ..models.responses import TaskResponse
from ._exit import CommandError
from ._options import arguments, emit, id_argument, output_options
from ._render import expiry, exports_table, responses_table
from ._shared import call, check_output, note, out, poll_option, say, timeout_option

__all__ = ["RESULT_COMMANDS"]


@click.command("responses")
@id_argument("batch_id", "-b")
@output_options()
def batches_responses(batch_id: str, output_format: str) -> None:
    """Show every response of a batch."""
    responses = call(lambda c: c.batches.responses(batch_id))

    def table() -> None:
        if not responses:
            say(f"No responses for batch {batch_id} yet.")
        else:
            out().print(responses_table(batch_id, responses))

    emit(output_format, responses, table, item=TaskResponse)


@click.command("report")
@id_argument("batch_id", "-b")
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path),
    default=None,
    help="Download the CSV report to this file (or into this directory).",
)
@output_options()
def batches_report(batch_id: str, output: Path | None, output_format: str) -> None:
    """Link to a batch's CSV report, or download it.

    The link is presigned (it needs no token) and expires.
    """
    if output is not None:
        check_output(output, "--output")

    async def go(client: ProlificClient) -> tuple[BatchReport, Path | None]:
        report = await client.batches.report(batch_id)
        if output is None:
            return report, None
        return report, await _download(client, report.url, output)

    report, path = call(go)

    def table() -> None:
        if path is not None:
            say(f"Saved the report of batch {batch_id} to {path} ({path.stat().st_size} bytes).")
        else:
            say(f"Report of batch {batch_id} (CSV{expiry(report.expires_at)}):")
            say(report.url)

    emit(output_format, report, table, extra={"path": str(path) if path else None})


@click.command("export")
@id_argument("batch_id", "-b")
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
@output_options()
def batches_export(
    batch_id: str,
    study_id: str | None,
    from_: str | None,
    to: str | None,
    output: Path | None,
    timeout: float,
    poll_interval: float,
    output_format: str,
) -> None:
    """Export a batch's responses as a ZIP.

    Requests the export, waits until it is generated, then downloads it to --output or
    prints its URL (presigned: it needs no token, and expires). A batch holds at most 10
    export jobs; the 11th request fails until one is deleted.
    """
    if output is not None:
        check_output(output, "--output")  # before the export job is made on the server

    async def go(client: ProlificClient) -> tuple[BatchExport, Path | None]:
        export = await client.batches.request_export(
            batch_id, study_id=study_id, from_=from_, to=to
        )
        if not export.is_complete and export.export_id is None:
            raise CommandError(
                f"the answer to the export request of batch {batch_id} names no export job "
                f"(no export_id) and no URL (status {export.status}): there is nothing to "
                "wait for; see `prolific-async batches exports list`."
            )
        note(f"Waiting for the export of batch {batch_id} (--timeout {timeout:g} s)...")
        export = await client.batches.wait_for_export(
            batch_id, export, timeout=timeout, poll_interval=poll_interval
        )
        if output is None:
            return export, None
        return export, await _download(client, export.url or "", output)

    export, path = call(go)

    def table() -> None:
        name = f"Export {export.export_id}" if export.export_id else "The export"
        if path is not None:
            say(f"{name} of batch {batch_id}: saved to {path} ({path.stat().st_size} bytes).")
        else:
            say(f"{name} of batch {batch_id} is complete (ZIP{expiry(export.expires_at)}):")
            say(export.url or "")

    emit(output_format, export, table, extra={"path": str(path) if path else None})


async def _download(client: ProlificClient, url: str, output: Path) -> Path:
    """Download to ``output``; a file error names the user's path, not a temporary file."""
    try:
        return await client.batches.download_export(url, output)
    except OSError as exc:
        raise CommandError(f"cannot write {str(output)!r}: {exc.strerror or exc}") from exc


@click.group("exports")
def batches_exports() -> None:
    """List or delete a batch's export jobs (a batch holds at most 10).

    `batches export` requests a new one and downloads it.
    """


@batches_exports.command("list")
@id_argument("batch_id", "-b")
@output_options()
def exports_list(batch_id: str, output_format: str) -> None:
    """Show a batch's export jobs, newest first."""
    exports = call(lambda c: c.batches.list_exports(batch_id))

    def table() -> None:
        if not exports:
            say(f"Batch {batch_id} has no export jobs.")
        else:
            out().print(exports_table(batch_id, exports))

    emit(output_format, exports, table, item=BatchExport)


@batches_exports.command("delete")
@arguments(("batch_id", "-b", None), ("export_id", None, None))
@output_options()
def exports_delete(batch_id: str, export_id: str, output_format: str) -> None:
    """Delete an export job, freeing one of the 10 places a batch has.

    A job still generating cannot be deleted (exit 1).
    """
    call(lambda c: c.batches.delete_export(batch_id, export_id))
    emit(
        output_format,
        {"batch_id": batch_id, "export_id": export_id, "deleted": True},
        lambda: say(f"Deleted export {export_id} of batch {batch_id}."),
    )


#: The commands of this module, registered on the ``batches`` group by ``_batches``.
RESULT_COMMANDS = (batches_responses, batches_report, batches_export, batches_exports)
