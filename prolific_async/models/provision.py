"""Inputs and outputs of the one-call pipeline: a file in, a READY batch out."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from attrs import field, frozen, validators

from ._base import Model
from .batches import Batch, TaskDetails
from .bulk import CreateBatchRequest
from .datasets import Dataset, DatasetSchema
from .layout import Page

if TYPE_CHECKING:
    from ..errors import ProvisionError

__all__ = [
    "ProvisionRequest",
    "ProvisionResult",
]

_non_empty = validators.and_(validators.instance_of(str), validators.min_len(1))


def _positive_seconds(instance: object, attribute: Any, value: float | None) -> None:
    """``None`` or a number of seconds above 0 (never a bool)."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"{attribute.name} must be a positive number of seconds, got {value!r}")


def _given(instance: object, attribute: Any, value: object) -> None:
    if value is None:
        raise ValueError(f"{attribute.name} must be a positive number of seconds, got None")


@frozen(kw_only=True)
class ProvisionRequest(Model):
    """Everything one pipeline needs: the batch, and the file that becomes its dataset."""

    name: str = field(validator=_non_empty)
    """The batch's name (and the dataset's, unless ``dataset_name`` is given)."""
    workspace_id: str = field(validator=_non_empty)
    """The workspace both go into."""
    task_details: TaskDetails = field(validator=validators.instance_of(TaskDetails))
    """What participants are shown."""
    dataset: str | os.PathLike[str] | bytes = field(
        validator=validators.instance_of((str, os.PathLike, bytes))
    )
    """The data: a path to a ``.csv``/``.zip``/``.jsonl`` file, or the bytes themselves."""
    filename: str | None = None
    """The name to upload as; required for bytes, defaults to the path's name."""
    schema: DatasetSchema | None = None
    """A V4 schema; without one the dataset is V3."""
    dataset_name: str | None = None
    """The dataset's name, if not the batch's."""
    tasks_per_group: int | None = field(
        default=None,
        validator=validators.optional(
            validators.and_(validators.instance_of(int), validators.ge(1))
        ),
    )
    """How many tasks each participant gets (the server's default, 1, when ``None``)."""
    batch_items: Sequence[Page] | None = None
    """A configurable layout for the batch, or ``None``."""
    auto_sync_enabled: bool | None = field(
        default=None, validator=validators.optional(validators.instance_of(bool))
    )
    """Turn datapoints appended later into tasks automatically (server default: off)."""
    timeout: float = field(default=900.0, validator=validators.and_(_given, _positive_seconds))
    """Seconds each wait (upload processing, setup) may take."""
    transfer_deadline: float | None = field(default=None, validator=_positive_seconds)
    """Seconds sending the file may take, retries included (``None``: the client's)."""

    def batch_request(self, dataset_id: str, *, key: str | None = None) -> CreateBatchRequest:
        """The create of this pipeline's batch on ``dataset_id``: its fields, written once."""
        return CreateBatchRequest(
            self.name,
            self.workspace_id,
            self.task_details,
            dataset_id,
            batch_items=self.batch_items,
            auto_sync_enabled=self.auto_sync_enabled,
            key=key,
        )


@frozen(kw_only=True)
class ProvisionResult(Model):
    """How one pipeline of ``provision_many`` ended."""

    index: int
    """The request's position in the input, from 0."""
    request: ProvisionRequest
    """The request itself."""
    batch: Batch | None = None
    """The READY batch; on failure, the batch if one was created, else ``None``."""
    dataset: Dataset | None = None
    """The dataset that was created for it, if any."""
    error: ProvisionError | None = None
    """Why it failed (its ``step`` says where), or ``None``."""
    request_id: str | None = None
    """The server's request id of the batch's create (:attr:`BulkResult.request_id`):
    ``None`` when no answer was read, or the pipeline ended before the create."""

    @property
    def ok(self) -> bool:
        """Whether the batch is READY."""
        return self.error is None and self.batch is not None
