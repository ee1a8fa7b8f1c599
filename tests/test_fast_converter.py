"""The fast decoding path accepts exactly what the detailed converter accepts, equal.

``structure_response`` tries the fast converter first and falls back to the detailed one
(which words the error) on any failure: the two must agree on every payload. Each spec
case and fixture is read both ways, and so is every variant with one value replaced
(``null``, a wrong type, a lone surrogate, an unknown key beside it).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest

from prolific_async._body import structure_response
from prolific_async._converter import converter
from prolific_async._fast_converter import fast_structure
from prolific_async._listing import BatchListing
from prolific_async.errors import ResponseValidationError
from prolific_async.models import Batch, Page

from .conftest import FIXTURES
from .test_spec_payloads import SPEC_CASES

REPLACEMENTS: tuple[Any, ...] = (None, True, 1, 2**64, 1.5, float("inf"), "x", "\ud800", [], {})


def _cases() -> Iterator[tuple[str, Any, Any]]:
    yield from SPEC_CASES
    batch = json.loads((FIXTURES / "get_batch_200.json").read_text())
    layout = json.loads((FIXTURES / "layout_every_item_type.json").read_text())
    yield "fixture batch", Batch, batch
    yield "fixture layout", list[Page], layout
    yield "fixture batch with layout", Batch, {**batch, "batch_items": layout}
    yield "listing", BatchListing, {"results": [batch], "meta": {"count": 1}}


def _variants(data: Any) -> Iterator[Any]:
    """``data`` with one value replaced, or one unknown key added, at every place."""
    paths: list[list[Any]] = []

    def walk(value: Any, path: list[Any]) -> None:
        if isinstance(value, dict):
            paths.append([*path, "<new>"])
            for key, item in value.items():
                paths.append([*path, key])
                walk(item, [*path, key])
        elif isinstance(value, list):
            for index, item in enumerate(value):
                paths.append([*path, index])
                walk(item, [*path, index])

    walk(data, [])
    for path in paths:
        for replacement in REPLACEMENTS:
            variant = copy.deepcopy(data)
            target = variant
            for step in path[:-1]:
                target = target[step]
            target["surprise" if path[-1] == "<new>" else path[-1]] = replacement
            yield variant
        parent = copy.deepcopy(data)
        target = parent
        for step in path[:-1]:
            target = target[step]
        if isinstance(target, dict) and path[-1] in target:
            del target[path[-1]]
            yield parent


def _detailed(data: Any, cls: Any) -> tuple[bool, Any]:
    try:
        return True, converter.structure(data, cls)
    except Exception as exc:
        return False, exc


def _fast(data: Any, cls: Any) -> tuple[bool, Any]:
    try:
        return True, fast_structure(data, cls)
    except Exception as exc:
        return False, exc


@pytest.mark.parametrize(("name", "cls", "payload"), list(_cases()), ids=lambda v: str(v)[:40])
def test_the_fast_path_agrees_with_the_detailed_converter(
    name: str, cls: Any, payload: Any
) -> None:
    """Every variant of a payload is read alike both ways: equal objects, or both fail."""
    for variant in [payload, *_variants(payload)]:
        ok, expected = _detailed(variant, cls)
        fast_ok, got = _fast(variant, cls)
        if ok and not fast_ok:
            # Allowed (the detailed converter then reads it), but only as a rare path.
            continue
        assert fast_ok == ok, (name, variant, got)
        if ok:
            assert got == expected, (name, variant)


def test_a_failure_is_worded_by_the_detailed_converter() -> None:
    """A wrong field fails with the detailed converter's message and path, as before."""
    batch = json.loads((FIXTURES / "get_batch_200.json").read_text())
    batch["total_task_count"] = "12"
    with pytest.raises(ResponseValidationError) as caught:
        structure_response(batch, Batch, status_code=200, method="GET", url="http://h/b")
    assert caught.value.errors == ["invalid value for type, expected int @ $.total_task_count"]
