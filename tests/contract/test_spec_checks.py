"""The contract test's own checks: they catch what they claim, with OpenAPI 3.0 semantics."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .spec import Finding, Operation, check_request, check_response, find_operation, operations

BATCHES = "/api/v1/data-collection/batches"
BATCH_ID = "0b6c3d52-5f7e-4a39-9a57-1e4bc1f6e2a1"
TASK = {"task_name": "Rate", "task_introduction": "<p>Hi</p>", "task_steps": "<ol></ol>"}


def _operation(spec: Mapping[str, Any], method: str, path: str) -> Operation:
    operation = find_operation(operations(spec), method, path)
    assert operation is not None
    return operation


def _details(findings: list[Finding]) -> set[tuple[str, str]]:
    return {(finding.kind, finding.detail) for finding in findings}


def _batch(**changes: Any) -> dict[str, Any]:
    batch: dict[str, Any] = {
        "id": BATCH_ID,
        "created_at": "2026-04-01T10:00:00Z",
        "created_by": "user",
        "datasets": [],
        "name": "Batch",
        "status": "READY",
        "total_task_count": 0,
        "total_instruction_count": 0,
        "workspace_id": "ws",
        "schema_version": 2,
        "task_details": dict(TASK),
        "total_task_groups": 0,
    }
    return {**batch, **changes}


def test_routes_match_templates_exactly(spec: Mapping[str, Any]) -> None:
    """A path matches its template segment by segment; the report's slash counts."""
    catalogue = operations(spec)
    found = find_operation(catalogue, "GET", f"{BATCHES}/{BATCH_ID}/report/")
    assert found is not None
    assert found.operation_id == "aiTaskBuilder_GetTaskBuilderBatchReport"
    assert find_operation(catalogue, "GET", f"{BATCHES}/{BATCH_ID}/report") is None
    assert find_operation(catalogue, "GET", f"{BATCHES}/{BATCH_ID}/tasks") is None
    assert find_operation(catalogue, "DELETE", f"{BATCHES}/{BATCH_ID}") is None


def test_query_parameters_are_checked(spec: Mapping[str, Any]) -> None:
    """An undeclared query parameter and a missing required one are both findings."""
    listing = _operation(spec, "GET", BATCHES)
    assert _details(list(check_request(spec, listing, {"page": "2"}, None))) == {
        ("query", "page"),
        ("query", "workspace_id"),
    }
    assert list(check_request(spec, listing, {"workspace_id": "ws"}, None)) == []


def test_request_bodies_are_checked_with_their_schema(spec: Mapping[str, Any]) -> None:
    """A missing required field, a wrong type and an undeclared field are findings."""
    create = _operation(spec, "POST", BATCHES)
    body = {"name": 3, "workspace_id": "ws", "task_details": {**TASK, "colour": "red"}}
    assert _details(list(check_request(spec, create, {}, body))) == {
        ("request-body", "$.name"),
        ("request-field", "$.task_details.colour"),
    }
    missing = list(check_request(spec, create, {}, {"name": "B", "workspace_id": "ws"}))
    assert _details(missing) == {("request-body", "$.task_details")}
    assert _details(list(check_request(spec, create, {}, None))) == {("request-body", "$")}


def test_nullable_is_honoured_where_the_spec_says_it(spec: Mapping[str, Any]) -> None:
    """A null task text passes in a create answer (nullable) and fails in a get (not)."""
    created = _operation(spec, "POST", BATCHES)
    fetched = _operation(spec, "GET", f"{BATCHES}/{BATCH_ID}")
    task = {**TASK, "task_introduction": None}
    assert list(check_response(created, 201, _batch(task_details=task))) == []
    assert _details(list(check_response(fetched, 200, _batch(task_details=task)))) == {
        ("response", "200 $.task_details.task_introduction")
    }


def test_nullable_beside_a_ref_and_const_read_as_meant(spec: Mapping[str, Any]) -> None:
    """A nullable beside a $ref allows null; const is enforced (null too where nullable)."""
    status = _operation(spec, "GET", f"{BATCHES}/{BATCH_ID}/status")
    assert list(check_response(status, 200, {"status": None})) == []
    assert _details(list(check_response(status, 200, {"status": "DONE"}))) == {
        ("response", "200 $.status")
    }
    report = _operation(spec, "GET", f"{BATCHES}/{BATCH_ID}/report/")
    assert list(check_response(report, 200, {"url": "u", "http_method": None})) == []
    assert _details(list(check_response(report, 200, {"url": "u", "http_method": "PUT"}))) == {
        ("response", "200 $.http_method")
    }


def test_answers_are_checked_against_their_status(spec: Mapping[str, Any]) -> None:
    """A status the operation does not list, or a body where none is documented, is found."""
    setup = _operation(spec, "POST", f"{BATCHES}/{BATCH_ID}/setup")
    assert list(check_response(setup, 204, None)) == []
    assert _details(list(check_response(setup, 202, None))) == {("status", "202")}
    assert _details(list(check_response(setup, 204, {"ok": True}))) == {("response", "204 $")}
    fetched = _operation(spec, "GET", f"{BATCHES}/{BATCH_ID}")
    del_name = _batch()
    del del_name["name"]
    assert _details(list(check_response(fetched, 200, del_name))) == {("response", "200 $.name")}
    assert _details(list(check_response(fetched, 200, _batch(id="not-a-uuid")))) == {
        ("response", "200 $.id")
    }
