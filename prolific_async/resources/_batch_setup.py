"""Batch setup and readiness, mixed into ``client.batches``.

``get_status``, ``setup``, ``wait_until_ready``, ``tasks`` and ``task_groups``: what
turns a created batch with a dataset into a READY batch a study can point at. Also the
checks of the layout (``batch_items``) and ``auto_sync_enabled`` given to create/update.
"""

from __future__ import annotations

from typing import Any

from .._body import APIResponse
from .._converter import converter
from .._json import shortened
from .._paths import BATCH_TEMPLATE
from .._polling import (
    DEFAULT_MAX_POLL_INTERVAL,
    DEFAULT_POLL_INTERVAL,
    DEFAULT_WAIT_TIMEOUT,
    poll_until,
    require_wait_settings,
)
from .._resource import (
    Resource,
    StatusBody,
    path_id,
    require_positive_int,
    require_str,
)
from .._sentinel import NOT_GIVEN, NotGiven
from ..errors import BatchSetupError
from ..models._text import first_bad_text
from ..models.batches import Batch, BatchStatus
from ..models.layout import Page

__all__ = ["BatchSetupMixin"]


class BatchSetupMixin(Resource):
    """Setup and readiness of batches (part of :class:`BatchesResource`)."""

    async def get_status(self, batch_id: str) -> BatchStatus | str:
        """Get a batch's status (``GET /batches/{batch_id}/status``).

        Returns:
            A :class:`BatchStatus`, or the raw string for one this library does not know.

        Raises:
            NotFoundError: no batch has that id.
        """
        body = await self._get(BATCH_TEMPLATE + "/status", cast_to=StatusBody, batch_id=batch_id)
        return converter.structure(body.status, BatchStatus | str)  # type: ignore[arg-type]

    async def setup(
        self,
        batch_id: str,
        *,
        dataset_id: str | NotGiven = NOT_GIVEN,
        tasks_per_group: int | NotGiven = NOT_GIVEN,
    ) -> None:
        """Start building a batch's tasks (``POST /batches/{batch_id}/setup``).

        The server answers 202 at once and builds the tasks in the background: the batch
        goes ``PROCESSING``, then ``READY`` or ``ERROR``. Follow it with
        :meth:`wait_until_ready`. Like every POST, it is retried only when it provably
        did not reach the server.

        Args:
            batch_id: the batch.
            dataset_id: a dataset to attach first; by default the batch's own.
            tasks_per_group: how many tasks one participant gets together (>= 1).

        Raises:
            BadRequestError: a field was rejected.
            NotFoundError: no batch has that id.
        """
        body: dict[str, Any] = {}
        if dataset_id is not NOT_GIVEN:
            body["dataset_id"] = require_str(dataset_id, "dataset_id")
        if tasks_per_group is not NOT_GIVEN:
            body["tasks_per_group"] = require_positive_int(tasks_per_group, "tasks_per_group")
        await self._post(
            BATCH_TEMPLATE + "/setup", cast_to=APIResponse, body=body, batch_id=batch_id
        )

    async def wait_until_ready(
        self,
        batch_id: str,
        *,
        timeout: float = DEFAULT_WAIT_TIMEOUT,  # noqa: ASYNC109 (the whole wait's deadline)
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        max_poll_interval: float = DEFAULT_MAX_POLL_INTERVAL,
    ) -> Batch:
        """Wait until a batch is ``READY`` and return it.

        Polls the light status endpoint with capped backoff, then gets the batch once.
        The first poll takes the status as it is: right after setting up again a batch
        that ended in ``ERROR``, it may still read that old ``ERROR``.

        Args:
            batch_id: the batch.
            timeout: seconds to wait, polls included.
            poll_interval: seconds before the first poll again; each wait is 1.5 times
                the one before, up to ``max_poll_interval``.
            max_poll_interval: the longest wait between polls.

        Returns:
            The READY batch (with its ``total_task_count`` and ``total_task_groups``).

        Raises:
            BatchSetupError: the batch ended in ``ERROR``.
            WaitTimeoutError: it was not READY within ``timeout`` (setup may go on).
            NotFoundError: no batch has that id.
        """
        path_id(batch_id, "batch_id")
        settings = require_wait_settings(timeout, poll_interval, max_poll_interval)

        def finished(status: BatchStatus | str) -> bool:
            if status == BatchStatus.ERROR:
                raise BatchSetupError(
                    f"Batch {shortened(batch_id)} ended setup in ERROR: its tasks could not be "
                    "built (is its dataset attached and usable?)",
                    batch_id=batch_id,
                    status=str(status),
                )
            return status == BatchStatus.READY

        await poll_until(
            lambda: self.get_status(batch_id),
            finished=finished,
            status_of=str,
            resource=f"batch {shortened(batch_id)}",
            goal="READY",
            settings=settings,
        )
        return await self._get(BATCH_TEMPLATE, cast_to=Batch, batch_id=batch_id)

    async def tasks(self, batch_id: str) -> list[str]:
        """List a batch's task ids (``GET /batches/{batch_id}/tasks``); empty until READY.

        The answer is a bare JSON array of ids, as the official CLI reads it: the
        ``results`` rule of the list calls does not apply, but anything but an array is
        a :class:`ResponseValidationError`.

        Raises:
            NotFoundError: no batch has that id.
        """
        return await self._get(BATCH_TEMPLATE + "/tasks", cast_to=list[str], batch_id=batch_id)

    async def task_groups(self, batch_id: str) -> list[str]:
        """List a batch's task group ids (``GET /batches/{batch_id}/task-groups``).

        A bare JSON array of ids, as for :meth:`tasks`.

        Raises:
            NotFoundError: no batch has that id.
        """
        return await self._get(
            BATCH_TEMPLATE + "/task-groups", cast_to=list[str], batch_id=batch_id
        )


def layout_body(value: object) -> list[dict[str, Any]]:
    """The wire form of a ``batch_items`` layout given to create or update.

    Raises:
        TypeError: it is not a list of :class:`Page`.
        ValueError: it is an empty list (the API wants at least one page).
    """
    if not isinstance(value, list | tuple) or not all(isinstance(page, Page) for page in value):
        raise TypeError(f"batch_items must be a list of Page, got {value!r:.80}")
    if not value:
        raise ValueError("batch_items must hold at least one Page (None leaves it out)")
    where = first_bad_text(value, "batch_items")
    if where is not None:
        raise ValueError(f"{where} must be valid text: it holds a lone surrogate")
    body: list[dict[str, Any]] = converter.unstructure(list(value), list[Page])
    return body
