"""A batch's results, mixed into ``client.batches``: responses, report and exports.

An export is a ZIP of every response (``responses-by-submission.jsonl``,
``responses-by-task.jsonl``) and uploaded file (``files/``), built asynchronously::

    export = await client.batches.request_export(batch_id)
    export = await client.batches.wait_for_export(batch_id, export)
    path = await client.batches.download_export(export, "results.zip")

That works whether the server answers the request with a job to wait for (202) or, as
it used to, with the finished ZIP at once (200).
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

from attrs import frozen

from .._body import APIResponse
from .._json import shortened
from .._paths import BATCH_TEMPLATE, EXPORT_TEMPLATE
from .._polling import (
    DEFAULT_MAX_POLL_INTERVAL,
    DEFAULT_POLL_INTERVAL,
    DEFAULT_WAIT_TIMEOUT,
    poll_until,
    require_wait_settings,
)
from .._resource import Resource, path_id, valid_text, wire_datetime
from .._storage import download_to_file, require_transfer_deadline
from ..errors import ExportFailedError
from ..models.exports import BatchExport, BatchReport, ExportStatus
from ..models.responses import TaskResponse

__all__ = ["BatchResultsMixin"]


@frozen(kw_only=True)
class _ResponsePage:
    """The Get Batch Responses envelope: ``results`` must be an array (as ``BatchListing``)."""

    results: list[TaskResponse]
    meta: dict[str, Any] | None = None


@frozen(kw_only=True)
class _ExportPage:
    """The List Exports envelope: ``results`` must be an array (as ``BatchListing``)."""

    results: list[BatchExport]


def _filter_value(value: object, name: str) -> str:
    if isinstance(value, datetime):
        return wire_datetime(value, name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string or a datetime, got {value!r}")
    return valid_text(value, name)


class BatchResultsMixin(Resource):
    """Responses, report and exports of batches (part of :class:`BatchesResource`)."""

    async def responses(self, batch_id: str) -> list[TaskResponse]:
        """Get every response recorded for a batch (``GET /batches/{batch_id}/responses``).

        The endpoint documents no paging: all responses come back at once.

        Raises:
            NotFoundError: no batch has that id.
        """
        page = await self._get(
            BATCH_TEMPLATE + "/responses", cast_to=_ResponsePage, batch_id=batch_id
        )
        return page.results

    async def report(self, batch_id: str) -> BatchReport:
        """Get a presigned link to a batch's CSV report (``GET /batches/{batch_id}/report/``).

        The path ends with a slash, unlike every other batch path.

        Raises:
            NotFoundError: no batch has that id.
        """
        return await self._get(BATCH_TEMPLATE + "/report/", cast_to=BatchReport, batch_id=batch_id)

    async def request_export(
        self,
        batch_id: str,
        *,
        study_id: str | None = None,
        from_: str | datetime | None = None,
        to: str | datetime | None = None,
    ) -> BatchExport:
        """Request a ZIP export of a batch's responses (``POST /batches/{batch_id}/export``).

        Repeating the request while a job with the same filters is still generating
        returns that job. A batch holds at most 10 export jobs: delete old ones with
        :meth:`delete_export` (the 11th request fails with the server's error status).

        Args:
            batch_id: the batch.
            study_id: only responses from this study.
            from_: only responses from this time on (``from`` on the wire); a datetime is
                sent as ISO-8601 UTC, a string as given.
            to: only responses up to this time.

        Returns:
            A ``generating`` job to :meth:`wait_for_export` on, or (the older answer) a
            ``complete`` export with its URL and no ``export_id``.

        Raises:
            ConflictError: (probably) the batch already holds 10 export jobs.
            NotFoundError: no batch has that id.
        """
        params: dict[str, str] = {}
        if study_id is not None:
            params["study_id"] = _filter_value(study_id, "study_id")
        if from_ is not None:
            params["from"] = _filter_value(from_, "from_")
        if to is not None:
            params["to"] = _filter_value(to, "to")
        return await self._post(
            BATCH_TEMPLATE + "/export",
            cast_to=BatchExport,
            params=params or None,
            batch_id=batch_id,
        )

    async def get_export(self, batch_id: str, export_id: str) -> BatchExport:
        """Get an export job (``GET /batches/{batch_id}/export/{export_id}``).

        Raises:
            NotFoundError: no such batch or export job.
        """
        return await self._get(
            EXPORT_TEMPLATE, cast_to=BatchExport, batch_id=batch_id, export_id=export_id
        )

    async def list_exports(self, batch_id: str) -> list[BatchExport]:
        """List a batch's export jobs, newest first (``GET /batches/{batch_id}/export``).

        Raises:
            NotFoundError: no batch has that id.
            ResponseValidationError: the answer has no ``results`` array (a bare array
                included), as for every list call.
        """
        page = await self._get(BATCH_TEMPLATE + "/export", cast_to=_ExportPage, batch_id=batch_id)
        return page.results

    async def delete_export(self, batch_id: str, export_id: str) -> None:
        """Delete an export job, freeing a place of the 10 a batch may hold.

        Raises:
            ConflictError: the job is still generating.
            NotFoundError: no such batch or export job.
        """
        await self._delete(
            EXPORT_TEMPLATE, cast_to=APIResponse, batch_id=batch_id, export_id=export_id
        )

    async def wait_for_export(
        self,
        batch_id: str,
        export: BatchExport | str,
        *,
        timeout: float = DEFAULT_WAIT_TIMEOUT,  # noqa: ASYNC109 (the whole wait's deadline)
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        max_poll_interval: float = DEFAULT_MAX_POLL_INTERVAL,
    ) -> BatchExport:
        """Wait until an export job is ``complete`` and return it, URL included.

        Args:
            batch_id: the batch.
            export: the job's ``export_id``, or the :class:`BatchExport` that
                :meth:`request_export` returned (a complete one comes back at once).
            timeout: seconds to wait, polls included.
            poll_interval: seconds before the first poll again; each wait is 1.5 times
                the one before, up to ``max_poll_interval``.
            max_poll_interval: the longest wait between polls.

        Raises:
            ExportFailedError: the job ended ``failed``.
            WaitTimeoutError: it was not complete within ``timeout``.
            NotFoundError: no such batch or export job.
        """
        path_id(batch_id, "batch_id")
        settings = require_wait_settings(timeout, poll_interval, max_poll_interval)
        if isinstance(export, BatchExport):
            if export.is_complete:
                return export
            if export.export_id is None:
                raise ValueError(f"this export has no export_id to wait on: {export!r}")
            export_id = export.export_id
        else:
            path_id(export, "export_id")
            export_id = export

        def finished(job: BatchExport) -> bool:
            if job.status == ExportStatus.FAILED:
                raise ExportFailedError(
                    f"Export {shortened(export_id)} of batch {shortened(batch_id)} failed; "
                    "request a new one",
                    batch_id=batch_id,
                    export_id=export_id,
                )
            return job.is_complete

        return await poll_until(
            lambda: self.get_export(batch_id, export_id),
            finished=finished,
            status_of=lambda job: str(job.status),
            resource=f"export {shortened(export_id)} of batch {shortened(batch_id)}",
            goal="complete",
            settings=settings,
        )

    async def download_export(
        self,
        export: BatchExport | str,
        destination: str | os.PathLike[str],
        *,
        transfer_deadline: float | None = None,
    ) -> Path:
        """Stream a complete export's ZIP (or any presigned URL) to a file.

        The request goes to the storage host without the Prolific token and outside the
        client's retry middleware (retried here, from the start, on connection errors
        and 5xx). The ZIP is written to a hidden temporary file next to the target and
        renamed once complete, so an error or a cancellation leaves no partial file.

        Args:
            export: a complete :class:`BatchExport`, or the URL itself.
            destination: the file to write (replaced if it exists), or an existing
                directory to write the URL's file name into.
            transfer_deadline: seconds the download may take in all, retries included
                (``None``: the client's ``transfer_deadline``, 15 minutes by default).

        Returns:
            The path of the written file.

        Raises:
            ValueError: the export is not complete (it has no URL yet).
            PermissionDeniedError: the storage host refused it (the URL expired:
                :meth:`get_export` gives a fresh one).
            APITimeoutError: the download took longer than ``transfer_deadline``
                (no partial file is left).
            APIConnectionError: the transfer failed on every attempt.
        """
        transfer_deadline = require_transfer_deadline(transfer_deadline)
        if isinstance(export, BatchExport):
            if export.url is None:
                raise ValueError(
                    f"export {shortened(str(export.export_id))} is {export.status}, not "
                    "complete: it has no URL yet (wait_for_export waits for it)"
                )
            url = export.url
        elif isinstance(export, str) and export:
            url = export
        else:
            raise TypeError(f"export must be a BatchExport or a URL, got {export!r}")
        return await download_to_file(
            self._client, url, Path(destination), deadline=transfer_deadline
        )
