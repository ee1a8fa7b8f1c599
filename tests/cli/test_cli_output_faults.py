"""A provisioning run whose files or output fail under it keeps what it made, and says so.

A manifest changed after it was checked, a full disk under ``--results``, a full or
closed stdout: each ends with one ``error:`` line naming what failed, the results of
every finished request kept, and never a request nobody checked.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import sys
from asyncio.subprocess import Process
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from prolific_async._cli import _progress, _provision
from prolific_async._manifest import ManifestLine, read_manifest
from prolific_async.cli import main
from prolific_async.testing import FakeProlific

from .conftest import RunCli, creates, spawn_cli, write_manifest
from .test_cli_errors import assert_one_error_line


@pytest.fixture
async def fake() -> AsyncIterator[FakeProlific]:
    async with FakeProlific(seed=5) as emulator:
        yield emulator


def results_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# -- the manifest changed under the run --------------------------------------------------


@pytest.mark.parametrize("journaled", [False, True], ids=["no-journal", "journal"])
async def test_a_manifest_truncated_mid_run_fails_the_run_after_what_was_read(
    fake: FakeProlific,
    cli: RunCli,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    journaled: bool,
) -> None:
    """Truncated mid-run: the lines read finish, the rest are not sent, exit 2 naming it."""
    manifest = write_manifest(tmp_path / "m.jsonl", creates(6))
    results = tmp_path / "r.jsonl"

    def truncating(path: Path, *, checked: Any = None) -> Iterator[ManifestLine]:
        for number, request in read_manifest(path, checked=checked):
            yield number, request
            if number == 3:  # the file is cut back to two lines while the run reads it
                path.write_text("".join(path.read_text().splitlines(True)[:2]))

    monkeypatch.setattr(_provision, "read_manifest", truncating)
    journal = ("--journal", tmp_path / "j.sqlite") if journaled else ()
    code, out, err = await cli(
        "provision", manifest, "--results", results, "--no-progress", *journal
    )
    assert code == 2, err
    message = assert_one_error_line(err)
    assert f"{manifest}:4: the file changed after it was checked" in message
    assert "the 3 requests read before it finished" in message
    assert ("restore the manifest and run again with --journal" in message) is journaled
    assert sorted(batch.name for batch in fake.batches.values()) == ["item-0", "item-1", "item-2"]
    assert [record["ok"] for record in results_of(results)] == [True] * 3
    assert "not read from the manifest" in out


async def test_a_manifest_changed_before_the_journal_check_is_refused_before_sending(
    fake: FakeProlific, cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rewritten between its check and the journal's: exit 2 naming it, nothing sent."""
    from prolific_async._cli import _provision_checks

    manifest = write_manifest(tmp_path / "m.jsonl", creates(3))
    other = write_manifest(tmp_path / "other.jsonl", creates(3, "other"))

    def rewritten(path: Path, *, checked: Any = None) -> Iterator[ManifestLine]:
        os.replace(other, path)  # another manifest in its place, once it was checked
        yield from read_manifest(path, checked=checked)

    monkeypatch.setattr(_provision_checks, "read_manifest", rewritten)
    journal = tmp_path / "j.sqlite"
    code, _, err = await cli("provision", manifest, "--journal", journal, "--no-progress")
    assert code == 2, err
    assert "the file changed after it was checked" in assert_one_error_line(err)
    assert fake.requests == []
    assert not journal.exists()  # refused by the journal check: no run began


# -- a full disk under --results -----------------------------------------------------------


class _FillingDisk:
    """``os`` for the results file's module: the disk fills on line ``fail_at``.

    Half of that line is written, then the write fails with ENOSPC.
    """

    def __init__(self, fail_at: int) -> None:
        self.fail_at = fail_at
        self.calls = 0

    def write(self, descriptor: int, data: Any) -> int:
        self.calls += 1
        if self.calls == self.fail_at:
            return os.write(descriptor, bytes(data)[: len(data) // 2])
        if self.calls > self.fail_at:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return os.write(descriptor, data)

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)


async def test_a_full_disk_under_results_keeps_the_whole_lines_and_names_the_file(
    fake: FakeProlific, cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failed --results write keeps the lines before it whole, and the error names it."""
    manifest = write_manifest(tmp_path / "m.jsonl", creates(8))
    results = tmp_path / "r.jsonl"
    monkeypatch.setattr(_progress, "os", _FillingDisk(fail_at=4))
    code, out, err = await cli(
        "provision", manifest, "--results", results, "--no-progress", "--concurrency", "1"
    )
    assert code == 1, err
    message = assert_one_error_line(err)
    assert message.startswith(f"cannot write --results {results}: No space left on device")
    assert "the 3 results written before are kept there" in message
    records = results_of(results)  # every line whole: the half line was cut off
    assert [record["index"] for record in records] == [0, 1, 2]
    assert "Provisioning summary" in out
    assert not list(tmp_path.glob(".r.jsonl.*"))  # noqa: ASYNC240 (a test's directory)


async def test_results_that_name_a_device_or_pipe_are_refused(
    fake: FakeProlific, cli: RunCli, tmp_path: Path
) -> None:
    """--results on a FIFO (or a device) exits 2 before sending: it would be replaced."""
    manifest = write_manifest(tmp_path / "m.jsonl", creates(2))
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    code, _, err = await cli("provision", manifest, "--results", fifo, "--no-progress")
    assert code == 2
    assert "not a regular file" in assert_one_error_line(err)
    assert fifo.is_fifo()
    assert fake.requests == []


# -- a full or closed stdout ----------------------------------------------------------------


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux's /dev/full")
async def test_a_full_stdout_keeps_the_results_and_says_what_failed(
    fake: FakeProlific, tmp_path: Path
) -> None:
    """Stdout on a full disk: the results file is kept whole, one error line, exit 1."""
    manifest = write_manifest(tmp_path / "m.jsonl", creates(5))
    results = tmp_path / "r.jsonl"
    with open("/dev/full", "wb") as full:  # noqa: ASYNC230 (opening a device)
        process = await spawn_cli(
            fake,
            "provision",
            manifest,
            "--results",
            results,
            "--no-progress",
            stdout=full.fileno(),
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 1, err.decode()
    message = assert_one_error_line(err.decode())
    assert message.startswith("cannot write the command's output: No space left on device")
    assert f"every finished request is in --results {results}" in message
    assert "Exception ignored" not in err.decode()
    assert sorted(record["index"] for record in results_of(results)) == list(range(5))
    assert len(fake.batches) == 5


async def _with_reader_gone(start: Callable[[int], Awaitable[Process]]) -> tuple[int, str]:
    """Run what ``start`` spawns with stdout a pipe whose reader is gone: its code, stderr."""
    reader, writer = os.pipe()
    os.close(reader)
    try:
        process = await start(writer)
    finally:
        os.close(writer)
    _, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, err.decode()


async def test_a_closed_stdout_pipe_keeps_the_results_and_says_so(
    fake: FakeProlific, tmp_path: Path
) -> None:
    """Stdout a pipe its reader closed (``| head``): the results kept, exit 1, no bug report."""
    manifest = write_manifest(tmp_path / "m.jsonl", creates(3))
    results = tmp_path / "r.jsonl"
    code, err = await _with_reader_gone(
        lambda stdout: spawn_cli(
            fake,
            "provision",
            manifest,
            "--results",
            results,
            "--no-progress",
            stdout=stdout,
            stderr=asyncio.subprocess.PIPE,
        )
    )
    assert code == 1, err
    for noise in ("Traceback", "Exception ignored", "unexpected"):
        assert noise not in err
    if "error: " in err:  # older rich reports EPIPE; newer ends quietly, as click
        message = assert_one_error_line(err)
        assert f"every finished request is in --results {results}" in message
    assert len(results_of(results)) == 3


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux's /dev/full")
async def test_any_command_whose_stdout_is_full_says_so_not_a_bug(tmp_path: Path) -> None:
    """A command's JSON to a full stdout: one error line naming the output, exit 1."""
    manifest = write_manifest(tmp_path / "m.jsonl", creates(3))
    with open("/dev/full", "wb") as full:  # noqa: ASYNC230 (opening a device)
        process = await spawn_cli(
            None,
            "provision",
            manifest,
            "--dry-run",
            "--format",
            "json",
            stdout=full.fileno(),
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 1, err.decode()
    message = assert_one_error_line(err.decode())
    assert message == "cannot write the command's output: No space left on device"


async def test_an_emulator_whose_stdout_reader_is_gone_says_so_not_the_port() -> None:
    """``emulator | true``: the URL cannot be printed, said as such (not "cannot listen")."""
    code, err = await _with_reader_gone(
        lambda stdout: spawn_cli(
            None, "emulator", "--port", "0", stdout=stdout, stderr=asyncio.subprocess.PIPE
        )
    )
    assert code == 1, err
    message = assert_one_error_line(err)
    assert message == (
        "cannot print the emulator's URL and token: cannot write the command's output: Broken pipe"
    )


def test_an_emulator_started_with_stdout_closed_exits_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``emulator >&-`` (no stdout at all): exit 2 saying where its URL would go."""
    monkeypatch.setattr(sys, "stdout", None)
    assert main(["emulator", "--port", "0"]) == 2
    message = assert_one_error_line(capsys.readouterr().err)
    assert message == "stdout is closed: the emulator prints its URL and token there"


async def test_the_stand_alone_emulator_whose_stdout_reader_is_gone_says_so() -> None:
    """``python -m prolific_async.testing | true``: says the URL cannot be printed, no traceback."""
    code, err = await _with_reader_gone(
        lambda stdout: asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "prolific_async.testing", "--port", "0"),
            stdout=stdout,
            stderr=asyncio.subprocess.PIPE,
        )
    )
    assert code == 1, err
    assert err == "error: cannot print the emulator's URL and token: Broken pipe\n"


def test_the_stand_alone_emulator_started_with_stdout_closed_exits_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``python -m prolific_async.testing >&-``: exit 2 saying where its URL would go."""
    from prolific_async.testing.__main__ import main as serve_main

    monkeypatch.setattr(sys, "stdout", None)
    with pytest.raises(SystemExit) as caught:
        serve_main(["--port", "0"])
    assert caught.value.code == 2
    assert capsys.readouterr().err == (
        "error: stdout is closed: the emulator prints its URL and token there\n"
    )


# -- the results file put in place ---------------------------------------------------------


class _NoRename:
    """``os`` for the results file's module: renaming the file into place fails (EXDEV)."""

    def replace(self, source: Any, target: Any) -> None:
        raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)


async def test_a_results_rename_that_fails_names_the_file_that_holds_them(
    fake: FakeProlific, cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If --results cannot be renamed into place, exit 1 names the file holding every result."""
    manifest = write_manifest(tmp_path / "m.jsonl", creates(3))
    results = tmp_path / "r.jsonl"
    monkeypatch.setattr(_progress, "os", _NoRename())
    code, _, err = await cli("provision", manifest, "--results", results, "--no-progress")
    assert code == 1, err
    message = assert_one_error_line(err)
    assert message.startswith(f"cannot put the results in --results {results} (")
    (kept,) = tmp_path.glob(".r.jsonl.*")  # noqa: ASYNC240 (a test's directory)
    assert message.endswith(f"they are in {kept}")
    assert sorted(record["index"] for record in results_of(kept)) == [0, 1, 2]
    assert not results.exists()


def test_a_failed_rename_after_ctrl_c_does_not_hide_the_interrupt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ctrl-C stays Ctrl-C (exit 130) when the results then cannot be renamed: stderr says where."""
    results = tmp_path / "r.jsonl"
    monkeypatch.setattr(_progress, "os", _NoRename())

    def interrupted() -> None:
        with _progress.results_file(results) as sink:
            assert sink is not None
            sink.add({"index": 0})
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted()
    (kept,) = tmp_path.glob(".r.jsonl.*")
    message = assert_one_error_line(capsys.readouterr().err)
    assert message.startswith(f"cannot put the results in --results {results} (")
    assert message.endswith(f"they are in {kept}")
    assert results_of(kept) == [{"index": 0}]


async def test_a_run_ending_before_its_first_result_keeps_the_earlier_results_file(
    fake: FakeProlific, cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A manifest changed before its first line was read: --results of a run before stays."""
    manifest = write_manifest(tmp_path / "m.jsonl", creates(2))
    results = tmp_path / "r.jsonl"
    results.write_text('{"index": 0, "ok": true}\n')

    def changed(path: Path, *, checked: Any = None) -> Iterator[ManifestLine]:
        path.write_text("")  # emptied after it was checked, before a line is read
        yield from read_manifest(path, checked=checked)

    monkeypatch.setattr(_provision, "read_manifest", changed)
    code, _, err = await cli("provision", manifest, "--results", results, "--no-progress")
    assert code == 2, err
    assert "the file changed after it was checked" in assert_one_error_line(err)
    assert results.read_text() == '{"index": 0, "ok": true}\n'
    assert not list(tmp_path.glob(".r.jsonl.*"))  # noqa: ASYNC240 (a test's directory)
    assert fake.requests == []


async def test_a_first_results_write_that_fails_leaves_no_earlier_file_looking_like_this_runs(
    fake: FakeProlific, cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The disk full at the first line: --results holds what the message says, nothing."""
    manifest = write_manifest(tmp_path / "m.jsonl", creates(2))
    results = tmp_path / "r.jsonl"
    results.write_text('{"index": 0, "ok": true}\n')  # an earlier run's
    monkeypatch.setattr(_progress, "os", _FillingDisk(fail_at=1))
    code, _, err = await cli(
        "provision", manifest, "--results", results, "--no-progress", "--concurrency", "1"
    )
    assert code == 1, err
    assert "the 0 results written before are kept there" in assert_one_error_line(err)
    assert results.read_text() == ""
