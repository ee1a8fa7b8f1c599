"""The one table of exceptions to Prolific's spec, and the stand-in schemas it checks with.

Where the spec is known to be behind the docs or the official CLI, or the library is
deliberately stricter than it, the difference is an entry of :data:`KNOWN`, with the
reason. An entry that is no longer needed fails the contract test, so the table shrinks
as the spec catches up. ``tests/test_spec_payloads.py`` reads its stricter-than-spec
cases from here too: the exceptions live in one place.

For a route the spec lacks, the entry names the schema each answer status is checked
against (``answers``): the official CLI's Go structs where it has them (prolific-oss/cli
at :data:`CLI_COMMIT`, ``client/responses.go`` and ``model/ai_task_builder.go``), else the
shape our models document. Go's JSON decoder requires no key, so a stand-in requires
only what the CLI's code (or our model) needs to proceed: the ids and the status. Like
the spec's schemas, a stand-in allows keys it does not declare.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import attrs

from .spec import Finding, pointer

__all__ = [
    "BATCH",
    "BATCHES",
    "CLI_COMMIT",
    "DATASET",
    "DATASETS",
    "INVALID_BATCH_ITEMS",
    "KNOWN",
    "NO_BODY",
    "TAGS",
    "Known",
]

BATCHES: Final = "/api/v1/data-collection/batches"
DATASETS: Final = "/api/v1/data-collection/datasets"
BATCH: Final = BATCHES + "/{batch_id}"
DATASET: Final = DATASETS + "/{dataset_id}"
#: The official CLI's commit the reasons and the Go structs below were read at.
CLI_COMMIT: Final = "prolific-oss/cli@4596a2fba604"

#: Why an entry is in :data:`KNOWN`; every reason starts with one of these.
SPEC_LAGS: Final = "SPEC LAGS"  # documented by the docs or the official CLI, not in this spec copy
STRICTER: Final = "STRICTER"  # the library deliberately asks more than the spec
EMULATOR_FIX_PENDING: Final = "EMULATOR FIX PENDING"  # the spec is right; the emulator is not yet
OUT_OF_SCOPE: Final = "OUT OF SCOPE"  # the library does not call it
TAGS: Final = (SPEC_LAGS, STRICTER, EMULATOR_FIX_PENDING, OUT_OF_SCOPE)


def _object(required: tuple[str, ...], **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": list(required), "properties": properties}


def _enum(*values: str) -> dict[str, Any]:
    return {"type": "string", "enum": list(values)}


_STR: Final = {"type": "string"}
_INT: Final = {"type": "integer"}
_BOOL: Final = {"type": "boolean"}
_N_STR: Final = {"type": "string", "nullable": True}
_N_INT: Final = {"type": "integer", "nullable": True}

#: An answer without a body (the emulator's 202s and 204s).
NO_BODY: Final[Mapping[str, Any]] = {"type": "object", "nullable": True, "enum": [None]}

#: The 422 body of a rejected ``batch_items`` layout as the official CLI parses it
#: (``formatBatchErrorBody`` in its ``client/client.go``, at :data:`CLI_COMMIT`): every
#: real body it holds (``fixtures/cli_invalid_batch_items_errors.json``) has all four
#: indices on every issue, a row's problem too.
INVALID_BATCH_ITEMS: Final[Mapping[str, Any]] = _object(
    ("type", "issues"),
    type=_enum("INVALID_BATCH_ITEMS"),
    issues={
        "type": "array",
        "items": _object(
            ("page", "row", "column", "item", "type", "message"),
            page=_INT,
            row=_INT,
            column=_INT,
            item=_INT,
            type=_STR,
            field=_STR,
            message=_STR,
        ),
    },
)

#: ``GetAITaskBuilderTasksResponse`` / ``...TaskGroupsResponse``: ``[]string``, a bare
#: array of ids (the CLI's shape). No ``results`` envelope, so the stricter ``results``
#: rule of the list calls does not apply: there is no envelope whose absence could read
#: as an empty list, and the CLI itself decodes the bare array.
_IDS: Final = {"type": "array", "items": _STR}
#: ``AITaskBuilderBatchSyncResponse`` (start and poll alike), plus the ids and stamp
#: our ``BatchSync`` model documents.
_SYNC: Final = _object(
    ("status",),
    status=_enum("queued", "processing", "complete", "failed"),
    sync_id=_STR,
    tasks_created=_INT,
    datapoints_processed=_INT,
    groups_created=_INT,
    groups_expanded=_INT,
    reason=_STR,
    batch_id=_N_STR,
    dataset_id=_N_STR,
    created_at=_N_STR,
)
#: ``DatasetImportJobRecordError``.
_RECORD_ERROR: Final = _object(("record_index",), record_index=_INT, field=_STR, reason=_STR)
#: ``model.DatasetImportJob``; required: what the CLI's own mocks always set.
_IMPORT_JOB: Final = _object(
    ("dataset_id", "import_id", "status"),
    dataset_id=_STR,
    import_id=_STR,
    type=_STR,
    filename=_STR,
    created_at=_STR,
    updated_at=_STR,
    processing_started_at=_STR,
    processed_offset=_N_INT,
    written_count=_N_INT,
    duplicate_seen_count=_N_INT,
    rejected_seen_count=_N_INT,
    status=_enum(
        "uninitialised", "queued", "processing", "complete", "partial", "failed", "pending_schema"
    ),
    accepted_count=_N_INT,
    duplicate_count=_N_INT,
    rejected_count=_N_INT,
    errors={"type": "array", "nullable": True, "items": _RECORD_ERROR},
    reason=_STR,
)
#: ``GetAITaskBuilderDatasetResponse``; required: its fields that are neither
#: ``omitempty`` nor pointers, slices or maps.
_DATASET: Final = _object(
    (
        "id",
        "name",
        "created_at",
        "created_by",
        "workspace_id",
        "total_datapoint_count",
        "schema_version",
    ),
    id=_STR,
    name=_STR,
    created_at=_STR,
    created_by=_STR,
    workspace_id=_STR,
    total_datapoint_count=_INT,
    schema_version=_INT,
    status=_STR,
    filename=_N_STR,
    has_predetermined_grouping_id={"type": "boolean", "nullable": True},
    schema={
        **_object(
            ("fields",),
            strict=_BOOL,
            fields={
                "type": "object",
                "additionalProperties": _object(("type",), type=_STR, label=_STR),
            },
        ),
        "nullable": True,
    },
    imports={"type": "array", "nullable": True, "items": _IMPORT_JOB},
)
#: Our ``DatasetUpdate``: the dataset's get shape, plus the migration the update started.
_DATASET_UPDATE: Final = {"allOf": [_DATASET, _object((), migration_job_id=_N_STR)]}
#: Our ``DatapointsAppended`` (the import job's count and error names).
_APPENDED: Final = _object(
    ("accepted_count",),
    dataset_id=_STR,
    accepted_count=_INT,
    rejected_count=_INT,
    errors={"type": "array", "items": _RECORD_ERROR},
)
#: Our ``SchemaMigration``.
_MIGRATION: Final = _object(
    ("job_id", "status"),
    job_id=_STR,
    status=_enum("processing", "complete", "partial", "failed"),
    dataset_id=_STR,
    schema_version=_INT,
    created_at=_STR,
    updated_at=_STR,
    reprocessed_count=_INT,
    failed_count=_INT,
    errors={"type": "array", "items": {"type": "object"}},
    reason=_STR,
)
#: Our ``BatchExport`` list, as the docs' export guide shows it: each job the spec's
#: ``BatchExportStatus``, with its id, stamp and filters.
_EXPORTS: Final = _object(
    ("results",),
    results={
        "type": "array",
        "items": {
            "allOf": [
                pointer("/components/schemas/BatchExportStatus"),
                _object(
                    ("export_id",),
                    export_id=_STR,
                    created_at=_STR,
                    study_id=_N_STR,
                    to=_N_STR,
                    **{"from": _N_STR},
                ),
            ]
        },
    },
)


@attrs.frozen
class Known:
    """One known difference between the spec and the library or the emulator.

    ``kind`` is a :class:`~.spec.Finding` kind, or ``stricter`` (a rule checked on top
    of the spec: ``results`` for a list answer's array, ``$.field`` for a field the
    library requires) or ``unexercised`` (a spec operation the workflow does not call).
    ``detail`` covers a finding's detail and everything below it (``422 $`` covers
    ``422 $.type``). A ``status`` entry may name the schema its answer is checked
    against instead (``validate_as``); a ``route`` entry names one per status
    (``answers``): any other status of that route is a finding.
    """

    method: str
    template: str
    kind: str
    detail: str
    reason: str
    validate_as: Mapping[str, Any] | None = None
    answers: Mapping[int, Mapping[str, Any]] = attrs.field(factory=dict)

    def covers(self, finding: Finding) -> bool:
        """Whether this entry explains ``finding``."""
        if (finding.method, finding.template, finding.kind) != (
            self.method,
            self.template,
            self.kind,
        ):
            return False
        if finding.detail == self.detail:
            return True
        return finding.detail.startswith(self.detail) and finding.detail[len(self.detail)] in ".["


_GO: Final = f"the stand-in is the CLI's Go struct ({CLI_COMMIT})"
_OURS: Final = "the CLI has no struct for it; the stand-in is our model's documented shape"

#: The one table of exceptions: each with the reason, newest knowledge first in each group.
KNOWN: Final = (
    # -- routes the library uses that this spec copy lacks -----------------------------
    Known("GET", DATASET, "route", "", f"{SPEC_LAGS}: Get a Dataset (get-task-builder-dataset "
          f"in the live spec, per the coverage table of {CLI_COMMIT}); {_GO}: "
          "GetAITaskBuilderDatasetResponse", answers={200: _DATASET}),
    Known("GET", DATASET + "/imports/{import_id}", "route", "", f"{SPEC_LAGS}: an import "
          f"job's status (get-dataset-import-status in the live spec); {_GO}: "
          "DatasetImportJob", answers={200: _IMPORT_JOB}),
    Known("GET", BATCH + "/tasks", "route", "", f"{SPEC_LAGS}: the CLI's GetAITaskBuilderTasks "
          f"calls it; its coverage table says it is not in the spec; {_GO}: a bare []string. "
          "The results rule does not apply: the answer is a bare array, not an envelope that "
          "could lose its results key", answers={200: _IDS}),
    Known("GET", BATCH + "/task-groups", "route", "", f"{SPEC_LAGS}: the official CLI's "
          f"GetAITaskBuilderTaskGroups calls it; {_GO}: a bare []string. The results rule "
          "does not apply: a bare array, as for tasks", answers={200: _IDS}),
    Known("GET", BATCH + "/export", "route", "", f"{SPEC_LAGS}: list a batch's export jobs, "
          f"in the docs' export guide (a batch holds at most 10); {_OURS} (BatchExport)",
          answers={200: _EXPORTS}),
    Known("DELETE", BATCH + "/export/{export_id}", "route", "", f"{SPEC_LAGS}: delete an "
          "export job to free one of the 10 places, in the docs' export guide; 204, no body",
          answers={204: NO_BODY}),
    Known("POST", BATCH + "/sync", "route", "", f"{SPEC_LAGS}: batch sync "
          f"(sync-task-builder-batch in the live spec; the CLI's batch sync); {_GO}: "
          "AITaskBuilderBatchSyncResponse", answers={202: _SYNC}),
    Known("GET", BATCH + "/syncs/{sync_id}", "route", "", f"{SPEC_LAGS}: a sync's status "
          f"(get-batch-sync-status in the live spec); {_GO}: AITaskBuilderBatchSyncResponse",
          answers={200: _SYNC}),
    Known("PATCH", DATASET, "route", "", f"{SPEC_LAGS}: update a dataset "
          f"(update-task-builder-dataset in the live spec); {_OURS} (DatasetUpdate: the "
          "dataset's get shape, from the CLI's struct, plus migration_job_id)",
          answers={200: _DATASET_UPDATE}),
    Known("POST", DATASET + "/datapoints", "route", "", f"{SPEC_LAGS}: append datapoints "
          f"(append-dataset-datapoints in the live spec); {_OURS} (DatapointsAppended)",
          answers={200: _APPENDED}),
    Known("GET", DATASET + "/schema-migrations/{job_id}", "route", "", f"{SPEC_LAGS}: a "
          f"schema migration's status (get-schema-migration-status in the live spec); "
          f"{_OURS} (SchemaMigration)", answers={200: _MIGRATION}),
    # -- query parameters and request fields this spec copy lacks ----------------------
    Known("POST", BATCH + "/export", "query", "study_id", f"{SPEC_LAGS}: the export filters "
          "(study_id, from, to) are in the docs' export guide, not in the spec"),
    Known("POST", BATCH + "/export", "query", "from", f"{SPEC_LAGS}: an export filter (docs)"),
    Known("POST", BATCH + "/export", "query", "to", f"{SPEC_LAGS}: an export filter (docs)"),
    Known("POST", BATCHES, "request-field", "$.batch_items", f"{SPEC_LAGS}: the configurable "
          f"layout, in the docs; the official CLI sends it too (CreateBatchParams, {CLI_COMMIT})"),
    Known("POST", BATCHES, "request-field", "$.auto_sync_enabled", f"{SPEC_LAGS}: the "
          f"official CLI sends it on every create (CreateBatchParams.AutoSync, {CLI_COMMIT})"),
    Known("PATCH", BATCH, "request-field", "$.batch_items", f"{SPEC_LAGS}: a layout update "
          f"(null clears it), as the official CLI sends it (UpdateBatchParams, {CLI_COMMIT})"),
    Known("POST", DATASETS, "request-field", "$.schema", f"{SPEC_LAGS}: a V4 dataset's "
          f"schema, in the docs; the official CLI sends it (DatasetSchema, {CLI_COMMIT})"),
    # -- statuses this spec copy lacks --------------------------------------------------
    Known("POST", BATCH + "/setup", "status", "202", f"{SPEC_LAGS}: the docs and the official "
          "CLI answer 202 Accepted (the work goes on in the background); the spec says 204",
          validate_as=NO_BODY),
    Known("POST", BATCH + "/export", "status", "202", f"{SPEC_LAGS}: the operation's own "
          "description documents 202 Accepted with an export_id; its responses list only "
          "200 and 403", validate_as=pointer("/components/schemas/BatchExportStatus")),
    Known("POST", BATCHES, "status", "422", f"{SPEC_LAGS}: a rejected batch_items layout "
          f"answers 422 INVALID_BATCH_ITEMS, as the official CLI parses it ({CLI_COMMIT})",
          validate_as=INVALID_BATCH_ITEMS),
    # -- rules stricter than the spec ------------------------------------------------------
    Known("GET", BATCHES, "stricter", "results", f"{STRICTER}: a list answer without a "
          "results array is an error, not an empty list (reconciliation must "
          "not read a changed shape as 'no batches'); the spec marks results optional"),
    Known("GET", BATCH + "/responses", "stricter", "results", f"{STRICTER}: as for batches"),
    Known("GET", BATCH + "/export", "stricter", "results", f"{STRICTER}: as for batches"),
    Known("GET", BATCH + "/report/", "stricter", "$.url", f"{STRICTER}: a report answer "
          "without its link cannot be used; failing names the field (the spec makes url "
          "optional and nullable)"),
    Known("GET", DATASET + "/upload-url/{filename}", "stricter", "$.upload_url", f"{STRICTER}: "
          "an upload-URL answer without its URL leaves nothing to upload to (the spec makes "
          "upload_url optional and nullable)"),
    # -- spec operations the workflow does not call ------------------------------------
    Known("GET", BATCH + "/instructions", "unexercised", "", f"{OUT_OF_SCOPE}: the "
          "instructions endpoints are sunset; layouts replace them"),
    Known("POST", BATCH + "/instructions", "unexercised", "", f"{OUT_OF_SCOPE}: sunset"),
    Known("PUT", BATCH + "/instructions", "unexercised", "", f"{OUT_OF_SCOPE}: sunset"),
)  # fmt: skip
