"""AI Task Builder batches: the batch, its datasets, its task details and its status."""

from __future__ import annotations

import enum
from datetime import datetime

from attrs import field, frozen

from ._base import Model
from ._text import valid_text_field
from .layout import Page

__all__ = [
    "Batch",
    "BatchDataset",
    "BatchStatus",
    "TaskDetails",
]


class BatchStatus(enum.StrEnum):
    """Where a batch is in its lifecycle.

    ``UNINITIALISED`` (created) → setup → ``PROCESSING`` (tasks being built) → ``READY``
    or ``ERROR``. A status this library does not know yet is kept as a plain ``str`` on
    :attr:`Batch.status`, so a new server-side status never breaks parsing.
    """

    UNINITIALISED = "UNINITIALISED"
    PROCESSING = "PROCESSING"
    READY = "READY"
    ERROR = "ERROR"


@frozen(kw_only=True)
class TaskDetails(Model):
    """What participants are shown about the task."""

    # A lone surrogate is refused here, before any request: it has no UTF-8 form to send.
    task_name: str = field(validator=valid_text_field)
    """The title displayed to participants."""
    task_introduction: str = field(validator=valid_text_field)
    """HTML introduction shown at the start of the task."""
    task_steps: str = field(validator=valid_text_field)
    """HTML step-by-step instructions."""


@frozen(kw_only=True)
class BatchDataset(Model):
    """A dataset attached to a batch."""

    id: str
    """The dataset's id."""
    total_datapoint_count: int
    """How many datapoints the dataset holds."""
    filename: str | None = None
    """The uploaded file's name; absent (``None``) in create and duplicate responses."""


@frozen(kw_only=True)
class Batch(Model):
    """An AI Task Builder batch: the unit of work participants are allocated tasks from."""

    id: str
    """The batch's id (a UUID on the real API, kept as a plain string)."""
    created_at: datetime
    """When the batch was created (timezone-aware, UTC)."""
    created_by: str
    """The id of the Prolific user who created the batch."""
    datasets: list[BatchDataset]
    """The datasets attached to the batch (empty until one is attached)."""
    name: str
    """The batch's name."""
    status: BatchStatus | str
    """A :class:`BatchStatus`, or the raw string for a status this library does not know."""
    total_task_count: int
    """How many tasks the batch holds (built by setup)."""
    total_instruction_count: int
    """How many instructions the batch holds."""
    workspace_id: str
    """The workspace the batch belongs to."""
    task_details: TaskDetails
    """What participants are shown about the task."""
    schema_version: int | None = None
    """The batch's schema version; absent (``None``) in create and duplicate responses."""
    total_task_groups: int | None = None
    """How many task groups setup made; absent (``None``) in create and duplicate responses."""
    batch_items: list[Page] | None = None
    """The configurable layout; ``None`` for a batch without one (legacy instructions)."""
    auto_sync_enabled: bool | None = None
    """Whether datapoints added to the dataset later become tasks automatically."""
