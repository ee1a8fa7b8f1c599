"""Prolific's published OpenAPI spec, read from ``../shared/real-payloads/``, and its checks.

The spec is other people's data: it is never copied into this project. The tests read
it where it lies, beside the repository, and skip when it is not there.

The spec is OpenAPI 3.0 and is checked with OpenAPI 3.0 semantics
(``openapi-schema-validator``: ``nullable``, ``readOnly``/``writeOnly``), with two
readings of what its generator meant, applied once when it is loaded:

* ``nullable: true`` written beside a ``$ref`` (which OpenAPI 3.0 says to ignore) means
  the value may also be ``null``, as it does everywhere else in the spec.
* ``const`` (a JSON Schema keyword OpenAPI 3.0 lacks, which its validators skip) is
  checked, as a one-value ``enum`` (plus ``null`` where the field is nullable).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final

import attrs
import yaml
from openapi_schema_validator import (
    OAS30ReadValidator,
    OAS30WriteValidator,
    oas30_format_checker,
)
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

__all__ = [
    "SPEC_FILE",
    "SPEC_FOLDER",
    "Finding",
    "Operation",
    "check_answer",
    "check_request",
    "check_response",
    "find_operation",
    "load_spec",
    "operations",
    "pointer",
    "undeclared_fields",
    "validate",
]

#: ``../shared/real-payloads/`` beside the repository (CI lays ``shared/`` there too).
SPEC_FOLDER: Final = Path(__file__).resolve().parents[3] / "shared" / "real-payloads"
#: The newest complete copy: Prolific's generated spec as the official CLI committed it.
SPEC_FILE: Final = SPEC_FOLDER / "specs" / "cli-publicapi-2026-04.yaml"
#: Where the spec's schemas are registered, so ``$ref`` pointers resolve inside it.
_SPEC_URI: Final = "urn:prolific:publicapi"
_METHODS: Final = ("get", "put", "post", "patch", "delete")


@attrs.frozen
class Operation:
    """One operation of the spec: a method on a path template."""

    method: str
    """The HTTP method, upper case."""
    template: str
    """The spec's path template, e.g. ``/api/v1/data-collection/batches/{batch_id}``."""
    operation_id: str
    """The spec's ``operationId``."""
    body: Mapping[str, Any] = attrs.field(repr=False)
    """The operation object."""
    parameters: tuple[Mapping[str, Any], ...] = attrs.field(repr=False)
    """Its parameters and its path's, resolved."""

    @property
    def pointer(self) -> str:
        """The JSON pointer of the operation object inside the spec."""
        path = self.template.replace("~", "~0").replace("/", "~1")
        return f"/paths/{path}/{self.method.lower()}"

    def matches(self, method: str, path: str) -> bool:
        """Whether a request of ``method`` to ``path`` (no query) is this operation."""
        return method == self.method and _template_regex(self.template).fullmatch(path) is not None


@attrs.frozen
class Finding:
    """One way a request or an answer differs from the spec."""

    method: str
    """The request's method."""
    template: str
    """The path template it matched (the spec's, or the client's where the spec has none)."""
    kind: str
    """``route``, ``query``, ``request-body``, ``request-field``, ``status``, ``response``."""
    detail: str
    """What differs: a query parameter, a JSON path (``$.batch_items``), a status, or
    a status and a JSON path (``200 $.datasets[*].filename``)."""
    message: str = attrs.field(eq=False)
    """The validator's words, for the failure message."""


@functools.cache
def _template_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    return re.compile(
        "".join("[^/]+" if part.startswith("{") else re.escape(part) for part in parts)
    )


def _as_the_generator_meant(node: Any) -> Any:
    """Rewrite ``$ref`` + ``nullable`` and ``const`` so a 3.0 validator checks them."""
    if isinstance(node, list):
        return [_as_the_generator_meant(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _as_the_generator_meant(value) for key, value in node.items()}
    if "const" in node:
        node["enum"] = [node.pop("const")] + ([None] if node.get("nullable") else [])
    if "$ref" in node and node.get("nullable") is True:
        rest = {key: value for key, value in node.items() if key not in {"$ref", "nullable"}}
        null = {"type": "object", "nullable": True, "enum": [None]}
        return {**rest, "anyOf": [{"$ref": node["$ref"]}, null]}
    return node


@functools.cache
def load_spec(path: Path = SPEC_FILE) -> Mapping[str, Any]:
    """The spec, parsed once and read as its generator meant (see the module docstring)."""
    with path.open(encoding="utf-8") as file:
        raw = yaml.load(file, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
    spec: dict[str, Any] = _as_the_generator_meant(raw)
    return spec


@functools.cache
def _registry() -> Registry[Any]:
    """The spec as a schema resource, so ``$ref`` pointers into it resolve."""
    resource = Resource.from_contents(dict(load_spec()), default_specification=DRAFT4)
    registry: Registry[Any] = Registry().with_resource(_SPEC_URI, resource)
    return registry


def _resolve(spec: Mapping[str, Any], node: Mapping[str, Any]) -> Mapping[str, Any]:
    """Follow a local ``$ref`` (parameters may be references)."""
    while "$ref" in node:
        target: Any = spec
        for part in str(node["$ref"]).removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def operations(spec: Mapping[str, Any], *prefixes: str) -> list[Operation]:
    """Every operation of the spec whose path starts with one of ``prefixes``."""
    found = []
    for template, item in spec["paths"].items():
        if prefixes and not template.startswith(prefixes):
            continue
        shared = [_resolve(spec, p) for p in item.get("parameters", [])]
        for method in _METHODS:
            if method not in item:
                continue
            body = item[method]
            own = [_resolve(spec, p) for p in body.get("parameters", [])]
            found.append(
                Operation(
                    method=method.upper(),
                    template=template,
                    operation_id=body.get("operationId", f"{method} {template}"),
                    body=body,
                    parameters=(*shared, *own),
                )
            )
    return found


def find_operation(catalogue: list[Operation], method: str, path: str) -> Operation | None:
    """The operation a request is, or ``None`` when the spec has no such route."""
    return next((op for op in catalogue if op.matches(method, path)), None)


_REQUIRED: Final = re.compile(r"^'(?P<name>.+)' is a required property$")


def _where(parts: Iterable[Any], message: str) -> str:
    """A JSON path with list indices as ``[*]``: ``$.results[*].datasets[*].filename``.

    A missing required property is placed at its own path (``$.status``), so one
    exception can name exactly that field.
    """
    where = "$" + "".join("[*]" if isinstance(part, int) else f".{part}" for part in parts)
    missing = _REQUIRED.match(message)
    return f"{where}.{missing['name']}" if missing else where


def validate(
    instance: Any, schema: Mapping[str, Any], *, writing: bool
) -> Iterator[tuple[str, str]]:
    """Yield ``(path, message)`` for each way ``instance`` breaks ``schema``.

    Args:
        instance: the decoded JSON.
        schema: a schema; its ``$ref``s resolve in the spec (``{"$ref": pointer(...)}``
            checks against a part of the spec).
        writing: a request body (``readOnly`` fields forbidden) rather than an answer
            (``writeOnly`` fields forbidden).
    """
    cls = OAS30WriteValidator if writing else OAS30ReadValidator
    validator = cls(dict(schema), registry=_registry(), format_checker=oas30_format_checker)
    for error in validator.iter_errors(instance):
        yield _where(error.absolute_path, error.message), error.message


def pointer(json_pointer: str) -> dict[str, str]:
    """A schema that is the part of the spec at ``json_pointer`` (``/components/...``)."""
    return {"$ref": f"{_SPEC_URI}#{json_pointer}"}


def undeclared_fields(
    spec: Mapping[str, Any], schema: Mapping[str, Any], instance: Any, where: str = "$"
) -> Iterator[str]:
    """Yield the JSON path of each object key ``schema`` does not declare.

    The spec's request schemas allow any extra key (no ``additionalProperties``), so a
    field the client sends that the spec does not know passes validation silently: this
    lists them, so each one is accounted for. ``allOf`` parts are merged; ``oneOf`` and
    ``anyOf`` are not descended into.
    """
    schema = _resolve(spec, schema)
    if isinstance(instance, list):
        items = schema.get("items")
        if isinstance(items, Mapping):
            for item in instance:
                yield from undeclared_fields(spec, items, item, f"{where}[*]")
        return
    if not isinstance(instance, dict):
        return
    declared: dict[str, Mapping[str, Any]] = {}
    for part in [schema, *schema.get("allOf", [])]:
        declared.update(_resolve(spec, part).get("properties", {}))
    if not declared and ("anyOf" in schema or "oneOf" in schema):
        return
    if schema.get("additionalProperties") not in (None, False) and not declared:
        return  # a free-form mapping (metadata ...)
    for key, value in instance.items():
        if key not in declared:
            yield f"{where}.{key}"
        else:
            yield from undeclared_fields(spec, declared[key], value, f"{where}.{key}")


def _request_schema(operation: Operation) -> str | None:
    content = operation.body.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return None
    return f"{operation.pointer}/requestBody/content/application~1json/schema"


def check_request(
    spec: Mapping[str, Any], operation: Operation, query: Mapping[str, str], body: Any
) -> Iterator[Finding]:
    """Check a request's query parameters and JSON body against its operation."""

    def finding(kind: str, detail: str, message: str) -> Finding:
        return Finding(operation.method, operation.template, kind, detail, message)

    declared = {p["name"]: p for p in operation.parameters if p.get("in") == "query"}
    for name in query:
        if name not in declared:
            yield finding("query", name, f"query parameter {name!r} is not in the spec")
    for name, parameter in declared.items():
        if parameter.get("required") and name not in query:
            yield finding("query", name, f"required query parameter {name!r} is missing")
    schema_at = _request_schema(operation)
    request_body = operation.body.get("requestBody", {})
    if schema_at is None:
        if body is not None:
            yield finding("request-body", "$", "a body was sent; the operation takes none")
        return
    if body is None:
        if request_body.get("required"):
            yield finding("request-body", "$", "the operation requires a JSON body; none sent")
        return
    for where, message in validate(body, pointer(schema_at), writing=True):
        yield finding("request-body", where, message)
    schema = request_body["content"]["application/json"]["schema"]
    for field in undeclared_fields(spec, schema, body):
        yield finding("request-field", field, f"{field} is not a field the spec declares")


def check_response(operation: Operation, status: int, body: Any) -> Iterator[Finding]:
    """Check an answer's status and JSON body against its operation's responses."""

    def finding(kind: str, detail: str, message: str) -> Finding:
        return Finding(operation.method, operation.template, kind, detail, message)

    responses = operation.body.get("responses", {})
    key = str(status) if str(status) in responses else "default"
    if key not in responses:
        yield finding("status", str(status), f"status {status} is not among {sorted(responses)}")
        return
    content = responses[key].get("content", {})
    if "application/json" not in content:
        if body is not None:
            yield finding("response", f"{status} $", f"status {status} documents no body")
        return
    schema_at = f"{operation.pointer}/responses/{key}/content/application~1json/schema"
    yield from check_answer(operation.method, operation.template, status, body, pointer(schema_at))


def check_answer(
    method: str, template: str, status: int, body: Any, schema: Mapping[str, Any]
) -> Iterator[Finding]:
    """Check an answer's JSON body against ``schema`` (the spec's, or a stand-in)."""
    for where, message in validate(body, schema, writing=False):
        yield Finding(method, template, "response", f"{status} {where}", message)
