"""The whole pipeline in one call: dataset, upload, batch, setup, READY; and its bulk form.

``provision_batch`` is five awaited calls in a row. ``provision_many`` runs many such
pipelines at once on top of the bulk layer: datasets are created and uploaded with
bounded concurrency, the batches are created by ``create_many`` (so each exists exactly
once, whatever the network does), and each new batch is set up and awaited, again with
bounded concurrency. Results stream out as pipelines finish; memory is bounded by the
concurrency, not by the number of requests.

A failure names the step it happened in and carries what was already made (the dataset,
the batch), so nothing is lost or made twice by a blind retry: see
:class:`~prolific_async.errors.ProvisionError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any

from ._sentinel import NOT_GIVEN
from .bulk import aiter_any
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
            dataset.id, request.dataset, filename=request.filename, timeout=request.timeout
        )
    except (ProlificError, OSError, ValueError) as error:
        raise ProvisionError.at("upload dataset", error, dataset=dataset) from error
    return dataset


async def _make_ready(
    client: ProlificClient, request: ProvisionRequest, dataset: Dataset, batch: Batch
) -> Batch:
    """Set a created batch up and wait until it is READY."""
    tasks_per_group = NOT_GIVEN if request.tasks_per_group is None else request.tasks_per_group
    try:
        await client.batches.setup(batch.id, tasks_per_group=tasks_per_group)
    except ProlificError as error:
        raise ProvisionError.at("set up batch", error, dataset=dataset, batch=batch) from error
    try:
        return await client.batches.wait_until_ready(batch.id, timeout=request.timeout)
    except ProlificError as error:
        raise ProvisionError.at("wait until ready", error, dataset=dataset, batch=batch) from error


async def provision_batch(client: ProlificClient, request: ProvisionRequest) -> Batch:
    """Run one pipeline: dataset, upload, batch, setup; return the READY batch.

    Raises:
        ProvisionError: a step failed; ``.step``, ``.dataset`` and ``.batch`` say how far
            it got, and the step's own error is its ``__cause__``.
    """
    dataset = await _make_dataset(client, request)
    try:
        batch = await client.batches.create(
            name=request.name,
            workspace_id=request.workspace_id,
            task_details=request.task_details,
            dataset_id=dataset.id,
            batch_items=request.batch_items,
        )
    except ProlificError as error:
        raise ProvisionError.at("create batch", error, dataset=dataset) from error
    return await _make_ready(client, request, dataset, batch)


async def provision_many(
    client: ProlificClient,
    requests: Iterable[ProvisionRequest] | AsyncIterable[ProvisionRequest],
    *,
    concurrency: int,
) -> AsyncGenerator[ProvisionResult, None]:
    """Run many pipelines, creating the batches through ``create_many``."""
    if not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(f"concurrency must be an integer >= 1, got {concurrency!r}")
    out: asyncio.Queue[ProvisionResult | None] = asyncio.Queue(maxsize=concurrency)
    pending: dict[str, tuple[int, ProvisionRequest, Dataset]] = {}
    finishing = asyncio.Semaphore(concurrency)
    tasks: set[asyncio.Task[Any]] = set()

    async def prepared() -> AsyncIterator[CreateBatchRequest]:
        """Datasets made and filled, as batch requests, while they finish."""
        index = 0
        running: set[asyncio.Task[tuple[int, ProvisionRequest, Dataset | None]]] = set()
        source = aiter_any(requests)
        exhausted = False

        async def fill(
            i: int, request: ProvisionRequest
        ) -> tuple[int, ProvisionRequest, Dataset | None]:
            try:
                return i, request, await _make_dataset(client, request)
            except ProvisionError as error:
                result = ProvisionResult(
                    index=i, request=request, dataset=error.dataset, error=error
                )
                await out.put(result)
                return i, request, None

        try:
            while True:
                while not exhausted and len(running) < concurrency:
                    try:
                        request = await anext(source)
                    except StopAsyncIteration:
                        exhausted = True
                        break
                    if not isinstance(request, ProvisionRequest):
                        raise TypeError(
                            f"request {index} must be a ProvisionRequest, "
                            f"got {type(request).__name__}"
                        )
                    if request.batch_items is not None:
                        raise ValueError(
                            f"request {index} has batch_items, which provision_many cannot "
                            "set (its batches come from create_many): use provision_batch"
                        )
                    running.add(asyncio.create_task(fill(index, request)))
                    index += 1
                if not running:
                    return
                done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    i, request, dataset = task.result()
                    if dataset is not None:
                        pending[str(i)] = (i, request, dataset)
                        yield CreateBatchRequest(
                            request.name,
                            request.workspace_id,
                            request.task_details,
                            dataset.id,
                            key=str(i),
                        )
        finally:
            for task in running:
                task.cancel()
            if running:
                await asyncio.wait(running)

    async def finish(result: BulkResult) -> None:
        try:
            key = result.request.key or ""
            i, request, dataset = pending.pop(key)
            if result.batch is None:
                cause = result.error or ProlificError("the batch was not created")
                error = ProvisionError.at("create batch", cause, dataset=dataset)
                error.__cause__ = cause
                await out.put(
                    ProvisionResult(index=i, request=request, dataset=dataset, error=error)
                )
                return
            try:
                batch = await _make_ready(client, request, dataset, result.batch)
            except ProvisionError as error:
                await out.put(
                    ProvisionResult(
                        index=i, request=request, dataset=dataset, batch=result.batch, error=error
                    )
                )
            else:
                await out.put(
                    ProvisionResult(index=i, request=request, dataset=dataset, batch=batch)
                )
        finally:
            finishing.release()

    async def feed() -> None:
        try:
            async with contextlib.aclosing(
                client.batches.create_many(prepared(), concurrency=concurrency)
            ) as created:
                async for result in created:
                    await finishing.acquire()  # back-pressure: at most `concurrency` set-ups
                    task = asyncio.create_task(finish(result))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
            while tasks:
                await asyncio.wait(set(tasks))
        finally:
            await out.put(None)

    feeder = asyncio.create_task(feed())
    try:
        while True:
            result = await out.get()
            if result is None:
                break
            yield result
        await feeder  # surface a bug or a journal error from the feeder
    finally:
        for task in (feeder, *tasks):
            task.cancel()
        await asyncio.gather(feeder, *tasks, return_exceptions=True)
