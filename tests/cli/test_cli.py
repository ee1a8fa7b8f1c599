"""The prolific-async command, end to end: provision, single operations, the emulator, signals."""

from __future__ import annotations

import asyncio
import importlib
import importlib.abc
import json
import os
import re
import signal
import socket
import ssl
import sys
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, ClientTimeout, web

from prolific_async import Journal, ProlificClient, TaskDetails
from prolific_async.cli import main
from prolific_async.testing import FakeProlific

from ..conftest import wait_until
from .conftest import (
    CREATE_PATH,
    DETAILS,
    WS,
    RunCli,
    copies,
    creates,
    emulator_command,
    spawn_cli,
    stall_creates,
    write_manifest,
)

ROOT = Path(__file__).parent.parent.parent
DATASETS = "/api/v1/data-collection/datasets"
EXAMPLE = ROOT / "examples" / "batches.jsonl"
#: A batch as the API answers a create (the name is the request's).
BATCH = {
    "id": "1c8dd035-60c0-48e7-979a-067ed882b7a0",
    "created_at": "2026-01-01T09:00:00Z",
    "created_by": "171c8f12f4eac08e209dc69c",
    "datasets": [],
    "name": "",
    "status": "UNINITIALISED",
    "total_task_count": 0,
    "total_instruction_count": 0,
    "workspace_id": WS,
    "schema_version": 1,
    "task_details": DETAILS,
    "total_task_groups": 0,
    "batch_items": None,
    "auto_sync_enabled": False,
}


@pytest.fixture
async def fake() -> AsyncIterator[FakeProlific]:
    async with FakeProlific(seed=3) as emulator:
        yield emulator


def test_demo_run_provisions_every_example_item_exactly_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README's main job succeeds: every example item has exactly one batch."""
    results = tmp_path / "results.jsonl"
    code = main(
        [
            "provision",
            str(EXAMPLE),
            "--emulator",
            "--no-progress",
            "--results",
            str(results),
            "--concurrency",
            "16",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "Every manifest item has exactly one batch." in out
    records = [json.loads(line) for line in results.read_text().splitlines()]
    requested = sum(
        1 for line in EXAMPLE.read_text().splitlines() if line.strip() and not line.startswith("#")
    )
    assert len(records) == requested
    assert all(record["ok"] for record in records)
    assert len({record["batch_id"] for record in records}) == requested
    assert {record["line"] for record in records} <= set(range(1, requested + 10))


def test_bad_manifest_lines_are_reported_before_anything_is_sent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every bad line is named with its number, nothing is sent, and the exit status is 2."""
    manifest = write_manifest(
        tmp_path / "m.jsonl",
        [
            *creates(1),
            {"name": 5, "workspace_id": WS, "task_details": DETAILS},
            "this is not json",
            {"duplicate_of": "b1", "upload_new_dataset": "yes"},
            {"name": "x", "workspace_id": WS},
            {"duplicate_of": "b1", "colour": "red"},
            {"key": "k", **creates(1)[0]},  # type: ignore[dict-item]
            {"key": "k", **creates(1)[0]},  # type: ignore[dict-item]
        ],
    )
    results = tmp_path / "results.jsonl"
    code = main(["provision", str(manifest), "--emulator", "--results", str(results)])
    err = capsys.readouterr().err
    assert code == 2
    for line, text in [
        (2, "'name' must be a non-empty string"),
        (3, "not valid JSON"),
        (4, "'upload_new_dataset' must be true or false"),
        (5, "'task_details' is required"),
        (6, "unknown field"),
        (8, "key 'k' already used on line 7"),
    ]:
        assert f"m.jsonl:{line}: {text}" in err
    assert "nothing was sent" in err
    assert not results.exists()


class _InterruptedImport(importlib.abc.MetaPathFinder):
    """Raises ``KeyboardInterrupt`` as ``prolific_async._cli`` is imported (Ctrl-C then)."""

    def find_spec(self, name: str, path: object, target: object = None) -> None:
        if name == "prolific_async._cli":
            raise KeyboardInterrupt
        return


def test_ctrl_c_while_the_commands_load_exits_130_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A SIGINT during the start-up's imports: "Interrupted." and 130, as during a command."""
    for name in [name for name in sys.modules if name.startswith("prolific_async._cli")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "meta_path", [_InterruptedImport(), *sys.meta_path])
    try:
        status = main(["journal", "show", "j.db"])
    except KeyboardInterrupt:  # it would end the whole test session
        pytest.fail("KeyboardInterrupt escaped main()")
    assert status == 130
    assert capsys.readouterr().err == "Interrupted.\n"


@pytest.mark.parametrize("missing", ["click", "rich"])
def test_without_the_cli_extra_the_command_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], missing: str
) -> None:
    """Without click/rich: the pip command for the [cli] extra, and all three modules it brings."""
    loaded = [
        name for name in sys.modules if name.startswith((f"{missing}.", "prolific_async._cli"))
    ]
    for name in loaded:  # imported already, they would be found without their package
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, missing, None)
    assert main(["--help"]) == 2
    err = capsys.readouterr().err
    assert "pip install 'prolific-async[cli]'" in err
    assert all(module in err for module in ("click", "rich", "PyYAML"))


def test_without_pyyaml_a_config_file_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Without PyYAML (click and rich there), a config file names PyYAML and the extra, exit 2."""
    config = tmp_path / "prolific.yaml"
    config.write_text("workspace: w1\n")
    monkeypatch.setitem(sys.modules, "yaml", None)
    monkeypatch.setenv("PROLIFIC_TOKEN", "t")
    assert main(["--config", str(config), "batches", "list"]) == 2
    assert capsys.readouterr().err == (
        f"error: reading {config} needs PyYAML: pip install 'prolific-async[cli]'\n"
    )


def test_reconcile_delay_help_says_the_listing_is_made_at_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--reconcile-delay is how long a batch may take to appear, not a wait before listing."""
    assert main(["provision", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "listed at once" in text
    assert "before looking" not in text


async def test_provision_against_an_api_reports_failures_with_exit_1(
    fake: FakeProlific, cli: RunCli, tmp_path: Path
) -> None:
    """A definitive failure is reported with its line and makes the exit status 1."""
    lines = [
        *creates(3),
        {"name": "bad", "workspace_id": WS, "task_details": DETAILS, "dataset_id": "missing"},
    ]
    manifest = write_manifest(tmp_path / "m.jsonl", lines)
    results = tmp_path / "r.jsonl"
    code, out, _ = await cli("provision", str(manifest), "--no-progress", "--results", str(results))
    assert code == 1
    assert "line 4" in out
    assert "BadRequestError" in out
    records = {r["line"]: r for r in map(json.loads, results.read_text().splitlines())}
    assert [records[n]["ok"] for n in (1, 2, 3, 4)] == [True, True, True, False]
    assert len(fake.batches) == 3


async def test_a_manifest_that_is_a_pipe_is_refused_before_anything_is_sent(
    fake: FakeProlific, cli: RunCli, tmp_path: Path
) -> None:
    """A FIFO (as /dev/stdin or <(...) are) is refused with exit 2: read twice it was empty."""
    pipe = tmp_path / "m.jsonl"
    os.mkfifo(pipe)
    code, _, err = await cli("provision", str(pipe), "--no-progress")
    assert code == 2
    assert "is not a regular file" in err
    assert fake.requests == []


async def test_journal_of_another_manifest_is_refused_up_front(
    fake: FakeProlific, cli: RunCli, tmp_path: Path
) -> None:
    """A journal that does not match the manifest is refused before any request."""
    journal = tmp_path / "j.jsonl"
    first = write_manifest(tmp_path / "a.jsonl", creates(2, "a"))
    code, _, _ = await cli("provision", str(first), "--journal", str(journal), "--no-progress")
    assert code == 0
    other = write_manifest(tmp_path / "b.jsonl", creates(2, "b"))
    before = len(fake.requests)
    code, _, err = await cli("provision", str(other), "--journal", str(journal), "--no-progress")
    assert code == 2
    assert "b.jsonl:1 differs" in err
    assert "a new journal for this whole manifest would make its finished lines again" in err
    assert len(fake.requests) == before


@pytest.mark.parametrize("keyed_first", [False, True], ids=["keys-added", "keys-removed"])
async def test_keys_added_or_removed_since_the_journal_are_refused_up_front(
    fake: FakeProlific, cli: RunCli, tmp_path: Path, keyed_first: bool
) -> None:
    """The same requests with keys given or taken away: refused, never made a second time."""
    plain = creates(3, "k")
    keyed = [{**line, "key": f"key-{i}"} for i, line in enumerate(creates(3, "k"))]  # type: ignore[dict-item]
    journal = tmp_path / "j.db"
    first = write_manifest(tmp_path / "a.jsonl", keyed if keyed_first else plain)
    code, _, _ = await cli("provision", str(first), "--journal", str(journal), "--no-progress")
    assert code == 0
    again = write_manifest(tmp_path / "b.jsonl", plain if keyed_first else keyed)
    before = len(fake.requests)
    code, _, err = await cli("provision", str(again), "--journal", str(journal), "--no-progress")
    assert code == 2
    assert "b.jsonl:1 is recorded in" in err
    assert "Keep the keys as they were" in err
    assert len(fake.requests) == before
    assert len(fake.batches) == 3


async def test_an_unkeyed_line_like_a_keyed_one_still_in_the_manifest_is_not_refused(
    fake: FakeProlific, cli: RunCli, tmp_path: Path
) -> None:
    """A keyed line and an identical unkeyed one added later: the key stayed, so both run."""
    (line,) = creates(1, "same")
    keyed = {**line, "key": "a"}  # type: ignore[dict-item]
    journal = tmp_path / "j.db"
    first = write_manifest(tmp_path / "a.jsonl", [keyed])
    code, _, _ = await cli("provision", str(first), "--journal", str(journal), "--no-progress")
    assert code == 0
    again = write_manifest(tmp_path / "b.jsonl", [keyed, line])
    code, _, err = await cli("provision", str(again), "--journal", str(journal), "--no-progress")
    assert code == 0, err
    assert len(fake.batches) == 2


async def test_single_batch_commands_print_json(cli: RunCli) -> None:
    """Batches create/get/update/duplicate/list talk to the API and print JSON."""
    code, out, _ = await cli(
        "batches",
        "create",
        "--name",
        "One",
        "--workspace-id",
        WS,
        "--task-name",
        "t",
        "--task-introduction",
        "i",
        "--task-steps",
        "s",
    )
    assert code == 0
    created = json.loads(out)
    assert created["name"] == "One"
    code, out, _ = await cli("batches", "get", created["id"])
    assert json.loads(out)["id"] == created["id"]
    code, out, _ = await cli("batches", "update", created["id"], "--name", "Two")
    assert json.loads(out)["name"] == "Two"
    code, out, _ = await cli("batches", "duplicate", created["id"])
    assert json.loads(out)["name"] == "Two (Copy)"
    code, out, _ = await cli("batches", "list", "--workspace-id", WS)
    assert sorted(b["name"] for b in json.loads(out)) == ["Two", "Two (Copy)"]


async def test_api_errors_are_reported_without_a_traceback(fake: FakeProlific, cli: RunCli) -> None:
    """A 404 prints the error message and exits 1, with no traceback and no token."""
    code, _, err = await cli("batches", "get", "no-such-batch")
    assert code == 1
    assert "404" in err
    assert "Traceback" not in err
    assert fake.token not in err


async def test_incomplete_task_details_are_a_usage_error(cli: RunCli) -> None:
    """Giving only some of the task fields is refused with a usage message."""
    code, _, err = await cli("batches", "update", "b1", "--task-name", "only")
    assert code == 2
    assert "go together" in err


async def test_sigkilled_run_resumes_to_exactly_once(
    fake: FakeProlific, cli: RunCli, tmp_path: Path
) -> None:
    """A run killed with SIGKILL, resumed with its journal, leaves one batch per item."""
    source = fake.add_batch(name="Source", workspace_id=WS, task_details=TaskDetails(**DETAILS))
    stalled = stall_creates(fake)
    lines = [*copies(source.id, 20), *creates(60)]
    manifest = write_manifest(tmp_path / "m.jsonl", lines)
    journal = tmp_path / "j.jsonl"
    process = await spawn_cli(
        fake,
        "provision",
        manifest,
        "--journal",
        journal,
        "--no-progress",
        "--concurrency",
        "16",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        # Every copy done, and all 16 slots hold a create that took effect but never
        # answers: the run is stuck mid-way, killed with POSTs in flight.
        await wait_until(lambda: stalled.fired == 16, seconds=30)
    finally:
        if process.returncode is None:
            process.kill()  # SIGKILL
        await process.wait()
    assert process.returncode == -signal.SIGKILL
    entries = Journal(journal).read("provision")
    finished = [key for key, entry in entries.items() if entry.batch]
    in_flight = [key for key, entry in entries.items() if entry.started_at and not entry.batch]
    assert len(finished) == 20
    assert len(in_flight) == 16  # the resumed run must find these, not send them again
    fake.clear_faults()
    results = tmp_path / "r.jsonl"
    # No reconcile delay: every POST of the dead process took effect before it stalled.
    code, out, _ = await cli(
        "provision",
        manifest,
        "--journal",
        journal,
        "--no-progress",
        "--results",
        results,
        "--reconcile-delay",
        "0",
    )
    assert code == 0, out
    made = Counter(batch.name for batch in fake.batches.values())
    assert all(made[f"item-{i}"] == 1 for i in range(60))
    assert made["Source (Copy)"] == 20
    assert len(fake.batches) == 81
    records = [json.loads(line) for line in results.read_text().splitlines()]
    assert sum(record["resumed"] for record in records) == len(finished)
    assert sum(record["reconciled"] for record in records) == len(in_flight)
    assert all(record["ok"] for record in records)


def test_emulator_refuses_a_journal_from_an_earlier_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--emulator cannot resume an earlier run: its batches died with that emulator."""
    old = tmp_path / "j.jsonl"
    old.write_text('{"type":"header","version":1,"operation":"provision"}\n')
    journal = tmp_path / "j.journal"
    assert main(["journal", "import", str(old), str(journal)]) == 0
    manifest = write_manifest(tmp_path / "m.jsonl", creates(2))
    code = main(["provision", str(manifest), "--emulator", "--journal", str(journal)])
    assert code == 2
    assert "cannot be resumed" in capsys.readouterr().err


def test_missing_token_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without PROLIFIC_TOKEN, provision says so and exits 2, without a traceback."""
    monkeypatch.delenv("PROLIFIC_TOKEN", raising=False)
    manifest = write_manifest(tmp_path / "m.jsonl", creates(1))
    assert main(["provision", str(manifest), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "PROLIFIC_TOKEN" in err
    assert "Traceback" not in err


def test_non_utf8_manifest_line_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A line that is not UTF-8 is reported with its number like any other bad line."""
    manifest = tmp_path / "m.jsonl"
    manifest.write_bytes(json.dumps(creates(1)[0]).encode() + b"\n\xff\xfe broken\n")
    assert main(["provision", str(manifest), "--emulator"]) == 2
    assert "m.jsonl:2: not UTF-8" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)]
)
async def test_a_stop_signal_keeps_results_and_gives_safe_advice(
    fake: FakeProlific, tmp_path: Path, signum: signal.Signals, status: int
) -> None:
    """Ctrl-C, SIGTERM or SIGHUP keeps the results, counts those in flight, says how to resume."""
    source = fake.add_batch(name="Source", workspace_id=WS, task_details=TaskDetails(**DETAILS))
    stalled = stall_creates(fake)
    lines = [*copies(source.id, 10), *creates(20)]
    manifest = write_manifest(tmp_path / "m.jsonl", lines)
    journal = tmp_path / "j.jsonl"
    results = tmp_path / "r.jsonl"
    process = await spawn_cli(
        fake,
        "provision",
        manifest,
        "--journal",
        journal,
        "--results",
        results,
        "--no-progress",
        "--concurrency",
        "4",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        # Every copy done (its record durable, so its result is reported), and all 4 slots
        # hold a create that never answers: mid-run.
        def copies_done() -> bool:
            with Journal(journal).reading(None) as reader:
                return reader.counts()["done"] == 10

        await wait_until(lambda: stalled.fired == 4 and copies_done(), seconds=30)
        process.send_signal(signum)
        out, err = await asyncio.wait_for(process.communicate(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == status, err.decode()
    assert f"--journal {journal}" in err.decode()
    assert "Traceback" not in err.decode()
    records = [json.loads(line) for line in results.read_text().splitlines()]
    assert len(records) == 10, err.decode()
    assert all(record["ok"] for record in records)
    assert "Provisioning summary" in out.decode()
    # The 4 stalled creates made their batch: the summary must not hide them.
    in_flight = r"in flight when interrupted +│ 4 \(may exist: the journal will reconcile them\)"
    assert re.search(in_flight, out.decode()), out.decode()


def test_python_m_prolific_async_is_the_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`python -m prolific_async` runs the same command as `prolific-async`."""
    monkeypatch.setattr(sys, "argv", ["prolific_async", "--version"])
    monkeypatch.delitem(sys.modules, "prolific_async.__main__", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        importlib.import_module("prolific_async.__main__")
    assert exit_info.value.code == 0
    assert "prolific-async, version" in capsys.readouterr().out


def test_emulator_on_a_busy_port_exits_2_saying_why(capsys: pytest.CaptureFixture[str]) -> None:
    """A --port in use is bad input: exit 2, one line naming the address, no traceback."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["emulator", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"error: cannot listen on 127.0.0.1:{port}: the port is in use; pick another --port "
        "(0 picks a free one)\n"
    )


def test_emulator_on_an_address_not_of_this_machine_exits_2_saying_why(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A --host this machine does not have is bad input: exit 2, one line, no traceback."""
    host = "192.0.2.1"  # TEST-NET-1: never a local address; binding fails before any packet
    assert main(["emulator", "--host", host, "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot listen on {host}:0: the address is not one of ")
    assert err.count("\n") == 1


async def test_emulator_command_serves_until_sigterm() -> None:
    """The emulator command prints its URL and token, serves, and stops on SIGTERM."""
    async with emulator_command("--seed", "5", lines=3) as run:
        assert "(seed 5)" in run.lines[0]
        assert run.lines[2].strip() == "PROLIFIC_TOKEN=cli-token"
        async with ProlificClient(token="cli-token", base_url=run.url) as client:
            assert await client.batches.list(WS) == []
    assert run.out.strip().endswith("Stopped.")


async def test_emulator_tls_prints_the_ca_file_a_client_can_trust() -> None:
    """``emulator --tls`` serves HTTPS and prints SSL_CERT_FILE; a client trusting it works."""
    async with emulator_command("--tls", lines=4) as run:
        assert run.url.startswith("https://")
        ca_file = run.lines[3].strip().removeprefix("SSL_CERT_FILE=")
        context = ssl.create_default_context(cafile=ca_file)
        url = run.url
        async with ProlificClient(token="cli-token", base_url=url, ssl_context=context) as client:
            assert await client.batches.list(WS) == []
    assert run.out.strip().endswith("Stopped.")
    assert not await asyncio.to_thread(os.path.exists, ca_file)  # gone with the server


async def _legacy_answers(*flags: str) -> tuple[int, dict[str, Any], dict[str, Any]]:
    """Start `emulator` with ``flags``; return its export answer and a V3 upload URL answer."""
    async with (
        emulator_command(*flags) as run,
        ClientSession(
            base_url=run.url,
            headers={"Authorization": "Token cli-token"},
            timeout=ClientTimeout(total=20),
        ) as http,
    ):
        body = {"name": "b", "workspace_id": WS, "task_details": DETAILS}
        async with http.post(CREATE_PATH, json=body) as response:
            batch = await response.json()
        async with http.post(f"{CREATE_PATH}/{batch['id']}/export") as response:
            export_status, export = response.status, await response.json()
        async with http.post(DATASETS, json={"name": "d", "workspace_id": WS}) as response:
            dataset = await response.json()  # no schema: V3
        async with http.get(f"{DATASETS}/{dataset['id']}/upload-url/rows.csv") as response:
            assert response.status == 201
            upload_url = await response.json()
    return export_status, export, upload_url


async def test_emulator_answers_exports_and_v3_upload_urls_the_current_way_by_default() -> None:
    """Without legacy flags an export is 202 `generating` and a V3 upload URL names its job."""
    status, export, upload_url = await _legacy_answers()
    assert (status, export["status"], "export_id" in export) == (202, "generating", True)
    assert "import_id" in upload_url


async def test_emulator_legacy_exports_answers_an_export_200_complete_at_once() -> None:
    """``emulator --legacy-exports``: an export is 200 `complete` with its URL, no job."""
    status, export, upload_url = await _legacy_answers("--legacy-exports")
    assert (status, export["status"], "export_id" in export) == (200, "complete", False)
    assert export["url"].startswith("http://127.0.0.1:")
    assert "import_id" in upload_url  # the other answer unchanged


async def test_emulator_legacy_v3_uploads_gives_a_v3_upload_url_no_import_id() -> None:
    """``emulator --legacy-v3-uploads``: a V3 upload URL comes without an import_id."""
    status, export, upload_url = await _legacy_answers("--legacy-v3-uploads")
    assert "import_id" not in upload_url
    assert upload_url["upload_url"].startswith("http://127.0.0.1:")
    assert (status, export["status"]) == (202, "generating")  # the other answer unchanged


async def test_emulator_takes_both_legacy_flags_at_once() -> None:
    """``emulator --legacy-exports --legacy-v3-uploads``: both answers the legacy way."""
    status, export, upload_url = await _legacy_answers("--legacy-exports", "--legacy-v3-uploads")
    assert (status, export["status"], "export_id" in export) == (200, "complete", False)
    assert "import_id" not in upload_url


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
async def test_a_signal_ignored_at_start_stays_ignored(
    tmp_path: Path, signum: signal.Signals
) -> None:
    """Started with SIGTERM or SIGHUP ignored (nohup), a run goes on through that signal."""
    arrived, release = asyncio.Event(), asyncio.Event()

    async def create(request: web.Request) -> web.Response:
        body = await request.json()
        arrived.set()
        await release.wait()  # the create is held until the signal has been sent
        return web.json_response({**BATCH, "name": body["name"]}, status=201)

    app = web.Application()
    app.router.add_post("/api/v1/data-collection/batches", create)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    manifest = write_manifest(tmp_path / "m.jsonl", creates(1))
    try:
        process = await spawn_cli(
            f"http://127.0.0.1:{port}",
            "provision",
            manifest,
            "--no-progress",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            ignored=(signum,),
        )
        try:
            await asyncio.wait_for(arrived.wait(), 30)
            process.send_signal(signum)  # an ignored signal is discarded as it is sent
            release.set()
            out, err = await asyncio.wait_for(process.communicate(), 30)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    finally:
        await runner.cleanup()
    assert process.returncode == 0, err.decode()
    assert "Stopped by" not in err.decode()
    assert re.search(r"batches that exist +│ 1 ", out.decode()), out.decode()
