"""``client.batches``: create, get, update and duplicate AI Task Builder batches."""

from __future__ import annotations

import builtins
from collections.abc import AsyncGenerator, AsyncIterable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from .._bulk import DEFAULT_MAX_CONSECUTIVE_UNSENT, DEFAULT_RECONCILE_MARGIN, run_bulk
from .._converter import converter
from .._creation import post_creating
from .._listing import fetch_batch_listing
from .._paths import BATCH_TEMPLATE, BATCHES_PATH, DUPLICATE_TEMPLATE
from .._resource import Resource, expand, require_bool, require_str
from .._sentinel import NOT_GIVEN, NotGiven
from ..models.batches import Batch, TaskDetails
from ..models.bulk import BulkResult, CreateBatchRequest, DuplicateBatchRequest
from ..models.layout import Page
from ._batch_results import BatchResultsMixin
from ._batch_setup import BatchSetupMixin, layout_body
from ._batch_sync import BatchSyncMixin

if TYPE_CHECKING:
    from .._bulk_progress import BulkProgress
    from .._journal import Journal

__all__ = ["BatchesResource"]


def _require_task_details(value: object) -> dict[str, Any]:
    if not isinstance(value, TaskDetails):
        raise TypeError(f"task_details must be a TaskDetails, got {type(value).__name__}")
    body: dict[str, Any] = converter.unstructure(value)
    return body


class BatchesResource(BatchSetupMixin, BatchSyncMixin, BatchResultsMixin, Resource):
    """Batches: the unit of work participants are allocated tasks from.

    Creating and changing batches is here; setting them up and waiting for them is in
    :class:`BatchSetupMixin`, syncing them with appended datapoints in
    :class:`BatchSyncMixin`, their responses, report and exports in
    :class:`BatchResultsMixin`.
    """

    async def create(
        self,
        *,
        name: str,
        workspace_id: str,
        task_details: TaskDetails,
        dataset_id: str | None = None,
        batch_items: Sequence[Page] | None = None,
        auto_sync_enabled: bool | None = None,
    ) -> Batch:
        """Create a batch (``POST /batches``).

        Sent once: a create is retried only when the request provably did not reach
        the server (no connection, or a 429); never after a 408, a 5xx or a dropped
        connection, since it may have acted.

        Args:
            name: the batch's name.
            workspace_id: the workspace to create it in.
            task_details: what participants are shown.
            dataset_id: a dataset to attach now; left out of the request when ``None``.
            batch_items: the configurable layout (pages of rows of columns of items);
                left out when ``None``. Instructions then live in the layout.
            auto_sync_enabled: turn new dataset datapoints into tasks automatically;
                left out when ``None`` (the server's default is off).

        Returns:
            The new batch (``schema_version`` and ``total_task_groups`` are ``None``:
            the create response leaves them out).

        Raises:
            OutcomeUnknownError: the connection failed after the request may have reached
                the server; the batch may exist.
            CreatedButUnreadableError: the batch was created but the answer could not be
                read; its ``batch_id`` names it when the answer did.
            BadRequestError: a field was rejected.
            UnprocessableEntityError: the layout failed validation; the message names
                the location of each problem (``batch_items[0].rows[0]...``).
        """
        # The request checks task_details, batch_items and auto_sync_enabled; its wire
        # form is the one the bulk layer sends and fingerprints.
        request = CreateBatchRequest(
            require_str(name, "name"),
            require_str(workspace_id, "workspace_id"),
            task_details,
            None if dataset_id is None else require_str(dataset_id, "dataset_id"),
            batch_items=batch_items,
            auto_sync_enabled=auto_sync_enabled,
        )
        body: dict[str, Any] = converter.unstructure(request)
        return await post_creating(self._client, BATCHES_PATH, body=body, template=BATCHES_PATH)

    async def get(self, batch_id: str) -> Batch:
        """Get a batch by id (``GET /batches/{batch_id}``).

        Raises:
            NotFoundError: no batch has that id.
        """
        return await self._get(BATCH_TEMPLATE, cast_to=Batch, batch_id=batch_id)

    async def update(
        self,
        batch_id: str,
        *,
        name: str | NotGiven = NOT_GIVEN,
        task_details: TaskDetails | NotGiven = NOT_GIVEN,
        dataset_id: str | NotGiven = NOT_GIVEN,
        batch_items: Sequence[Page] | NotGiven | None = NOT_GIVEN,
        auto_sync_enabled: bool | NotGiven = NOT_GIVEN,
    ) -> Batch:
        """Update a batch (``PATCH /batches/{batch_id}``), sending only the given fields.

        Args:
            batch_id: the batch.
            name: a new name.
            task_details: new task details.
            dataset_id: a dataset to attach instead.
            batch_items: a layout replacing the whole current one: pages, rows, columns
                and items keep their ``id`` to be kept, new ones have none, and any left
                out are removed. ``None`` removes the layout (and its instructions).
            auto_sync_enabled: turn automatic sync of new datapoints on or off.

        Returns:
            The batch as it is after the update.

        Raises:
            UnprocessableEntityError: the layout failed validation; the message names
                the location of each problem.
        """
        body: dict[str, Any] = {}
        if name is not NOT_GIVEN:
            body["name"] = require_str(name, "name")
        if task_details is not NOT_GIVEN:
            body["task_details"] = _require_task_details(task_details)
        if dataset_id is not NOT_GIVEN:
            body["dataset_id"] = require_str(dataset_id, "dataset_id")
        if batch_items is not NOT_GIVEN:
            body["batch_items"] = None if batch_items is None else layout_body(batch_items)
        if auto_sync_enabled is not NOT_GIVEN:
            body["auto_sync_enabled"] = require_bool(auto_sync_enabled, "auto_sync_enabled")
        return await self._patch(BATCH_TEMPLATE, cast_to=Batch, body=body, batch_id=batch_id)

    async def duplicate(
        self,
        batch_id: str,
        *,
        name: str | None = None,
        upload_new_dataset: bool = False,
    ) -> Batch:
        """Duplicate a batch (``POST /batches/{batch_id}/duplicate``).

        Sent once, like :meth:`create`: retried only when the request provably did not
        reach the server (no connection, or a 429).

        Args:
            batch_id: the batch to copy.
            name: the copy's name; the server's default is ``"<original name> (Copy)"``.
            upload_new_dataset: leave the dataset behind (a new one must be uploaded)
                instead of sharing the original's.

        Raises:
            OutcomeUnknownError: the connection failed after the request may have reached
                the server; the copy may exist.
            CreatedButUnreadableError: the copy was created but the answer could not be
                read; its ``batch_id`` names it when the answer did.
            NotFoundError: no batch has that id.
        """
        path = expand(DUPLICATE_TEMPLATE, {"batch_id": batch_id})  # the id's own error first
        request = DuplicateBatchRequest(
            batch_id, None if name is None else require_str(name, "name"), upload_new_dataset
        )
        body: dict[str, Any] = converter.unstructure(request)  # the bulk layer's wire form
        return await post_creating(self._client, path, body=body, template=DUPLICATE_TEMPLATE)

    async def list(self, workspace_id: str) -> builtins.list[Batch]:
        """List every batch in a workspace (``GET /batches?workspace_id=``).

        The endpoint documents no paging: the whole workspace comes back at once.

        Raises:
            ResponseValidationError: the answer has no ``results`` array (missing,
                ``null``, a bare array or another envelope): never read as "no batches".
        """
        listing = await fetch_batch_listing(self._client, require_str(workspace_id, "workspace_id"))
        return listing.results

    def create_many(
        self,
        requests: Iterable[CreateBatchRequest] | AsyncIterable[CreateBatchRequest],
        *,
        concurrency: int = 32,
        journal: Journal | None = None,
        retry_failed: bool = False,
        reconcile_margin: float = DEFAULT_RECONCILE_MARGIN,
        reconcile_delay: float | None = None,
        max_consecutive_unsent: int = DEFAULT_MAX_CONSECUTIVE_UNSENT,
        progress: BulkProgress | None = None,
    ) -> AsyncGenerator[BulkResult, None]:
        """Create many batches concurrently, each exactly once; yield results as they finish.

        See :mod:`prolific_async.bulk` for how ambiguous failures are reconciled and
        what the journal does. Close the iterator early with ``contextlib.aclosing`` (or
        cancel the task): in-flight requests are cancelled and nothing new starts.

        Args:
            requests: any iterable or async iterable, read lazily.
            concurrency: how many requests may be in progress at once; the
                client's ``max_connections`` caps it (a higher value logs a warning
                when the client's first such run starts), and the client's pacer
                spaces the sends while the API answers 429.
            journal: a :class:`~prolific_async.Journal` that makes the run resumable.
            retry_failed: with a journal, try again the requests it records as failed.
            reconcile_margin: seconds of clock skew allowed when matching batches
                created before a request's first attempt.
            reconcile_delay: after an ambiguous failure the workspace is listed at
                once and a matching batch adopted; sending again waits until a listing
                taken this many seconds after the last send still shows none (the
                request holds no concurrency slot meanwhile); default: the client's
                per-attempt ``timeout``.
            max_consecutive_unsent: after this many sends in a row failed before
                reaching the server (connection refused, DNS, TLS), the run stops
                sending: every request not yet sent is reported with
                :class:`~prolific_async.RunStoppedError`, which the journal does not
                record as final, so a plain re-run does it. A 401 stops the run at
                once; a 403 stops the requests of its workspace or duplicate source.
            progress: a :class:`~prolific_async.BulkProgress` the run keeps up to date
                (requests in progress, and those waiting to reconcile).

        Raises:
            JournalError: the journal is corrupt or was written for another manifest.
            TypeError: an item is not a :class:`CreateBatchRequest`.
            ValueError: two requests share a ``key``, or a setting is out of range.
        """
        return run_bulk(
            self._client,
            self,
            "create",
            requests,
            concurrency=concurrency,
            journal=journal,
            retry_failed=retry_failed,
            reconcile_margin=reconcile_margin,
            reconcile_delay=reconcile_delay,
            max_consecutive_unsent=max_consecutive_unsent,
            progress=progress,
        )

    def duplicate_many(
        self,
        requests: Iterable[DuplicateBatchRequest] | AsyncIterable[DuplicateBatchRequest],
        *,
        concurrency: int = 32,
        journal: Journal | None = None,
        retry_failed: bool = False,
        reconcile_margin: float = DEFAULT_RECONCILE_MARGIN,
        reconcile_delay: float | None = None,
        max_consecutive_unsent: int = DEFAULT_MAX_CONSECUTIVE_UNSENT,
        progress: BulkProgress | None = None,
    ) -> AsyncGenerator[BulkResult, None]:
        """Duplicate many batches concurrently, each copy exactly once.

        Each distinct source is fetched once (to know what its copies look like). The
        arguments, results and guarantees are those of :meth:`create_many`.
        """
        return run_bulk(
            self._client,
            self,
            "duplicate",
            requests,
            concurrency=concurrency,
            journal=journal,
            retry_failed=retry_failed,
            reconcile_margin=reconcile_margin,
            reconcile_delay=reconcile_delay,
            max_consecutive_unsent=max_consecutive_unsent,
            progress=progress,
        )
