"""The official CLI's conventions: the config file, short flags, --format, completion, -v."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import os
import re
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from prolific_async import ProlificClient, TaskDetails
from prolific_async._cli._options import FORMATS, model_columns
from prolific_async.models import Batch, TaskResponse
from prolific_async.testing import FakeProlific

from .conftest import (
    DETAILS,
    WS,
    RunCli,
    copies,
    creates,
    emulator_command,
    write_manifest,
)

TASK = ("--task-name", "t", "--task-introduction", "<p>i</p>", "--task-steps", "<ol></ol>")


@pytest.fixture
async def fake() -> AsyncIterator[FakeProlific]:
    async with FakeProlific(seed=13) as emulator:
        yield emulator


def write_config(text: str) -> Path:
    """Write the official CLI's config file under the test's ``HOME``."""
    path = Path(os.environ["HOME"]) / ".config" / "prolific-oss" / "prolific.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def add_batch(fake: FakeProlific, name: str = "b") -> str:
    """A batch in the emulator; its id."""
    return fake.add_batch(name=name, workspace_id=WS, task_details=TaskDetails(**DETAILS)).id


# -- the config file -----------------------------------------------------------------


async def test_the_config_files_workspace_is_the_default(fake: FakeProlific, cli: RunCli) -> None:
    """`batches list` without -w lists the workspace named in prolific.yaml."""
    add_batch(fake, "listed")
    write_config(f"workspace: {WS}\n")
    code, out, err = await cli("batches", "list")
    assert code == 0, err
    assert [batch["name"] for batch in json.loads(out)] == ["listed"]


async def test_a_given_workspace_beats_the_config_file(fake: FakeProlific, cli: RunCli) -> None:
    """-w wins over the config file, which is then not even read."""
    write_config("workspace: [not, a, string\n")  # malformed: would be an error if read
    code, out, err = await cli("batches", "list", "-w", "elsewhere")
    assert (code, json.loads(out)) == (0, []), err


async def test_config_option_names_another_file(
    fake: FakeProlific, cli: RunCli, tmp_path: Path
) -> None:
    """--config FILE is read instead of the default file."""
    add_batch(fake)
    config = tmp_path / "other.yaml"
    config.write_text(f"workspace: {WS}\ntoken: ignored\n")
    code, out, err = await cli("--config", config, "batches", "list")
    assert code == 0, err
    assert len(json.loads(out)) == 1


async def test_without_a_workspace_anywhere_the_option_is_missing(cli: RunCli) -> None:
    """No -w and no config file: exit 2, saying where a default could come from."""
    code, out, err = await cli("datasets", "create", "-n", "d")
    assert (code, out) == (2, "")
    assert "--workspace-id" in err
    assert "prolific.yaml" in err


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("workspace: [oops\n", "is not valid YAML"),
        ("- a\n- list\n", "must be a mapping"),
        ("workspace: 12\n", "workspace must be a non-empty string"),
        ("workspace: ''\n", "workspace must be a non-empty string"),
    ],
)
async def test_a_malformed_config_file_is_a_usage_error_naming_it(
    fake: FakeProlific, cli: RunCli, text: str, problem: str
) -> None:
    """A config file that cannot be used exits 2, naming the file and sending nothing."""
    path = write_config(text)
    code, out, err = await cli("batches", "list")
    assert (code, out) == (2, "")
    assert err.startswith("error: ")
    assert str(path) in err
    assert problem in err
    assert fake.requests == []


async def test_an_unreadable_config_file_is_a_usage_error(cli: RunCli, tmp_path: Path) -> None:
    """A --config file that does not exist, or is a directory, exits 2 naming it."""
    missing = tmp_path / "missing.yaml"
    code, _, err = await cli("--config", missing, "batches", "list")
    assert code == 2
    assert f"{missing} does not exist" in err
    write_config("workspace: w\n").parent.joinpath("dir.yaml").mkdir()
    folder = Path(os.environ["HOME"]) / ".config" / "prolific-oss" / "dir.yaml"
    code, _, err = await cli("--config", folder, "batches", "list")
    assert code == 2
    assert str(folder) in err


@pytest.mark.parametrize(
    "command",
    [("completion", "bash"), ("journal", "show", "x.db"), ("emulator",), ("provision", "m")],
    ids=["completion", "journal", "emulator", "provision"],
)
async def test_a_missing_config_is_a_usage_error_for_every_command(
    cli: RunCli, tmp_path: Path, command: tuple[str, ...]
) -> None:
    """--config naming a missing file exits 2 naming it, even where no workspace is needed."""
    missing = tmp_path / "missing.yaml"
    code, out, err = await cli("--config", missing, *command)
    assert code == 2
    assert f"the config file {missing} does not exist (--config)" in err
    assert "_PROLIFIC_ASYNC_COMPLETE" not in out


async def test_an_empty_config_file_sets_no_default(cli: RunCli) -> None:
    """An empty prolific.yaml is no error: the workspace is just not defaulted."""
    write_config("")
    code, _, err = await cli("batches", "list")
    assert code == 2
    assert "Missing option '-w' / '--workspace-id'" in err


# -- short flags -----------------------------------------------------------------------


async def test_short_flags_match_the_official_cli(fake: FakeProlific, cli: RunCli) -> None:
    """-n, -w, -d, -b as the official CLI spells them: create, view, update a batch."""
    code, out, err = await cli("datasets", "create", "-n", "data", "-w", WS, "--json")
    assert code == 0, err
    dataset = json.loads(out)["id"]
    code, out, err = await cli("batches", "create", "-n", "short", "-w", WS, "-d", dataset, *TASK)
    assert code == 0, err
    batch = json.loads(out)
    assert [entry["id"] for entry in batch["datasets"]] == [dataset]
    code, out, err = await cli("batches", "get", "-b", batch["id"])
    assert (code, json.loads(out)["name"]) == (0, "short"), err
    code, out, err = await cli("batches", "update", "-b", batch["id"], "-n", "renamed")
    assert (code, json.loads(out)["name"]) == (0, "renamed"), err
    code, out, err = await cli("datasets", "status", "-d", dataset, "--json")
    assert (code, json.loads(out)["id"]) == (0, dataset), err


async def test_upload_takes_the_official_clis_flags(
    fake: FakeProlific, cli: RunCli, tmp_path: Path
) -> None:
    """`datasets upload -d DS -f FILE`, `-d DS FILE` and `DS FILE` are the same command."""
    code, out, err = await cli("datasets", "create", "-n", "data", "-w", WS, "--json")
    assert code == 0, err
    dataset = json.loads(out)["id"]
    data = tmp_path / "data.csv"
    data.write_text("text\nhello\n")
    for args in (["-d", dataset, "-f", data], ["-d", dataset, data], [dataset, data]):
        code, out, err = await cli("datasets", "upload", *args, "--poll-interval", "0.01")
        assert code == 0, err
        assert f"Uploaded data.csv to dataset {dataset}" in out
    code, _, err = await cli("datasets", "upload", "-d", dataset, "-f", tmp_path / "nope.csv")
    assert code == 2
    assert "Invalid value for 'FILE'" in err
    code, _, err = await cli("datasets", "upload", "-f", data)
    assert code == 2
    assert "Missing argument 'DATASET_ID' (or -d DATASET_ID)." in err


async def test_a_second_argument_follows_a_flagged_id(fake: FakeProlific, cli: RunCli) -> None:
    """`batches sync-status -b ID SYNC` fills SYNC_ID from the one argument left."""
    batch = add_batch(fake)
    code, _, err = await cli("batches", "sync-status", "-b", batch, "missing-sync")
    assert code == 1, err  # the emulator has no such sync job
    assert [request.path for request in fake.requests] == [
        f"/api/v1/data-collection/batches/{batch}/syncs/missing-sync"
    ]


async def test_an_id_given_twice_is_a_usage_error(cli: RunCli) -> None:
    """`batches get A -b B` names two batches: exit 2; no id at all too."""
    code, _, err = await cli("batches", "get", "a", "-b", "b")
    assert code == 2
    assert "Got unexpected extra argument (a)" in err
    code, _, err = await cli("batches", "status")
    assert code == 2
    assert "Missing argument 'BATCH_ID' (or -b BATCH_ID)." in err


# -- output formats ----------------------------------------------------------------------


#: The single-batch commands, with the arguments each needs after the id (update: a field).
SINGLE = {"get": (), "update": ("-n", "renamed"), "duplicate": ()}


@pytest.mark.parametrize("command", SINGLE)
@pytest.mark.parametrize("flag", [["--json"], ["--format", "json"]])
async def test_single_batch_commands_take_json(
    fake: FakeProlific, cli: RunCli, command: str, flag: list[str]
) -> None:
    """get, update and duplicate take --json and --format json (and print the batch)."""
    batch = add_batch(fake)
    code, out, err = await cli("batches", command, batch, *SINGLE[command], *flag)
    assert code == 0, err
    assert json.loads(out)["workspace_id"] == WS


async def test_create_takes_json_as_the_readme_says(cli: RunCli) -> None:
    """`batches create ... --json` works (it used to exit 2)."""
    code, out, err = await cli("batches", "create", "-n", "x", "-w", WS, *TASK, "--json")
    assert code == 0, err
    assert json.loads(out)["name"] == "x"


@pytest.mark.parametrize("command", SINGLE)
async def test_single_batch_commands_print_a_table(
    fake: FakeProlific, cli: RunCli, command: str
) -> None:
    """--format table shows the batch a field per row."""
    batch = add_batch(fake)
    code, out, err = await cli("batches", command, batch, *SINGLE[command], "--format", "table")
    assert code == 0, err
    assert "Batch " in out
    assert "workspace" in out
    assert WS in out


async def test_list_prints_csv_one_row_per_batch(fake: FakeProlific, cli: RunCli) -> None:
    """CSV: a header, one row per batch, nested values as JSON in their cell."""
    first, second = add_batch(fake, "one"), add_batch(fake, "two, with a comma")
    code, out, err = await cli("batches", "list", "-w", WS, "--format", "csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [row["id"] for row in rows] == [first, second]
    assert rows[1]["name"] == "two, with a comma"
    assert json.loads(rows[0]["task_details"]) == DETAILS
    assert json.loads(rows[0]["datasets"]) == []
    assert rows[0]["total_task_count"] == "0"


async def test_list_prints_a_table(fake: FakeProlific, cli: RunCli) -> None:
    """--format table lists the batches, one row each."""
    batch = add_batch(fake, "tabled")
    code, out, err = await cli("batches", "list", "-w", WS, "--format", "table")
    assert code == 0, err
    assert "1 batches in workspace" in out
    assert batch in out
    assert "tabled" in out


async def test_ids_print_as_one_csv_column(fake: FakeProlific, cli: RunCli) -> None:
    """A list of ids prints as one column, one id per row (none yet: the header only)."""
    batch = add_batch(fake)
    code, out, err = await cli("batches", "tasks", "-b", batch, "--format", "csv")
    assert (code, out) == (0, "task_id\n"), err
    code, out, err = await cli("batches", "status", batch, "--format", "csv")
    assert code == 0, err
    assert list(csv.DictReader(io.StringIO(out))) == [
        {"batch_id": batch, "status": "UNINITIALISED"}
    ]


def csv_header(out: str) -> list[str]:
    """The first row of a CSV output."""
    return next(csv.reader(io.StringIO(out)))


async def test_an_empty_batch_list_prints_its_csv_header(fake: FakeProlific, cli: RunCli) -> None:
    """`batches list --csv` of an empty workspace: the header row of a batch, nothing else."""
    code, empty, err = await cli("batches", "list", "-w", "emptyws", "--csv")
    assert code == 0, err
    assert empty.count("\n") == 1
    assert csv_header(empty) == model_columns(Batch)
    add_batch(fake)
    code, full, err = await cli("batches", "list", "-w", WS, "--csv")
    assert code == 0, err
    assert csv_header(full) == csv_header(empty)


async def test_no_responses_print_the_csv_header_of_a_response(
    fake: FakeProlific, cli: RunCli
) -> None:
    """`batches responses --csv` with none yet: a response's header row, as when there are some."""
    batch = fake.add_batch(status="READY").id
    code, empty, err = await cli("batches", "responses", batch, "--csv")
    assert code == 0, err
    assert empty.count("\n") == 1
    assert csv_header(empty) == model_columns(TaskResponse)
    fake.add_response(batch)
    code, full, err = await cli("batches", "responses", batch, "--csv")
    assert code == 0, err
    assert csv_header(full) == csv_header(empty)


async def test_no_export_jobs_print_the_csv_header_of_an_export(
    fake: FakeProlific, cli: RunCli
) -> None:
    """`batches exports list --csv` with no jobs: an export's header row (`from`, not `from_`)."""
    batch = fake.add_batch(status="READY").id
    code, empty, err = await cli("batches", "exports", "list", batch, "--csv")
    assert code == 0, err
    assert empty.count("\n") == 1
    assert "from" in csv_header(empty)
    fake.add_response(batch)
    async with fake.client() as client:
        await client.batches.request_export(batch)
    code, full, err = await cli("batches", "exports", "list", batch, "--csv")
    assert code == 0, err
    assert csv_header(full) == csv_header(empty)


@pytest.mark.parametrize("name", ["csv", "table", "json"])
async def test_each_format_has_a_shorthand_flag(fake: FakeProlific, cli: RunCli, name: str) -> None:
    """--csv, --table and --json print exactly what --format csv|table|json prints."""
    add_batch(fake, "one")
    add_batch(fake, "two")
    code, short, err = await cli("batches", "list", "-w", WS, f"--{name}")
    assert code == 0, err
    code, long, err = await cli("batches", "list", "-w", WS, "--format", name)
    assert code == 0, err
    assert short == long


@pytest.mark.parametrize(
    "flags",
    [["--csv", "--table"], ["--json", "--csv"], ["--table", "--format", "json"]],
)
async def test_shorthands_that_disagree_are_a_usage_error(cli: RunCli, flags: list[str]) -> None:
    """Two different output formats (shorthand or --format) exit 2 naming both."""
    code, _, err = await cli("batches", "get", "b", *flags)
    assert code == 2
    assert "disagree" in err
    assert all(flag in err for flag in flags)


async def test_a_shorthand_agreeing_with_format_is_accepted(
    fake: FakeProlific, cli: RunCli
) -> None:
    """--csv --format csv is one format said twice, not a conflict."""
    code, out, err = await cli("batches", "status", add_batch(fake), "--csv", "--format", "csv")
    assert code == 0, err
    assert out.startswith("batch_id,status")


async def test_json_and_another_format_disagree(cli: RunCli) -> None:
    """--json with --format csv is a usage error; a format click does not know too."""
    code, _, err = await cli("batches", "get", "b", "--json", "--format", "csv")
    assert code == 2
    assert "disagree" in err
    code, _, err = await cli("batches", "get", "b", "--format", "xml")
    assert code == 2
    assert "'xml' is not one of 'table', 'json', 'csv'" in err


#: The commands without the full output option, and the options they do take: their output
#: has one form only (documented in --help and the README).
OUTPUT_EXCEPTIONS = {
    " completion": set(),  # a shell script
    " emulator": set(),  # `export NAME=value` lines for a shell to source
    " journal export": {"--format", "--json"},  # JSON Lines only
}


def cheap_runs(fake: FakeProlific, tmp_path: Path) -> dict[str, list[str | Path]]:
    """The commands quick to run against the emulator, with their arguments (no format)."""
    batch = fake.add_batch(name="b", workspace_id=WS, status="READY").id
    fake.add_response(batch)
    dataset = fake.add_dataset(workspace_id=WS).id
    manifest = write_manifest(tmp_path / "m.jsonl", creates(2))
    return {
        " batches get": ["batches", "get", batch],
        " batches list": ["batches", "list", "-w", WS],
        " batches create": ["batches", "create", "--name", "n", "-w", WS, *TASK],
        " batches status": ["batches", "status", batch],
        " batches tasks": ["batches", "tasks", batch],
        " batches task-groups": ["batches", "task-groups", batch],
        " batches responses": ["batches", "responses", batch],
        " batches exports list": ["batches", "exports", "list", batch],
        " datasets create": ["datasets", "create", "--name", "d", "-w", WS],
        " datasets status": ["datasets", "status", dataset],
        " provision": ["provision", manifest, "--dry-run"],
        " journal show": ["journal", "show", tmp_path / "run.db"],
    }


def check_format(output_format: str, out: str, what: str) -> None:
    """``out`` is JSON, CSV with a header of field names, or a table (not JSON)."""
    if output_format == "json":
        json.loads(out)
        return
    if output_format == "table":
        assert out.strip(), what
        with pytest.raises(json.JSONDecodeError):
            json.loads(out)
        return
    header, *rows = csv.reader(io.StringIO(out))
    assert header, what
    assert all(re.fullmatch(r"[a-z_][a-z0-9_]*", name) for name in header), (what, header)
    assert all(len(row) == len(header) for row in rows), what


async def test_every_command_has_the_same_output_options(
    fake: FakeProlific, cli: RunCli, tmp_path: Path
) -> None:
    """Every command takes --format table|json|csv and the shorthands; cheap ones honour them."""
    import click

    from prolific_async._cli import app

    def leaves(group: click.Group, path: str) -> Iterator[tuple[str, click.Command]]:
        for name, command in group.commands.items():
            if isinstance(command, click.Group):
                yield from leaves(command, f"{path} {name}")
            else:
                yield f"{path} {name}", command

    seen = set()
    for path, command in leaves(app, ""):
        seen.add(path)
        options = {opt for param in command.params for opt in getattr(param, "opts", [])}
        expected = OUTPUT_EXCEPTIONS.get(path, {"--format", "--json", "--csv", "--table"})
        assert options & {"--format", "--json", "--csv", "--table"} == expected, path
    assert set(OUTPUT_EXCEPTIONS) <= seen  # no stale exception
    runs = cheap_runs(fake, tmp_path)
    assert set(runs) <= seen - set(OUTPUT_EXCEPTIONS)
    code, _, err = await cli(
        *runs[" provision"][:2], "--no-progress", "--journal", tmp_path / "run.db"
    )
    assert code == 0, err
    for path, arguments in runs.items():
        for output_format in FORMATS:
            code, out, err = await cli(*arguments, "--format", output_format)
            assert code == 0, (path, output_format, err)
            check_format(output_format, out, f"{path} --format {output_format}")


async def test_provision_prints_its_summary_as_json(
    fake: FakeProlific, cli: RunCli, tmp_path: Path
) -> None:
    """`provision --format json`: the summary is one JSON object on stdout; results stay apart."""
    manifest = write_manifest(tmp_path / "m.jsonl", creates(2))
    results = tmp_path / "r.jsonl"
    code, out, err = await cli(
        "provision", manifest, "--no-progress", "--format", "json", "--results", results
    )
    assert code == 0, err
    summary = json.loads(out)
    assert summary["requests"] == 2
    assert summary["batches"] == 2
    assert summary["failed"] == 0
    assert summary["failures"] == []
    assert len(results.read_text().splitlines()) == 2
    code, out, err = await cli("provision", manifest, "--no-progress", "--csv")
    assert code == 0, err
    (row,) = csv.DictReader(io.StringIO(out))
    assert row["requests"] == "2"


async def test_journal_show_prints_json_and_export_takes_only_json(
    fake: FakeProlific, cli: RunCli, tmp_path: Path
) -> None:
    """`journal show` --json and --format csv count the items; export takes --format json only."""
    journal = tmp_path / "run.db"
    manifest = write_manifest(tmp_path / "m.jsonl", creates(2))
    code, _, err = await cli("provision", manifest, "--no-progress", "--journal", journal)
    assert code == 0, err
    code, out, err = await cli("journal", "show", journal, "--json")
    assert code == 0, err
    shown = json.loads(out)
    assert shown["operation"] == "provision"
    assert (shown["items"], shown["done"], shown["failed"], shown["in_flight"]) == (2, 2, 0, 0)
    assert shown["in_use_by"] is None
    code, out, _ = await cli("journal", "show", journal, "--format", "csv")
    assert code == 0
    assert next(csv.DictReader(io.StringIO(out)))["done"] == "2"
    code, out, _ = await cli("journal", "export", journal, "--format", "json")
    assert code == 0
    assert len([json.loads(line) for line in out.splitlines()]) == 2
    code, _, err = await cli("journal", "export", journal, "--csv")
    assert code == 2


# -- completion and logging ------------------------------------------------------------


@pytest.mark.parametrize(
    ("shell", "marker"),
    [("bash", "complete -o nosort -F"), ("zsh", "#compdef prolific-async"), ("fish", "complete")],
)
async def test_completion_prints_clicks_script(cli: RunCli, shell: str, marker: str) -> None:
    """`completion SHELL` prints click's script for the prolific-async command."""
    code, out, err = await cli("completion", shell)
    assert code == 0, err
    assert marker in out
    assert "_PROLIFIC_ASYNC_COMPLETE" in out


def test_no_help_shows_clicks_no_rewrap_marker(capsys: pytest.CaptureFixture[str]) -> None:
    """No command's --help shows click's no-rewrap marker; completion's lines stay as written."""
    import click

    from prolific_async._cli import app
    from prolific_async.cli import main

    def paths(group: click.Group, path: list[str]) -> Iterator[list[str]]:
        yield path
        for name, command in group.commands.items():
            if isinstance(command, click.Group):
                yield from paths(command, [*path, name])
            else:
                yield [*path, name]

    for path in paths(app, []):
        assert main([*path, "--help"]) == 0, path
        out = capsys.readouterr().out
        assert "\\b" not in out, path
        assert "\b" not in out, path
    main(["completion", "--help"])
    lines = [line.strip() for line in capsys.readouterr().out.splitlines()]
    assert any(line.startswith("zsh:") for line in lines)


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_the_bash_completion_script_completes_in_bash() -> None:
    """The script sourced in bash answers a COMP_WORDS query with the matching commands."""
    command = Path(sys.executable).with_name("prolific-async")
    if not command.exists():
        pytest.skip("the prolific-async script is not installed beside this interpreter")
    script = (
        'source <("$0" completion bash)\n'
        "COMP_WORDS=(prolific-async jo)\nCOMP_CWORD=1\n"
        '_prolific_async_completion "$0"\nprintf "%s\\n" "${COMPREPLY[@]}"\n'
        "COMP_WORDS=(prolific-async journal '')\nCOMP_CWORD=2\nCOMPREPLY=()\n"
        '_prolific_async_completion "$0"\nprintf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    completed = subprocess.run(  # noqa: S603 (bash, with our own script)
        ["bash", "-c", script, str(command)],  # noqa: S607
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert completed.stdout.split() == ["journal", "export", "import", "show"]


async def test_completion_of_an_unknown_shell_is_a_usage_error(cli: RunCli) -> None:
    """Only bash, zsh and fish are offered."""
    code, _, err = await cli("completion", "tcsh")
    assert code == 2
    assert "'tcsh' is not one of" in err


@pytest.fixture
def library_logger(monkeypatch: pytest.MonkeyPatch) -> Iterator[logging.Logger]:
    """The library's logger, restored (level, handlers, PROLIFIC_LOG) after the test."""
    logger = logging.getLogger("prolific_async")
    level, handlers = logger.level, list(logger.handlers)
    # setenv first: a delenv of an unset variable records nothing to undo, and -v sets it.
    monkeypatch.setenv("PROLIFIC_LOG", "")
    monkeypatch.delenv("PROLIFIC_LOG")
    yield logger
    logger.setLevel(level)
    logger.handlers[:] = handlers


async def test_verbose_turns_on_the_librarys_log_on_stderr(
    fake: FakeProlific, cli: RunCli, library_logger: logging.Logger
) -> None:
    """-v sets the prolific_async logger to DEBUG with a stderr handler, and PROLIFIC_LOG."""
    handlers_before = list(library_logger.handlers)
    batch = add_batch(fake)
    code, _, err = await cli("-v", "batches", "get", batch)
    assert code == 0, err
    assert library_logger.level == logging.DEBUG
    assert os.environ["PROLIFIC_LOG"] == "debug"
    code, _, err = await cli("--verbose", "batches", "status", batch)
    assert code == 0, err
    assert len(library_logger.handlers) == len(handlers_before) + 1  # added once
    assert fake.token not in err


def test_the_verbose_handler_writes_to_stderr(
    capsys: pytest.CaptureFixture[str], library_logger: logging.Logger
) -> None:
    """A record logged after -v appears on stderr, one line with its level and logger."""
    from prolific_async._cli._logging import enable_verbose_logging

    enable_verbose_logging()
    logging.getLogger("prolific_async.retry").debug("attempt 2 of GET /batches")
    err = capsys.readouterr().err
    assert "DEBUG prolific_async.retry: attempt 2 of GET /batches" in err


# -- provision --dry-run ---------------------------------------------------------------


async def test_dry_run_prints_what_would_be_sent_and_sends_nothing(
    fake: FakeProlific, cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--dry-run counts the requests by kind and shows the first bodies, with no token."""
    monkeypatch.delenv("PROLIFIC_TOKEN")
    manifest = write_manifest(tmp_path / "m.jsonl", [*copies("src-1", 1), *creates(4)])
    code, out, err = await cli("provision", manifest, "--dry-run")
    assert code == 0, err
    assert "5 requests would be sent (4 create, 1 duplicate); nothing was sent." in out
    assert "POST /api/v1/data-collection/batches/src-1/duplicate" in out
    assert out.count("POST /api/v1/data-collection/batches\n") == 2
    assert '"name": "item-1"' in out
    assert '"name": "item-2"' not in out
    assert "... and 2 more requests." in out
    assert fake.requests == []
    assert fake.batches == {}


async def test_dry_run_prints_json_and_csv_when_asked(
    fake: FakeProlific, cli: RunCli, tmp_path: Path
) -> None:
    """--dry-run --json: one object (counts, first requests); --csv: a row per shown request."""
    manifest = write_manifest(tmp_path / "m.jsonl", [*copies("src-1", 1), *creates(4)])
    code, out, err = await cli("provision", manifest, "--dry-run", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert (data["requests"], data["create"], data["duplicate"]) == (5, 4, 1)
    assert (data["sent"], data["not_shown"]) == (0, 2)
    first, second, third = data["shown"]
    assert first == {
        "line": 1,
        "method": "POST",
        "path": "/api/v1/data-collection/batches/src-1/duplicate",
        "body": {"upload_new_dataset": False},
    }
    assert (second["path"], second["body"]["name"]) == ("/api/v1/data-collection/batches", "item-0")
    assert third["body"]["task_details"] == DETAILS
    code, out, err = await cli("provision", manifest, "--dry-run", "--format", "csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(row["line"], row["method"], row["path"]) for row in rows] == [
        (str(shown["line"]), "POST", shown["path"]) for shown in data["shown"]
    ]
    assert json.loads(rows[2]["body"]) == third["body"]
    assert fake.requests == []


async def test_dry_run_still_refuses_a_bad_manifest(
    fake: FakeProlific, cli: RunCli, tmp_path: Path
) -> None:
    """A manifest with a bad line exits 2 under --dry-run too, naming the line."""
    manifest = write_manifest(tmp_path / "m.jsonl", [*creates(1), '{"name": ""}'])
    code, out, err = await cli("provision", manifest, "--dry-run")
    assert (code, out) == (2, "")
    assert "m.jsonl:2" in err
    assert fake.requests == []


# -- the emulator's variables ------------------------------------------------------------


async def test_emulator_prints_exports_and_writes_an_env_file_to_source(tmp_path: Path) -> None:
    """`emulator --env-file F` prints export lines and writes them to F, which a shell sources."""
    env_file = tmp_path / "emulator env.sh"  # a space: the values are quoted for the shell
    async with emulator_command(
        "--env-file", env_file, token="cli token", until="Press Ctrl-C"
    ) as run:
        lines, url = run.lines, run.url
        assert lines[2] == "PROLIFIC_TOKEN=cli token\n"
        assert lines[3:5] == [f"export PROLIFIC_URL={url}\n", "export PROLIFIC_TOKEN='cli token'\n"]
        assert f"Wrote them to {env_file}" in lines[5]
        assert env_file.read_text() == "".join(lines[3:5])
        shell = await asyncio.create_subprocess_exec(
            "sh",
            "-c",
            '. "$0" && printf "%s|%s" "$PROLIFIC_URL" "$PROLIFIC_TOKEN"',
            str(env_file),
            stdout=asyncio.subprocess.PIPE,
        )
        sourced, _ = await asyncio.wait_for(shell.communicate(), 20)
        assert sourced.decode() == f"{url}|cli token"
        async with ProlificClient(token="cli token", base_url=url) as client:
            assert await client.batches.list(WS) == []


async def test_emulator_refuses_an_env_file_it_cannot_write(cli: RunCli, tmp_path: Path) -> None:
    """An --env-file in a missing directory exits 2 before the port is taken."""
    code, out, err = await cli("emulator", "--port", "0", "--env-file", tmp_path / "no" / "env")
    assert (code, out) == (2, "")
    assert "--env-file" in err
    assert "does not exist" in err


def test_the_readmes_official_cli_table_names_real_commands() -> None:
    """Every prolific-async command in the README's official-CLI table exists, as written."""
    import re

    import click

    from prolific_async._cli import app

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    table = readme.split("### From Prolific's official CLI", 1)[1].split("\n\n", 2)[2]
    rows = [line for line in table.splitlines() if line.startswith("| `prolific aitaskbuilder")]
    assert len(rows) >= 15
    for row in rows:
        for words in re.findall(r"`prolific-async ([a-z -]+?)(?: [A-Z-]|`)", row):
            command: click.Command = app
            for word in words.split():
                if word.startswith("-"):
                    break
                assert isinstance(command, click.Group), row
                found = command.get_command(click.Context(command), word)
                assert found is not None, f"{words!r} in {row}"
                command = found
