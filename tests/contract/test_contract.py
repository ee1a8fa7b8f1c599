"""The library and the emulator against Prolific's published OpenAPI spec.

What the official CLI's contract test does for the CLI (``contract_test/`` in
prolific-oss/cli: every spec operation accounted for, every request the client sends
validated against the spec), done here for the library, and for the emulator's answers
too. A full Task Builder workflow runs through the client against the emulator, once
over plain HTTP; then every request in ``fake.requests`` must match a spec route, its
query parameters and its request-body schema, and every answer must validate against
the operation's response schema for its status.

Where the spec is known to be behind the docs or the official CLI, or the emulator is
known to be wrong, the difference is listed in :data:`KNOWN`, the one table of
exceptions, with the reason. An entry that is no longer needed fails the test too, so
the table shrinks as the spec and the emulator catch up.
"""

from __future__ import annotations

import asyncio
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import attrs
import pytest

from prolific_async import TaskDetails, UnprocessableEntityError, set_testing
from prolific_async.models import (
    ChoiceOption,
    Column,
    DatasetFieldItem,
    DatasetSchema,
    FreeTextItem,
    MultipleChoiceItem,
    Page,
    RichTextItem,
    Row,
    SchemaField,
)
from prolific_async.testing import FAST_RETRY_POLICY, FakeProlific, RecordedRequest

from .spec import (
    Finding,
    Operation,
    check_answer,
    check_request,
    check_response,
    find_operation,
    operations,
    pointer,
)

BATCHES: Final = "/api/v1/data-collection/batches"
DATASETS: Final = "/api/v1/data-collection/datasets"
BATCH: Final = BATCHES + "/{batch_id}"
DATASET: Final = DATASETS + "/{dataset_id}"
#: The Task Builder part of the spec this test covers.
SCOPE: Final = (BATCHES, DATASETS)
WORKSPACE: Final = "6278acb09062db3b35bcbeb0"
#: The official CLI's commit the reasons below were read at.
CLI_COMMIT: Final = "prolific-oss/cli@4596a2fba604"

#: The 422 body of a rejected ``batch_items`` layout as the official CLI parses it
#: (``formatBatchErrorBody`` in its ``client/client.go``, at :data:`CLI_COMMIT`).
INVALID_BATCH_ITEMS: Final[Mapping[str, Any]] = {
    "type": "object",
    "required": ["type", "issues"],
    "properties": {
        "type": {"type": "string", "enum": ["INVALID_BATCH_ITEMS"]},
        "issues": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["page", "row", "column", "item", "type", "message"],
                "properties": {
                    "page": {"type": "integer"},
                    "row": {"type": "integer"},
                    "column": {"type": "integer"},
                    "item": {"type": "integer"},
                    "type": {"type": "string"},
                    "field": {"type": "string"},
                    "message": {"type": "string"},
                },
            },
        },
    },
}
#: An answer without a body (the emulator's 202s).
NO_BODY: Final[Mapping[str, Any]] = {"type": "object", "nullable": True, "enum": [None]}

#: Why an entry is in :data:`KNOWN`; every reason starts with one of these.
SPEC_LAGS: Final = "SPEC LAGS"  # documented by the docs or the official CLI, not in this spec copy
STRICTER: Final = "STRICTER"  # the library deliberately asks more than the spec
EMULATOR_FIX_PENDING: Final = "EMULATOR FIX PENDING"  # the spec is right; the emulator is not yet
OUT_OF_SCOPE: Final = "OUT OF SCOPE"  # the library does not call it
TAGS: Final = (SPEC_LAGS, STRICTER, EMULATOR_FIX_PENDING, OUT_OF_SCOPE)


@attrs.frozen
class Known:
    """One known difference between the spec and the library or the emulator.

    ``kind`` is a :class:`~.spec.Finding` kind, or ``stricter`` (a rule checked on top
    of the spec) or ``unexercised`` (a spec operation the workflow does not call).
    ``detail`` covers a finding's detail and everything below it (``422 $`` covers
    ``422 $.type``). A ``status`` entry may name the schema its answer is checked
    against instead (``validate_as``).
    """

    method: str
    template: str
    kind: str
    detail: str
    reason: str
    validate_as: Mapping[str, Any] | None = None

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


#: The one table of exceptions: each with the reason, newest knowledge first in each group.
KNOWN: Final = (
    # -- routes the library uses that this spec copy lacks -----------------------------
    Known("GET", DATASET, "route", "", f"{SPEC_LAGS}: Get a Dataset (get-task-builder-dataset "
          f"in the live spec, per the coverage table of {CLI_COMMIT})"),
    Known("GET", DATASET + "/imports/{import_id}", "route", "", f"{SPEC_LAGS}: a V4 import "
          f"job's status (get-dataset-import-status in the live spec, per {CLI_COMMIT})"),
    Known("GET", BATCH + "/tasks", "route", "", f"{SPEC_LAGS}: the CLI's GetAITaskBuilderTasks "
          f"calls it; its coverage table says it is not in the spec ({CLI_COMMIT})"),
    Known("GET", BATCH + "/task-groups", "route", "", f"{SPEC_LAGS}: the official CLI's "
          f"GetAITaskBuilderTaskGroups calls it ({CLI_COMMIT})"),
    Known("GET", BATCH + "/export", "route", "", f"{SPEC_LAGS}: list a batch's export jobs, "
          "in the docs' export guide (a batch holds at most 10)"),
    Known("DELETE", BATCH + "/export/{export_id}", "route", "", f"{SPEC_LAGS}: delete an "
          "export job to free one of the 10 places, in the docs' export guide"),
    Known("POST", BATCH + "/sync", "route", "", f"{SPEC_LAGS}: batch sync "
          f"(sync-task-builder-batch in the live spec; the CLI's batch sync, {CLI_COMMIT})"),
    Known("GET", BATCH + "/syncs/{sync_id}", "route", "", f"{SPEC_LAGS}: a sync's status "
          f"(get-batch-sync-status in the live spec, {CLI_COMMIT})"),
    Known("PATCH", DATASET, "route", "", f"{SPEC_LAGS}: update a dataset "
          f"(update-task-builder-dataset in the live spec, {CLI_COMMIT})"),
    Known("POST", DATASET + "/datapoints", "route", "", f"{SPEC_LAGS}: append datapoints "
          f"(append-dataset-datapoints in the live spec, {CLI_COMMIT})"),
    Known("GET", DATASET + "/schema-migrations/{job_id}", "route", "", f"{SPEC_LAGS}: a "
          f"schema migration's status (get-schema-migration-status in the live spec, "
          f"{CLI_COMMIT})"),
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
    # -- spec operations the workflow does not call ------------------------------------
    Known("GET", BATCH + "/instructions", "unexercised", "", f"{OUT_OF_SCOPE}: the "
          "instructions endpoints are sunset; layouts replace them"),
    Known("POST", BATCH + "/instructions", "unexercised", "", f"{OUT_OF_SCOPE}: sunset"),
    Known("PUT", BATCH + "/instructions", "unexercised", "", f"{OUT_OF_SCOPE}: sunset"),
)  # fmt: skip


# -- the workflow --------------------------------------------------------------------------

TASK_DETAILS: Final = TaskDetails(
    task_name="Rate the answer", task_introduction="<p>Read it.</p>", task_steps="<ol></ol>"
)
V4_SCHEMA: Final = DatasetSchema(
    fields={
        "prompt": SchemaField(type="text", label="Prompt"),
        "group": SchemaField(type="task_group_id"),
    }
)


def _questions(*shown: DatasetFieldItem) -> list[Page]:
    question = MultipleChoiceItem(
        description="Is it right?",
        answer_limit=1,
        options=[ChoiceOption(label="Yes", value="yes"), ChoiceOption(label="No", value="no")],
    )
    why = FreeTextItem(description="Why?")
    intro = Page(rows=[Row(columns=[Column(items=[RichTextItem(content="<p>Welcome</p>")])])])
    return [intro, Page(rows=[Row(columns=[Column(items=[*shown, question, why])])])]


async def run_workflow(fake: FakeProlific, downloads: Path) -> None:
    """Every Task Builder call the library makes, through the client, against ``fake``."""
    async with fake.client(retry=FAST_RETRY_POLICY) as client:
        datasets, batches = client.datasets, client.batches
        v3 = await datasets.create(name="V3 data", workspace_id=WORKSPACE)
        await datasets.upload(v3.id, b"text\nfirst\nsecond\n", filename="data.csv")
        v4 = await datasets.create(name="V4 data", workspace_id=WORKSPACE, schema=V4_SCHEMA)
        jsonl = b'{"prompt": "p1", "group": "g1"}\n{"prompt": "p2", "group": "g2"}\n'
        await datasets.upload(v4.id, jsonl, filename="data.jsonl")
        await datasets.get(v4.id)
        await datasets.get_status(v3.id)

        on_v4 = await batches.create(
            name="On V4",
            workspace_id=WORKSPACE,
            task_details=TASK_DETAILS,
            dataset_id=v4.id,
            batch_items=_questions(DatasetFieldItem(field="prompt")),
            auto_sync_enabled=False,
        )
        on_v3 = await batches.create(
            name="On V3", workspace_id=WORKSPACE, task_details=TASK_DETAILS, dataset_id=v3.id
        )
        current = await batches.get(on_v4.id)
        await batches.update(on_v4.id, name="On V4, renamed", batch_items=current.batch_items)
        await batches.update(on_v3.id, task_details=TASK_DETAILS, batch_items=_questions())
        await batches.duplicate(on_v3.id, name="On V3, again")
        await batches.duplicate(on_v3.id, upload_new_dataset=True)
        await batches.list(WORKSPACE)
        bad_layout = [Page(rows=[Row(columns=[Column(items=[FreeTextItem(description="")])])])]
        with pytest.raises(UnprocessableEntityError):
            await batches.create(
                name="Bad",
                workspace_id=WORKSPACE,
                task_details=TASK_DETAILS,
                batch_items=bad_layout,
            )

        for batch in (on_v4, on_v3):
            await batches.setup(batch.id, tasks_per_group=1)
            await batches.wait_until_ready(batch.id, timeout=10)
            await batches.tasks(batch.id)
            await batches.task_groups(batch.id)
            fake.add_response(batch.id, study_id="study-1")
            await batches.responses(batch.id)
            await batches.report(batch.id)

        # The endpoints newer than the spec copy: append, sync, schema migration.
        appended = await datasets.add_datapoints(v4.id, [{"prompt": "p3", "group": "g3"}])
        assert appended.accepted_count == 1
        sync = await batches.sync(on_v4.id)
        await batches.get_sync(on_v4.id, sync.sync_id)
        await batches.wait_for_sync(on_v4.id, sync, timeout=10)
        update = await datasets.update(v4.id, name="V4 data, renamed", schema=V4_SCHEMA)
        if update.migration_job_id is not None:
            await datasets.get_schema_migration(v4.id, update.migration_job_id)
            await datasets.wait_for_schema_migration(v4.id, update, timeout=10)

        job = await batches.request_export(on_v4.id)
        export = await batches.wait_for_export(on_v4.id, job, timeout=10)
        archive = await batches.download_export(export, downloads / "export.zip")
        assert zipfile.is_zipfile(archive)
        filtered = await batches.request_export(
            on_v4.id, study_id="study-1", from_="2020-01-01T00:00:00Z", to="2100-01-01T00:00:00Z"
        )
        await batches.wait_for_export(on_v4.id, filtered, timeout=10)
        listed = await batches.list_exports(on_v4.id)
        assert filtered.export_id is not None
        await batches.delete_export(on_v4.id, filtered.export_id)
        assert len(listed) == 2
        # The answer the spec documents: 200 complete, the URL at once (the older API).
        fake.legacy_exports = True
        await batches.request_export(on_v3.id)


@attrs.frozen
class Traffic:
    """What the workflow sent and got back: the emulator's log of it."""

    requests: list[RecordedRequest]


@pytest.fixture(scope="module")
def traffic(spec: Mapping[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Traffic:
    """The requests and answers of one run of :func:`run_workflow` (run once per module)."""

    async def run() -> Traffic:
        async with FakeProlific(processing_delay=0.01, setup_delay=0.01, export_delay=0.01) as fake:
            await run_workflow(fake, tmp_path_factory.mktemp("downloads"))
            return Traffic(requests=list(fake.requests))

    with set_testing():
        return asyncio.run(run())


# -- the checks ------------------------------------------------------------------------------


@attrs.frozen
class Report:
    """Every finding of the traffic, and what it exercised."""

    findings: list[Finding]
    operations: set[str]
    """The spec operations exercised (``operationId``)."""
    routes: set[tuple[str, str]]
    """``(method, template)`` of every route exercised, in the spec or not."""


def _stricter_rules(method: str, template: str, status: int | None, body: Any) -> list[Finding]:
    findings = []
    for known in KNOWN:
        if (known.kind, known.method, known.template) != ("stricter", method, template):
            continue
        if status == 200 and not (isinstance(body, dict) and isinstance(body.get("results"), list)):
            findings.append(
                Finding(method, template, "stricter-broken", known.detail, f"no results: {body!r}")
            )
    return findings


def _known_route(method: str, path: str) -> Known | None:
    for known in KNOWN:
        if known.kind == "route" and known.method == method:
            probe = Operation(method, known.template, "", {}, ())
            if probe.matches(method, path):
                return known
    return None


def _status_stand_in(operation: Operation, status: int) -> Known | None:
    for known in KNOWN:
        if (known.kind, known.method, known.template, known.detail) == (
            "status",
            operation.method,
            operation.template,
            str(status),
        ):
            return known
    return None


def examine(spec: Mapping[str, Any], traffic: Traffic) -> Report:
    """Check every request and answer against the spec; collect the findings."""
    catalogue = operations(spec)
    findings: list[Finding] = []
    exercised: set[str] = set()
    routes: set[tuple[str, str]] = set()
    for request in traffic.requests:
        status, body = request.response_status, request.response_json
        operation = find_operation(catalogue, request.method, request.path)
        if operation is None:
            known = _known_route(request.method, request.path)
            template = request.path if known is None else known.template
            findings.append(Finding(request.method, template, "route", "", "not in the spec"))
            routes.add((request.method, template))
            findings += _stricter_rules(request.method, template, status, body)
            continue
        exercised.add(operation.operation_id)
        routes.add((operation.method, operation.template))
        if not operation.template.startswith(SCOPE):
            findings.append(Finding(request.method, operation.template, "scope", "", "outside"))
        findings += check_request(spec, operation, request.query, request.json)
        if status is None:
            findings.append(Finding(request.method, operation.template, "status", "none", "cut"))
            continue
        answer = list(check_response(operation, status, body))
        stand_in = _status_stand_in(operation, status)
        if stand_in is not None and stand_in.validate_as is not None:
            answer += check_answer(
                operation.method, operation.template, status, body, stand_in.validate_as
            )
        findings += answer
        findings += _stricter_rules(operation.method, operation.template, status, body)
    return Report(findings=findings, operations=exercised, routes=routes)


def _explain(findings: list[Finding]) -> str:
    return "\n".join(
        f"  {f.method} {f.template} [{f.kind}] {f.detail}: {f.message}" for f in findings
    )


def _unexplained(report: Report, *kinds: str) -> list[Finding]:
    return [
        finding
        for finding in report.findings
        if finding.kind in kinds and not any(known.covers(finding) for known in KNOWN)
    ]


def test_every_request_matches_a_spec_route_its_query_and_its_body(
    spec: Mapping[str, Any], traffic: Traffic
) -> None:
    """Each request is a spec operation with its query parameters and body schema."""
    report = examine(spec, traffic)
    unexplained = _unexplained(report, "scope", "route", "query", "request-body", "request-field")
    assert not unexplained, "requests the spec does not allow:\n" + _explain(unexplained)


def test_every_answer_validates_against_its_operation(
    spec: Mapping[str, Any], traffic: Traffic
) -> None:
    """Each emulator answer has a status the spec lists and a body its schema allows."""
    report = examine(spec, traffic)
    unexplained = _unexplained(report, "status", "response", "stricter-broken")
    assert not unexplained, "answers the spec does not allow:\n" + _explain(unexplained)


def test_every_task_builder_operation_is_exercised_or_excused(
    spec: Mapping[str, Any], traffic: Traffic
) -> None:
    """The workflow calls every Task Builder operation of the spec, save those excused."""
    report = examine(spec, traffic)
    excused = {(k.method, k.template) for k in KNOWN if k.kind == "unexercised"}
    missing = [
        f"{op.method} {op.template} ({op.operation_id})"
        for op in operations(spec, *SCOPE)
        if op.operation_id not in report.operations and (op.method, op.template) not in excused
    ]
    assert not missing, "operations the workflow never calls: " + ", ".join(missing)


def test_every_known_exception_is_still_needed(spec: Mapping[str, Any], traffic: Traffic) -> None:
    """An entry of KNOWN the spec or the emulator has caught up with must go."""
    report = examine(spec, traffic)
    in_spec = {(op.method, op.template) for op in operations(spec)}
    stale = []
    for known in KNOWN:
        if known.kind == "route":
            # Stale once the spec has the route (the workflow may not call it yet).
            needed = (known.method, known.template) not in in_spec
        elif known.kind == "unexercised":
            needed = (known.method, known.template) not in report.routes
        elif known.kind == "stricter":
            needed = (known.method, known.template) in report.routes
        else:
            needed = any(known.covers(finding) for finding in report.findings)
        if not needed:
            stale.append(f"  {known.method} {known.template} [{known.kind}] {known.detail}")
    assert not stale, "KNOWN entries no longer needed: remove them\n" + "\n".join(stale)


def test_every_known_exception_says_why() -> None:
    """Each entry of KNOWN gives a reason starting with its tag, and appears once."""
    untagged = [known for known in KNOWN if not known.reason.startswith(TAGS)]
    keys = [(k.method, k.template, k.kind, k.detail) for k in KNOWN]
    assert not untagged
    assert len(keys) == len(set(keys))
