"""Every answer the spec allows for the Task Builder operations parses, and loses nothing.

Two sources. The real payloads in ``../shared/real-payloads/`` (other people's data: read
from there, never copied into the project; the tests that need them skip, naming the
folder, where it is absent). And payloads built here by hand from the response schemas of
the spec's Task Builder operations (``/api/v1/data-collection/batches...`` and
``.../datasets...``): all properties set, only the required ones, every nullable one
``null``, every member of every union. Each goes through ``structure_response``, the
converter path every client call uses, into the model the user's public call returns;
"nothing lost" compares the model's unstructured form with the input, where a value that
was absent or ``null`` may come back as the field's documented default.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs
import pytest

from prolific_async._body import structure_response
from prolific_async._converter import converter
from prolific_async.errors import ResponseValidationError
from prolific_async.models import (
    Batch,
    BatchDataset,
    BatchExport,
    BatchReport,
    BatchStatus,
    Dataset,
    DatasetSchema,
    DatasetStatus,
    ExportStatus,
    ImportJob,
    InstructionResponse,
    InstructionType,
    Page,
    ResponseAnswer,
    TaskDetails,
    TaskResponse,
    UploadURL,
)
from tests.contract.known import BATCH as KNOWN_BATCH
from tests.contract.known import DATASET as KNOWN_DATASET
from tests.contract.known import KNOWN

REAL_PAYLOADS = Path(__file__).resolve().parents[2] / "shared" / "real-payloads"
SPEC = REAL_PAYLOADS / "specs" / "cli-publicapi-2026-04.yaml"


def real_payloads() -> Path:
    if not (REAL_PAYLOADS / "INDEX.json").is_file():
        pytest.skip(f"the reference payloads are absent: {REAL_PAYLOADS} (../shared/real-payloads)")
    return REAL_PAYLOADS


def parse(data: Any, cls: Any) -> Any:
    return structure_response(data, cls, status_code=200, method="GET", url="http://x/spec")


# --- "nothing lost" ----------------------------------------------------------------------

#: What a field absent or ``null`` in the input may read as (each model documents these):
#: ``None`` or an empty collection, the upload and report methods, and the task texts.
DOCUMENTED_DEFAULTS: dict[str, tuple[Any, ...]] = {
    "http_method": ("GET", "PUT"),
    "task_introduction": ("",),
    "task_steps": ("",),
}


def _same_instant(out: str, given: str) -> bool:
    try:
        return datetime.fromisoformat(out) == datetime.fromisoformat(given)
    except ValueError:
        return False


def assert_lossless(out: Any, given: Any, path: str = "$") -> None:
    """Every value of ``given`` is in ``out`` at the same place, with the same JSON type."""
    if isinstance(given, dict):
        assert isinstance(out, dict), f"{path}: {out!r} is not an object"
        for key, value in given.items():
            if value is None:
                # A null carries no value: it may come back as null, absent or the default.
                assert out.get(key) in (None, [], {}, *DOCUMENTED_DEFAULTS.get(key, ())), path
                continue
            assert key in out, f"{path}.{key} was lost"
            assert_lossless(out[key], value, f"{path}.{key}")
        for key in out.keys() - given.keys():
            assert out[key] in (None, [], {}, *DOCUMENTED_DEFAULTS.get(key, ())), (
                f"{path}.{key} = {out[key]!r} appeared from nowhere"
            )
    elif isinstance(given, list):
        assert isinstance(out, list), f"{path}: {out!r} is not an array"
        assert len(out) == len(given), f"{path}: {len(out)} items, not {len(given)}"
        for index, (read, sent) in enumerate(zip(out, given, strict=True)):
            assert_lossless(read, sent, f"{path}[{index}]")
    elif isinstance(given, str) and isinstance(out, str) and out != given:
        assert _same_instant(out, given), f"{path}: {out!r} != {given!r}"
    else:
        # type() as well as ==: True == 1 == 1.0, but a boolean answer is not a number.
        assert (type(out), out) == (type(given), given), f"{path}: {out!r} != {given!r}"


def assert_round_trip(data: Any, cls: Any) -> Any:
    model = parse(data, cls)
    # Through JSON, as the wire sees it: an open enum's member is written as its string.
    assert_lossless(json.loads(json.dumps(converter.unstructure(model, cls))), data)
    return model


# --- the real payloads -------------------------------------------------------------------

#: Response payloads by their INDEX.json kind: the model the public call returns, and the
#: part of the payload it parses (the list envelope is the resource's, see below).
RESPONSE_KINDS: dict[str, Any] = {
    "responses_page": list[TaskResponse],  # batches.responses(); its "results"
    "upload_url": UploadURL,  # datasets.get_upload_url()
    "import_job": ImportJob,  # datasets.get_import()
}
#: Request payloads by kind: a layout and a V4 schema read and written back unchanged.
REQUEST_KINDS: dict[str, Any] = {"batch_items": list[Page], "dataset_schema": DatasetSchema}
#: Kinds not parsed here, and why.
EXCLUDED_KINDS: dict[str, str] = {
    "openapi": "the specs themselves; read by the coverage tests below",
    "instructions": "the instructions endpoints are sunset and stay out",
    "instructions_response": "the instructions endpoints are sunset and stay out",
    "error_422_list": "error bodies: read by errors.py, tested with the error classes",
    "error_list": "error bodies: read by errors.py, tested with the error classes",
}


def index_entries(kind: str) -> Iterator[tuple[str, Any]]:
    root = real_payloads()
    entries = json.loads((root / "INDEX.json").read_text())
    for entry in entries:
        if entry["kind"] == kind:
            yield entry["file"], json.loads((root / entry["file"]).read_text())


def test_every_payload_kind_is_classified() -> None:
    """Each kind in INDEX.json is parsed as a response, a request, or excluded with a reason."""
    entries = json.loads((real_payloads() / "INDEX.json").read_text())
    known = RESPONSE_KINDS.keys() | REQUEST_KINDS.keys() | EXCLUDED_KINDS.keys()
    assert {entry["kind"] for entry in entries} <= known


@pytest.mark.parametrize("kind", sorted(RESPONSE_KINDS))
def test_real_response_payloads_parse_losslessly(kind: str) -> None:
    """Every real response payload parses into the public call's model, losing nothing."""
    payloads = list(index_entries(kind))
    assert payloads, f"no {kind} payload in {REAL_PAYLOADS}"
    for _, data in payloads:
        if kind == "responses_page":
            # The envelope is the resource's: results (the list the call returns) and a
            # count, which is the list's length.
            assert set(data) <= {"results", "meta"}
            assert data.get("meta", {}).get("count", len(data["results"])) == len(data["results"])
            data = data["results"]
        assert_round_trip(data, RESPONSE_KINDS[kind])


@pytest.mark.parametrize("kind", sorted(REQUEST_KINDS))
def test_real_request_payloads_round_trip_to_equal_json(kind: str) -> None:
    """Every real layout and schema file reads into the models and writes back equal."""
    payloads = list(index_entries(kind))
    assert payloads, f"no {kind} payload in {REAL_PAYLOADS}"
    cls = REQUEST_KINDS[kind]
    for _, data in payloads:
        assert converter.unstructure(converter.structure(data, cls), cls) == data


# --- payloads built from the spec's response schemas -------------------------------------

WHEN = "2026-04-15T10:00:00Z"
LATER = "2026-04-16T10:00:00Z"
BATCH_ID = "0f6f4a52-1111-4b6e-9d43-000000000001"
DATASET_ID = "0f6f4a52-2222-4b6e-9d43-000000000002"
EXPORT_ID = "0f6f4a52-3333-4b6e-9d43-000000000003"
WORKSPACE_ID = "66aa00000000000000000001"
USER_ID = "66bb00000000000000000002"

TASK_DETAILS = {
    "task_name": "Label the picture",
    "task_introduction": "<p>Look closely.</p>",
    "task_steps": "<ol><li>Pick one label.</li></ol>",
}
#: AiTaskBuilderBatch (get, update, list items): every property is required, none nullable.
BATCH: dict[str, Any] = {
    "id": BATCH_ID,
    "created_at": WHEN,
    "created_by": USER_ID,
    "datasets": [{"id": DATASET_ID, "total_datapoint_count": 12, "filename": "items.csv"}],
    "name": "Spec batch",
    "status": "READY",
    "total_task_count": 12,
    "total_instruction_count": 2,
    "workspace_id": WORKSPACE_ID,
    "schema_version": 2,
    "task_details": TASK_DETAILS,
    "total_task_groups": 4,
}
#: AiTaskBuilderBatchCreate (create, duplicate): no schema_version/total_task_groups, no
#: dataset filename; only task_name is required in its task details.
BATCH_CREATE: dict[str, Any] = {
    **{k: v for k, v in BATCH.items() if k not in ("schema_version", "total_task_groups")},
    "datasets": [{"id": DATASET_ID, "total_datapoint_count": 12}],
    "status": "UNINITIALISED",
    "total_task_count": 0,
}
#: AiTaskBuilderTaskResponse (the items of Get Batch Responses), every property set.
TASK_RESPONSE: dict[str, Any] = {
    "id": "0f6f4a52-4444-4b6e-9d43-000000000004",
    "created_at": WHEN,
    "batch_id": BATCH_ID,
    "participant_id": "66cc00000000000000000003",
    "submission_id": "66dd00000000000000000004",
    "correlation_id": "corr-1",
    "response": {
        "instruction_id": "0f6f4a52-5555-4b6e-9d43-000000000005",
        "type": "free_text",
        "answer": [{"value": "A sunny beach"}],
    },
    "task_id": "0f6f4a52-6666-4b6e-9d43-000000000006",
    "metadata": {"source": "set-1", "difficulty": 3, "tags": ["a", "b"]},
    "schema_version": 2,
    "no_submission": False,
}
REQUIRED_RESPONSE_KEYS = ("id", "created_at", "batch_id", "participant_id", "response", "task_id")
REPORT = {"url": "https://reports.example.invalid/r.csv", "expires_at": LATER, "http_method": "GET"}
EXPORT_URL = "https://exports.example.invalid/e.zip"
DATASET: dict[str, Any] = {
    "id": DATASET_ID,
    "name": "Spec dataset",
    "created_at": WHEN,
    "created_by": USER_ID,
    "status": "UNINITIALISED",
    "total_datapoint_count": 0,
    "workspace_id": WORKSPACE_ID,
}
UPLOAD_URL = {
    "dataset_id": DATASET_ID,
    "expires_at": LATER,
    "http_method": "PUT",
    "upload_url": "https://uploads.example.invalid/put",
}
#: The enums of the spec, as it lists them.
BATCH_STATUSES = ("UNINITIALISED", "PROCESSING", "READY", "ERROR")
DATASET_STATUSES = ("ERROR", "PROCESSING", "READY", "UNINITIALISED")
RESPONSE_TYPES = (
    "multiple_choice",
    "free_text",
    "free_text_with_unit",
    "multiple_choice_with_free_text",
    "file_upload",
)
#: AiTaskBuilderTaskResponseResponseAnswerItemValue: oneOf string, number (double), boolean.
ANSWER_VALUES: tuple[Any, ...] = ("A sunny beach", "", 3, 0, -2, 2.75, 1e-3, True, False)


def with_response(**response: Any) -> dict[str, Any]:
    return {**TASK_RESPONSE, "response": {**TASK_RESPONSE["response"], **response}}


def only(data: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {key: data[key] for key in keys}


#: (schema / case, the model the public call returns, the payload).
SPEC_CASES: list[tuple[str, Any, Any]] = [
    # GetTaskBuilderBatchesResponse (batches.list) is an envelope of AiTaskBuilderBatch.
    ("AiTaskBuilderBatch/all", Batch, BATCH),
    *((f"AiTaskBuilderBatch/status={s}", Batch, {**BATCH, "status": s}) for s in BATCH_STATUSES),
    ("AiTaskBuilderBatch/no datasets", Batch, {**BATCH, "datasets": []}),
    ("GetTaskBuilderBatchesResponse/results", list[Batch], [BATCH, {**BATCH, "id": "b2"}]),
    ("AiTaskBuilderBatchCreate/all", Batch, BATCH_CREATE),
    (
        "AiTaskBuilderBatchCreate/required only",
        Batch,
        {**BATCH_CREATE, "datasets": [], "task_details": only(TASK_DETAILS, "task_name")},
    ),
    (
        "AiTaskBuilderBatchCreate/nullable null",
        Batch,
        {
            **BATCH_CREATE,
            "task_details": {**TASK_DETAILS, "task_introduction": None, "task_steps": None},
        },
    ),
    *(
        (f"AiTaskBuilderBatchCreate/status={s}", Batch, {**BATCH_CREATE, "status": s})
        for s in BATCH_STATUSES
    ),
    # GetTaskBuilderBatchTaskResponsesResponse (batches.responses) envelops these.
    ("AiTaskBuilderTaskResponse/all", list[TaskResponse], [TASK_RESPONSE]),
    (
        "AiTaskBuilderTaskResponse/required only",
        list[TaskResponse],
        [
            {
                **only(TASK_RESPONSE, *REQUIRED_RESPONSE_KEYS),
                "response": {**TASK_RESPONSE["response"], "answer": []},
            },
            {  # an answer item has no required property
                **only(TASK_RESPONSE, *REQUIRED_RESPONSE_KEYS),
                "response": {**TASK_RESPONSE["response"], "answer": [{}]},
            },
        ],
    ),
    (
        "AiTaskBuilderTaskResponse/nullable null",
        list[TaskResponse],
        [
            {
                **with_response(answer=[{"value": None}]),
                "submission_id": None,
                "correlation_id": None,
                "metadata": None,
                "schema_version": None,
                "no_submission": None,
            }
        ],
    ),
    (
        "AiTaskBuilderTaskResponse/no submission",
        list[TaskResponse],
        [{**TASK_RESPONSE, "submission_id": None, "no_submission": True}],
    ),
    *(
        (f"AiTaskBuilderTaskResponse/type={t}", list[TaskResponse], [with_response(type=t)])
        for t in RESPONSE_TYPES
    ),
    *(
        (
            f"AiTaskBuilderTaskResponseResponseAnswerItemValue/{type(v).__name__} {v!r}",
            list[TaskResponse],
            [with_response(answer=[{"value": v}])],
        )
        for v in ANSWER_VALUES
    ),
    (
        "AiTaskBuilderTaskResponse/several answers of mixed types",
        list[TaskResponse],
        [with_response(type="multiple_choice", answer=[{"value": v} for v in ANSWER_VALUES])],
    ),
    ("GetTaskBuilderBatchReportResponse/all", BatchReport, REPORT),
    (
        "GetTaskBuilderBatchReportResponse/nullable null but url",
        BatchReport,
        {**REPORT, "expires_at": None, "http_method": None},
    ),
    ("GetTaskBuilderBatchReportResponse/url only", BatchReport, only(REPORT, "url")),
    (
        "BatchExportComplete/all",
        BatchExport,
        {"status": "complete", "url": EXPORT_URL, "expires_at": LATER},
    ),
    (
        "BatchExportStatus/generating",
        BatchExport,
        {"status": "generating", "export_id": EXPORT_ID},
    ),
    (
        "BatchExportStatus/complete",
        BatchExport,
        {"status": "complete", "url": EXPORT_URL, "expires_at": LATER},
    ),
    ("BatchExportStatus/failed", BatchExport, {"status": "failed"}),
    ("AiTaskBuilderDataset/all", Dataset, DATASET),
    *(
        (f"AiTaskBuilderDataset/status={s}", Dataset, {**DATASET, "status": s})
        for s in DATASET_STATUSES
    ),
    ("GetDatasetUploadUrlResponse/all", UploadURL, UPLOAD_URL),
    (
        "GetDatasetUploadUrlResponse/nullable null but upload_url",
        UploadURL,
        {**dict.fromkeys(UPLOAD_URL), "upload_url": UPLOAD_URL["upload_url"]},
    ),
    ("GetDatasetUploadUrlResponse/upload_url only", UploadURL, only(UPLOAD_URL, "upload_url")),
]

#: The model and the all-fields payload of each answer the library is stricter about.
STRICTER_MODELS: dict[str, tuple[Any, dict[str, Any]]] = {
    KNOWN_DATASET + "/upload-url/{filename}": (UploadURL, UPLOAD_URL),
    KNOWN_BATCH + "/report/": (BatchReport, REPORT),
}


def _stricter_than_spec() -> dict[str, tuple[Any, Any, str, str]]:
    """Answers the spec allows that the library refuses on purpose, with why.

    Read from the contract test's one table of exceptions (its ``stricter`` entries
    naming a field): each field the library requires where the spec makes it optional
    and nullable, tried absent and ``null``.
    """
    cases = {}
    for known in KNOWN:
        if known.kind != "stricter" or not known.detail.startswith("$."):
            continue
        cls, full = STRICTER_MODELS[known.template]
        cases[f"{cls.__name__}/required only"] = (cls, {}, known.detail, known.reason)
        cases[f"{cls.__name__}/nullable null"] = (
            cls,
            dict.fromkeys(full),
            known.detail,
            known.reason,
        )
    return cases


STRICTER_THAN_SPEC = _stricter_than_spec()


def test_every_stricter_field_of_the_table_has_its_model() -> None:
    """Each stricter-field entry of the contract test's table is tried here, and no other."""
    fields = {k.template for k in KNOWN if k.kind == "stricter" and k.detail.startswith("$.")}
    assert fields == set(STRICTER_MODELS)


@pytest.mark.parametrize(
    ("cls", "payload"), [c[1:] for c in SPEC_CASES], ids=[c[0] for c in SPEC_CASES]
)
def test_spec_payload_parses_losslessly(cls: Any, payload: Any) -> None:
    """A payload the spec allows parses into the public call's model, losing nothing."""
    assert_round_trip(payload, cls)


@pytest.mark.parametrize(
    ("cls", "payload", "path"),
    [case[:3] for case in STRICTER_THAN_SPEC.values()],
    ids=list(STRICTER_THAN_SPEC),
)
def test_stricter_than_spec_cases_raise_naming_the_field(cls: Any, payload: Any, path: str) -> None:
    """The deliberate exceptions raise ResponseValidationError naming the missing field."""
    with pytest.raises(ResponseValidationError) as caught:
        parse(payload, cls)
    assert any(path in error for error in caught.value.errors)


@pytest.mark.parametrize("value", ANSWER_VALUES)
def test_answer_values_keep_their_type_in_the_model(value: Any) -> None:
    """Each oneOf member of an answer value reads as that Python type (bool apart from int)."""
    (response,) = parse([with_response(answer=[{"value": value}])], list[TaskResponse])
    assert type(response.response.answer[0].value) is type(value)


def test_create_answer_with_null_task_text_reads_as_empty() -> None:
    """A create answer's null task_introduction and task_steps read as ''."""
    data = {**BATCH_CREATE, "task_details": {"task_name": "n", "task_introduction": None}}
    assert parse(data, Batch).task_details == TaskDetails(
        task_name="n", task_introduction="", task_steps=""
    )


@pytest.mark.parametrize(
    ("statuses", "open_enum"),
    [(BATCH_STATUSES, BatchStatus), (DATASET_STATUSES, DatasetStatus)],
)
def test_status_answers_read_into_enum_members(statuses: tuple[str, ...], open_enum: Any) -> None:
    """GetTaskBuilder{Batch,Dataset}StatusResponse's status reads as the enum's member."""
    target: Any = open_enum | str
    for status in statuses:
        assert converter.structure(status, target) is open_enum(status)


# --- every field the spec documents is a typed attribute ---------------------------------

#: The Task Builder response schemas and the model each one parses into.
MODEL_OF_SCHEMA: dict[str, type[Any]] = {
    "AiTaskBuilderBatch": Batch,
    "AiTaskBuilderBatchDatasetsItem": BatchDataset,
    "AiTaskBuilderBatchTaskDetails": TaskDetails,
    "AiTaskBuilderBatchCreate": Batch,
    "AiTaskBuilderBatchCreateDatasetsItem": BatchDataset,
    "AiTaskBuilderBatchCreateTaskDetails": TaskDetails,
    "AiTaskBuilderTaskResponse": TaskResponse,
    "AiTaskBuilderTaskResponseResponse": InstructionResponse,
    "AiTaskBuilderTaskResponseResponseAnswerItem": ResponseAnswer,
    "GetTaskBuilderBatchReportResponse": BatchReport,
    "BatchExportComplete": BatchExport,
    "BatchExportStatus": BatchExport,
    "BatchExportStatusGenerating": BatchExport,
    "BatchExportStatusComplete": BatchExport,
    "BatchExportStatusFailed": BatchExport,
    "AiTaskBuilderDataset": Dataset,
    "GetDatasetUploadUrlResponse": UploadURL,
}
#: Response schemas read outside the models (in resources/), and where.
PARSED_OUTSIDE_THE_MODELS: dict[str, str] = {
    "GetTaskBuilderBatchesResponse": "the list envelope, in resources/batches.py",
    "GetTaskBuilderBatchesResponseMeta": "the list envelope's count (the list's length)",
    "GetTaskBuilderBatchTaskResponsesResponse": "the envelope, in resources/_batch_results.py",
    "GetTaskBuilderBatchTaskResponsesResponseMeta": "the envelope's count (the list's length)",
    "GetTaskBuilderBatchStatusResponse": "its one status, in resources/_batch_setup.py",
    "GetTaskBuilderDatasetStatusResponse": "its one status, in resources/datasets.py",
}
#: The spec's enums and the open enum each one reads into.
ENUM_OF_SCHEMA: dict[str, type[Any]] = {
    "AiTaskBuilderBatchStatus": BatchStatus,
    "AiTaskBuilderBatchCreateStatus": BatchStatus,
    "GetTaskBuilderBatchStatusResponseStatus": BatchStatus,
    "AiTaskBuilderDatasetStatus": DatasetStatus,
    "GetTaskBuilderDatasetStatusResponseStatus": DatasetStatus,
    "AiTaskBuilderTaskResponseResponseType": InstructionType,
}


def task_builder_schemas() -> dict[str, dict[str, Any]]:
    """The component schemas reachable from a Task Builder operation's answers."""
    yaml = pytest.importorskip("yaml", reason="reading the OpenAPI spec needs PyYAML")
    real_payloads()
    return _task_builder_schemas(yaml)


@functools.cache
def _task_builder_schemas(yaml: Any) -> dict[str, dict[str, Any]]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when there: 10x faster
    spec = yaml.load(SPEC.read_text(), Loader=loader)
    components: dict[str, dict[str, Any]] = spec["components"]["schemas"]
    found: dict[str, dict[str, Any]] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
                name = ref.rsplit("/", 1)[1]
                if name not in found:
                    found[name] = components[name]
                    walk(components[name])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    prefixes = ("/api/v1/data-collection/batches", "/api/v1/data-collection/datasets")
    for path, operations in spec["paths"].items():
        if path.startswith(prefixes) and "/instructions" not in path:
            for operation in operations.values():
                if isinstance(operation, dict):
                    walk(operation.get("responses", {}))
    return found


def properties_of(schema: dict[str, Any]) -> set[str]:
    """The property names of a schema and of its inline allOf/oneOf/anyOf members."""
    names = set(schema.get("properties", {}))
    for key in ("allOf", "oneOf", "anyOf"):
        for member in schema.get(key, []):
            if "$ref" not in member:
                names |= properties_of(member)
    return names


def is_object(schema: dict[str, Any]) -> bool:
    members = [m for key in ("allOf", "oneOf", "anyOf") for m in schema.get(key, [])]
    return schema.get("type") == "object" or "properties" in schema or any(map(is_object, members))


def wire_names(cls: type[Any]) -> set[str]:
    # BatchExport.from_ is "from" on the wire; extra holds the undocumented keys.
    return {a.name.rstrip("_") for a in attrs.fields(cls)} - {"extra"}


def test_every_task_builder_response_schema_is_mapped() -> None:
    """Each object schema of a Task Builder answer has a model, or is read in resources/."""
    objects = {name for name, schema in task_builder_schemas().items() if is_object(schema)}
    assert objects == MODEL_OF_SCHEMA.keys() | PARSED_OUTSIDE_THE_MODELS.keys()


def test_every_documented_field_is_a_typed_attribute() -> None:
    """Every property the spec documents for a Task Builder answer is a model attribute."""
    schemas = task_builder_schemas()
    missing = {
        name: sorted(properties_of(schemas[name]) - wire_names(cls))
        for name, cls in MODEL_OF_SCHEMA.items()
    }
    assert {name: fields for name, fields in missing.items() if fields} == {}


def test_every_spec_enum_value_is_an_enum_member() -> None:
    """The spec's statuses and response types are members of the library's open enums."""
    schemas = task_builder_schemas()
    assert ENUM_OF_SCHEMA.keys() <= schemas.keys()
    for name, open_enum in ENUM_OF_SCHEMA.items():
        assert set(schemas[name]["enum"]) <= {member.value for member in open_enum}, name
    export_statuses = {
        value
        for member in schemas["BatchExportStatus"]["oneOf"]
        for part in member["allOf"]
        for value in part.get("properties", {}).get("status", {}).get("enum", [])
    }
    assert export_statuses == {member.value for member in ExportStatus}
