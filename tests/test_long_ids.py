"""A long id (a caller's, or one a server gave) is cut to 200 characters in a message."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from prolific_async import (
    Batch,
    BatchStatus,
    CreateBatchRequest,
    ProlificClient,
    ReconciliationError,
    TaskDetails,
    errors,
)
from prolific_async._bulk_answers import claimed_answer, foreign_answer
from prolific_async._job_errors import ProvisionError
from prolific_async._json import MAX_LISTED, MAX_SHOWN, shortened, shortened_repr, shortened_url
from prolific_async._listing import BatchListing
from prolific_async._manifest import ManifestError, parse_line, validate_manifest
from prolific_async._reconcile import MatchKey, Reconciler, reconcile_seconds
from prolific_async._reconcile_listing import Listings
from prolific_async._resource import UnusableIdError, path_id, require_str

from .conftest import BATCHES_PATH, MOCKED_BASE

LONG = "x" * 5000
CUT = "x" * MAX_SHOWN + "..."
FAST: dict[str, Any] = {"poll_interval": 0.001, "max_poll_interval": 0.002}
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RECONCILE_DETAILS = TaskDetails(task_name="Rate", task_introduction="<p>Hi</p>", task_steps="-")


async def _no_listing(workspace_id: str) -> list[Batch]:
    raise AssertionError("decide() must not list")


def _batch(batch_id: str, workspace_id: str, created_at: datetime) -> Batch:
    return Batch(
        id=batch_id,
        created_at=created_at,
        created_by="user",
        datasets=[],
        name="same",
        status=BatchStatus.UNINITIALISED,
        total_task_count=0,
        total_instruction_count=0,
        workspace_id=workspace_id,
        task_details=RECONCILE_DETAILS,
    )


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
    assert shortened_repr("x" * MAX_SHOWN) == repr("x" * MAX_SHOWN)  # quotes aside
    assert shortened_repr("x" * 201) == f"'{'x' * MAX_SHOWN}...' (201 characters)"
    assert shortened_repr(LONG) == f"'{'x' * MAX_SHOWN}...' (5000 characters)"
    assert shortened_repr(b"y" * 5000) == f"b'{'y' * 199}...' (5000 bytes)"
    quoted = shortened_repr("it's " * 1000)  # repr picks double quotes: kept as it picked
    assert quoted.startswith("\"it's ")
    assert quoted.endswith('..." (5000 characters)')
    escaped = shortened_repr("\x00" * 5000)  # 4 characters of repr each: none split
    assert escaped == "'" + "\\x00" * 50 + "...' (5000 characters)"
    assert shortened_repr([1] * 3000) == shortened(repr([1] * 3000))


def test_a_distrusted_answer_quotes_long_values_cut_and_closed() -> None:
    """Claimed and foreign 201 errors show a 5,000-character id or name cut, quotes kept."""
    shown = f"'{'x' * MAX_SHOWN}...' (5000 characters)"
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


# -- caller values in the manifest's and the reconciler's messages -----------------------

SHOWN = f"'{'x' * MAX_SHOWN}...' (5000 characters)"
MANIFEST_DETAILS = {"task_name": "Rate", "task_introduction": "Intro", "task_steps": "Steps"}
MANIFEST_CREATE = {"name": "B", "workspace_id": "ws", "task_details": MANIFEST_DETAILS}


def assert_cut(message: str) -> None:
    assert "x" * (MAX_SHOWN + 1) not in message
    assert len(message) < 4 * MAX_SHOWN, message


@pytest.mark.parametrize(
    "fields",
    [
        {**MANIFEST_CREATE, LONG: 1},
        {"duplicate_of": "b1", LONG: 1},
        {**MANIFEST_CREATE, "task_details": {**MANIFEST_DETAILS, LONG: 1}},
        {"duplicate_of": "b1", "upload_new_dataset": LONG},
        {**MANIFEST_CREATE, "name": [LONG]},
        {**MANIFEST_CREATE, "workspace_id": [1] * 5000},
    ],
    ids=["create-field", "duplicate-field", "detail-field", "flag", "name", "workspace"],
)
def test_a_manifest_line_quotes_a_long_value_cut(fields: dict[str, Any]) -> None:
    """A 5,000-character field name or value of a bad manifest line is cut in the message."""
    with pytest.raises(ValueError) as caught:  # noqa: PT011 (the message is the point)
        parse_line(json.dumps(fields))
    message = str(caught.value)
    assert_cut(message)
    assert SHOWN in message or "..." in message


def test_a_long_manifest_key_given_twice_is_cut(tmp_path: Path) -> None:
    """A 5,000-character key used twice, or a field given twice, is cut; the path is cut too."""
    line = json.dumps({**MANIFEST_CREATE, "key": LONG})
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(f"{line}\n{line}\n")
    (problem,) = validate_manifest(manifest).problems
    assert str(problem) == f"{manifest}:2: key {SHOWN} already used on line 1"
    twice = '{"%s": 1, "%s": 2}' % (LONG, LONG)  # noqa: UP031 (JSON braces)
    with pytest.raises(ValueError, match="given twice") as caught:
        parse_line(twice)
    assert str(caught.value) == f"the field {SHOWN} is given twice"
    error = ManifestError(f"/data/{LONG}/m.jsonl", 3, "bad")
    assert str(error) == f"/data/{CUT}/m.jsonl:3: bad"
    assert error.path == f"/data/{LONG}/m.jsonl"


def test_a_reconciliation_failure_cuts_a_long_workspace_and_ids() -> None:
    """Too many candidates, or a look-alike, in a 5,000-character workspace: ids and it are cut."""
    key = MatchKey.of_request(CreateBatchRequest("same", LONG, RECONCILE_DETAILS))
    member = SimpleNamespace(index=0, started_at=T0, last_sent_at=T0)
    ids = [f"{i}{LONG}" for i in range(12)]
    run = Reconciler(_no_listing, margin=timedelta(seconds=10), delay=timedelta(0))
    listing = [_batch(batch_id, LONG, T0) for batch_id in ids]
    error = run.decide(key, [member], listing)[0]  # type: ignore[list-item]
    assert isinstance(error, ReconciliationError)
    message = str(error)
    assert "x" * (MAX_SHOWN + 1) not in message
    assert len(message) < (MAX_LISTED + 2) * (MAX_SHOWN + 30)  # ten ids shown, each cut
    assert f"in workspace {SHOWN} match 1" in message
    assert "... (12 in all)]" in message
    assert error.candidates == sorted(ids)  # the attribute keeps them whole


async def test_a_partial_listing_of_a_long_workspace_is_cut() -> None:
    """A listing that links on for ever, of a 5,000-character workspace: both are cut."""

    async def listing(workspace_id: str) -> BatchListing:
        return BatchListing(results=[], next=f"https://api.test/batches?cursor={LONG}")

    key = MatchKey.of_request(CreateBatchRequest("same", LONG, RECONCILE_DETAILS))
    error = await Listings(listing, delay=timedelta(0)).whole(key, not_before=T0)
    assert isinstance(error, ReconciliationError)
    message = str(error)
    assert LONG not in message
    assert f"the listing of workspace {SHOWN} said it was incomplete" in message
    assert "it links to more results ('https://api.test/batches?cursor=xxx" in message


@pytest.mark.parametrize("value", [LONG, 10**5000], ids=["text", "huge-int"])
def test_a_long_reconcile_delay_is_cut_in_its_refusal(value: object) -> None:
    """reconcile_delay of 5,000 characters, or a 5,000-digit integer, is refused, cut."""
    with pytest.raises(ValueError, match="reconcile_delay must be") as caught:
        reconcile_seconds("reconcile_delay", value)  # type: ignore[arg-type]
    assert len(str(caught.value)) < 2 * MAX_SHOWN
