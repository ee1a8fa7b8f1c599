"""The whole pipeline in one call: dataset, upload, batch, setup, READY; and its bulk form.

``provision_batch`` is five awaited calls in a row. ``provision_many`` runs many such
pipelines at once on top of the bulk layer: datasets are created and uploaded with
bounded concurrency, the batches are created by ``create_many`` (so each exists exactly
once, whatever the network does, with its layout if the request has one), and each new
batch is set up and awaited, again with bounded concurrency. Results stream out as
pipelines finish; memory is bounded by the concurrency, not by the number of requests.

A failure names the step it happened in and carries what was already made (the dataset,
the batch), so nothing is lost or made twice by a blind retry: see
:class:`~prolific_async.errors.ProvisionError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Coroutine, Iterable
from typing import TYPE_CHECKING, Any

import attrs

from ._converter import converter
from ._creation import post_creating
from ._fanout import fan_out
from ._paths import BATCHES_PATH
from ._resource import UnusableIdError
from ._sentinel import NOT_GIVEN
from .errors import ProlificError, ProvisionError
from .models.batches import Batch
from .models.bulk import BulkResult, CreateBatchRequest
from .models.datasets import Dataset
from .models.provision import ProvisionRequest, ProvisionResult

if TYPE_CHECKING:
    from ._client import ProlificClient

__all__ = ["provision_batch", "provision_many"]


def _check_file(request: ProvisionRequest) -> None:
    """Refuse a data file that cannot be uploaded, before anything is created for it."""
    problem: Exception | None = None
    if isinstance(request.dataset, bytes):
        if not request.filename:
            problem = ValueError("bytes need a filename= (with .csv, .zip or .jsonl)")
    elif not os.path.isfile(request.dataset):
        problem = FileNotFoundError(f"no such file: {os.fspath(request.dataset)!r}")
    if problem is not None:
        raise ProvisionError.at("read dataset file", problem) from problem


async def _make_dataset(client: ProlificClient, request: ProvisionRequest) -> Dataset:
    """Create and fill the request's dataset; a failure says what exists already."""
    _check_file(request)
    try:
        dataset = await client.datasets.create(
            name=request.dataset_name or request.name,
            workspace_id=request.workspace_id,
            schema=request.schema,
        )
    except ProlificError as error:
        raise ProvisionError.at("create dataset", error) from error
    try:
        await client.datasets.upload(
            dataset.id,
            request.dataset,
            filename=request.filename,
            timeout=request.timeout,
            transfer_deadline=request.transfer_deadline,
        )
    except (ProlificError, OSError, ValueError) as error:
        raise ProvisionError.at("upload dataset", error, dataset=dataset) from error
    return dataset


async def _make_ready(
    client: ProlificClient, request: ProvisionRequest, dataset: Dataset, batch: Batch
) -> Batch:
    """Set a created batch up and wait until it is READY."""
    tasks_per_group = NOT_GIVEN if request.tasks_per_group is None else request.tasks_per_group
    # UnusableIdError: an id the server gave that no URL can hold (``..``); any other
    # ValueError would be a bug here (the request's own values were checked as it was made).
    try:
        await client.batches.setup(batch.id, tasks_per_group=tasks_per_group)
    except (ProlificError, UnusableIdError) as error:
        raise ProvisionError.at("set up batch", error, dataset=dataset, batch=batch) from error
    try:
        return await client.batches.wait_until_ready(batch.id, timeout=request.timeout)
    except (ProlificError, UnusableIdError) as error:
        raise ProvisionError.at("wait until ready", error, dataset=dataset, batch=batch) from error


async def provision_batch(client: ProlificClient, request: ProvisionRequest) -> Batch:
    """Run one pipeline: dataset, upload, batch, setup; return the READY batch.

    Raises:
        ProvisionError: a step failed; ``.step``, ``.dataset`` and ``.batch`` say how far
            it got, and the step's own error is its ``__cause__``.
    """
    dataset = await _make_dataset(client, request)
    try:
        body = converter.unstructure(request.batch_request(dataset.id))  # the one wire form
        batch = await post_creating(client, BATCHES_PATH, body=body, template=BATCHES_PATH)
    except ProlificError as error:
        raise ProvisionError.at("create batch", error, dataset=dataset) from error
    return await _make_ready(client, request, dataset, batch)


def provision_many(
    client: ProlificClient,
    requests: Iterable[ProvisionRequest] | AsyncIterable[ProvisionRequest],
    *,
    concurrency: int,
) -> AsyncGenerator[ProvisionResult, None]:
    """Run many pipelines, creating the batches through ``create_many``."""
    if not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(f"concurrency must be an integer >= 1, got {concurrency!r}")
    return _Pipelines(client, concurrency).results(requests)


#: A pipeline whose dataset is ready, waiting for ``create_many`` to make its batch.
_Waiting = tuple[int, ProvisionRequest, Dataset]


class _Pipelines:
    """One ``provision_many`` call, in three stages with ``concurrency`` at work in each.

    Datasets are made by a fan-out over the requests (:meth:`_datasets`), which feeds
    ``create_many`` one batch request per ready dataset; each batch it reports is set up
    and awaited (:meth:`_finish`). Every result, from any stage, goes through one
    bounded queue to the caller (:meth:`results`).
    """

    def __init__(self, client: ProlificClient, concurrency: int) -> None:
        self.client = client
        self.concurrency = concurrency
        self.out: asyncio.Queue[ProvisionResult | None] = asyncio.Queue(maxsize=concurrency)
        self.waiting: dict[str, _Waiting] = {}  # by the batch request's journal key
        self.finishing = asyncio.Semaphore(concurrency)
        self.tasks: set[asyncio.Task[None]] = set()
        self.crash: BaseException | None = None
        """What a pipeline's task raised that is no result (a bug): it ends the run."""

    async def results(
        self, requests: Iterable[ProvisionRequest] | AsyncIterable[ProvisionRequest]
    ) -> AsyncGenerator[ProvisionResult, None]:
        """Yield each pipeline's result as it ends; ``None`` on the queue means all did."""
        feeder = asyncio.create_task(self._feed(requests))
        try:
            result = await self.out.get()
            while result is not None:
                yield result
                result = await self.out.get()
            if self.crash is not None:  # before the feeder, which may wait on a full queue
                raise self.crash
            await feeder  # surface a bug or a journal error from the feeder
        finally:
            for task in (feeder, *self.tasks):
                task.cancel()
            await asyncio.gather(feeder, *self.tasks, return_exceptions=True)

    async def _feed(
        self, requests: Iterable[ProvisionRequest] | AsyncIterable[ProvisionRequest]
    ) -> None:
        """Create the batches through ``create_many`` and start finishing each one."""
        try:
            created = self.client.batches.create_many(
                self._datasets(requests), concurrency=self.concurrency
            )
            async with contextlib.aclosing(created):
                async for result in created:
                    await self.finishing.acquire()  # back-pressure: `concurrency` set-ups
                    task = asyncio.create_task(self._finish(result))
                    self.tasks.add(task)
                    task.add_done_callback(self.tasks.discard)
            if self.tasks:  # no new one starts now: wait for the set-ups still going
                await asyncio.wait(set(self.tasks))
        finally:
            await self.out.put(None)

    async def _datasets(
        self, requests: Iterable[ProvisionRequest] | AsyncIterable[ProvisionRequest]
    ) -> AsyncIterator[CreateBatchRequest]:
        """One batch request per dataset made and filled, as they finish."""
        ready: AsyncGenerator[CreateBatchRequest | None, None] = fan_out(
            requests, self._start, limit=self.concurrency
        )
        async with contextlib.aclosing(ready):
            async for batch_request in ready:
                if batch_request is not None:
                    yield batch_request

    def _start(self, index: int, request: object) -> Coroutine[Any, Any, CreateBatchRequest | None]:
        """Check one request, and return the work of making its dataset."""
        if not isinstance(request, ProvisionRequest):
            raise TypeError(
                f"request {index} must be a ProvisionRequest, got {type(request).__name__}"
            )
        return self._dataset(index, request)

    async def _dataset(self, index: int, request: ProvisionRequest) -> CreateBatchRequest | None:
        """Make the request's dataset; the batch request for it, or ``None`` on failure."""
        try:
            dataset = await _make_dataset(self.client, request)
        except ProvisionError as error:
            await self.out.put(
                ProvisionResult(index=index, request=request, dataset=error.dataset, error=error)
            )
            return None
        key = str(index)
        self.waiting[key] = (index, request, dataset)
        return request.batch_request(dataset.id, key=key)

    async def _finish(self, created: BulkResult) -> None:
        """Set a created batch up and wait for it; report the pipeline either way."""
        try:
            index, request, dataset = self.waiting.pop(created.request.key or "")
            if created.batch is None:
                cause = created.error or ProlificError("the batch was not created")
                error = ProvisionError.at("create batch", cause, dataset=dataset)
                error.__cause__ = cause
                result = ProvisionResult(index=index, request=request, dataset=dataset, error=error)
            else:
                result = await self._ready(index, request, dataset, created.batch)
            await self.out.put(attrs.evolve(result, request_id=created.request_id))
        except Exception as exc:  # a bug: the run stops with it, the item is never just lost
            self.crash = exc
            await self.out.put(None)
        finally:
            self.finishing.release()

    async def _ready(
        self, index: int, request: ProvisionRequest, dataset: Dataset, batch: Batch
    ) -> ProvisionResult:
        try:
            ready = await _make_ready(self.client, request, dataset, batch)
        except ProvisionError as error:
            return ProvisionResult(
                index=index, request=request, dataset=dataset, batch=batch, error=error
            )
        return ProvisionResult(index=index, request=request, dataset=dataset, batch=ready)
