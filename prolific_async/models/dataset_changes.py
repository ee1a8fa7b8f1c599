"""Changing a V4 dataset after it was created: appending datapoints, a new schema.

* Appending (:class:`DatapointsAppended`) writes JSON Lines records into the dataset in
  the request itself, each checked against the current schema: no job to wait for.
  Datapoints reach a batch already set up through a sync (:mod:`.syncs`).
* Updating the schema (:class:`DatasetUpdate`) writes a new schema version. When the
  dataset had a schema already, the update starts a :class:`SchemaMigration` that
  re-normalises the existing datapoints: ``processing`` → ``complete``, ``partial``
  (some fields could not be re-normalised and were nulled) or ``failed``.

The official CLI (prolific-oss/cli at commit 4596a2fba604faa1b570d318095fca3f34d5a8f2)
lists these operations (``update-task-builder-dataset``, ``append-dataset-datapoints``,
``get-schema-migration-status``) but has no client code for them; the shapes here follow
Prolific's API reference pages of those names. Where a page leaves a key's name open
(the append answer's counts and errors), the names of the import job's are used.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from attrs import Factory, field, frozen

from ._base import Model
from ._text import usable_id_field
from .datasets import Dataset, ImportRecordError

__all__ = ["DatapointsAppended", "DatasetUpdate", "MigrationStatus", "SchemaMigration"]


class MigrationStatus(enum.StrEnum):
    """Where a schema migration is: ``processing``, then ``complete``, ``partial`` or ``failed``.

    A status this library does not know yet is kept as a plain ``str``.
    """

    PROCESSING = "processing"
    COMPLETE = "complete"
    PARTIAL = "partial"
    FAILED = "failed"


@frozen(kw_only=True)
class DatapointsAppended(Model):
    """What appending datapoints did: the records accepted, and why the others were not.

    A rejected record does not fail the request; re-appending an identical record counts
    as accepted without being written twice.
    """

    accepted_count: int
    """How many records were accepted."""
    rejected_count: int = 0
    """How many records were rejected."""
    errors: list[ImportRecordError] = Factory(list)
    """Why each rejected record was rejected (``record_index`` is its 0-based line)."""
    dataset_id: str | None = None
    """The dataset the records went into."""


@frozen(kw_only=True)
class DatasetUpdate(Model):
    """A dataset after an update, and the schema migration the update started, if any."""

    dataset: Dataset
    """The updated dataset."""
    migration_job_id: str | None = field(default=None, validator=usable_id_field)
    """The :class:`SchemaMigration` to wait for; ``None`` when nothing needed migrating
    (the dataset's first schema, or no schema change)."""


@frozen(kw_only=True)
class SchemaMigration(Model):
    """A schema migration job: a V4 dataset's datapoints re-normalised to a new schema."""

    job_id: str = field(validator=usable_id_field)
    """The job's id (the update's ``migration_job_id``)."""
    status: MigrationStatus | str
    """A :class:`MigrationStatus`, or the raw string for one this library does not know."""
    dataset_id: str | None = None
    """The dataset being migrated."""
    schema_version: int | None = None
    """The schema version the job re-normalises the datapoints to."""
    created_at: datetime | None = None
    """When the job was created."""
    updated_at: datetime | None = None
    """When the job last changed."""
    reprocessed_count: int | None = None
    """How many datapoints were re-normalised (``complete``, ``partial``)."""
    failed_count: int | None = None
    """How many datapoints had fields that could not be re-normalised (``partial``)."""
    errors: list[dict[str, Any]] = Factory(list)
    """What could not be re-normalised (``partial``), as the server words it: the
    reference does not fix the shape of an entry."""
    reason: str | None = None
    """Why the job ``failed``."""

    @property
    def is_finished(self) -> bool:
        """Whether the job has reached ``complete``, ``partial`` or ``failed``."""
        return self.status in (
            MigrationStatus.COMPLETE,
            MigrationStatus.PARTIAL,
            MigrationStatus.FAILED,
        )
