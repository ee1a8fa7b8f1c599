"""Batch syncs, mixed into ``client.batches``: appended datapoints become tasks.

Datapoints appended to a dataset after a batch was set up reach the batch through a
sync job::

    await client.datasets.add_datapoints(dataset_id, [{"text": "A new review"}])
    sync = await client.batches.sync(batch_id)
    sync = await client.batches.wait_for_sync(batch_id, sync)
    print(sync.tasks_created)

A batch with ``auto_sync_enabled`` is synced by the append itself. The endpoints and
their answers follow the official CLI's ``SyncAITaskBuilderBatch`` and
``GetAITaskBuilderBatchSyncStatus`` (prolific-oss/cli ``client/client.go`` at commit
4596a2fba604faa1b570d318095fca3f34d5a8f2): a ``POST`` with no body, answered 200 or
202 with the ``queued`` job; a ``GET`` of the job by its ``sync_id``.
"""

from __future__ import annotations

from .._json import shortened
from .._paths import SYNC_JOB_TEMPLATE, SYNC_TEMPLATE
from .._polling import (
    DEFAULT_MAX_POLL_INTERVAL,
    DEFAULT_POLL_INTERVAL,
    DEFAULT_WAIT_TIMEOUT,
    poll_until,
    require_wait_settings,
)
from .._resource import Resource, path_id
from ..errors import BatchSyncFailedError
from ..models.syncs import BatchSync, SyncStatus

__all__ = ["BatchSyncMixin"]


class BatchSyncMixin(Resource):
    """Syncing batches with their datasets' appended datapoints (part of ``BatchesResource``)."""

    async def sync(self, batch_id: str) -> BatchSync:
        """Start a sync job (``POST /batches/{batch_id}/sync``).

        The job creates a task for each datapoint appended to the batch's dataset since
        setup or the last sync. Syncs of one batch run one after another. Sent once:
        resent only when it provably did not reach the server.

        Returns:
            The new job, usually ``queued``; wait for it with :meth:`wait_for_sync`.

        Raises:
            OutcomeUnknownError: the connection failed after the request may have
                reached the server; a sync may have started.
            BadRequestError: the batch is not ``READY`` or has no dataset.
            NotFoundError: no batch has that id.
        """
        return await self._post(SYNC_TEMPLATE, cast_to=BatchSync, batch_id=batch_id)

    async def get_sync(self, batch_id: str, sync_id: str) -> BatchSync:
        """Get a sync job (``GET /batches/{batch_id}/syncs/{sync_id}``).

        Raises:
            NotFoundError: no such batch or sync job.
        """
        return await self._get(
            SYNC_JOB_TEMPLATE, cast_to=BatchSync, batch_id=batch_id, sync_id=sync_id
        )

    async def wait_for_sync(
        self,
        batch_id: str,
        sync: BatchSync | str,
        *,
        timeout: float = DEFAULT_WAIT_TIMEOUT,  # noqa: ASYNC109 (the whole wait's deadline)
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        max_poll_interval: float = DEFAULT_MAX_POLL_INTERVAL,
    ) -> BatchSync:
        """Wait until a sync job is ``complete`` and return it, with its counts.

        Args:
            batch_id: the batch.
            sync: the job's ``sync_id``, or the :class:`BatchSync` that :meth:`sync`
                returned (a finished one is judged at once, without a request).
            timeout: seconds to wait, polls included.
            poll_interval: seconds before the first poll again; each wait is 1.5 times
                the one before, up to ``max_poll_interval``.
            max_poll_interval: the longest wait between polls.

        Raises:
            BatchSyncFailedError: the job ended ``failed`` (``reason`` says why).
            WaitTimeoutError: it was not complete within ``timeout``.
            NotFoundError: no such batch or sync job.
        """
        path_id(batch_id, "batch_id")
        settings = require_wait_settings(timeout, poll_interval, max_poll_interval)
        if isinstance(sync, BatchSync):
            if sync.is_finished:
                _raise_if_failed(batch_id, sync.sync_id, sync)
                return sync
            if sync.sync_id is None:
                raise ValueError(f"this sync has no sync_id to wait on: {sync!r}")
            sync_id = sync.sync_id
        else:
            path_id(sync, "sync_id")
            sync_id = sync

        def finished(job: BatchSync) -> bool:
            # An unknown status is taken as still running: the deadline bounds the wait.
            if not job.is_finished:
                return False
            _raise_if_failed(batch_id, sync_id, job)
            return True

        return await poll_until(
            lambda: self.get_sync(batch_id, sync_id),
            finished=finished,
            status_of=lambda job: str(job.status),
            resource=f"sync {shortened(sync_id)} of batch {shortened(batch_id)}",
            goal="complete",
            settings=settings,
        )


def _raise_if_failed(batch_id: str, sync_id: str | None, job: BatchSync) -> None:
    """Raise :class:`BatchSyncFailedError` for a job that ended ``failed``."""
    if job.status == SyncStatus.FAILED:
        raise BatchSyncFailedError(
            f"Sync {shortened(str(sync_id))} of batch {shortened(batch_id)} failed: "
            f"{job.reason or 'no reason given'}",
            batch_id=batch_id,
            sync_id=sync_id or "",
            reason=job.reason,
            sync=job,
        )
