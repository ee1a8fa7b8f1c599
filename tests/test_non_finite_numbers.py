"""NaN, Infinity and 1e999 are no JSON numbers: refused as they are read, never sent.

``json.loads`` reads them as floats; kept in a free-form field (an unknown key, a layout
item's raw JSON) they would be sent back as ``Infinity``, which no JSON server reads.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from prolific_async import ProlificClient, ResponseValidationError
from prolific_async._body import APIResponse
from prolific_async._json import dumps
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
    assert "with a number JSON cannot carry" in str(caught.value)
    assert caught.value.errors == [
        "body holds NaN, Infinity or a number beyond a float's range @ $"
    ]


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
