"""The errors of the server's background work (setup, processing, exports, syncs) and waits.

Re-exported, with the tree that shows how they relate, by :mod:`prolific_async.errors`.
"""

from __future__ import annotations

from typing import Any

from ._api_errors import ProlificError
from ._json import shortened
from ._redact import mask_known, mask_optional

__all__ = [
    "BatchSetupError",
    "BatchSyncFailedError",
    "DatasetProcessingError",
    "DatasetSchemaPendingError",
    "ExportFailedError",
    "JobFailedError",
    "ProvisionError",
    "SchemaMigrationFailedError",
    "WaitTimeoutError",
]


class WaitTimeoutError(ProlificError, TimeoutError):
    """A wait for the server's asynchronous work did not end within its ``timeout``.

    Batch setup, dataset processing or an export may still finish: the work goes on
    server-side, so wait again or check later.

    Attributes:
        resource: what was waited for (``"batch 3f2a..."``).
        timeout: the seconds allowed.
        last_status: the last status seen, or ``None`` if no poll answered.
    """

    def __init__(
        self, message: str, *, resource: str, timeout: float, last_status: str | None
    ) -> None:
        super().__init__(message)
        self.resource = resource
        self.timeout = timeout
        self.last_status = mask_optional(last_status)  # as the server sent it: no token


class JobFailedError(ProlificError):
    """Work the server does in the background (setup, dataset processing, an export) failed.

    Catch this to handle every such failure at once; the subclasses say which work and
    carry its ids.
    """


class BatchSetupError(JobFailedError):
    """A batch ended setup in ``ERROR``: its tasks could not be built.

    The usual cause is the dataset: none attached, or not usable yet (a V3 dataset not
    ``READY``, a V4 dataset without a ``complete`` or ``partial`` import).

    Attributes:
        batch_id: the batch.
        status: the status it ended in (``"ERROR"``).
    """

    def __init__(self, message: str, *, batch_id: str, status: str) -> None:
        super().__init__(message)
        self.batch_id = batch_id
        self.status = mask_known(status)


class DatasetProcessingError(JobFailedError):
    """An uploaded file did not become usable data.

    The upload's import job ended ``failed`` (nothing was ingested; ``reason`` says
    why), or a V3 dataset followed by its status (no import job) ended in ``ERROR``.

    Attributes:
        dataset_id: the dataset.
        import_id: the import job, or ``None`` for a V3 upload without one.
        status: the status it ended in (``"ERROR"``, ``"failed"``, ``"pending_schema"``).
        reason: the server's reason, when it gives one.
        import_job: the finished :class:`~prolific_async.models.ImportJob`, or ``None``.
    """

    def __init__(
        self,
        message: str,
        *,
        dataset_id: str,
        import_id: str | None,
        status: str,
        reason: str | None = None,
        import_job: Any = None,
    ) -> None:
        super().__init__(message)
        self.dataset_id = dataset_id
        self.import_id = import_id
        self.status = mask_known(status)
        self.reason = mask_optional(reason)
        self.import_job = import_job


class DatasetSchemaPendingError(DatasetProcessingError):
    """A V4 import is paused (``pending_schema``) until the dataset has a schema."""


class ExportFailedError(JobFailedError):
    """A batch export job ended ``failed``; request a new one.

    Attributes:
        batch_id: the batch.
        export_id: the failed job.
    """

    def __init__(self, message: str, *, batch_id: str, export_id: str) -> None:
        super().__init__(message)
        self.batch_id = batch_id
        self.export_id = export_id


class BatchSyncFailedError(JobFailedError):
    """A batch sync job ended ``failed``: the appended datapoints did not become tasks.

    Attributes:
        batch_id: the batch.
        sync_id: the failed job.
        reason: the server's reason, when it gives one.
        sync: the failed :class:`~prolific_async.models.BatchSync`.
    """

    def __init__(
        self, message: str, *, batch_id: str, sync_id: str, reason: str | None, sync: Any
    ) -> None:
        super().__init__(message)
        self.batch_id = batch_id
        self.sync_id = sync_id
        self.reason = mask_optional(reason)
        self.sync = sync


class SchemaMigrationFailedError(JobFailedError):
    """A dataset's schema migration ended ``failed``: no datapoint was re-normalised.

    Attributes:
        dataset_id: the dataset.
        job_id: the failed migration job.
        reason: the server's reason, when it gives one.
        migration: the failed :class:`~prolific_async.models.SchemaMigration`.
    """

    def __init__(
        self, message: str, *, dataset_id: str, job_id: str, reason: str | None, migration: Any
    ) -> None:
        super().__init__(message)
        self.dataset_id = dataset_id
        self.job_id = job_id
        self.reason = mask_optional(reason)
        self.migration = migration


class ProvisionError(ProlificError):
    """A provisioning pipeline stopped at ``step``; nothing made before it is lost.

    ``dataset`` and ``batch`` are what exists already (``None`` if not made), so you can
    resume by hand instead of creating them again. The step's own error is the
    ``__cause__`` (an :class:`OutcomeUnknownError` there means the step may have
    happened).

    Attributes:
        step: ``"read dataset file"``, ``"create dataset"``, ``"upload dataset"``,
            ``"create batch"``, ``"set up batch"`` or ``"wait until ready"``.
        dataset: the :class:`~prolific_async.Dataset` created, if any.
        batch: the :class:`~prolific_async.Batch` created, if any.
    """

    def __init__(self, message: str, *, step: str, dataset: Any = None, batch: Any = None) -> None:
        super().__init__(message)
        self.step = step
        self.dataset = dataset
        self.batch = batch

    @classmethod
    def at(
        cls, step: str, error: BaseException, *, dataset: Any = None, batch: Any = None
    ) -> ProvisionError:
        """Describe a failure of ``step``, naming what was made before it."""
        made = [
            f"{kind} {shortened(obj.id)}"
            for kind, obj in (("dataset", dataset), ("batch", batch))
            if obj
        ]
        exists = f"; already made: {', '.join(made)}" if made else ""
        return cls(f"{step} failed: {error}{exists}", step=step, dataset=dataset, batch=batch)
