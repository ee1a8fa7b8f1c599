"""A long id (a caller's, or one a server gave) is cut to 200 characters in a message."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from prolific_async import ProlificClient, errors
from prolific_async._bulk_answers import claimed_answer, foreign_answer
from prolific_async._job_errors import ProvisionError
from prolific_async._json import MAX_SHOWN, shortened, shortened_repr, shortened_url
from prolific_async._resource import UnusableIdError, path_id, require_str

from .conftest import BATCHES_PATH, MOCKED_BASE

LONG = "x" * 5000
CUT = "x" * MAX_SHOWN + "..."
FAST: dict[str, Any] = {"poll_interval": 0.001, "max_poll_interval": 0.002}


def test_shortened_keeps_200_characters_and_marks_the_cut() -> None:
    """Text up to 200 characters is kept whole; longer text keeps 200 and an ellipsis."""
    assert MAX_SHOWN == 200
    assert shortened("x" * 200) == "x" * 200
    assert shortened(LONG) == CUT


def test_shortened_url_cuts_each_long_part_only() -> None:
    """A URL's long path segment or query value is cut; the rest of the URL is kept."""
    url = f"https://api.test/batches/{LONG}/export?workspace_id={LONG}&page=2"
    assert shortened_url(url) == f"https://api.test/batches/{CUT}/export?workspace_id={CUT}&page=2"
    short = f"https://api.test/batches/{'y' * 200}/export"
    assert shortened_url(short) == short


def test_shortened_repr_keeps_the_quotes_of_a_cut_string() -> None:
    """A long string's repr is cut inside its quotes and says its length; a short one is whole."""
    assert shortened_repr("x" * 198) == repr("x" * 198)
    assert shortened_repr(LONG) == f"'{'x' * 198}...' (5000 characters)"
    assert shortened_repr(b"y" * 5000) == f"b'{'y' * 197}...' (5000 bytes)"
    quoted = shortened_repr("it's " * 1000)  # repr picks double quotes: kept as it picked
    assert quoted.startswith("\"it's ")
    assert quoted.endswith('..." (5000 characters)')
    escaped = shortened_repr("\x00" * 5000)  # 4 characters of repr each: none split
    assert escaped == "'" + "\\x00" * 49 + "...' (5000 characters)"
    assert shortened_repr([1] * 3000) == shortened(repr([1] * 3000))


def test_a_distrusted_answer_quotes_long_values_cut_and_closed() -> None:
    """Claimed and foreign 201 errors show a 5,000-character id or name cut, quotes kept."""
    shown = f"'{'x' * 198}...' (5000 characters)"
    claimed = claimed_answer(0, LONG, "https://api.test/batches")
    assert f"batch {shown}, " in str(claimed)
    assert claimed.errors == [f"$.id: {shown} is already claimed"]
    held = SimpleNamespace(id=LONG, name=LONG, workspace_id=LONG)  # what the message reads
    foreign = str(foreign_answer(0, held, held, "https://api.test/batches"))  # type: ignore[arg-type]
    assert foreign.count(shown) == 5
    assert "x" * (MAX_SHOWN + 1) not in foreign


@pytest.mark.parametrize("check", [path_id, require_str])
def test_an_unusable_argument_is_cut_in_the_message(check: Any) -> None:
    """An id argument refused before sending quotes at most 200 characters of it."""
    with pytest.raises(ValueError, match="batch_id must be a non-empty string") as caught:
        check([1] * 3000, "batch_id")
    message = str(caught.value)
    assert message.endswith("...")
    assert len(message) < MAX_SHOWN + 50
    assert isinstance(caught.value, UnusableIdError) == (check is path_id)


async def test_a_long_id_the_server_refuses_is_cut_in_the_message(
    prolific_client: ProlificClient,
) -> None:
    """A 5,000-character batch id answered 404 is cut in the message; the url keeps it whole."""
    with pytest.raises(errors.NotFoundError) as caught:
        await prolific_client.batches.get(LONG)
    assert f"/batches/{CUT} failed with 404" in str(caught.value)
    assert "x" * (MAX_SHOWN + 1) not in str(caught.value)
    assert caught.value.url.endswith(f"/batches/{LONG}")


async def test_a_long_id_in_an_answer_is_cut_in_the_failure(
    mocked_client: ProlificClient, mocked: Any
) -> None:
    """An export id the server gave, quoted in the failure, is cut; the attribute keeps it."""
    export = f"{MOCKED_BASE}{BATCHES_PATH}/b1/export/{LONG}"
    mocked.get(export, payload={"status": "failed", "export_id": LONG})
    with pytest.raises(errors.ExportFailedError) as caught:
        await mocked_client.batches.wait_for_export("b1", LONG, timeout=5, **FAST)
    assert str(caught.value) == f"Export {CUT} of batch b1 failed; request a new one"
    assert caught.value.export_id == LONG


def test_a_long_id_of_what_was_made_is_cut_in_a_provision_error() -> None:
    """A provisioning failure names what was made before it with its id cut."""

    class Made:
        id = LONG

    error = ProvisionError.at("upload dataset", ValueError("refused"), dataset=Made())
    assert str(error) == f"upload dataset failed: refused; already made: dataset {CUT}"


def test_a_created_answer_naming_a_long_claimed_or_foreign_id_is_cut() -> None:
    """A 201 naming a held or foreign batch by a 5,000-character id quotes 200 of it."""
    from datetime import UTC, datetime

    from prolific_async import Batch, CreateBatchRequest, TaskDetails
    from prolific_async._bulk_answers import claimed_answer, foreign_answer
    from prolific_async._match_key import MatchKey

    details = TaskDetails(task_name="t", task_introduction="", task_steps="")
    request = CreateBatchRequest("n", "w", details)
    claimed = claimed_answer(0, LONG, "http://x/b")
    batch = Batch(
        id=LONG,
        created_at=datetime.now(UTC),
        created_by="u",
        datasets=[],
        name=LONG,
        status="UNINITIALISED",
        total_task_count=0,
        total_instruction_count=0,
        workspace_id=LONG,
        task_details=details,
    )
    foreign = foreign_answer(0, batch, MatchKey.of_request(request), "http://x/b")
    for error in (claimed, foreign):
        assert LONG not in str(error)
        assert len(str(error)) < 1000  # each long value cut to its first 200 characters
    assert LONG not in claimed.errors[0]
