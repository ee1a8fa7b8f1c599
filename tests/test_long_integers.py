"""An integer of more digits than Python reads is refused where it is, not as "not JSON".

``json.loads`` refuses an integer of more than ``sys.get_int_max_str_digits()`` digits
(4,300 by default) with a ``ValueError`` like any unreadable body's; the error names the
field holding it, as it does for an integer beyond 64 bits.
"""

from __future__ import annotations

import sys

import pytest

from prolific_async import CreatedButUnreadableError, ProlificClient, ResponseValidationError
from prolific_async._json import long_integer_at
from prolific_async.testing import FakeProlific

from .test_hostile_answers import BATCH_PATH, CREATE, DETAILS, WS, batch_body, client, fake

__all__ = ["client", "fake"]  # the fixtures, shared with the hostile-answer tests

LONG = "1" + "0" * 5000


@pytest.mark.parametrize("field", ["total_task_count", "unknown_extra"])
@pytest.mark.parametrize("fast", [True, False], ids=["msgspec-first", "stdlib-only"])
async def test_a_batch_with_an_integer_too_long_to_read_names_its_field(
    client: ProlificClient,
    fake: FakeProlific,
    monkeypatch: pytest.MonkeyPatch,
    field: str,
    fast: bool,
) -> None:
    """A 5,001-digit integer in a typed or a free-form field: the error says where it is."""
    if not fast:
        from prolific_async import _body

        monkeypatch.setattr(_body, "quick_loads", lambda _raw: (False, None))
    fake.add_fault("GET", BATCH_PATH, "status", status=200, body=batch_body(**{field: LONG}))
    with pytest.raises(ResponseValidationError) as caught:
        await client.batches.get("b1")
    limit = sys.get_int_max_str_digits()
    assert f"an integer too long to read (over {limit} digits) at $.{field}" in str(caught.value)
    assert caught.value.errors == [f"an integer of over {limit} digits @ $.{field}"]
    assert "not JSON" not in str(caught.value)


async def test_a_created_answer_with_an_integer_too_long_says_no_id_could_be_read(
    client: ProlificClient, fake: FakeProlific
) -> None:
    """A 201 holding one: created, and the message does not claim the answer names no id."""
    fake.add_fault("POST", CREATE, "status", status=201, body=batch_body(total_task_count=LONG))
    with pytest.raises(CreatedButUnreadableError) as caught:
        await client.batches.create(name="b", workspace_id=WS, task_details=DETAILS)
    assert "no id could be read from the answer" in str(caught.value)
    assert "at $.total_task_count" in str(caught.value)


async def test_the_path_to_an_integer_too_long_never_shows_the_token(
    client: ProlificClient, fake: FakeProlific
) -> None:
    """A server that puts the token in the key holding one: the error's path masks it."""
    token = fake.token
    fake.add_fault("GET", BATCH_PATH, "status", status=200, body=batch_body(**{token: LONG}))
    with pytest.raises(ResponseValidationError) as caught:
        await client.batches.get("b1")
    assert token not in str(caught.value)
    assert token not in repr(caught.value.errors)
    assert "***" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "at"),
    [
        ('{"a": 1, "b": [2, {"c": -' + LONG + "}]}", "$.b[1].c"),
        ('{"a": ' + LONG + ', "b": NaN}', "$.a"),  # the first in the text's order
        ("[" + LONG + "]", "$[0]"),
        ('{"a": Infinity, "b": 1e999, "c": ' + LONG + "}", "$.c"),  # only a long integer
        ('{"n": ' + LONG + ', "n": 1}', "$.n"),  # kept under the key repeated after it
        ('{"n": 1, "m": ' + LONG + ', "n": ' + LONG + "}", "$.m"),  # in the text's order
        ('{"a": [' + LONG + ", " + LONG + "]}", "$.a[0]"),  # the first of two
        ('{"a": 1}', None),  # no integer too long
        ('{"a": ' + LONG, None),  # not JSON even with them read
    ],
)
def test_long_integer_at_names_the_first_one_in_document_order(text: str, at: str | None) -> None:
    """The path given is the first too-long integer's; None when there is none to name."""
    assert long_integer_at(text) == at
    assert long_integer_at(text.encode()) == at


async def test_a_body_that_is_not_json_is_not_searched_for_a_long_integer(
    client: ProlificClient, fake: FakeProlific, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only a body refused for an integer's digits is read again to find it (that is slow)."""
    from prolific_async import _body

    searched: list[bytes] = []
    monkeypatch.setattr(_body, "long_integer_at", lambda raw: searched.append(raw))
    fake.add_fault("GET", BATCH_PATH, "status", status=200, body='{"id": "b1", oops')
    with pytest.raises(ResponseValidationError, match="not JSON"):
        await client.batches.get("b1")
    assert searched == []
