"""``prolific-async batches``: syncing a READY batch with the datapoints appended since."""

from __future__ import annotations

import click

from .._client import ProlificClient
from ..models.syncs import BatchSync
from ._options import arguments, emit, id_argument, output_options
from ._render import sync_table
from ._shared import call, note, out, poll_option, say, timeout_option

__all__ = ["SYNC_COMMANDS"]


def _show_sync(batch_id: str, sync: BatchSync, output_format: str) -> None:
    emit(output_format, sync, lambda: out().print(sync_table(batch_id, sync)))


@click.command("sync")
@id_argument("batch_id", "-b")
@click.option("--wait", is_flag=True, help="Wait until the sync is complete and show its counts.")
@timeout_option("with --wait for the sync to complete")
@poll_option
@output_options()
def batches_sync(
    batch_id: str, wait: bool, timeout: float, poll_interval: float, output_format: str
) -> None:
    """Turn the datapoints appended to a READY batch's dataset into tasks.

    The request is sent once. Without --wait, prints the new sync job (usually queued);
    with --wait, follows it to complete and shows how many tasks it made. A sync that
    ends failed exits 1 with its reason. A batch with auto-sync on needs none.
    """

    async def go(client: ProlificClient) -> BatchSync:
        sync = await client.batches.sync(batch_id)
        if not wait:
            return sync
        note(f"Sync of batch {batch_id} started; waiting for it to complete...")
        return await client.batches.wait_for_sync(
            batch_id, sync, timeout=timeout, poll_interval=poll_interval
        )

    sync = call(go)
    if wait or output_format != "table" or sync.sync_id is None:
        _show_sync(batch_id, sync, output_format)
        return
    say(
        f"Sync {sync.sync_id} of batch {batch_id} started (status {sync.status}); "
        f"follow it with: prolific-async batches sync-status {batch_id} {sync.sync_id}"
    )


@click.command("sync-status")
@arguments(("batch_id", "-b", None), ("sync_id", None, None))
@output_options()
def batches_sync_status(batch_id: str, sync_id: str, output_format: str) -> None:
    """Show a sync job: queued, processing, complete (with its counts) or failed."""
    _show_sync(batch_id, call(lambda c: c.batches.get_sync(batch_id, sync_id)), output_format)


#: The commands of this module, registered on the ``batches`` group by ``_batches``.
SYNC_COMMANDS = (batches_sync, batches_sync_status)
