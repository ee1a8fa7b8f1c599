"""``client.datasets``: create datasets, upload files to them, and follow their processing."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterable
from pathlib import Path, PurePath
from typing import Any, Final

from .._converter import converter
from .._json import shortened
from .._paths import DATASET_TEMPLATE, DATASETS_PATH
from .._polling import (
    DEFAULT_MAX_POLL_INTERVAL,
    DEFAULT_POLL_INTERVAL,
    DEFAULT_WAIT_TIMEOUT,
    WaitSettings,
    poll_until,
    require_wait_settings,
)
from .._resource import Resource, StatusBody, path_id, require_str
from .._storage import require_transfer_deadline, send_body
from ..errors import DatasetProcessingError, DatasetSchemaPendingError
from ..models.datasets import (
    Dataset,
    DatasetSchema,
    DatasetStatus,
    DatasetUpload,
    ImportJob,
    ImportStatus,
    UploadURL,
)
from ._dataset_changes import DatasetChangesMixin

__all__ = ["CONTENT_TYPES", "DatasetsResource", "UploadSource"]


#: The ``Content-Type`` sent with an upload when the upload URL names none, by extension.
#: JSON Lines has no registered type; ``application/jsonl`` is the one jsonlines.org uses.
CONTENT_TYPES: Final = {
    ".csv": "text/csv",
    ".zip": "application/zip",
    ".jsonl": "application/jsonl",
}
#: Import statuses after which an import job changes no more.
_FINISHED_IMPORT: Final = frozenset(
    {
        ImportStatus.COMPLETE,
        ImportStatus.PARTIAL,
        ImportStatus.FAILED,
        ImportStatus.PENDING_SCHEMA,
    }
)

#: What :meth:`DatasetsResource.upload` accepts as a file.
UploadSource = str | os.PathLike[str] | bytes | AsyncIterable[bytes]


async def _read_stream(stream: AsyncIterable[bytes]) -> bytes:
    chunks: list[bytes] = []
    async for chunk in stream:
        if not isinstance(chunk, bytes | bytearray | memoryview):
            raise TypeError(f"the upload stream must yield bytes, got {type(chunk).__name__}")
        chunks.append(bytes(chunk))
    return b"".join(chunks)


def _upload_content_type(target: UploadURL, filename: str, given: str | None) -> str:
    """The type the URL was signed for; else the caller's, else the extension's."""
    if target.content_type:
        return target.content_type
    if given:
        return given
    return CONTENT_TYPES.get(PurePath(filename).suffix.lower(), "application/octet-stream")


class DatasetsResource(DatasetChangesMixin, Resource):
    """Datasets: the datapoints a batch's tasks are built from.

    Creating, uploading to and following datasets is here; updating them and appending
    datapoints in :class:`DatasetChangesMixin`.
    """

    async def create(
        self, *, name: str, workspace_id: str, schema: DatasetSchema | None = None
    ) -> Dataset:
        """Create a dataset (``POST /datasets``); a ``schema`` makes it a V4 dataset.

        Sent once, like a batch create: retried only when it provably did not reach
        the server.

        Args:
            name: the dataset's name.
            workspace_id: the workspace to create it in.
            schema: the V4 schema; without one the dataset is V3 (``.csv``/``.zip``).

        Returns:
            The new, empty dataset.

        Raises:
            OutcomeUnknownError: the connection failed after the request may have reached
                the server; the dataset may exist.
            BadRequestError: a field (or the schema) was rejected.
        """
        body: dict[str, Any] = {
            "name": require_str(name, "name"),
            "workspace_id": require_str(workspace_id, "workspace_id"),
        }
        if schema is not None:
            if not isinstance(schema, DatasetSchema):
                raise TypeError(f"schema must be a DatasetSchema, got {type(schema).__name__}")
            body["schema"] = converter.unstructure(schema)
        return await self._post(DATASETS_PATH, cast_to=Dataset, body=body)

    async def get(self, dataset_id: str) -> Dataset:
        """Get a dataset (``GET /datasets/{dataset_id}``), with its V4 import jobs.

        Raises:
            NotFoundError: no dataset has that id.
        """
        return await self._get(DATASET_TEMPLATE, cast_to=Dataset, dataset_id=dataset_id)

    async def get_status(self, dataset_id: str) -> DatasetStatus | str:
        """Get a dataset's processing status (``GET /datasets/{dataset_id}/status``).

        Meaningful for V3 datasets; a V4 dataset is followed through its import jobs.

        Returns:
            A :class:`DatasetStatus`, or the raw string for one this library does not know.

        Raises:
            NotFoundError: no dataset has that id.
        """
        body = await self._get(
            DATASET_TEMPLATE + "/status", cast_to=StatusBody, dataset_id=dataset_id
        )
        return converter.structure(body.status, DatasetStatus | str)  # type: ignore[arg-type]

    async def get_upload_url(self, dataset_id: str, filename: str) -> UploadURL:
        """Get a presigned URL to upload one file to (``GET .../upload-url/{filename}``).

        The documentation and the official CLI disagree on 200 and 201: any 2xx is
        accepted. Each call may start a new import job (``import_id``): every V4 one
        does, and a V3 one where the server names one.

        Args:
            dataset_id: the dataset.
            filename: the file's name; its extension says its format (V3: ``.csv`` or
                ``.zip``; V4: ``.csv`` or ``.jsonl``).

        Raises:
            BadRequestError: the file type is not accepted for this dataset.
            NotFoundError: no dataset has that id.
        """
        return await self._get(
            DATASET_TEMPLATE + "/upload-url/{filename}",
            cast_to=UploadURL,
            dataset_id=dataset_id,
            filename=filename,
        )

    async def get_import(self, dataset_id: str, import_id: str) -> ImportJob:
        """Get one import job (``GET /datasets/{dataset_id}/imports/{import_id}``).

        Raises:
            NotFoundError: no such dataset or import job.
        """
        return await self._get(
            DATASET_TEMPLATE + "/imports/{import_id}",
            cast_to=ImportJob,
            dataset_id=dataset_id,
            import_id=import_id,
        )

    async def upload(
        self,
        dataset_id: str,
        file: UploadSource,
        *,
        filename: str | None = None,
        content_type: str | None = None,
        timeout: float = DEFAULT_WAIT_TIMEOUT,  # noqa: ASYNC109 (the whole wait's deadline)
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        max_poll_interval: float = DEFAULT_MAX_POLL_INTERVAL,
        transfer_deadline: float | None = None,
    ) -> DatasetUpload:
        """Upload a file to a dataset and wait until its data is usable.

        Gets an upload URL, sends the file there (without the Prolific token: it is a
        presigned URL on another host), then waits: until the import job the upload URL
        names finishes (every V4 upload's; a V3 one's too where the server names one, as
        the official CLI expects), else, for a V3 upload URL without an ``import_id``
        (as the docs describe it), until the dataset is ``READY``. There, a dataset that
        was already ``READY`` may be read as ready before the new file is processed (its
        status is all there is to go by); an import job has no such gap.

        An async byte stream is read into memory first: a presigned ``PUT`` needs a
        ``Content-Length``, and a retried ``PUT`` must send the same bytes again. A file
        on disk is streamed from disk, again for each attempt.

        Args:
            dataset_id: the dataset.
            file: a path, the file's bytes, or an async iterable of bytes.
            filename: the name to upload as; required for bytes and streams, defaults
                to the path's name. Its extension selects the format.
            content_type: the ``Content-Type`` to send when the upload URL names none.
                A URL that names one (``text/csv``, ``application/x-ndjson`` ...) was
                signed for it and storage refuses any other (403), so it is always
                sent. Without either, the type goes by extension: :data:`CONTENT_TYPES`.
            timeout: seconds to wait for processing, polls included.
            poll_interval: seconds before the first poll again; each wait is 1.5 times
                the one before, up to ``max_poll_interval``.
            max_poll_interval: the longest wait between polls.
            transfer_deadline: seconds sending the file may take in all, retries
                included (``None``: the client's ``transfer_deadline``, 15 minutes by
                default); the wait for processing is ``timeout``'s.

        Returns:
            The outcome: the finished import job, whose ``partial`` status lists the
            records it rejected in ``rejected_records``; or ``READY`` (V3 without a job).

        Raises:
            FileNotFoundError: ``file`` is a path to no file (checked before any request).
            DatasetProcessingError: the import ``failed`` or the V3 dataset ended in
                ``ERROR`` (``reason`` says why).
            DatasetSchemaPendingError: the import waits for the dataset to get a schema.
            WaitTimeoutError: processing did not finish within ``timeout``.
            APIStatusError: the storage host refused the file (403: the URL expired).
            APITimeoutError: sending the file took longer than ``transfer_deadline``.
        """
        path_id(dataset_id, "dataset_id")
        settings = require_wait_settings(timeout, poll_interval, max_poll_interval)
        transfer_deadline = require_transfer_deadline(transfer_deadline)
        body: bytes | Path
        if isinstance(file, str | os.PathLike):
            body = Path(file)
            filename = require_str(body.name if filename is None else filename, "filename")
            # Checked before asking for a URL: that may start an import job.
            if not await asyncio.to_thread(body.is_file):
                raise FileNotFoundError(f"no file to upload at {str(body)!r}")
        elif isinstance(file, bytes | bytearray | AsyncIterable):
            if filename is None:
                raise ValueError("filename is required when uploading bytes or a stream")
            filename = require_str(filename, "filename")
            if isinstance(file, bytes | bytearray):
                body = bytes(file)
            else:
                body = await _read_stream(file)
        else:
            raise TypeError(
                "file must be a path, bytes or an async iterable of bytes, "
                f"got {type(file).__name__}"
            )
        target = await self.get_upload_url(dataset_id, filename)
        await send_body(
            self._client,
            url=target.upload_url,
            method=target.http_method or "PUT",
            body=body,
            content_type=_upload_content_type(target, filename, content_type),
            deadline=transfer_deadline,
        )
        if target.import_id is not None:
            job = await self._wait_for_import(dataset_id, target.import_id, settings)
            return DatasetUpload(
                dataset_id=dataset_id, filename=filename, status=job.status, import_job=job
            )
        status = await self._wait_until_ready(dataset_id, settings)
        return DatasetUpload(dataset_id=dataset_id, filename=filename, status=status)

    async def _wait_for_import(
        self, dataset_id: str, import_id: str, settings: WaitSettings
    ) -> ImportJob:
        def finished(job: ImportJob) -> bool:
            if job.status == ImportStatus.FAILED:
                raise DatasetProcessingError(
                    f"Import {shortened(import_id)} of dataset {shortened(dataset_id)} failed: "
                    f"{job.reason or 'no reason given'}",
                    dataset_id=dataset_id,
                    import_id=import_id,
                    status=str(job.status),
                    reason=job.reason,
                    import_job=job,
                )
            if job.status == ImportStatus.PENDING_SCHEMA:
                raise DatasetSchemaPendingError(
                    f"Import {shortened(import_id)} of dataset {shortened(dataset_id)} is paused "
                    "until the dataset has a schema (pending_schema)",
                    dataset_id=dataset_id,
                    import_id=import_id,
                    status=str(job.status),
                    reason=job.reason,
                    import_job=job,
                )
            # An unknown status is taken as still running: the deadline bounds the wait.
            return job.status in _FINISHED_IMPORT

        return await poll_until(
            lambda: self.get_import(dataset_id, import_id),
            finished=finished,
            status_of=lambda job: str(job.status),
            resource=f"import {shortened(import_id)} of dataset {shortened(dataset_id)}",
            goal="finished",
            settings=settings,
        )

    async def _wait_until_ready(
        self, dataset_id: str, settings: WaitSettings
    ) -> DatasetStatus | str:
        def finished(status: DatasetStatus | str) -> bool:
            if status == DatasetStatus.ERROR:
                raise DatasetProcessingError(
                    f"Dataset {shortened(dataset_id)} ended in ERROR: its file could not be "
                    "processed",
                    dataset_id=dataset_id,
                    import_id=None,
                    status=str(status),
                )
            return status == DatasetStatus.READY

        return await poll_until(
            lambda: self.get_status(dataset_id),
            finished=finished,
            status_of=str,
            resource=f"dataset {shortened(dataset_id)}",
            goal="READY",
            settings=settings,
        )
