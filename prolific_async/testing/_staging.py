"""FakeProlific's state: what tests read, what they seed, and the workflow's timing knobs.

A mixin, so :class:`~prolific_async.testing.FakeProlific` keeps one flat API while its
lifecycle and traffic knobs (``_server.py``) and its state (here) stay in modules of a
readable size.
"""

from __future__ import annotations

import copy
import enum
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, Final

import attrs

from ..models.batches import BatchStatus, TaskDetails
from ..models.layout import Page, UnknownItem
from ._batches import StoredBatch
from ._dataset_files import check_schema
from ._datasets import DATASET_STATUSES, StoredDataset
from ._exports import StoredExport
from ._pipeline import RequestPipeline
from ._services import Services
from ._traffic import RecordedRequest

__all__ = ["StagingMixin", "check_delay"]

#: The task details of a batch staged with add_batch() without any.
_PLACEHOLDER_TASK: Final = TaskDetails(
    task_name="Task", task_introduction="<p>Introduction</p>", task_steps="<ol><li>Step</li></ol>"
)
DEFAULT_WORKSPACE: Final = "6278acb09062db3b35bcbeb0"


def check_delay(name: str, value: float) -> float:
    """Return a delay as a float; refuse a negative one (ValueError naming it)."""
    if value < 0:
        raise ValueError(f"{name} must be >= 0 seconds, got {value!r}")
    return float(value)


def layout_json(value: Any) -> Any:
    """The JSON a layout model stands for (a :class:`~prolific_async.Page` and below).

    Written here with plain attrs, not with the client's converter: the emulator is the
    oracle its wire rules are tested against, so it must not share them. Each model
    becomes an object with its item ``type`` first, its fields without the ``None``
    ones, then its ``extra`` keys; an :class:`~prolific_async.UnknownItem` is its raw
    object; enums are their values.
    """
    if isinstance(value, UnknownItem):
        return copy.deepcopy(value.raw)
    if attrs.has(type(value)):
        tag = getattr(type(value), "type", None)
        data: dict[str, Any] = {"type": str(tag)} if tag is not None else {}
        fields = attrs.asdict(value, recurse=False)
        extra = fields.pop("extra", None) or {}
        data.update((key, layout_json(item)) for key, item in fields.items() if item is not None)
        for key, item in extra.items():
            data.setdefault(key, copy.deepcopy(item))
        return data
    if isinstance(value, list | tuple):
        return [layout_json(item) for item in value]
    if isinstance(value, enum.Enum):
        return value.value
    return copy.deepcopy(value)


class StagingMixin:
    """The stored state of a fake: views, seeding helpers and the workflow's delays.

    Reading a view first applies every state transition that has come due (a setup
    that finished, an upload processed), so tests see what a request would see.
    """

    _services: Services
    _pipeline: RequestPipeline

    # -- views -----------------------------------------------------------------------

    @property
    def batches(self) -> dict[str, StoredBatch]:
        """The stored batches by id; mutate a record to stage a scenario."""
        self._services.settle()
        return self._services.batches.batches

    @property
    def datasets(self) -> dict[str, StoredDataset]:
        """The stored datasets by id, created through the API or :meth:`add_dataset`."""
        self._services.settle()
        return self._services.datasets.datasets

    @property
    def responses(self) -> dict[str, list[dict[str, Any]]]:
        """Each batch's task responses, as served (seed them with :meth:`add_response`)."""
        return self._services.workflow.responses

    @property
    def exports(self) -> dict[str, list[StoredExport]]:
        """Each batch's export jobs, oldest first; set a job's ``status`` to stage one."""
        self._services.settle()
        return self._services.exports.jobs

    @property
    def storage_requests(self) -> list[RecordedRequest]:
        """Every request to the storage stand-in (``/_storage/``): uploads and downloads.

        Kept apart from :attr:`requests`; ``Authorization``, if a client sent it, shows
        as ``Token ***``, so ``"Authorization" not in record.headers`` proves it did not.
        """
        return self._pipeline.storage_requests

    async def apply_late(self) -> int:
        """Apply now each request a ``late_apply`` fault without ``delay`` holds back.

        Returns once their endpoints have run, with how many there were: a test lets
        its client list first, then decides when the request takes effect.
        """
        return await self._pipeline.apply_late()

    # -- workflow knobs --------------------------------------------------------------

    @property
    def processing_delay(self) -> float:
        """Seconds an upload takes to process (V3 dataset, V4 import job); settable."""
        return self._services.config.processing_delay

    @processing_delay.setter
    def processing_delay(self, value: float) -> None:
        self._services.config.processing_delay = check_delay("processing_delay", value)

    @property
    def setup_delay(self) -> float:
        """Seconds a batch stays PROCESSING after a setup request; settable."""
        return self._services.config.setup_delay

    @setup_delay.setter
    def setup_delay(self, value: float) -> None:
        self._services.config.setup_delay = check_delay("setup_delay", value)

    @property
    def export_delay(self) -> float:
        """Seconds an export job stays ``generating``; settable."""
        return self._services.config.export_delay

    @export_delay.setter
    def export_delay(self, value: float) -> None:
        self._services.config.export_delay = check_delay("export_delay", value)

    @property
    def sync_delay(self) -> float:
        """Seconds a batch sync job takes once its turn comes (auto-syncs too); settable."""
        return self._services.config.sync_delay

    @sync_delay.setter
    def sync_delay(self, value: float) -> None:
        self._services.config.sync_delay = check_delay("sync_delay", value)

    @property
    def migration_delay(self) -> float:
        """Seconds a schema migration stays ``processing``; settable."""
        return self._services.config.migration_delay

    @migration_delay.setter
    def migration_delay(self, value: float) -> None:
        self._services.config.migration_delay = check_delay("migration_delay", value)

    @property
    def legacy_exports(self) -> bool:
        """Whether export requests get the older 200 ``complete`` answer; settable."""
        return self._services.config.legacy_exports

    @legacy_exports.setter
    def legacy_exports(self, value: bool) -> None:
        self._services.config.legacy_exports = bool(value)

    @property
    def legacy_v3_uploads(self) -> bool:
        """Whether a V3 dataset's upload URL comes without an ``import_id``; settable."""
        return self._services.config.legacy_v3_uploads

    @legacy_v3_uploads.setter
    def legacy_v3_uploads(self, value: bool) -> None:
        self._services.config.legacy_v3_uploads = bool(value)

    @property
    def clock(self) -> Callable[[], datetime]:
        """Returns "now" for new batches and datasets; replace it to skew the server's clock."""
        return self._services.stamps.clock

    @clock.setter
    def clock(self, value: Callable[[], datetime]) -> None:
        self._services.stamps.clock = value

    # -- seeding ---------------------------------------------------------------------

    def add_dataset(
        self,
        dataset_id: str | None = None,
        *,
        total_datapoint_count: int | None = None,
        filename: str | None = "dataset.csv",
        name: str = "Dataset",
        workspace_id: str = DEFAULT_WORKSPACE,
        status: str = "READY",
        schema: Mapping[str, Any] | None = None,
        records: Iterable[Mapping[str, Any]] | None = None,
    ) -> StoredDataset:
        """Store a dataset, processed already unless ``status`` says otherwise.

        Args:
            dataset_id: its id; ``None`` draws a UUID from the seeded generator.
            total_datapoint_count: its datapoints (a batch set up on it gets this many
                tasks); defaults to the number of ``records``.
            filename: its file, rendered by get, update and list.
            name: its name.
            workspace_id: its workspace.
            status: V3: its status, any string (``"PROCESSING"`` stays so: no upload is
                pending). V4: one of the four statuses, staged as an import job that is
                ``complete`` (READY), ``processing`` for ever (PROCESSING) or ``failed``
                (ERROR), or as no import at all (UNINITIALISED).
            schema: makes it a V4 dataset, validated as the API validates it.
            records: its datapoints (dicts), used by the report and V4 task grouping.

        Returns:
            The stored record (mutate it to change what the API serves).

        Raises:
            ValueError: a negative count, an invalid schema or an unknown V4 status.
        """
        rows = [dict(record) for record in records or ()]
        count = len(rows) if total_datapoint_count is None else total_datapoint_count
        if count < 0:
            raise ValueError(f"total_datapoint_count must be >= 0, got {count!r}")
        checked = check_schema(schema) if schema is not None else None
        if checked is not None and status not in DATASET_STATUSES:
            raise ValueError(f"a V4 dataset's status must be one of {DATASET_STATUSES}")
        stamps = self._services.stamps
        dataset = StoredDataset(
            id=dataset_id if dataset_id is not None else stamps.new_id(),
            name=name,
            workspace_id=workspace_id,
            created_at=stamps.now(),
            created_by=stamps.user_id,
            total_datapoint_count=count,
            filename=filename,
            status=status,
            schema=checked,
            records=rows,
        )
        return self._services.datasets.seed(dataset)

    def add_batch(
        self,
        *,
        batch_id: str | None = None,
        name: str = "Batch",
        workspace_id: str = DEFAULT_WORKSPACE,
        task_details: TaskDetails | None = None,
        dataset_ids: Iterable[str] = (),
        status: BatchStatus | str = BatchStatus.UNINITIALISED,
        batch_items: Iterable[Page | Mapping[str, Any]] | None = None,
        auto_sync_enabled: bool = False,
    ) -> StoredBatch:
        """Store a batch directly, as if created earlier (no request, no fault, no log).

        Args:
            batch_id: its id; ``None`` draws a UUID from the seeded generator.
            name: its name.
            workspace_id: its workspace.
            task_details: what participants are shown (placeholder text by default).
            dataset_ids: datasets to attach, each added with :meth:`add_dataset` first.
            status: its status, e.g. ``BatchStatus.READY``.
            batch_items: its layout, as :class:`~prolific_async.Page` models or their
                JSON; checked as a create request is (its ``dataset_field`` items
                against ``dataset_ids``), given ids kept and the others assigned.
            auto_sync_enabled: whether new datapoints become tasks automatically.

        Returns:
            The stored record (mutate it to change what the API serves).

        Raises:
            ValueError: an unknown dataset id, a batch id already in use, or a layout
                the API would refuse (the message lists each problem's location).
        """
        batches, datasets = self._services.batches.batches, self._services.datasets.datasets
        if batch_id is not None and batch_id in batches:
            raise ValueError(f"a batch with id {batch_id!r} already exists")
        dataset_ids = list(dataset_ids)
        unknown = [key for key in dataset_ids if key not in datasets]
        if unknown:
            raise ValueError(f"unknown dataset ids {unknown}: add them with add_dataset()")
        layout = None if batch_items is None else [layout_json(page) for page in batch_items]
        self._services.batches.check_seeded_layout(layout, dataset_ids)
        stamps = self._services.stamps
        batch = StoredBatch(
            id=batch_id if batch_id is not None else stamps.new_id(),
            created_at=stamps.now(),
            created_by=stamps.user_id,
            name=name,
            workspace_id=workspace_id,
            task_details=task_details or _PLACEHOLDER_TASK,
            dataset_ids=dataset_ids,
            status=status,
            auto_sync_enabled=auto_sync_enabled,
        )
        return self._services.batches.seed(batch, layout)

    def add_response(self, batch_id: str, **fields: Any) -> dict[str, Any]:
        """Store a task response for a batch, served by ``GET .../responses`` and exports.

        Every field has a default: new ``id``, ``correlation_id`` and participant and
        submission ids, the batch's next task in turn once it is READY (a new id
        before), ``metadata={}``, a ``free_text`` answer, ``created_at`` now and
        ``schema_version=1``. ``fields`` replace them (``datetime`` values are rendered
        as ISO-8601 ``Z``) and may add any other key, e.g. ``study_id`` for the export
        filter or an unknown field to test a client's tolerance. Everything the spec
        allows can be staged: ``submission_id=None, no_submission=True`` for a response
        given outside a submission, or a ``response`` whose answers' ``value`` is a
        number or a boolean.

        Returns:
            The stored response, as served (a dict; mutate it at will).

        Raises:
            ValueError: an unknown batch id.
        """
        self._services.settle()
        return self._services.workflow.add_response(batch_id, fields)

    def expire_storage_urls(self) -> None:
        """Expire every presigned URL issued so far: they answer 403, as after an hour.

        An export's next get issues a fresh URL, as the API documents.
        """
        self._services.storage.expire_all()
