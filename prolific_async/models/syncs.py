"""Batch syncs: the job that turns datapoints appended to a dataset into a batch's tasks.

A batch's tasks are built once, at setup. Datapoints appended to its dataset later
(:meth:`~prolific_async.resources.datasets.DatasetsResource.add_datapoints`) reach the
batch through a sync: started by hand (``client.batches.sync``) or, for a batch with
``auto_sync_enabled``, by the append itself. A sync job goes ``queued`` →
``processing`` → ``complete`` (with its counts) or ``failed`` (with a ``reason``).

The shapes follow the official CLI's ``AITaskBuilderBatchSyncResponse``
(prolific-oss/cli ``client/responses.go`` at commit 4596a2fba604faa1b570d318095fca3f34d5a8f2)
and Prolific's API reference pages "Sync a Batch" and "Get Batch Sync Status".
"""

from __future__ import annotations

import enum
from datetime import datetime

from attrs import field, frozen

from ._base import Model
from ._text import usable_id_field

__all__ = ["BatchSync", "SyncStatus"]


class SyncStatus(enum.StrEnum):
    """Where a sync job is: ``queued`` → ``processing`` → ``complete`` or ``failed``.

    A status this library does not know yet is kept as a plain ``str``.
    """

    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETE = "complete"
    FAILED = "failed"


@frozen(kw_only=True)
class BatchSync(Model):
    """A sync job of a batch, as started (``queued``) or as polled.

    Every field but ``status`` may be absent: the official CLI reads each as optional.
    """

    status: SyncStatus | str
    """A :class:`SyncStatus`, or the raw string for one this library does not know."""
    sync_id: str | None = field(default=None, validator=usable_id_field)
    """The job's id, to poll it with."""
    batch_id: str | None = None
    """The batch the job extends."""
    dataset_id: str | None = None
    """The dataset whose appended datapoints it turns into tasks."""
    created_at: datetime | None = None
    """When the job was created."""
    tasks_created: int | None = None
    """How many tasks the job created (``complete``)."""
    datapoints_processed: int | None = None
    """How many appended datapoints it processed (``complete``)."""
    groups_created: int | None = None
    """How many new task groups it created (``complete``)."""
    groups_expanded: int | None = None
    """How many existing task groups it added tasks to (``complete``)."""
    reason: str | None = None
    """Why the job ``failed``."""

    @property
    def is_finished(self) -> bool:
        """Whether the job has reached ``complete`` or ``failed``."""
        return self.status in (SyncStatus.COMPLETE, SyncStatus.FAILED)
