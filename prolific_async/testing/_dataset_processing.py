"""What an upload does to a dataset: V3 processing, and V4 imports run one at a time.

A V3 upload moves its dataset ``PROCESSING``, then, after ``processing_delay``, ``READY``
(or ``ERROR`` for an empty or unparsable file); only the latest upload's result applies.
Its import job, if its URL named one, goes ``processing``, then ``complete`` or
``failed`` with it (``failed`` too when a later upload replaced its file).
A V4 upload runs its import job: ``processing`` (rendered ``queued`` while an earlier
import of the dataset is still running), then ``complete``, ``partial`` or ``failed``;
uploading again re-runs the job and takes back what its previous run added.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._dataset_files import ImportOutcome, read_v3, read_v4

if TYPE_CHECKING:
    from ._datasets import StoredDataset, StoredImport
    from ._stamps import Stamps
    from ._timeline import Timeline, WorkflowConfig

__all__ = ["UploadProcessing"]


class UploadProcessing:
    """The processing of the uploads of every dataset.

    Args:
        stamps: the times jobs change status.
        timeline: schedules the end of processing.
        config: ``processing_delay``.
    """

    def __init__(self, *, stamps: Stamps, timeline: Timeline, config: WorkflowConfig) -> None:
        self.stamps = stamps
        self.timeline = timeline
        self.config = config
        # Bumped by each upload: a processing result applies only to the latest upload.
        self._uploads: dict[str, int] = {}
        # A V4 import shows "queued" until this monotonic moment, then "processing".
        self._queued_until: dict[str, float] = {}
        self._done_at: dict[str, float] = {}
        # What each V4 import added to its dataset, taken back if it is uploaded again.
        self._accepted: dict[str, list[dict[str, Any]]] = {}
        # The import job of each V3 dataset's latest upload (None: its URL named none).
        self._v3_jobs: dict[str, StoredImport | None] = {}

    def is_queued(self, job: StoredImport) -> bool:
        """Whether a processing import still waits for an earlier one of its dataset."""
        return job.status == "processing" and self.timeline.now() < self._queued_until.get(
            job.import_id, 0.0
        )

    def receiver(
        self, dataset: StoredDataset, job: StoredImport | None, filename: str
    ) -> Callable[[bytes], None]:
        """What a PUT to this upload URL does: process the bytes as V3 or V4."""

        def on_put(body: bytes) -> None:
            if dataset.schema is None:
                self._process_v3(dataset, job, filename, body)
            elif job is not None:
                self._process_v4(dataset, job, body)

        return on_put

    def _process_v3(
        self, dataset: StoredDataset, job: StoredImport | None, filename: str, body: bytes
    ) -> None:
        """Move a V3 dataset to PROCESSING; READY or ERROR once the delay has passed."""
        upload = self._uploads[dataset.id] = self._uploads.get(dataset.id, 0) + 1
        self._v3_jobs[dataset.id] = job
        dataset.status, dataset.filename = "PROCESSING", filename
        if job is not None:
            job.status, job.updated_at = "processing", self.stamps.now()
            job.accepted_count = job.rejected_count = job.reason = None
        records = read_v3(filename, body)

        def finish() -> None:
            if self._uploads.get(dataset.id) != upload:
                if self._v3_jobs.get(dataset.id) is not job:  # not the same URL put again
                    self._end_v3_job(job, None, "A later upload to the dataset replaced this file.")
                return
            if records is None:
                dataset.status = "ERROR"
                self._end_v3_job(job, None, "The file is empty or could not be read.")
                return
            dataset.records = records
            dataset.total_datapoint_count = len(records)
            dataset.status = "READY"
            self._end_v3_job(job, len(records), None)

        self.timeline.after(self.config.processing_delay, finish)

    def _end_v3_job(
        self, job: StoredImport | None, accepted: int | None, reason: str | None
    ) -> None:
        """End a V3 upload's import job: ``complete`` with ``accepted`` records, else failed."""
        if job is None or job.status != "processing":
            return  # no job named, or restaged by a test
        job.updated_at, job.reason = self.stamps.now(), reason
        job.accepted_count, job.rejected_count, job.errors = accepted or 0, 0, []
        job.status = "failed" if accepted is None else "complete"

    def _process_v4(self, dataset: StoredDataset, job: StoredImport, body: bytes) -> None:
        """Start a V4 import (queued behind the dataset's others); it ends after the delay."""
        upload = self._uploads[job.import_id] = self._uploads.get(job.import_id, 0) + 1
        # A PUT replaces the object: uploading again re-runs this import from scratch.
        previous = {id(record) for record in self._accepted.pop(job.import_id, [])}
        if previous:
            dataset.records = [r for r in dataset.records if id(r) not in previous]
            dataset.total_datapoint_count -= len(previous)
        # Imports of one dataset run one after another: this one waits for the others.
        busy = [
            self._done_at.get(other.import_id, 0.0)
            for other in dataset.imports
            if other is not job and other.status == "processing"
        ]
        start = max([self.timeline.now(), *busy])
        self._queued_until[job.import_id] = start
        self._done_at[job.import_id] = start + self.config.processing_delay
        job.status, job.updated_at, job.errors = "processing", self.stamps.now(), []
        job.accepted_count = job.rejected_count = job.reason = None
        outcome = read_v4(job.filename, body, dataset.schema or {})

        def finish() -> None:
            if self._uploads.get(job.import_id) != upload or job.status != "processing":
                return  # uploaded again, or restaged by a test
            self._finish_v4(dataset, job, outcome)

        self.timeline.at(self._done_at[job.import_id], finish)

    def _finish_v4(self, dataset: StoredDataset, job: StoredImport, outcome: ImportOutcome) -> None:
        """End an import with its outcome; its accepted records join the dataset."""
        job.status, job.updated_at, job.reason = outcome.status, self.stamps.now(), outcome.reason
        job.accepted_count, job.rejected_count = len(outcome.accepted), len(outcome.errors)
        job.errors = list(outcome.errors)
        self._accepted[job.import_id] = list(outcome.accepted)
        dataset.records.extend(outcome.accepted)
        dataset.total_datapoint_count += len(outcome.accepted)
