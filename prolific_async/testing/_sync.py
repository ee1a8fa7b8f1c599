"""Appending datapoints to a V4 dataset, and the batch syncs that turn them into tasks.

* ``POST /datasets/{id}/datapoints`` takes JSON Lines (``application/x-ndjson``, also
  ``application/jsonl`` or ``application/x-jsonlines``; another type answers 415), at
  most 1000 records. Each record is checked as an upload's would be (:mod:`._dataset_files`);
  the accepted ones join the dataset at once, and an identical record appended again is
  accepted without being written twice. The answer, 200, has ``dataset_id``,
  ``accepted_count``, ``rejected_count`` and ``errors``. A V3 dataset answers 400; a
  dataset with an import or a migration still ``processing`` answers 409.
* ``POST /batches/{id}/sync`` starts a sync job and answers 202 with it ``queued``; the
  batch must be ``READY`` and have a dataset (else 400). Jobs of one batch run one after
  another: each is ``queued`` until the one before it ends, then ``processing`` for
  ``sync_delay`` seconds. When it ends it creates one task per datapoint its batch's
  datasets gained since setup or the last sync (tasks beyond ``total_task_count``, so
  ``GET .../tasks`` lists them), topping up the last task group and opening new ones
  (``tasks_per_group``), or by ``task_group_id`` value for a V4 schema with one; it is
  then ``complete`` with ``tasks_created``, ``datapoints_processed``, ``groups_created``
  and ``groups_expanded``. It ends ``failed`` (with a ``reason``) when the batch is no
  longer ``READY`` or a dataset is V3 (syncs are V4-only).
* An append starts such a job itself for every ``READY`` batch with
  ``auto_sync_enabled`` that has the dataset attached: its new datapoints become tasks
  ``sync_delay`` later with no sync request. (An upload's import does not auto-sync.)
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web
from attrs import define

from ..models.batches import BatchStatus
from ._batches import BATCHES_PATH, BatchService, StoredBatch
from ._dataset_files import read_v4
from ._datasets import DATASETS_PATH, DatasetService, StoredDataset
from ._errors import APIError
from ._migrations import MigrationService
from ._stamps import Stamps, iso_z
from ._timeline import Timeline, WorkflowConfig

if TYPE_CHECKING:
    from aiohttp.typedefs import Handler

__all__ = ["JSONL_TYPES", "MAX_APPENDED_RECORDS", "StoredSync", "SyncService"]

#: The most records one append may carry.
MAX_APPENDED_RECORDS: Final = 1000
#: The request ``Content-Type`` values an append accepts.
JSONL_TYPES: Final = frozenset(
    {"application/x-ndjson", "application/jsonl", "application/x-jsonlines"}
)


@define(kw_only=True)
class StoredSync:
    """One sync job of a batch."""

    sync_id: str
    """The job's id."""
    batch_id: str
    """The batch it extends."""
    dataset_id: str
    """The batch's (first) dataset when it started."""
    created_at: datetime
    """When it was started."""
    starts_at: float
    """The monotonic moment it leaves ``queued`` (the previous job's end)."""
    status: str = "processing"
    """``processing`` (``queued`` before ``starts_at``), ``complete`` or ``failed``."""
    counts: dict[str, int] | None = None
    """``tasks_created``, ``datapoints_processed``, ``groups_created``, ``groups_expanded``."""
    reason: str | None = None
    """Why a ``failed`` job created nothing."""


class SyncService:
    """Appends to datasets, and the sync jobs of batches.

    Args:
        stamps: ids and times.
        batches: the batches synced.
        datasets: the datasets appended to.
        migrations: tells whether a dataset is being migrated (an append waits: 409).
        timeline: schedules the end of each sync.
        config: ``sync_delay``.
    """

    def __init__(
        self,
        *,
        stamps: Stamps,
        batches: BatchService,
        datasets: DatasetService,
        migrations: MigrationService,
        timeline: Timeline,
        config: WorkflowConfig,
    ) -> None:
        self.stamps = stamps
        self.batches = batches
        self.datasets = datasets
        self.migrations = migrations
        self.timeline = timeline
        self.config = config
        self.jobs: dict[str, list[StoredSync]] = {}
        """Each batch's sync jobs, oldest first."""
        self._ends_at: dict[str, float] = {}

    def routes(self) -> list[tuple[str, str, Handler, str]]:
        """The routes: ``(method, path, handler, stats name)``."""
        batch = BATCHES_PATH + "/{batch_id}"
        return [
            ("POST", batch + "/sync", self.sync_batch, "sync_batch"),
            ("GET", batch + "/syncs/{sync_id}", self.get_sync, "get_batch_sync"),
            (
                "POST",
                DATASETS_PATH + "/{dataset_id}/datapoints",
                self.append_datapoints,
                "append_datapoints",
            ),
        ]

    # -- appending -------------------------------------------------------------------

    def append(self, dataset: StoredDataset, content_type: str, body: bytes) -> dict[str, Any]:
        """Check and write appended records; start the auto-syncs; return the answer."""
        if content_type not in JSONL_TYPES:
            raise APIError(415, f'Unsupported media type "{content_type}" in request.')
        if dataset.schema is None:
            raise APIError(400, "Datapoints can only be appended to a V4 dataset with a schema.")
        if any(job.status == "processing" for job in dataset.imports) or self.migrations.busy(
            dataset.id
        ):
            raise APIError(409, "An import or a schema migration of this dataset is running.")
        outcome = read_v4("datapoints.jsonl", body, dataset.schema)
        records = len(outcome.accepted) + len(outcome.errors)
        if records == 0:
            raise APIError(400, "The request body holds no records.")
        if records > MAX_APPENDED_RECORDS:
            raise APIError(
                400, f"At most {MAX_APPENDED_RECORDS} records per request; got {records}."
            )
        known = {_key(record) for record in dataset.records}
        for record in outcome.accepted:
            if _key(record) not in known:  # an identical record is not written twice
                known.add(_key(record))
                dataset.records.append(record)
                dataset.total_datapoint_count += 1
        for batch in self.batches.batches.values():
            if (
                batch.auto_sync_enabled
                and batch.status == BatchStatus.READY
                and dataset.id in batch.dataset_ids
            ):
                self.start(batch)
        return {
            "dataset_id": dataset.id,
            "accepted_count": len(outcome.accepted),
            "rejected_count": len(outcome.errors),
            "errors": outcome.errors,
        }

    # -- syncing ---------------------------------------------------------------------

    def start(self, batch: StoredBatch) -> StoredSync:
        """Queue a sync job behind the batch's others; it ends ``sync_delay`` after its start."""
        if batch.status != BatchStatus.READY:
            raise APIError(400, "The batch must be READY to sync: set it up first.")
        if not batch.dataset_ids:
            raise APIError(400, "The batch has no dataset to sync.")
        now = self.timeline.now()
        starts_at = max(now, self._ends_at.get(batch.id, now))
        self._ends_at[batch.id] = starts_at + self.config.sync_delay
        job = StoredSync(
            sync_id=self.stamps.new_id(),
            batch_id=batch.id,
            dataset_id=batch.dataset_ids[0],
            created_at=self.stamps.now(),
            starts_at=starts_at,
        )
        self.jobs.setdefault(batch.id, []).append(job)

        def finish() -> None:
            if job.status == "processing":  # not restaged by a test
                self._finish(batch, job)

        self.timeline.at(self._ends_at[batch.id], finish)
        return job

    def _finish(self, batch: StoredBatch, job: StoredSync) -> None:
        """End a sync: the batch's new datapoints become tasks, or the job fails."""
        datasets = [self.datasets.datasets.get(key) for key in batch.dataset_ids]
        if batch.status != BatchStatus.READY:
            job.status, job.reason = "failed", f"The batch is {batch.status}, not READY."
            return
        if any(dataset is None or dataset.schema is None for dataset in datasets):
            job.status, job.reason = "failed", "Syncs need a V4 dataset (one with a schema)."
            return
        usable = [dataset for dataset in datasets if dataset is not None]
        records = [record for dataset in usable for record in dataset.records]
        total = sum(dataset.total_datapoint_count for dataset in usable)
        before = batch.total_task_count
        new = max(0, total - before)
        grouping = usable[0].task_group_field if len(usable) == 1 else None
        if grouping is not None and len(records) == total:
            created, expanded = _keyed_groups(records, before, grouping)
        else:
            created, expanded = _sized_groups(before, new, batch.tasks_per_group or 1)
        batch.total_task_count += new
        batch.total_task_groups += created
        job.status = "complete"
        job.counts = {
            "tasks_created": new,
            "datapoints_processed": new,
            "groups_created": created,
            "groups_expanded": expanded,
        }

    def get_job(self, batch_id: str, sync_id: str) -> StoredSync:
        """Return a sync job of a batch, or raise a 404."""
        for job in self.jobs.get(self.batches.get(batch_id).id, []):
            if job.sync_id == sync_id:
                return job
        raise APIError(404, "Not found.")

    def render(self, job: StoredSync, *, queued: bool = False) -> dict[str, Any]:
        """Render a job; ``queued`` until its turn comes (and in the answer that starts it)."""
        status = job.status
        if status == "processing" and (queued or self.timeline.now() < job.starts_at):
            status = "queued"
        data: dict[str, Any] = {
            "sync_id": job.sync_id,
            "batch_id": job.batch_id,
            "dataset_id": job.dataset_id,
            "status": status,
            "created_at": iso_z(job.created_at),
        }
        if status == "complete":
            data.update(job.counts or {})
        if job.reason is not None:
            data["reason"] = job.reason
        return data

    # -- handlers --------------------------------------------------------------------

    async def sync_batch(self, request: web.Request) -> web.Response:
        """``POST /batches/{id}/sync``: 202 with the new, ``queued`` job."""
        job = self.start(self.batches.get(request.match_info["batch_id"]))
        return web.json_response(self.render(job, queued=True), status=202)

    async def get_sync(self, request: web.Request) -> web.Response:
        """``GET /batches/{id}/syncs/{sync_id}``: 200 with the job."""
        job = self.get_job(request.match_info["batch_id"], request.match_info["sync_id"])
        return web.json_response(self.render(job))

    async def append_datapoints(self, request: web.Request) -> web.Response:
        """``POST /datasets/{id}/datapoints``: 200 with the accepted and rejected counts."""
        dataset = self.datasets.get(request.match_info["dataset_id"])  # 404 before 415
        answer = self.append(dataset, request.content_type, await request.read())
        return web.json_response(answer)


def _key(record: Mapping[str, Any]) -> str:
    """A record's identity for the append's idempotence: its canonical JSON."""
    return json.dumps(record, sort_keys=True)


def _sized_groups(before: int, new: int, per_group: int) -> tuple[int, int]:
    """``(created, expanded)`` groups for ``new`` tasks after ``before`` in fixed-size groups."""
    created = math.ceil((before + new) / per_group) - math.ceil(before / per_group)
    expanded = 1 if new and before % per_group else 0
    return created, expanded


def _keyed_groups(records: list[dict[str, Any]], before: int, grouping: str) -> tuple[int, int]:
    """``(created, expanded)`` groups when records group by their ``grouping`` value.

    A record without a value is a group of its own, as at setup.
    """
    old = {_key({"k": record.get(grouping)}) for record in records[:before]}
    created: set[str] = set()
    expanded: set[str] = set()
    alone = 0
    for record in records[before:]:
        value = record.get(grouping)
        if value in (None, ""):
            alone += 1
            continue
        key = _key({"k": value})
        (expanded if key in old else created).add(key)
    return len(created) + alone, len(expanded)
