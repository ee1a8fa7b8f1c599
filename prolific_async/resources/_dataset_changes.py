"""Changing a V4 dataset after it was created, mixed into ``client.datasets``.

``update`` (a new name or schema; a new schema may start a migration to wait for),
``add_datapoints`` (JSON Lines records appended in the request itself, each checked
against the schema), ``get_schema_migration`` and ``wait_for_schema_migration``::

    update = await client.datasets.update(dataset_id, schema=new_schema)
    if update.migration_job_id is not None:
        await client.datasets.wait_for_schema_migration(dataset_id, update)
    appended = await client.datasets.add_datapoints(dataset_id, [{"text": "More"}])

The official CLI (prolific-oss/cli at commit 4596a2fba604faa1b570d318095fca3f34d5a8f2,
``README.md`` coverage table and ``contract_test/contract_test.go``) lists these
operations but does not call them; methods, paths and shapes follow Prolific's API
reference pages "Update a Dataset Schema", "Append Datapoints to a Dataset" and "Get
Schema Migration Status".
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Final

from attrs import field, frozen

from .._body import APIResponse, RawBody, structure_response
from .._converter import converter
from .._json import shortened
from .._paths import DATASET_TEMPLATE, MIGRATION_TEMPLATE
from .._polling import (
    DEFAULT_MAX_POLL_INTERVAL,
    DEFAULT_POLL_INTERVAL,
    DEFAULT_WAIT_TIMEOUT,
    poll_until,
    require_wait_settings,
)
from .._resource import Resource, path_id, require_str
from .._sentinel import NOT_GIVEN, NotGiven
from ..errors import SchemaMigrationFailedError
from ..models._text import usable_id_field
from ..models.dataset_changes import (
    DatapointsAppended,
    DatasetUpdate,
    MigrationStatus,
    SchemaMigration,
)
from ..models.datasets import Dataset, DatasetSchema

__all__ = ["APPEND_CONTENT_TYPE", "MAX_APPENDED_RECORDS", "DatasetChangesMixin"]

#: The most records one append may carry; larger loads go through ``upload``.
MAX_APPENDED_RECORDS: Final = 1000
#: The ``Content-Type`` of an append: JSON Lines, as the API reference names it.
APPEND_CONTENT_TYPE: Final = "application/x-ndjson"


@frozen(kw_only=True)
class _MigrationReference:
    """The key an update answer adds to the dataset it returns."""

    migration_job_id: str | None = field(default=None, validator=usable_id_field)


def _jsonl(records: object) -> bytes:
    """The records as JSON Lines, checked before anything is sent."""
    if isinstance(records, str | bytes | bytearray | Mapping) or not isinstance(records, Iterable):
        raise TypeError(
            "records must be an iterable of mappings (one per datapoint), "
            f"got {type(records).__name__}"
        )
    lines: list[str] = []
    for index, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise TypeError(f"records[{index}] must be a mapping, got {type(record).__name__}")
        try:
            lines.append(
                json.dumps(dict(record), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
            )
        except (TypeError, ValueError) as exc:
            raise TypeError(f"records[{index}] is not JSON: {exc}") from None
    if not 1 <= len(lines) <= MAX_APPENDED_RECORDS:
        raise ValueError(
            f"an append takes 1 to {MAX_APPENDED_RECORDS} records, got {len(lines)}; "
            "upload a file for more"
        )
    return ("\n".join(lines) + "\n").encode()


class DatasetChangesMixin(Resource):
    """Updating datasets and appending datapoints (part of ``DatasetsResource``)."""

    async def update(
        self,
        dataset_id: str,
        *,
        name: str | NotGiven = NOT_GIVEN,
        schema: DatasetSchema | NotGiven = NOT_GIVEN,
    ) -> DatasetUpdate:
        """Update a V4 dataset (``PATCH /datasets/{dataset_id}``); only given fields are sent.

        Each new ``schema`` is a new schema version. When the dataset had a schema
        already, the update starts a schema migration that re-normalises its
        datapoints: wait for it with :meth:`wait_for_schema_migration`.

        Args:
            dataset_id: the dataset.
            name: a new name.
            schema: a new schema (the ``task_group_id`` field cannot change once the
                dataset holds datapoints).

        Returns:
            The updated dataset and the ``migration_job_id``, if one started.

        Raises:
            ValueError: neither ``name`` nor ``schema`` was given.
            BadRequestError: a V3 dataset, or a schema the server refuses.
            NotFoundError: no dataset has that id.
        """
        path_id(dataset_id, "dataset_id")
        body: dict[str, Any] = {}
        if not isinstance(name, NotGiven):
            body["name"] = require_str(name, "name")
        if not isinstance(schema, NotGiven):
            if not isinstance(schema, DatasetSchema):
                raise TypeError(f"schema must be a DatasetSchema, got {type(schema).__name__}")
            body["schema"] = converter.unstructure(schema)
        if not body:
            raise ValueError("give name, schema or both: an empty update changes nothing")
        response = await self._patch(
            DATASET_TEMPLATE, cast_to=APIResponse, body=body, dataset_id=dataset_id
        )
        status, url = response.status, response.url
        dataset = structure_response(
            response.data, Dataset, status_code=status, method="PATCH", url=url
        )
        reference = structure_response(
            response.data, _MigrationReference, status_code=status, method="PATCH", url=url
        )
        return DatasetUpdate(dataset=dataset, migration_job_id=reference.migration_job_id)

    async def add_datapoints(
        self, dataset_id: str, records: Iterable[Mapping[str, Any]]
    ) -> DatapointsAppended:
        """Append records to a V4 dataset (``POST /datasets/{dataset_id}/datapoints``).

        The records are sent as JSON Lines and checked against the dataset's schema in
        the request: a rejected record is reported in ``errors``, not raised. An
        identical record appended again counts as accepted and is not written twice.
        Batches with ``auto_sync_enabled`` are synced by the append; others need
        ``client.batches.sync``. Sent once: resent only when it provably did not reach
        the server.

        Args:
            dataset_id: the dataset.
            records: 1 to :data:`MAX_APPENDED_RECORDS` JSON objects, one per datapoint.

        Returns:
            The accepted and rejected counts, and why each rejected record was.

        Raises:
            TypeError: a record is not a mapping of JSON values (checked before sending).
            ValueError: no records, or more than :data:`MAX_APPENDED_RECORDS`.
            OutcomeUnknownError: the connection failed after the request may have
                reached the server; the records may have been appended.
            ConflictError: an import or a schema migration of the dataset is running.
            BadRequestError: a V3 dataset, or a dataset without a schema.
            NotFoundError: no dataset has that id.
        """
        path_id(dataset_id, "dataset_id")
        body = RawBody(_jsonl(records), APPEND_CONTENT_TYPE)
        return await self._post(
            DATASET_TEMPLATE + "/datapoints",
            cast_to=DatapointsAppended,
            body=body,
            dataset_id=dataset_id,
        )

    async def get_schema_migration(self, dataset_id: str, job_id: str) -> SchemaMigration:
        """Get a schema migration job (``GET /datasets/{dataset_id}/schema-migrations/{job_id}``).

        Raises:
            NotFoundError: no such dataset or migration job.
        """
        return await self._get(
            MIGRATION_TEMPLATE, cast_to=SchemaMigration, dataset_id=dataset_id, job_id=job_id
        )

    async def wait_for_schema_migration(
        self,
        dataset_id: str,
        migration: SchemaMigration | DatasetUpdate | str,
        *,
        timeout: float = DEFAULT_WAIT_TIMEOUT,  # noqa: ASYNC109 (the whole wait's deadline)
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        max_poll_interval: float = DEFAULT_MAX_POLL_INTERVAL,
    ) -> SchemaMigration:
        """Wait until a schema migration is ``complete`` or ``partial``, and return it.

        A ``partial`` migration is returned, not raised: the datapoints are usable, and
        ``failed_count`` and ``errors`` say which fields were nulled.

        Args:
            dataset_id: the dataset.
            migration: the job's id, the :class:`SchemaMigration`, or the
                :class:`DatasetUpdate` that started it.
            timeout: seconds to wait, polls included.
            poll_interval: seconds before the first poll again; each wait is 1.5 times
                the one before, up to ``max_poll_interval``.
            max_poll_interval: the longest wait between polls.

        Raises:
            ValueError: the update started no migration.
            SchemaMigrationFailedError: the job ended ``failed`` (``reason`` says why).
            WaitTimeoutError: it was not finished within ``timeout``.
            NotFoundError: no such dataset or migration job.
        """
        path_id(dataset_id, "dataset_id")
        settings = require_wait_settings(timeout, poll_interval, max_poll_interval)
        if isinstance(migration, DatasetUpdate):
            if migration.migration_job_id is None:
                raise ValueError("this update started no schema migration: there is none to wait")
            job_id = migration.migration_job_id
        elif isinstance(migration, SchemaMigration):
            job_id = migration.job_id
        else:
            job_id = migration
        path_id(job_id, "job_id")

        def finished(job: SchemaMigration) -> bool:
            if job.status == MigrationStatus.FAILED:
                raise SchemaMigrationFailedError(
                    f"Schema migration {shortened(job_id)} of dataset {shortened(dataset_id)} "
                    f"failed: {job.reason or 'no reason given'}",
                    dataset_id=dataset_id,
                    job_id=job_id,
                    reason=job.reason,
                    migration=job,
                )
            # An unknown status is taken as still running: the deadline bounds the wait.
            return job.is_finished

        return await poll_until(
            lambda: self.get_schema_migration(dataset_id, job_id),
            finished=finished,
            status_of=lambda job: str(job.status),
            resource=f"schema migration {shortened(job_id)} of dataset {shortened(dataset_id)}",
            goal="finished",
            settings=settings,
        )
