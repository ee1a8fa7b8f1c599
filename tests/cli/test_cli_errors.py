"""How commands fail: one ``error:`` format, one exit-status table, never a traceback.

Each case a user or a server can cause (a bad ``PROLIFIC_URL``, no token, an output
path that cannot be written, bad emulator options, a hostile answer, a huge value) ends
with one ``error: <message>`` line and the status of the table in ``--help``.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from yarl import URL

from prolific_async import TaskDetails
from prolific_async._cli._exit import EXIT_STATUS_HELP, VALUE_LIMIT, shorten
from prolific_async.cli import main
from prolific_async.testing import FakeProlific
from prolific_async.testing.__main__ import main as emulator_main

from .conftest import DETAILS, WS, RunCli, creates, write_manifest

ROOT = Path(__file__).parent.parent.parent
CREATE = (
    "batches",
    "create",
    "--name",
    "n",
    "--workspace-id",
    WS,
    "--task-name",
    "t",
    "--task-introduction",
    "i",
    "--task-steps",
    "s",
)


@pytest.fixture
async def fake() -> AsyncIterator[FakeProlific]:
    async with FakeProlific(seed=12, export_delay=0.02) as emulator:
        yield emulator


def assert_one_error_line(err: str, *, expected: bool = True) -> str:
    """The stderr of a failed command: one ``error: `` line, no traceback; its message."""
    assert "Traceback" not in err
    assert not any(line.startswith("Error:") for line in err.splitlines())  # click's prefix
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, err
    if expected:
        assert "unexpected" not in lines[0], err
    return lines[0].removeprefix("error: ")


# -- the environment -------------------------------------------------------------------


@pytest.mark.parametrize("url", ["http://[::1", "ftp://x", "http://", "http://h:99999"])
@pytest.mark.parametrize(
    "command", [("batches", "get", "b1"), ("provision", "m.jsonl", "--no-progress")]
)
async def test_a_malformed_prolific_url_exits_2_naming_it(
    cli: RunCli,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    url: str,
    command: tuple[str, ...],
) -> None:
    """A PROLIFIC_URL that is not an http(s) URL with a host is named, exit 2."""
    write_manifest(tmp_path / "m.jsonl", creates(1))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROLIFIC_URL", url)
    code, _, err = await cli(*command)
    assert code == 2
    message = assert_one_error_line(err)
    assert message.startswith(f"PROLIFIC_URL={url!r} is not usable")


@pytest.mark.parametrize("suffix", ["/api/v1", "/api/v1/"])
async def test_a_prolific_url_ending_in_api_v1_exits_2_saying_to_drop_it(
    fake: FakeProlific, cli: RunCli, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    """PROLIFIC_URL=<root>/api/v1 is refused before sending (not a bare 404), naming the root."""
    monkeypatch.setenv("PROLIFIC_URL", fake.url + suffix)
    code, out, err = await cli("batches", "get", "b1")
    assert (code, out) == (2, "")
    message = assert_one_error_line(err)
    assert message.startswith(f"PROLIFIC_URL '{fake.url}/api/v1' ends in /api/v1")
    assert message.endswith(f"set it without /api/v1 ({fake.url})")
    assert fake.requests == []


@pytest.mark.parametrize(
    "url",
    ["https://me:pw9@api.example:99999/", "ftp://me:pw9@api.example/", "https://me:pw9@[::1/"],
)
async def test_an_unusable_prolific_url_with_a_password_never_repeats_it(
    cli: RunCli, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    """A PROLIFIC_URL refused for another reason than its password: exit 2, password left out."""
    monkeypatch.setenv("PROLIFIC_URL", url)
    code, out, err = await cli("batches", "get", "b1")
    assert code == 2
    message = assert_one_error_line(err)
    assert "is not usable" in message
    assert "pw9" not in out + err


@pytest.mark.parametrize(
    "command", [("batches", "get", "b1"), ("provision", "m.jsonl", "--no-progress")]
)
async def test_a_prolific_url_with_a_password_exits_2_without_repeating_it(
    fake: FakeProlific,
    cli: RunCli,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    command: tuple[str, ...],
) -> None:
    """A PROLIFIC_URL with user:password@: exit 2 naming it, the password never printed."""
    write_manifest(tmp_path / "m.jsonl", creates(1))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROLIFIC_URL", str(URL(fake.url).with_user("me").with_password("pw9")))
    code, out, err = await cli(*command)
    assert code == 2
    message = assert_one_error_line(err)
    assert message.startswith("PROLIFIC_URL holds a user name or password")
    assert fake.url in message
    assert "pw9" not in out + err
    assert fake.requests == []


@pytest.mark.parametrize("token", ["ab\ncd", "ab\udcffcd"], ids=["newline", "not-utf-8"])
async def test_a_token_no_header_can_carry_exits_2_naming_the_variable(
    fake: FakeProlific, cli: RunCli, monkeypatch: pytest.MonkeyPatch, token: str
) -> None:
    """PROLIFIC_TOKEN with a newline or undecodable bytes: exit 2 naming it, unsent."""
    monkeypatch.setenv("PROLIFIC_TOKEN", token)
    code, _, err = await cli("batches", "get", "b1")
    assert code == 2
    message = assert_one_error_line(err)
    assert "the API token (PROLIFIC_TOKEN) holds a character" in message
    assert fake.requests == []


@pytest.mark.parametrize(
    "command",
    [
        ("batches", "get", "b1"),
        ("batches", "list", "--workspace-id", WS),
        ("datasets", "status", "d1"),
        ("provision", "m.jsonl", "--no-progress"),
    ],
)
async def test_a_missing_token_exits_2_from_every_command(
    cli: RunCli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, command: tuple[str, ...]
) -> None:
    """No token: exit 2 everywhere, with a message for a shell user (no ``token=...``)."""
    write_manifest(tmp_path / "m.jsonl", creates(1))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PROLIFIC_TOKEN")
    code, _, err = await cli(*command)
    assert code == 2
    message = assert_one_error_line(err)
    assert "PROLIFIC_TOKEN" in message
    assert "token=" not in message


@pytest.mark.parametrize(
    "command", [("batches", "get", "b1"), ("provision", "m.jsonl", "--no-progress")]
)
async def test_an_empty_token_variable_is_named_as_set_but_empty(
    cli: RunCli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, command: tuple[str, ...]
) -> None:
    """PROLIFIC_TOKEN= (set to nothing): exit 2 saying it is empty, not that it is unset."""
    write_manifest(tmp_path / "m.jsonl", creates(1))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROLIFIC_TOKEN", " ")
    code, _, err = await cli(*command)
    assert code == 2
    assert assert_one_error_line(err).startswith("PROLIFIC_TOKEN is set but empty: set ")


@pytest.mark.parametrize(
    "command", [("batches", "get", "b1"), ("provision", "m.jsonl", "--no-progress")]
)
async def test_a_plain_http_url_off_the_machine_names_the_variables(
    cli: RunCli,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    command: tuple[str, ...],
) -> None:
    """``PROLIFIC_URL=http://api.prolific.com``: exit 2, naming the variables, unsent."""
    write_manifest(tmp_path / "m.jsonl", creates(1))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROLIFIC_URL", "http://api.prolific.com")
    monkeypatch.delenv("PROLIFIC_ALLOW_INSECURE_HTTP", raising=False)
    code, _, err = await cli(*command)
    assert code == 2, err
    message = assert_one_error_line(err)
    assert "PROLIFIC_URL='http://api.prolific.com' is plain http" in message
    assert "PROLIFIC_ALLOW_INSECURE_HTTP=1" in message
    assert "allow_insecure_http=True" not in message


async def test_prolific_allow_insecure_http_is_honoured(
    fake: FakeProlific, cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``PROLIFIC_ALLOW_INSECURE_HTTP=1`` a plain-http name off the machine is used.

    The name resolves to the loopback emulator (``getaddrinfo`` is patched for it alone),
    so the command gets past the check and reads the batch without leaving the machine.
    """
    batch = fake.add_batch(name="b", workspace_id=WS, task_details=TaskDetails(**DETAILS))
    real = socket.getaddrinfo

    def resolve(host: Any, *args: Any, **kwargs: Any) -> Any:
        return real("127.0.0.1" if host == "api.example.test" else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    port = URL(fake.url).port
    monkeypatch.setenv("PROLIFIC_URL", f"http://api.example.test:{port}")
    monkeypatch.setenv("PROLIFIC_ALLOW_INSECURE_HTTP", "1")
    code, out, err = await cli("batches", "get", batch.id)
    assert code == 0, err
    assert batch.id in out


# -- output paths ----------------------------------------------------------------------


@pytest.mark.parametrize("where", ["missing/out.zip", "file.txt/out.zip"])
async def test_export_output_that_cannot_be_written_is_refused_before_the_job_is_made(
    fake: FakeProlific, cli: RunCli, tmp_path: Path, where: str
) -> None:
    """-o into a missing directory (or a file) exits 2 naming the path; no export job made."""
    (tmp_path / "file.txt").write_text("x")
    batch = fake.add_batch(name="b", workspace_id=WS, task_details=TaskDetails(**DETAILS))
    output = tmp_path / where
    before = len(fake.requests)
    code, _, err = await cli("batches", "export", batch.id, "-o", output)
    assert code == 2
    message = assert_one_error_line(err)
    assert f"cannot write {str(output)!r}" in message
    assert ".part" not in message
    assert len(fake.requests) == before  # no export job on the server


async def test_report_output_into_a_missing_directory_is_refused(
    fake: FakeProlific, cli: RunCli, tmp_path: Path
) -> None:
    """``batches report -o`` checks its path before asking for the report."""
    output = tmp_path / "missing" / "report.csv"
    code, _, err = await cli("batches", "report", "b1", "--output", output)
    assert code == 2
    assert f"the directory {str(output.parent)!r} does not exist" in assert_one_error_line(err)
    assert fake.requests == []


@pytest.mark.parametrize("option", ["--results", "--journal"])
async def test_provision_files_into_a_missing_directory_are_refused(
    fake: FakeProlific, cli: RunCli, tmp_path: Path, option: str
) -> None:
    """--results or --journal in a missing directory: exit 2 naming it, nothing sent."""
    manifest = write_manifest(tmp_path / "m.jsonl", creates(2))
    target = tmp_path / "missing" / "file.jsonl"
    code, _, err = await cli("provision", manifest, option, target, "--no-progress")
    assert code == 2
    assert str(target) in assert_one_error_line(err)
    assert fake.requests == []


@pytest.mark.parametrize("option", ["--results", "--journal"])
async def test_provision_files_named_empty_are_refused_as_a_directory(
    fake: FakeProlific,
    cli: RunCli,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    option: str,
) -> None:
    """--results "" or --journal "" (an unset variable) is the current directory: exit 2."""
    manifest = write_manifest(tmp_path / "m.jsonl", creates(2))
    monkeypatch.chdir(tmp_path)
    code, _, err = await cli("provision", manifest, option, "", "--no-progress")
    assert code == 2
    assert f"{option} '.' names a directory: name a file" in assert_one_error_line(err)
    assert fake.requests == []
    assert sorted(os.listdir(tmp_path)) == ["m.jsonl"]  # nothing written beside it


@pytest.mark.parametrize("names", ["manifest", "journal", "manifest-spelled-otherwise"])
async def test_results_naming_the_manifest_or_the_journal_is_refused(
    fake: FakeProlific,
    cli: RunCli,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    names: str,
) -> None:
    """--results that is the manifest or the journal (however spelled) exits 2, unsent."""
    manifest = write_manifest(tmp_path / "m.jsonl", creates(2))
    content = manifest.read_text()
    journal = tmp_path / "j.jsonl"
    monkeypatch.chdir(tmp_path)
    results = {
        "manifest": manifest,
        "journal": journal,
        "manifest-spelled-otherwise": Path("sub/../m.jsonl"),
    }[names]
    (tmp_path / "sub").mkdir()
    code, _, err = await cli(
        "provision", manifest, "--journal", journal, "--results", results, "--no-progress"
    )
    assert code == 2
    assert "would be overwritten" in assert_one_error_line(err)
    assert fake.requests == []
    assert manifest.read_text() == content


# -- input files -----------------------------------------------------------------------

DEEP = "[" * 100_000 + "]" * 100_000
#: An integer past Python's cap on the digits it converts (4300): json.loads refuses it.
LONG = '{"a": ' + "1" * 5000 + "}"


@pytest.mark.parametrize("content", [DEEP, LONG], ids=["deep", "long-integer"])
@pytest.mark.parametrize(
    "command",
    [
        (*CREATE, "--batch-items-file", "bad.json"),
        ("batches", "update", "b1", "--batch-items-file", "bad.json"),
        ("datasets", "create", "--name", "n", "--workspace-id", WS, "--schema", "bad.json"),
        ("datasets", "add-datapoints", "d1", "bad.json"),
        ("provision", "bad.json", "--no-progress"),
        ("provision", "m.jsonl", "--journal", "bad.json", "--no-progress"),
        ("journal", "import", "bad.json", "out.journal"),
        ("journal", "show", "bad.json"),
        ("--config", "bad.json", "batches", "list"),
    ],
    ids=[
        "layout",
        "update-layout",
        "schema",
        "datapoints",
        "manifest",
        "journal",
        "import",
        "show",
        "config",
    ],
)
async def test_an_input_file_nested_too_deeply_or_too_long_is_bad_input(
    fake: FakeProlific,
    cli: RunCli,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    command: tuple[str, ...],
    content: str,
) -> None:
    """JSON nested 100,000 deep, or a 5000-digit integer, in any input file: exit 2 naming it."""
    (tmp_path / "bad.json").write_text(content + "\n")
    write_manifest(tmp_path / "m.jsonl", creates(1))
    monkeypatch.chdir(tmp_path)
    code, _, err = await cli(*command)
    assert code == 2, err
    assert "bad.json" in assert_one_error_line(err)
    assert fake.requests == []


# -- the emulator's options ------------------------------------------------------------

BAD_EMULATOR_OPTIONS = [
    ["--port", "99999"],
    ["--port", "-1"],
    ["--latency", "-1"],
    ["--latency", "inf"],
    ["--latency", "nan"],
    ["--token", ""],
    ["--token", "a\nb"],
    ["--token", "t\u00f6k"],
    ["--host", ""],
]


@pytest.mark.parametrize("options", BAD_EMULATOR_OPTIONS)
def test_bad_emulator_options_exit_2(
    capsys: pytest.CaptureFixture[str], options: list[str]
) -> None:
    """``emulator`` refuses a bad port, latency or token with a usage error, exit 2."""
    assert main(["emulator", *options]) == 2
    message = assert_one_error_line(capsys.readouterr().err)
    assert options[0] in message


@pytest.mark.parametrize("options", BAD_EMULATOR_OPTIONS)
def test_bad_standalone_emulator_options_exit_2(
    capsys: pytest.CaptureFixture[str], options: list[str]
) -> None:
    """``python -m prolific_async.testing`` refuses the same options with exit 2."""
    with pytest.raises(SystemExit) as stopped:
        emulator_main(options)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"error: argument {options[0]}" in err


# -- hostile answers -------------------------------------------------------------------


def _canned(status: int, body: bytes, content_type: str) -> dict[str, Any]:
    return {
        "kind": "status",
        "status": status,
        "body": body,
        "headers": {"Content-Type": content_type},
    }


#: Hostile answers, as ``fake.add_fault`` arguments.
HOSTILE: dict[str, dict[str, Any]] = {
    "not JSON": _canned(200, b"OK", "text/plain"),
    "HTML": _canned(200, b"<html><body>Sign in to the Wi-Fi</body></html>", "text/html"),
    "empty": _canned(200, b"", "application/json"),
    "array": _canned(200, b"[5]", "application/json"),
    "string": _canned(200, b'"results"', "application/json"),
    "wrong shape": _canned(200, b'{"results": "x", "id": 5, "status": []}', "application/json"),
    "deep": {"kind": "deep_json"},
    # announced: refused before it is read, so the case costs no 2 GiB of traffic
    "oversized": {"kind": "oversized", "headers": {"Content-Length": str(2 * 1024**3)}},
    "compressed": {"kind": "compressed", "size": 9 * 1024**2},  # past the 8 MiB object cap
}
READ_COMMANDS = [
    ("batches", "get", "b1"),
    ("batches", "list", "--workspace-id", WS),
    ("batches", "status", "b1"),
    ("batches", "tasks", "b1"),
    ("batches", "task-groups", "b1"),
    ("batches", "responses", "b1"),
    ("batches", "report", "b1"),
    ("batches", "exports", "list", "b1"),
    ("batches", "sync-status", "b1", "s1"),
    ("datasets", "status", "d1"),
    ("datasets", "schema-migration", "d1", "j1"),
    ("batches", "wait", "b1", "--timeout", "5"),
    ("batches", "export", "b1", "--timeout", "5"),
    CREATE,
    ("batches", "duplicate", "b1"),
]


@pytest.mark.parametrize("answer", list(HOSTILE))
@pytest.mark.parametrize("command", READ_COMMANDS, ids=lambda c: " ".join(c[:3]))
async def test_a_hostile_answer_is_one_error_line_and_exit_1(
    fake: FakeProlific, cli: RunCli, answer: str, command: tuple[str, ...]
) -> None:
    """A 2xx not JSON, HTML, empty, misshapen, deep, oversized or a gzip bomb: exit 1, one line."""
    fault = dict(HOSTILE[answer])
    fake.add_fault("*", "*", fault.pop("kind"), times=None, **fault)
    code, _, err = await cli(*command)
    assert code == 1, err
    assert_one_error_line(err)


@pytest.mark.parametrize("depth", [500, 950, 100_000])
async def test_a_deeply_nested_error_detail_is_one_error_line(
    fake: FakeProlific, cli: RunCli, depth: int
) -> None:
    """A 404 whose detail nests 500 to 100,000 deep: one error line naming the 404, exit 1."""
    body = '{"detail": ' + "[" * depth + '"deep"' + "]" * depth + "}"
    fake.add_fault("GET", "*", "status", status=404, body=body)
    code, _, err = await cli("batches", "get", "b1")
    assert code == 1, err
    assert "404" in assert_one_error_line(err)


@pytest.mark.parametrize("field", ["name", "key", "task_name"])
async def test_a_manifest_line_with_a_lone_surrogate_exits_2_naming_it(
    fake: FakeProlific, cli: RunCli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, field: str
) -> None:
    r"""``provision`` refuses a line holding ``"\ud800"`` by its number, and sends nothing."""
    lines = creates(3)
    bad = dict(lines[1])  # type: ignore[arg-type]
    if field == "task_name":
        bad["task_details"] = {**DETAILS, "task_name": "@@"}
    else:
        bad[field] = "@@"
    lines[1] = json.dumps(bad).replace('"@@"', '"bad \\ud800"')
    write_manifest(tmp_path / "m.jsonl", lines)
    monkeypatch.chdir(tmp_path)
    code, _, err = await cli("provision", "m.jsonl", "--no-progress")
    assert code == 2, err
    message = assert_one_error_line(err)
    assert message.startswith("m.jsonl:2: ")
    assert "surrogate" in message
    assert field in message
    assert not fake.requests
    assert not fake.batches


async def test_an_export_answer_naming_no_job_is_an_api_error(
    fake: FakeProlific, cli: RunCli
) -> None:
    """An export request answered without export_id or URL exits 1 (not a usage error)."""
    fake.add_fault("POST", "*/export", "status", status=200, body={"status": "generating"})
    code, _, err = await cli("batches", "export", "b1")
    assert code == 1
    assert "no export_id" in assert_one_error_line(err)


async def test_a_date_out_of_range_is_one_error_line_naming_the_field(
    fake: FakeProlific, cli: RunCli
) -> None:
    """A created_at in year 1 at +01:00 (year 0 in UTC) is an API error naming it, exit 1."""
    batch = fake.add_batch(name="b", workspace_id=WS, task_details=TaskDetails(**DETAILS))
    sync = {"sync_id": "s1", "status": "queued", "created_at": "0001-01-01T00:00:00+01:00"}
    fake.add_fault("GET", "*/syncs/s1", "status", status=200, body=sync)
    code, _, err = await cli("batches", "sync-status", batch.id, "s1")
    assert code == 1, err
    assert "$.created_at" in assert_one_error_line(err)


async def test_a_lone_surrogate_in_an_answer_is_one_error_line_naming_the_field(
    fake: FakeProlific, cli: RunCli
) -> None:
    """A name holding a lone surrogate is an API error naming ``$.name``, exit 1."""
    batch = fake.add_batch(name="b", workspace_id=WS, task_details=TaskDetails(**DETAILS))
    code, out, _ = await cli("batches", "get", batch.id)
    answer = json.loads(out)
    answer["name"] = "\ud800"
    fake.add_fault("GET", f"*/batches/{batch.id}", "status", status=200, body=answer)
    code, _, err = await cli("batches", "get", batch.id)
    assert code == 1, err
    assert "surrogate" in assert_one_error_line(err)
    assert "$.name" in err


async def test_an_exception_nobody_expected_is_one_error_line_and_exit_1(
    cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last line of defence: an unexpected exception is named, exit 1, no traceback."""

    def broken(data: object) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr("prolific_async._cli._options.print_json", broken)
    code, _, err = await cli("batches", "list", "--workspace-id", WS)
    assert code == 1
    message = assert_one_error_line(err, expected=False)
    assert message.startswith("unexpected RecursionError: maximum recursion depth exceeded")


# -- long values -----------------------------------------------------------------------


async def test_a_10_mb_manifest_value_is_not_echoed_whole(
    fake: FakeProlific, cli: RunCli, tmp_path: Path
) -> None:
    """A bad 10 MB value is shortened to its start and its length in the message."""
    huge = "x" * 10 * 1024 * 1024
    manifest = write_manifest(
        tmp_path / "m.jsonl", [{"duplicate_of": "b1", "upload_new_dataset": huge}]
    )
    code, _, err = await cli("provision", manifest, "--no-progress")
    assert code == 2
    message = assert_one_error_line(err)
    assert len(err) < 1000
    assert f"'{'x' * VALUE_LIMIT}...' ({len(huge)} characters)" in message
    assert fake.requests == []


def test_shorten_keeps_short_values_and_prose() -> None:
    """Short values, and apostrophes in prose, are left as they are; long messages capped."""
    prose = "the server's answer can't be read: got " + repr("y" * 150) + " " + "z" * 300
    assert shorten(prose) == prose
    quoted = shorten(f"got {'w' * 5000!r} and {'v' * 5000!r}")
    assert quoted == (
        f"got '{'w' * VALUE_LIMIT}...' (5000 characters) and "
        f"'{'v' * VALUE_LIMIT}...' (5000 characters)"
    )
    unquoted = shorten("u" * 100_000)
    assert len(unquoted) < 5000
    assert unquoted.endswith("... (100000 characters)")


# -- the exit-status table -------------------------------------------------------------


async def test_every_row_of_the_exit_status_table(
    fake: FakeProlific, cli: RunCli, tmp_path: Path
) -> None:
    """0 success; 1 an API error or a failed item; 2 usage, manifest, journal, token."""
    batch = fake.add_batch(name="b", workspace_id=WS, task_details=TaskDetails(**DETAILS))
    assert (await cli("batches", "get", batch.id))[0] == 0
    assert (await cli("batches", "get", "no-such-batch"))[0] == 1  # a 404
    failing = write_manifest(tmp_path / "f.jsonl", [{**creates(1)[0], "dataset_id": "missing"}])
    assert (await cli("provision", failing, "--no-progress"))[0] == 1  # an item failed
    code, _, err = await cli("batches", "get", "--no-such-option")
    assert code == 2
    assert "error: No such option" in err
    bad = write_manifest(tmp_path / "bad.jsonl", ["not json"])
    assert (await cli("provision", bad, "--no-progress"))[0] == 2  # a bad manifest
    journal = tmp_path / "j.jsonl"
    journal.write_text("not a journal\n")
    good = write_manifest(tmp_path / "m.jsonl", creates(1))
    code, _, err = await cli("provision", good, "--journal", journal, "--no-progress")
    assert code == 2  # a bad journal
    assert_one_error_line(err)


async def test_the_table_is_in_help_and_in_the_readme(cli: RunCli) -> None:
    """``--help`` ends with the exit-status table, and the README lists the same codes."""
    code, out, _ = await cli("--help")
    assert code == 0
    rows = [line.split(maxsplit=1) for line in EXIT_STATUS_HELP.splitlines()[2:8]]
    for status, meaning in rows:
        assert f"{status}  " in out
        assert meaning in out
    readme = (ROOT / "README.md").read_text()
    for status, _ in rows:
        assert f"| {status} |" in readme


@pytest.mark.parametrize("seconds", ["1e300", "inf", "nan"])
async def test_a_reconcile_delay_out_of_range_is_a_usage_error(
    cli: RunCli, fake: FakeProlific, seconds: str
) -> None:
    """--reconcile-delay past a week (or not a number of seconds) exits 2, sending nothing."""
    manifest = Path(__file__).parents[2] / "examples" / "batches.jsonl"
    before = len(fake.requests)
    code, _, err = await cli("provision", manifest, "--reconcile-delay", seconds)
    assert code == 2
    assert "--reconcile-delay" in err
    assert len(fake.requests) == before


@pytest.mark.parametrize("group", [(), ("batches",), ("datasets",), ("journal",)])
def test_a_bare_group_prints_its_help_not_an_error(
    capsys: pytest.CaptureFixture[str], group: tuple[str, ...]
) -> None:
    """``prolific-async batches`` alone: the group's help (its commands), no ``error:`` line."""
    code = main(list(group))
    out, err = capsys.readouterr()
    assert code in (0, 2)  # click 8.1 prints the help and exits 0; 8.2 on exits 2
    assert "Commands:" in out + err
    assert "error:" not in out + err


def test_an_empty_config_option_is_named_as_empty(capsys: pytest.CaptureFixture[str]) -> None:
    """``--config ""`` (an unset variable): exit 2 saying it is empty, not a directory."""
    assert main(["--config", "", "batches", "list"]) == 2
    assert assert_one_error_line(capsys.readouterr().err) == (
        "Invalid value for '--config': is empty: name a file"
    )
