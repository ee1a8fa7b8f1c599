"""NaN, Infinity and 1e999 are no JSON numbers: refused as they are read, never sent.

``json.loads`` reads them as floats; kept in a free-form field (an unknown key, a layout
item's raw JSON) they would be sent back as ``Infinity``, which no JSON server reads.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from prolific_async import ProlificClient, ResponseValidationError
from prolific_async._body import APIResponse
from prolific_async._json import dumps, non_finite_at, non_finite_in
from prolific_async.testing import FakeProlific

from .test_hostile_answers import BATCH_PATH, batch_body, client, fake

__all__ = ["client", "fake"]  # the fixtures, shared with the hostile-answer tests


@pytest.mark.parametrize("number", ["1e999", "-1e999", "NaN", "Infinity", "[1, -Infinity]"])
@pytest.mark.parametrize("fast", [True, False], ids=["msgspec-first", "stdlib-only"])
async def test_a_non_finite_number_in_a_free_form_field_is_refused(
    client: ProlificClient,
    fake: FakeProlific,
    monkeypatch: pytest.MonkeyPatch,
    number: str,
    fast: bool,
) -> None:
    """A batch with 1e999 or NaN under a key no model types: ResponseValidationError."""
    if not fast:
        from prolific_async import _body

        monkeypatch.setattr(_body, "quick_loads", lambda _raw: (False, None))
    body = batch_body(unknown_extra=number)
    fake.add_fault("GET", BATCH_PATH, "status", status=200, body=body)
    with pytest.raises(ResponseValidationError) as caught:
        await client.batches.get("b1")
    at = "$.unknown_extra[1]" if number.startswith("[") else "$.unknown_extra"
    assert f"with a number JSON cannot carry at {at} (" in str(caught.value)
    assert caught.value.errors == [f"NaN, Infinity or a number beyond a float's range @ {at}"]


async def test_the_path_to_a_non_finite_number_never_shows_the_token(
    client: ProlificClient, fake: FakeProlific
) -> None:
    """A server that puts the token in the key holding NaN: the error's path masks it."""
    token = fake.token
    fake.add_fault("GET", BATCH_PATH, "status", status=200, body=batch_body(**{token: "NaN"}))
    with pytest.raises(ResponseValidationError) as caught:
        await client.batches.get("b1")
    assert token not in str(caught.value)
    assert token not in repr(caught.value.errors)
    assert "cannot carry at $" in str(caught.value)
    assert "***" in str(caught.value)  # the key, masked (quoted or not, as it begins)


@pytest.mark.parametrize(
    ("text", "at"),
    [
        ('{"a": 1, "b": [1, 2.5, {"c d": NaN}], "z": Infinity}', '$.b[2]["c d"]'),
        ("[1e999]", "$[0]"),
        ('{"x": {"y": -Infinity}}', "$.x.y"),
        ("NaN", "$"),
        ('{"a": NaN', "$"),  # unreadable even with the numbers let through
    ],
)
def test_non_finite_at_names_the_first_such_number_in_document_order(text: str, at: str) -> None:
    """The path given is the first non-finite number's, read as the document runs."""
    assert non_finite_at(text) == at
    assert non_finite_at(text.encode()) == at


def test_non_finite_at_cuts_a_deep_path_and_still_finds_the_number() -> None:
    """A number 300 objects deep: found, its path cut to a bounded length with '...'."""
    at = non_finite_at('{"a": ' * 300 + "NaN" + "}" * 300)
    assert at.startswith("$.a.a.a")
    assert at.endswith("...")
    assert len(at) <= 210


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
async def test_a_body_with_a_non_finite_float_is_refused_before_it_is_sent(
    client: ProlificClient, fake: FakeProlific, value: float
) -> None:
    """A request body holding inf or nan: a ValueError, and no request reaches the server."""
    body: dict[str, Any] = {"name": "n", "extra": {"score": value}}
    with pytest.raises(ValueError, match=r"a number JSON cannot carry.*nothing was sent"):
        await client.request(
            "POST", "/api/v1/data-collection/batches", cast_to=APIResponse, body=body
        )
    assert fake.requests == []


def test_dumps_refuses_only_non_finite_numbers() -> None:
    """Finite floats serialise as json.dumps does; a circular value keeps its own error."""
    assert dumps({"a": 1.5, "b": [1e300]}) == '{"a": 1.5, "b": [1e+300]}'
    looped: list[Any] = []
    looped.append(looped)
    with pytest.raises(ValueError, match="Circular reference"):
        dumps(looped)


async def test_a_bulk_request_holding_nan_is_refused_by_index_before_it_is_journaled(
    fake: FakeProlific, tmp_path: Path
) -> None:
    """create_many: a request whose layout holds nan is a ValueError naming it and the path."""
    from prolific_async import CreateBatchRequest, Journal, TaskDetails
    from prolific_async.models.layout import Column, FreeTextItem, Page, Row, ValidationRule

    details = TaskDetails(task_name="t", task_introduction="i", task_steps="s")
    rule = ValidationRule(type="number", min=math.nan)
    page = Page(
        rows=[Row(columns=[Column(items=[FreeTextItem(description="d", validation=rule)])])]
    )
    bad = CreateBatchRequest("bad", "ws", details, batch_items=[page])
    journal = Journal(tmp_path / "run.db")
    async with fake.client() as client:
        with pytest.raises(
            ValueError, match=r"request 0 holds a number JSON cannot carry at "
        ) as caught:
            async for _ in client.batches.create_many([bad], journal=journal):
                pass
    assert ".validation.min" in str(caught.value)
    assert fake.requests == []
    with journal.reading(None) as recorded:
        assert recorded.get(0) is None


class _Float(float):
    pass


class _Dict(dict[str, Any]):
    pass


@pytest.mark.parametrize(
    ("value", "at"),
    [
        ({"name": "x", "n": 1, "ok": True, "none": None}, None),
        ({"a": [1, "b", {"c": [2.5, (3, math.inf)]}]}, "$.a[2].c[1][1]"),
        ({"a": _Float("nan")}, "$.a"),
        (_Dict(a=[-math.inf]), "$.a[0]"),
        ([{"x": 1.0}, (math.nan,)], "$[1][0]"),
        ({"a": {1, 2}, "b": b"raw"}, None),
    ],
    ids=["plain", "nested", "float-subclass", "dict-subclass", "tuple", "other-types"],
)
def test_non_finite_in_finds_the_number_in_any_json_ready_shape(value: Any, at: str | None) -> None:
    """A NaN or an infinity at any depth of dicts, lists and tuples (subclasses too) is found."""
    assert non_finite_in(value) == at
