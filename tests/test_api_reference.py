"""api.md against the code: every public name is there, once, with the code's parameters.

api.md is a reference by resource, made of tables. In each table row the first cell names
what the row documents: a call (``batches.get(batch_id)``, ``ProlificClient(token=None,
*, ...)``), an attribute (``fake.batches``) or a bare public name (``Batch``). The first
backticked span of that cell is the row's *subject*. Receivers are spelled the same way
everywhere: ``client.`` for ``ProlificClient``, ``batches.`` (or ``client.batches.``) and
``datasets.`` for the resources, ``fake.`` for ``FakeProlific``; a dotted path starting
``prolific_async`` is imported.

The tests check that:

* every name in the ``__all__`` of the public modules, and every public attribute of
  ``ProlificClient``, ``client.batches``, ``client.datasets`` and ``FakeProlific``, is named
  in the first cell of some row;
* no public object is the subject of two rows (one reference, not layers); a subject
  written ``X(...)`` points to X's row and does not count;
* each documented call has the parameters of ``inspect.signature``: the same names in the
  same order, ``*`` where keyword-only ones begin, a default where the code has one (and
  the same default when the doc's is a literal); a call written ``X(...)`` is a mention;
* each ``attrs`` class's row names every field, and every enum member is named.
"""

from __future__ import annotations

import ast
import enum
import functools
import importlib
import inspect
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import attrs
import pytest

from prolific_async import ProlificClient
from prolific_async.resources.batches import BatchesResource
from prolific_async.resources.datasets import DatasetsResource
from prolific_async.testing import FakeProlific

API_MD = Path(__file__).resolve().parent.parent / "api.md"
PUBLIC_MODULES = (
    "prolific_async",
    "prolific_async.models",
    "prolific_async.errors",
    "prolific_async.bulk",
    "prolific_async.testing",
    "prolific_async.cli",
)
#: How api.md spells each receiver, and the class its members are looked up on.
RECEIVERS: dict[str, type] = {
    "client.batches": BatchesResource,
    "client.datasets": DatasetsResource,
    "batches": BatchesResource,
    "datasets": DatasetsResource,
    "client": ProlificClient,
    "fake": FakeProlific,
}
#: The classes whose every public attribute must have a row, by receiver.
MEMBER_CLASSES = {"client": ProlificClient, "batches": BatchesResource}
MEMBER_CLASSES |= {"datasets": DatasetsResource, "fake": FakeProlific}

SPAN = re.compile(r"`([^`]+)`")
CALL = re.compile(r"^(?P<target>[A-Za-z_][\w.]*)\((?P<args>.*)\)$", re.DOTALL)
LEADING_NAME = re.compile(r"^[A-Za-z_][\w.]*")


@dataclass(frozen=True)
class Row:
    """One table row of api.md: its line number, first cell and whole text."""

    line: int
    first_cell: str
    text: str

    @property
    def spans(self) -> list[str]:
        """The backticked spans of the first cell."""
        return SPAN.findall(self.first_cell)


def table_rows(text: str) -> list[Row]:
    """Every body row of every table (headers and separators left out), with its line."""
    rows, lines = [], text.splitlines()
    for number, line in enumerate(lines, 1):
        if not line.startswith("|") or re.fullmatch(r"\|[\s:|-]+\|?", line):
            continue
        following = lines[number] if number < len(lines) else ""
        if re.fullmatch(r"\|[\s:|-]+\|?", following):  # a header: the separator follows
            continue
        cells = re.split(r"(?<!\\)\|", line)[1:]
        rows.append(Row(number, cells[0].strip(), line))
    return rows


ROWS = table_rows(API_MD.read_text())


def public_names() -> dict[str, Any]:
    """Every name in a public module's ``__all__``, with its object."""
    names: dict[str, Any] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        for module_name in PUBLIC_MODULES:
            module = importlib.import_module(module_name)
            for name in module.__all__:
                names.setdefault(name, getattr(module, name))
    return names


PUBLIC = public_names()


class Unresolved(LookupError):
    """A documented target that names no object of the code."""


def resolve(target: str) -> tuple[str, Any] | None:
    """The canonical key and object ``target`` names, or ``None`` if it is no API name.

    Raises:
        Unresolved: ``target`` starts with a known receiver or name but the rest of it
            names nothing.
    """
    for receiver, cls in RECEIVERS.items():
        if target.startswith(receiver + "."):
            owner: Any = cls
            rest = target[len(receiver) + 1 :].split(".")
            key = f"{cls.__name__}.{'.'.join(rest)}"
            break
    else:
        head, *rest = target.split(".")
        if head in PUBLIC:
            owner, key = PUBLIC[head], target
        elif head == "prolific_async":
            owner, rest, key = _import_longest(target)
        else:
            return None
    for name in rest:
        if isinstance(owner, property | functools.cached_property):
            break  # what a property returns is not known statically
        if not hasattr(owner, name):
            raise Unresolved(target)
        owner = inspect.getattr_static(owner, name)
        if isinstance(owner, staticmethod | classmethod):
            owner = owner.__func__
    return key, owner


def _import_longest(target: str) -> tuple[Any, list[str], str]:
    """The longest importable module prefix of ``target``, and the names after it."""
    parts = target.split(".")
    for end in range(len(parts), 0, -1):
        try:
            module = importlib.import_module(".".join(parts[:end]))
        except ImportError:
            continue
        return module, parts[end:], target
    raise Unresolved(target)


def mentioned() -> set[str]:
    """Every dotted name in a first-cell span of a row, and each run of its parts."""
    names: set[str] = set()
    for row in ROWS:
        for span in row.spans:
            for dotted in re.findall(r"[A-Za-z_][\w.]*", span):
                parts = dotted.split(".")
                n = len(parts)
                names.update(".".join(parts[i:j]) for i in range(n) for j in range(i + 1, n + 1))
    return names


MENTIONED = mentioned()


def subjects() -> Iterator[tuple[Row, str, Any]]:
    """Each row whose subject is an API object: the row, the object's key, the object."""
    for row in ROWS:
        if not row.spans:
            continue
        leading = LEADING_NAME.match(row.spans[0])
        call = CALL.match(row.spans[0])
        if leading is None or (call is not None and call.group("args") == "..."):
            continue  # `X(...)` points to the row that documents X
        resolved = resolve(leading.group(0).rstrip("."))
        if resolved is not None:
            yield row, *resolved


def test_every_public_name_of_the_public_modules_has_a_row() -> None:
    """Every name in the public modules' __all__ is named in the first cell of a row."""
    missing = sorted(name for name in PUBLIC if name not in MENTIONED)
    assert not missing, f"api.md has no row naming these public names: {missing}"


@pytest.mark.parametrize("receiver", sorted(MEMBER_CLASSES))
def test_every_public_member_has_a_row(receiver: str) -> None:
    """Every public method and property of the client, resources and fake has a row."""
    cls = MEMBER_CLASSES[receiver]
    members = sorted(name for name in dir(cls) if not name.startswith("_"))
    missing = [f"{receiver}.{name}" for name in members if f"{receiver}.{name}" not in MENTIONED]
    assert not missing, f"api.md has no row naming these members of {cls.__name__}: {missing}"


def test_every_documented_target_exists() -> None:
    """A first-cell call or name on a known receiver or public name names a real object."""
    unknown = []
    for row in ROWS:
        for span in row.spans:
            call = CALL.match(span)
            if call is None:
                continue
            try:
                resolve(call.group("target"))
            except Unresolved:
                unknown.append(f"line {row.line}: {span[:60]}")
    assert not unknown, f"api.md documents calls the code does not have: {unknown}"


def test_no_public_object_is_the_subject_of_two_rows() -> None:
    """Each public method or class is documented by one row, not repeated in layers."""
    lines: dict[str, list[int]] = {}
    for row, key, _ in subjects():
        lines.setdefault(key, []).append(row.line)
    repeated = {key: numbers for key, numbers in lines.items() if len(numbers) > 1}
    assert not repeated, f"api.md documents these in more than one row (lines): {repeated}"


def split_arguments(text: str) -> list[str]:
    """``text`` split at its top-level commas (brackets, parentheses and quotes kept)."""
    parts, depth, quote, current = [], 0, "", ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "([{<":
            depth += 1
        elif char in ")]}>":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
            continue
        current += char
    if current.strip():
        parts.append(current.strip())
    return parts


def documented_parameters(args: str) -> list[tuple[str, str, str | None]]:
    """``(name, kind, default text)`` per documented parameter; kind: ``pos``/``kw``/``*``."""
    parameters: list[tuple[str, str, str | None]] = []
    keyword_only = False
    for part in split_arguments(args):
        if part in ("*", "/"):
            keyword_only = keyword_only or part == "*"
            continue
        if part.startswith("**"):
            parameters.append((part[2:], "**", None))
            continue
        if part.startswith("*"):
            parameters.append((part[1:], "*", None))
            keyword_only = True
            continue
        name, _, default = part.partition("=")
        kind = "kw" if keyword_only else "pos"
        parameters.append((name.strip(), kind, default.strip() if default else None))
    return parameters


def code_parameters(obj: Any) -> list[tuple[str, str, Any]]:
    """``(name, kind, default)`` per parameter of ``obj``'s signature (``self`` left out)."""
    kinds = {
        inspect.Parameter.POSITIONAL_ONLY: "pos",
        inspect.Parameter.POSITIONAL_OR_KEYWORD: "pos",
        inspect.Parameter.KEYWORD_ONLY: "kw",
        inspect.Parameter.VAR_POSITIONAL: "*",
        inspect.Parameter.VAR_KEYWORD: "**",
    }
    signature = inspect.signature(obj)
    parameters = list(signature.parameters.values())
    if inspect.isfunction(obj) and parameters and parameters[0].name in ("self", "cls"):
        parameters = parameters[1:]
    return [(p.name, kinds[p.kind], p.default) for p in parameters]


def documented_calls() -> Iterator[tuple[Row, str, Any, str]]:
    """Each first-cell call with its arguments written out: row, span, object, arguments."""
    for row in ROWS:
        for span in row.spans:
            call = CALL.match(span)
            if call is None or "..." in call.group("args"):
                continue
            resolved = resolve(call.group("target"))
            if resolved is not None and callable(resolved[1]):
                yield row, span, resolved[1], call.group("args")


def signature_problems(obj: Any, args: str) -> list[str]:
    """How the documented ``args`` differ from ``obj``'s signature (empty: they agree)."""
    documented = documented_parameters(args)
    actual = code_parameters(obj)
    names = [name for name, _, _ in documented]
    actual_names = [name for name, _, _ in actual]
    if names != actual_names:
        return [f"parameters {names}, the code has {actual_names}"]
    problems = []
    for (name, kind, default), (_, actual_kind, actual_default) in zip(
        documented, actual, strict=True
    ):
        if kind != actual_kind:
            problems.append(f"{name} is {actual_kind} in the code, {kind} here")
        has_default = actual_default is not inspect.Parameter.empty
        if kind in ("*", "**"):
            continue
        if (default is not None) != has_default:
            problems.append(f"{name} {'has' if has_default else 'has no'} default in the code")
            continue
        if default is not None:
            try:
                literal = ast.literal_eval(default)
            except (ValueError, SyntaxError):
                continue  # a default written as prose (`8 MiB`, `<UTC now>`, `...`)
            if literal != actual_default:
                problems.append(f"{name}={default}, the code's default is {actual_default!r}")
    return problems


def test_each_documented_call_has_the_parameters_of_the_code() -> None:
    """A call in a first cell lists the parameters, keyword-only marker and defaults."""
    calls = list(documented_calls())
    assert len(calls) > 40, "the parser found too few calls in api.md"
    wrong = {
        f"line {row.line}: {span.split('(')[0]}": problems
        for row, span, obj, args in calls
        if (problems := signature_problems(obj, args))
    }
    assert not wrong, f"api.md calls that disagree with inspect.signature: {wrong}"


def test_each_attrs_class_row_names_every_field() -> None:
    """The row of a public attrs class names each of its fields (a call lists them)."""
    missing = {}
    for row, key, obj in subjects():
        if not (isinstance(obj, type) and attrs.has(obj)) or key != obj.__name__:
            continue
        if CALL.match(row.spans[0]) and "..." not in row.spans[0]:
            continue  # the call's parameters are the fields, checked above
        absent = [f.name for f in attrs.fields(obj) if not re.search(rf"\b{f.name}\b", row.text)]
        if absent:
            missing[f"line {row.line}: {key}"] = absent
    assert not missing, f"api.md rows missing fields of their class: {missing}"


def test_every_member_of_a_public_enum_is_named() -> None:
    """Each member of every public enum (FaultKind's kinds included) is in api.md."""
    text = API_MD.read_text()
    missing = [
        f"{name}.{member.name}"
        for name, obj in PUBLIC.items()
        if isinstance(obj, type) and issubclass(obj, enum.Enum)
        for member in obj
        if not re.search(rf"`[^`]*\b{member.name}\b[^`]*`", text)
    ]
    assert not missing, f"api.md never names these enum members: {missing}"
