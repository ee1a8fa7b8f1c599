"""The batch commands added for issue 10: tasks, task groups, export jobs, layout and sync options.

The layout and schema files of Prolific's official CLI (``../shared/real-payloads/``,
other people's data: read from there, never copied into the project) go through
``--batch-items-file`` and ``--schema`` into the emulator and must be stored as written.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from prolific_async.testing import FakeProlific

from .conftest import CREATE_PATH, WS, RunCli
from .test_cli_errors import assert_one_error_line

REAL_PAYLOADS = Path(__file__).resolve().parents[3] / "shared" / "real-payloads"
CSV = "text\nhello\nworld\nagain\n"
FAST = ("--poll-interval", "0.02")
TASK_OPTIONS = (
    "--task-name",
    "Label",
    "--task-introduction",
    "<p>Label each text.</p>",
    "--task-steps",
    "<ol><li>Read</li></ol>",
)
DATASETS_PATH = "/api/v1/data-collection/datasets"
PAGE = {"rows": [{"columns": [{"items": [{"type": "free_text", "description": "Why?"}]}]}]}


@pytest.fixture
async def fake() -> AsyncIterator[FakeProlific]:
    async with FakeProlific(
        seed=10, processing_delay=0.02, setup_delay=0.02, export_delay=0.02
    ) as emulator:
        yield emulator


def real_files(kind: str) -> list[Path]:
    """The real payload files of one INDEX.json kind (``batch_items``, ``dataset_schema``)."""
    if not (REAL_PAYLOADS / "INDEX.json").is_file():
        pytest.skip(f"the reference payloads are absent: {REAL_PAYLOADS} (../shared/real-payloads)")
    entries = json.loads((REAL_PAYLOADS / "INDEX.json").read_text())
    files = [REAL_PAYLOADS / entry["file"] for entry in entries if entry["kind"] == kind]
    assert files, f"INDEX.json lists no {kind} file"
    return files


def without_ids(pages: Any) -> Any:
    """A stored layout without the ids the server gave its pages, rows, columns and items."""

    def strip(entry: Any, children: str | None) -> Any:
        if not isinstance(entry, dict):
            return entry
        kept = {key: value for key, value in entry.items() if key != "id"}
        if children is not None and isinstance(kept.get(children), list):
            below = {"rows": "columns", "columns": "items", "items": None}[children]
            kept[children] = [strip(child, below) for child in kept[children]]
        return kept

    return [strip(page, "rows") for page in pages]


def dataset_fields(pages: list[dict[str, Any]]) -> set[str]:
    """The schema fields a layout shows (its ``dataset_field`` items)."""
    return {
        item["field"]
        for page in pages
        for row in page["rows"]
        for column in row["columns"]
        for item in column["items"]
        if item.get("type") == "dataset_field"
    }


def sent_schema(fake: FakeProlific) -> Any:
    """The schema of the last dataset create the emulator received."""
    creates = [r for r in fake.requests if (r.method, r.path) == ("POST", DATASETS_PATH)]
    return creates[-1].json["schema"]


async def run_json(cli: RunCli, *args: str | Path) -> Any:
    code, out, err = await cli(*args, "--json")
    assert code == 0, err
    return json.loads(out)


async def create_batch(cli: RunCli, *options: str | Path) -> dict[str, Any]:
    code, out, err = await cli(
        "batches", "create", "--name", "Layout", "--workspace-id", WS, *TASK_OPTIONS, *options
    )
    assert code == 0, err
    batch: dict[str, Any] = json.loads(out)
    return batch


async def ready_batch(cli: RunCli, tmp_path: Path) -> str:
    """A batch set up from a three-row CSV, READY with three tasks in three groups."""
    data = tmp_path / "rows.csv"
    data.write_text(CSV)
    dataset = await run_json(cli, "datasets", "create", "--name", "Texts", "--workspace-id", WS)
    await run_json(cli, "datasets", "upload", dataset["id"], data, *FAST)
    batch = await create_batch(cli, "--dataset-id", dataset["id"])
    await run_json(cli, "batches", "setup", batch["id"], "--tasks-per-group", "1", "--wait", *FAST)
    batch_id: str = batch["id"]
    return batch_id


# -- tasks and task groups -----------------------------------------------------------


async def test_tasks_and_task_groups_print_tables_or_json(
    fake: FakeProlific, cli: RunCli, tmp_path: Path
) -> None:
    """A READY batch's task and task group ids print one per row, or as a JSON array."""
    batch_id = await ready_batch(cli, tmp_path)
    tasks = await run_json(cli, "batches", "tasks", batch_id)
    groups = await run_json(cli, "batches", "task-groups", batch_id)
    assert (len(tasks), len(groups)) == (3, 3)
    assert all(isinstance(task, str) for task in tasks + groups)

    code, out, err = await cli("batches", "tasks", batch_id)
    assert (code, err) == (0, "")
    assert f"3 tasks of batch {batch_id}" in out
    assert all(task in out for task in tasks)
    code, out, err = await cli("batches", "task-groups", batch_id)
    assert (code, err) == (0, "")
    assert f"3 task groups of batch {batch_id}" in out
    assert all(group in out for group in groups)


async def test_a_batch_not_set_up_has_no_tasks_yet(cli: RunCli) -> None:
    """Before setup, both commands say there is nothing yet (and --json prints [])."""
    batch = await create_batch(cli)
    for command, noun in (("tasks", "tasks"), ("task-groups", "task groups")):
        code, out, _ = await cli("batches", command, batch["id"])
        assert code == 0
        assert out.startswith(f"Batch {batch['id']} has no {noun} yet")
        assert await run_json(cli, "batches", command, batch["id"]) == []


# -- export jobs ---------------------------------------------------------------------


async def test_exports_list_and_delete(fake: FakeProlific, cli: RunCli, tmp_path: Path) -> None:
    """Export jobs list as a table or JSON; delete frees the place and says so."""
    batch_id = await ready_batch(cli, tmp_path)
    code, out, _ = await cli("batches", "exports", "list", batch_id)
    assert (code, out.strip()) == (0, f"Batch {batch_id} has no export jobs.")

    export = await run_json(cli, "batches", "export", batch_id, "--study-id", "s1", *FAST)
    code, out, err = await cli("batches", "exports", "list", batch_id)
    assert (code, err) == (0, "")
    assert f"1 export job of batch {batch_id}" in out
    assert export["export_id"] in out
    assert "complete" in out
    assert "s1" in out
    (listed,) = await run_json(cli, "batches", "exports", "list", batch_id)
    assert (listed["export_id"], listed["status"], listed["url"]) == (
        export["export_id"],
        "complete",
        export["url"],
    )

    code, out, err = await cli("batches", "exports", "delete", batch_id, export["export_id"])
    assert (code, err) == (0, "")
    assert out.strip() == f"Deleted export {export['export_id']} of batch {batch_id}."
    assert await run_json(cli, "batches", "exports", "list", batch_id) == []

    code, out, err = await cli(
        "batches", "exports", "delete", batch_id, export["export_id"], "--json"
    )
    assert (code, out) == (1, "")
    assert "404" in err


async def test_exports_delete_prints_json(cli: RunCli, tmp_path: Path) -> None:
    """With --json, delete prints what it deleted."""
    batch_id = await ready_batch(cli, tmp_path)
    export = await run_json(cli, "batches", "export", batch_id, *FAST)
    deleted = await run_json(cli, "batches", "exports", "delete", batch_id, export["export_id"])
    assert deleted == {"batch_id": batch_id, "export_id": export["export_id"], "deleted": True}


# -- --batch-items-file and --auto-sync ----------------------------------------------


async def test_every_real_layout_is_stored_as_its_file_says(
    fake: FakeProlific, cli: RunCli
) -> None:
    """Each real layout, through --batch-items-file, is stored as written (ids aside).

    A layout that shows dataset fields gets a V4 dataset made from a real schema file
    (through --schema) that has those fields; the schema sent is the file's too.
    """
    schemas = {file: json.loads(file.read_text()) for file in real_files("dataset_schema")}
    for file in real_files("batch_items"):
        layout = json.loads(file.read_text())
        options: list[str | Path] = ["--batch-items-file", file]
        needed = dataset_fields(layout)
        if needed:
            schema_file = next(f for f, s in schemas.items() if needed <= set(s["fields"]))
            dataset = await run_json(
                cli, "datasets", "create", "--name", "V4", "--workspace-id", WS,
                "--schema", schema_file,
            )  # fmt: skip
            assert sent_schema(fake) == schemas[schema_file], schema_file.name
            options += ["--dataset-id", dataset["id"]]
        batch = await create_batch(cli, *options)
        assert without_ids(fake.batches[batch["id"]].batch_items) == layout, file.name
        assert without_ids(batch["batch_items"]) == layout, file.name


async def test_every_real_schema_is_stored_as_its_file_says(
    fake: FakeProlific, cli: RunCli
) -> None:
    """Each real schema file, through datasets create --schema, is sent as written.

    The emulator stores it with ``strict`` filled in (the API's default, false).
    """
    for file in real_files("dataset_schema"):
        schema = json.loads(file.read_text())
        dataset = await run_json(
            cli, "datasets", "create", "--name", "V4", "--workspace-id", WS, "--schema", file
        )
        assert sent_schema(fake) == schema, file.name
        assert fake.datasets[dataset["id"]].schema == {"strict": False, **schema}, file.name


async def test_a_batch_as_get_prints_it_is_a_layout_file_for_update(
    fake: FakeProlific, cli: RunCli, tmp_path: Path
) -> None:
    """`batches get` output fed back to update keeps the layout and every id."""
    layout = tmp_path / "layout.json"
    layout.write_text(json.dumps([PAGE, PAGE]))
    batch = await create_batch(cli, "--batch-items-file", layout)
    stored = fake.batches[batch["id"]].batch_items
    code, out, _ = await cli("batches", "get", batch["id"])
    assert code == 0
    got = tmp_path / "batch.json"
    got.write_text(out)

    code, out, err = await cli("batches", "update", batch["id"], "--batch-items-file", got)
    assert (code, err) == (0, "")
    assert fake.batches[batch["id"]].batch_items == stored
    assert json.loads(out)["batch_items"] == stored
    (patch,) = [r for r in fake.requests if r.method == "PATCH"]
    assert set(patch.json) == {"batch_items"}


async def test_auto_sync_is_sent_only_when_given(fake: FakeProlific, cli: RunCli) -> None:
    """--auto-sync / --no-auto-sync set auto_sync_enabled; without either it is not sent."""
    plain = await create_batch(cli)
    synced = await create_batch(cli, "--auto-sync")
    creates = [r.json for r in fake.requests if (r.method, r.path) == ("POST", CREATE_PATH)]
    assert "auto_sync_enabled" not in creates[0]
    assert creates[1]["auto_sync_enabled"] is True
    assert fake.batches[plain["id"]].auto_sync_enabled is False
    assert fake.batches[synced["id"]].auto_sync_enabled is True

    code, out, err = await cli("batches", "update", synced["id"], "--no-auto-sync")
    assert (code, err) == (0, "")
    assert json.loads(out)["auto_sync_enabled"] is False
    assert fake.batches[synced["id"]].auto_sync_enabled is False
    assert fake.requests[-1].json == {"auto_sync_enabled": False}


async def test_an_update_with_nothing_to_change_is_refused_before_sending(
    fake: FakeProlific, cli: RunCli
) -> None:
    """`batches update ID` without a field exits 2 naming the options, and sends no PATCH."""
    batch = await create_batch(cli)
    fake.requests.clear()
    code, out, err = await cli("batches", "update", batch["id"])
    assert (code, out) == (2, "")
    message = assert_one_error_line(err)
    for option in ("--name", "--task-name", "--dataset-id", "--batch-items-file", "--auto-sync"):
        assert option in message
    assert fake.requests == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[", "not valid JSON: Expecting value (line 1, column 2)"),
        ("[]", "a layout needs at least one page"),
        ('{"name": "x"}', "expected a JSON array of pages"),
        (
            '[{"rows": [{"columns": [{"items": [{"type": "free_text"}]}]}]}]',
            "required field missing @ $[0].rows[0].columns[0].items[0].description",
        ),
    ],
)
@pytest.mark.parametrize("command", ["create", "update"])
async def test_a_bad_batch_items_file_is_a_usage_error(
    fake: FakeProlific, cli: RunCli, tmp_path: Path, content: str, message: str, command: str
) -> None:
    """A bad --batch-items-file exits 2 naming the file and where, before any request."""
    file = tmp_path / "layout.json"
    file.write_text(content)
    args = (
        ["create", "--name", "x", "--workspace-id", WS, *TASK_OPTIONS]
        if command == "create"
        else ["update", "b1"]
    )
    code, out, err = await cli("batches", *args, "--batch-items-file", file)
    assert (code, out) == (2, "")
    assert "Invalid value for '--batch-items-file'" in err
    assert str(file) in err
    assert message in err
    assert "Traceback" not in err
    assert fake.requests == []


async def test_a_layout_the_server_refuses_exits_1_with_its_issues(
    fake: FakeProlific, cli: RunCli, tmp_path: Path
) -> None:
    """A layout that parses but fails the server's checks (422) exits 1 naming the item."""
    file = tmp_path / "layout.json"
    page = {"rows": [{"columns": [{"items": [{"type": "dataset_field", "field": "prompt"}]}]}]}
    file.write_text(json.dumps([page]))
    code, out, err = await cli(
        "batches", "create", "--name", "x", "--workspace-id", WS, *TASK_OPTIONS,
        "--batch-items-file", file,
    )  # fmt: skip
    assert (code, out) == (1, "")
    assert "422" in err
    assert "batch_items[0].rows[0].columns[0].items[0]" in err
    assert "Traceback" not in err


# -- usage and API errors ------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["batches", "tasks"], "Missing argument 'BATCH_ID'"),
        (["batches", "task-groups", ".."], "batch_id must not be '..'"),
        (["batches", "tasks", ".."], "batch_id must not be '..'"),
        (["batches", "exports", "list"], "Missing argument 'BATCH_ID'"),
        (["batches", "exports", "delete", "b1"], "Missing argument 'EXPORT_ID'"),
        (["batches", "exports", "delete", "b1", ".."], "export_id must not be '..'"),
        (["batches", "exports", "rename", "b1"], "No such command 'rename'"),
        (["batches", "create", "--batch-items-file", "missing.json"], "does not exist"),
        (["batches", "update", "b1", "--auto-sync=yes"], "--auto-sync"),
    ],
)
async def test_bad_arguments_of_the_new_commands_are_usage_errors(
    fake: FakeProlific, cli: RunCli, args: list[str], message: str
) -> None:
    """Missing or bad arguments exit 2 with a usage message and send nothing."""
    code, out, err = await cli(*args)
    assert (code, out) == (2, "")
    assert message in err
    assert fake.requests == []


@pytest.mark.parametrize(
    "args",
    [
        ["batches", "tasks", "missing"],
        ["batches", "task-groups", "missing"],
        ["batches", "exports", "list", "missing"],
        ["batches", "exports", "delete", "missing", "e1"],
    ],
)
async def test_api_errors_of_the_new_commands_exit_1(
    fake: FakeProlific, cli: RunCli, args: list[str]
) -> None:
    """A 404 prints the error without a traceback or the token and exits 1."""
    code, out, err = await cli(*args)
    assert (code, out) == (1, "")
    assert "404" in err
    assert "Traceback" not in err
    assert fake.token not in err
