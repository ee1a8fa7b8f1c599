"""prolific-async journal show|export|import, and one run per journal across processes."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from prolific_async.testing import FakeProlific

from ..conftest import wait_until
from ..test_journal_request_ids import as_format_2, user_version
from .conftest import DETAILS, WS, RunCli, creates, spawn_cli, stall_creates, write_manifest


@pytest.fixture
async def fake() -> AsyncIterator[FakeProlific]:
    async with FakeProlific(seed=5) as emulator:
        yield emulator


def posts(fake: FakeProlific) -> int:
    return sum(1 for request in fake.requests if request.method == "POST")


async def test_a_second_process_on_the_same_journal_exits_2_naming_the_first(
    fake: FakeProlific, cli: RunCli, tmp_path: Path
) -> None:
    """While one provision holds the journal, another is refused at once and sends nothing."""
    stalled = stall_creates(fake)
    manifest = write_manifest(tmp_path / "m.jsonl", creates(6))
    journal = tmp_path / "j.journal"
    first = await spawn_cli(
        fake,
        "provision",
        manifest,
        "--journal",
        journal,
        "--no-progress",
        "--concurrency",
        "2",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await wait_until(lambda: stalled.fired == 2, seconds=30)  # mid-run, holding the lock
        sent = posts(fake)
        code, _, err = await cli("provision", manifest, "--journal", journal, "--no-progress")
        assert code == 2
        assert f"in use by another run (process {first.pid})" in err
        assert posts(fake) == sent
        code, out, _ = await cli("journal", "show", journal)
        assert code == 0
        assert f"In use now by another run (process {first.pid})" in out
    finally:
        if first.returncode is None:
            first.kill()
        await first.wait()


async def test_show_and_export_describe_a_run(
    fake: FakeProlific, cli: RunCli, tmp_path: Path
) -> None:
    """`journal show` counts done and failed items; `export` prints one record per item."""
    lines = [
        *creates(3),
        {"name": "bad", "workspace_id": WS, "task_details": DETAILS, "dataset_id": "missing"},
    ]
    manifest = write_manifest(tmp_path / "m.jsonl", lines)
    journal, results = tmp_path / "j.journal", tmp_path / "r.jsonl"
    code, _, _ = await cli(
        "provision", manifest, "--journal", journal, "--no-progress", "--results", results
    )
    assert code == 1
    code, out, _ = await cli("journal", "show", journal)
    assert code == 0
    assert "a 'provision' journal with 4 items" in out
    assert [line.split() for line in out.splitlines()[1:4]] == [
        ["done", "3"],
        ["failed", "1"],
        ["in", "flight", "0", "(a", "re-run", "reconciles", "these)"],
    ]
    assert "In use" not in out
    code, out, _ = await cli("journal", "export", journal)
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]
    assert [(r["item"], r["status"]) for r in records] == [
        (0, "done"),
        (1, "done"),
        (2, "done"),
        (3, "failed"),
    ]
    assert {r["batch_id"] for r in records[:3]} == set(fake.batches)
    assert records[3]["error"]["status_code"] == 400
    # The ids of the answers that made and refused them, as the run's results had them.
    reported = [json.loads(line) for line in results.read_text().splitlines()]
    by_line = {r["line"]: r["request_id"] for r in reported}
    assert [r["request_id"] for r in records] == [by_line[line] for line in (1, 2, 3, 4)]
    assert all(isinstance(r["request_id"], str) and r["request_id"] for r in records)
    assert len({r["request_id"] for r in records}) == 4


async def test_show_and_export_read_a_format_2_journal_as_it_is(
    fake: FakeProlific, cli: RunCli, tmp_path: Path
) -> None:
    """`journal show` and `export` read a format 2 file (ids null) and leave it format 2."""
    manifest = write_manifest(tmp_path / "m.jsonl", creates(2))
    journal = tmp_path / "j.journal"
    code, _, _ = await cli("provision", manifest, "--journal", journal, "--no-progress")
    assert code == 0
    as_format_2(journal)
    code, out, _ = await cli("journal", "show", journal)
    assert code == 0
    assert "a 'provision' journal with 2 items" in out
    code, out, _ = await cli("journal", "export", journal)
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]
    assert [(r["status"], r["request_id"]) for r in records] == [("done", None), ("done", None)]
    assert {r["batch_id"] for r in records} == set(fake.batches)
    assert user_version(journal) == 2


async def test_an_old_journal_is_refused_then_imported_and_resumed(
    fake: FakeProlific, cli: RunCli, tmp_path: Path
) -> None:
    """A JSON Lines journal is refused naming the import; once imported the run resumes."""
    manifest = write_manifest(tmp_path / "m.jsonl", creates(3))
    old = tmp_path / "j.jsonl"
    old.write_text('{"type":"header","version":1,"operation":"provision"}\n')
    code, _, err = await cli("provision", manifest, "--journal", old, "--no-progress")
    assert code == 2
    assert "prolific-async journal import OLD NEW" in err
    assert posts(fake) == 0
    new = tmp_path / "j.journal"
    code, out, _ = await cli("journal", "import", old, new)
    assert code == 0
    assert "Imported 0 records of 0 items" in out
    code, _, _ = await cli("provision", manifest, "--journal", new, "--no-progress")
    assert code == 0
    assert len(fake.batches) == 3
    code, _, err = await cli("journal", "import", old, new)
    assert code == 2
    assert "already exists" in err


async def test_an_import_summary_counts_every_state(cli: RunCli, tmp_path: Path) -> None:
    """The import summary names the items in flight, not made and not attempted."""
    at = "2026-01-01T00:00:00+00:00"
    old = tmp_path / "j.jsonl"
    lines = [
        {"type": "header", "version": 1, "operation": "provision"},
        {"type": "start", "item": 0, "fingerprint": "f0", "started_at": at},
        {"type": "start", "item": 1, "fingerprint": "f1", "started_at": at},
        {"type": "not_made", "item": 1, "fingerprint": "f1"},
        {"type": "not_attempted", "item": 2, "fingerprint": "f2"},
    ]
    old.write_text("".join(json.dumps(line) + "\n" for line in lines))
    code, out, err = await cli("journal", "import", old, tmp_path / "j.journal")
    assert code == 0, err
    said = " ".join(out.split())
    assert "0 done, 0 failed, 1 in flight, 1 not made, 1 not attempted." in said


async def test_show_refuses_what_is_not_a_journal(cli: RunCli, tmp_path: Path) -> None:
    """`journal show` of a file that is not a journal exits 2 with the reason."""
    other = tmp_path / "notes.txt"
    other.write_text("hello\n")
    code, _, err = await cli("journal", "show", other)
    assert code == 2
    assert "not a prolific_async journal" in err


async def test_a_file_that_is_not_a_journal_is_bad_input_in_the_one_format(
    cli: RunCli, tmp_path: Path
) -> None:
    """Journal show/export on another file: exit 2, one `error: ...` line, no traceback."""
    other = tmp_path / "notes.journal"
    other.write_text("not a journal\n")
    for command in ("show", "export"):
        code, _, err = await cli("journal", command, str(other))
        assert code == 2
        assert err.startswith("error: ")
        assert "Traceback" not in err


@pytest.mark.parametrize("command", ["show", "export"])
async def test_another_sqlite_database_is_named_as_such(
    cli: RunCli, tmp_path: Path, command: str
) -> None:
    """Show/export of an SQLite database that is no journal: exit 2 saying so, not SQL."""
    import sqlite3

    other = tmp_path / "app.db"
    with contextlib.closing(sqlite3.connect(other)) as connection:
        connection.execute("CREATE TABLE t (x)")
        connection.commit()
    code, _, err = await cli("journal", command, other)
    assert code == 2
    assert err == f"error: {other} is not a prolific_async journal (another SQLite database)\n"


async def test_show_of_an_empty_journal_says_it_is_empty(cli: RunCli, tmp_path: Path) -> None:
    """An empty file (a run created it, recorded nothing): 'an empty journal', not 'None'."""
    empty = tmp_path / "run.journal"
    empty.touch()
    code, out, _ = await cli("journal", "show", empty)
    assert code == 0
    assert out == f"{empty}: an empty journal (no run has recorded anything in it)\n"
