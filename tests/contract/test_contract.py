"""The library and the emulator against Prolific's published OpenAPI spec.

What the official CLI's contract test does for the CLI (``contract_test/`` in
prolific-oss/cli: every spec operation accounted for, every request the client sends
validated against the spec), done here for the library, and for the emulator's answers
too. A full Task Builder workflow runs through the client against the emulator, once
over plain HTTP; then every request in ``fake.requests`` must match a spec route, its
query parameters and its request-body schema, and every answer must validate against
the operation's response schema for its status.

Where the spec is known to be behind the docs or the official CLI, or the emulator is
known to be wrong, the difference is listed in :data:`.known.KNOWN`, the one table of
exceptions, with the reason; a route the spec lacks is checked against the stand-in
schema its entry names. An entry that is no longer needed fails the test too, so the
table shrinks as the spec and the emulator catch up.
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

from .known import BATCHES, DATASETS, KNOWN, TAGS, Known
from .spec import (
    Finding,
    Operation,
    check_answer,
    check_request,
    check_response,
    find_operation,
    operations,
)

#: The Task Builder part of the spec this test covers.
SCOPE: Final = (BATCHES, DATASETS)
WORKSPACE: Final = "6278acb09062db3b35bcbeb0"


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
        bad_item = [Page(rows=[Row(columns=[Column(items=[FreeTextItem(description="")])])])]
        bad_row = [Page(rows=[Row(columns=[Column(items=[RichTextItem(content="<p>x</p>")])] * 3)])]
        for bad_layout in (bad_item, bad_row):  # an item's problem, then a row's
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
        assert update.migration_job_id is not None  # the dataset had a schema: it migrates
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


def _breaks(rule: str, status: int | None, body: Any) -> bool:
    """Whether a 2xx answer breaks a stricter rule: ``results`` or a ``$.field`` required."""
    if status is None or not 200 <= status < 300:
        return False
    if rule == "results":
        return not (isinstance(body, dict) and isinstance(body.get("results"), list))
    field = rule.removeprefix("$.")
    return not (isinstance(body, dict) and body.get(field) is not None)


def _stricter_rules(method: str, template: str, status: int | None, body: Any) -> list[Finding]:
    return [
        Finding(method, template, "stricter-broken", known.detail, f"broken: {body!r}")
        for known in KNOWN
        if (known.kind, known.method, known.template) == ("stricter", method, template)
        and _breaks(known.detail, status, body)
    ]


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


def _stand_in_answer(known: Known, status: int | None, body: Any) -> list[Finding]:
    """Check an answer of a route the spec lacks against its entry's stand-in schema."""
    method, template = known.method, known.template
    if status is None:
        return [Finding(method, template, "status", "none", "cut")]
    schema = known.answers.get(status)
    if schema is None:
        statuses = sorted(known.answers)
        return [Finding(method, template, "status", str(status), f"not among {statuses}")]
    return list(check_answer(method, template, status, body, schema))


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
            if known is not None:
                findings += _stand_in_answer(known, status, body)
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
            # Stale once the spec has the route, or once the workflow no longer calls it
            # (its stand-in would check nothing).
            needed = (known.method, known.template) not in in_spec and (
                known.method,
                known.template,
            ) in report.routes
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


def test_every_route_the_spec_lacks_has_a_stand_in_schema() -> None:
    """Each route entry names the schema of each answer status; no other entry does."""
    routes = [known for known in KNOWN if known.kind == "route"]
    assert routes
    assert all(known.answers for known in routes)
    assert not [known for known in KNOWN if known.kind != "route" and known.answers]


def test_a_stand_in_schema_catches_a_wrong_answer(spec: Mapping[str, Any]) -> None:
    """A route the spec lacks is checked: a wrong body or an unlisted status is a finding."""
    (sync,) = [k for k in KNOWN if (k.method, k.kind) == ("POST", "route") and "sync" in k.template]
    assert _stand_in_answer(sync, 202, {"sync_id": "s", "status": "queued"}) == []
    (missing,) = _stand_in_answer(sync, 202, {"sync_id": "s"})
    assert (missing.kind, missing.detail) == ("response", "202 $.status")
    (status,) = _stand_in_answer(sync, 200, {"status": "queued"})
    assert (status.kind, status.detail) == ("status", "200")
    (tasks,) = [k for k in KNOWN if k.kind == "route" and k.template.endswith("/tasks")]
    assert _stand_in_answer(tasks, 200, ["t1"]) == []
    assert _stand_in_answer(tasks, 200, {"results": ["t1"]}) != []
