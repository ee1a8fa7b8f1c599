"""The official Prolific CLI's Task Builder commands against the emulator, over TLS.

Skipped unless a ``prolific`` binary (github.com/prolific-oss/cli) is on ``PATH``: this
project never holds the CLI's code or a recipe to build it. Build or install it on
your own, then run ``pytest tests/contract/test_official_cli.py``.

The emulator runs as the ``prolific-async emulator --tls --port 0`` command, in a child
process, as a user of the CLI would run it: the test reads ``PROLIFIC_URL``,
``PROLIFIC_TOKEN`` and ``SSL_CERT_FILE`` (its throwaway CA, which Go's TLS stack trusts
from that variable) from what it prints, and gives them to each ``prolific`` command
with a ``HOME`` of its own, so no configuration of yours is read. TLS because the CLI
refuses an export download from a plain-http link. The library talks to the same
emulator for what the CLI does not do: wait for a setup, append datapoints to the V4
dataset before its batch is synced (a sync needs a V4 dataset and new datapoints).
The command names and flags are the CLI's at prolific-oss/cli@4596a2fba604; every step
runs even when an earlier one failed (those depending on a failed one are reported as
not run), so one run lists every command that does not work against the emulator.

The CLI waits for real (its upload, export and sync polls sleep between tries), so
this test takes tens of seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import ssl
import sys
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Final

import attrs
import pytest

from prolific_async import ProlificClient
from prolific_async.testing import FAST_RETRY_POLICY

pytest.importorskip("trustme", reason="the emulator's TLS needs the tls extra (trustme)")

CLI: Final = shutil.which("prolific")
pytestmark = [
    pytest.mark.skipif(CLI is None, reason="no official 'prolific' CLI on PATH"),
    pytest.mark.timeout(600),
]

WORKSPACE: Final = "6278acb09062db3b35bcbeb0"
#: How long one CLI command may take (its own polls included).
COMMAND_TIMEOUT: Final = 180.0
#: How long the emulator may take to print where it listens.
START_TIMEOUT: Final = 30.0
#: What the emulator prints that the CLI needs, ``NAME=value`` one a line.
EMULATOR_VARIABLES: Final = ("PROLIFIC_URL", "PROLIFIC_TOKEN", "SSL_CERT_FILE")
#: What the CLI's ``batch export`` documents the ZIP holds (files/ only with uploads).
EXPORT_MEMBERS: Final = {
    "responses-by-submission.jsonl",
    "responses-by-task.jsonl",
    "batch.json",
    "README.md",
}
_ID: Final = re.compile(r"^ID: (?P<id>\S+)$", re.MULTILINE)

LAYOUT: Final = [
    {
        "display_position": "intro",
        "rows": [{"columns": [{"items": [{"type": "rich_text", "content": "<p>Welcome</p>"}]}]}],
    },
    {
        "rows": [
            {
                "columns": [
                    {
                        "items": [
                            {"type": "free_text", "description": "What do you see?"},
                            {
                                "type": "multiple_choice",
                                "description": "Is it right?",
                                "answer_limit": 1,
                                "options": [
                                    {"label": "Yes", "value": "yes"},
                                    {"label": "No", "value": "no"},
                                ],
                            },
                        ]
                    }
                ]
            }
        ]
    },
]
V4_LAYOUT: Final = [
    {"rows": [{"columns": [{"items": [{"type": "dataset_field", "field": "prompt"}]}]}]},
    *LAYOUT[1:],
]
V4_SCHEMA: Final = {"fields": {"prompt": {"type": "text"}, "group": {"type": "task_group_id"}}}


@attrs.frozen
class Step:
    """One CLI command and how it went."""

    argv: tuple[str, ...]
    returncode: int | None
    """``None``: not run (a step it needs failed) or timed out."""
    output: str

    @property
    def ok(self) -> bool:
        """Whether the command exited 0."""
        return self.returncode == 0

    def describe(self) -> str:
        """The command and what it printed, for the failure message."""
        status = "not run" if self.returncode is None else f"exit {self.returncode}"
        return f"$ prolific {' '.join(self.argv)}  ({status})\n{self.output.strip()}"


@attrs.frozen
class Emulator:
    """Where a running ``prolific-async emulator --tls`` listens, as it printed it."""

    url: str
    token: str
    ca_file: Path

    def client(self) -> ProlificClient:
        """A library client of this emulator, trusting its CA."""
        context = ssl.create_default_context(cafile=str(self.ca_file))
        return ProlificClient(
            token=self.token, base_url=self.url, ssl_context=context, retry=FAST_RETRY_POLICY
        )


def emulator_command() -> list[str]:
    """``prolific-async emulator --tls --port 0``: the script beside this Python, else PATH."""
    beside = Path(sys.executable).with_name("prolific-async")
    script = str(beside) if beside.is_file() else shutil.which("prolific-async")
    if script is None:
        pytest.skip("no 'prolific-async' command beside this Python or on PATH")
    return [script, "emulator", "--tls", "--port", "0"]


async def _read_variables(stream: asyncio.StreamReader) -> dict[str, str]:
    found: dict[str, str] = {}
    while not set(EMULATOR_VARIABLES) <= set(found):
        line = (await stream.readline()).decode()
        if not line:
            break  # the emulator exited: its stderr says why
        name, sep, value = line.strip().partition("=")
        if sep and name in EMULATOR_VARIABLES:
            found[name] = value
    return found


@contextlib.asynccontextmanager
async def running_emulator(command: list[str]) -> AsyncIterator[Emulator]:
    """Start ``command`` (the emulator), read where it listens, stop it (SIGINT) at the end."""
    process = await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    try:
        found = await asyncio.wait_for(_read_variables(process.stdout), START_TIMEOUT)
        if set(found) != set(EMULATOR_VARIABLES):
            error = (await process.stderr.read()).decode()
            pytest.fail(f"the emulator printed only {sorted(found)}: {error}")
        yield Emulator(
            url=found["PROLIFIC_URL"],
            token=found["PROLIFIC_TOKEN"],
            ca_file=Path(found["SSL_CERT_FILE"]),
        )
    finally:
        if process.returncode is None:
            process.send_signal(2)  # SIGINT: it stops and deletes its CA file
            try:
                await asyncio.wait_for(process.communicate(), 20)
            except TimeoutError:
                process.kill()
                await process.wait()


class CliSession:
    """Runs ``prolific`` commands against one emulator and keeps every step's outcome."""

    def __init__(self, emulator: Emulator, home: Path) -> None:
        assert CLI is not None
        self._binary = CLI
        self._env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(home),
            "PROLIFIC_URL": emulator.url,
            "PROLIFIC_TOKEN": emulator.token,
            "SSL_CERT_FILE": str(emulator.ca_file),
        }
        self.steps: list[Step] = []

    async def run(self, *args: str, needs: tuple[str | None, ...] = ()) -> Step:
        """Run ``prolific aitaskbuilder <args>``; not when a needed id is missing."""
        argv = ("aitaskbuilder", *args)
        if any(value is None for value in needs):
            step = Step(argv=argv, returncode=None, output="an earlier step it needs failed")
            self.steps.append(step)
            return step
        process = await asyncio.create_subprocess_exec(
            self._binary,
            *argv,
            env=self._env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            output, _ = await asyncio.wait_for(process.communicate(), COMMAND_TIMEOUT)
        except TimeoutError:
            process.kill()
            await process.wait()
            step = Step(argv=argv, returncode=None, output=f"timed out after {COMMAND_TIMEOUT} s")
        else:
            step = Step(argv=argv, returncode=process.returncode, output=output.decode())
        self.steps.append(step)
        return step

    async def created_id(self, *args: str, needs: tuple[str | None, ...] = ()) -> str | None:
        """Run a create command; return the ``ID:`` it printed, or ``None`` if it failed."""
        step = await self.run(*args, needs=needs)
        found = _ID.search(step.output) if step.ok else None
        return found["id"] if found else None


async def _is_the_official_cli() -> bool:
    assert CLI is not None
    process = await asyncio.create_subprocess_exec(
        CLI,
        "aitaskbuilder",
        "--help",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    return await process.wait() == 0


async def test_the_official_cli_runs_its_task_builder_commands(tmp_path: Path) -> None:
    """Datasets V3/V4 (a strict one's partial import), batches, setup, responses, export, sync."""
    if not await _is_the_official_cli():
        pytest.skip("the 'prolific' on PATH has no 'aitaskbuilder' command: not the official CLI")
    (tmp_path / "home").mkdir()
    layout, v4_layout = tmp_path / "layout.json", tmp_path / "v4-layout.json"
    schema, csv, jsonl = tmp_path / "schema.json", tmp_path / "data.csv", tmp_path / "data.jsonl"
    layout.write_text(json.dumps(LAYOUT), encoding="utf-8")
    v4_layout.write_text(json.dumps(V4_LAYOUT), encoding="utf-8")
    schema.write_text(json.dumps(V4_SCHEMA), encoding="utf-8")
    csv.write_text("text\nfirst\nsecond\n", encoding="utf-8")
    records = [{"prompt": "p1", "group": "g1"}, {"prompt": "p2", "group": "g2"}]
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    partial = tmp_path / "partial.jsonl"  # a strict schema rejects the second record
    partial.write_text(json.dumps(records[0]) + "\n" + json.dumps({"prompt": "p9"}) + "\n")
    export = tmp_path / "export.zip"
    task = ("--task-name", "Rate it", "--task-introduction", "<p>Hi</p>", "--task-steps", "1.")
    create_batch = ("batch", "create", "-w", WORKSPACE, *task)

    async with running_emulator(emulator_command()) as emulator:
        cli = CliSession(emulator, tmp_path / "home")
        v3 = await cli.created_id("dataset", "create", "-n", "V3", "-w", WORKSPACE)
        await cli.run("dataset", "upload", "-d", str(v3), "-f", str(csv), needs=(v3,))
        await cli.run("dataset", "check", "-d", str(v3), needs=(v3,))
        v4 = await cli.created_id(
            "dataset", "create", "-n", "V4", "-w", WORKSPACE, "--schema", str(schema)
        )
        await cli.run("dataset", "upload", "-d", str(v4), "-f", str(jsonl), needs=(v4,))
        strict = await cli.created_id(
            "dataset", "create", "-n", "Strict", "-w", WORKSPACE, "--schema", str(schema),
            "--strict",
        )  # fmt: skip
        partial_upload = await cli.run(
            "dataset", "upload", "-d", str(strict), "-f", str(partial), needs=(strict,)
        )

        on_v4 = await cli.created_id(
            *create_batch, "-n", "On V4", "-d", str(v4), "-f", str(v4_layout), needs=(v4,)
        )
        on_v3 = await cli.created_id(
            *create_batch, "-n", "On V3", "-d", str(v3), "-j", json.dumps(LAYOUT), "--auto-sync",
            needs=(v3,),
        )  # fmt: skip
        await cli.run(
            "batch", "update", "-b", str(on_v3), "-n", "Renamed", "-f", str(layout),
            needs=(on_v3,),
        )  # fmt: skip
        await cli.run("batch", "view", "-b", str(on_v4), needs=(on_v4,))
        await cli.run("batch", "list", "-w", WORKSPACE)

        for batch, dataset in ((on_v4, v4), (on_v3, v3)):
            ids = (batch, dataset)
            setup = await cli.run(
                "batch", "setup", "-b", str(batch), "-d", str(dataset), "--tasks-per-group", "1",
                needs=ids,
            )  # fmt: skip
            if setup.ok and batch is not None:
                # The CLI's setup does not wait; the library does, on the same emulator.
                async with emulator.client() as client:
                    await client.batches.wait_until_ready(batch, timeout=30, poll_interval=0.05)
            await cli.run("batch", "check", "-b", str(batch), needs=ids)
            await cli.run("batch", "tasks", "-b", str(batch), needs=ids)
            await cli.run("batch", "responses", "-b", str(batch), needs=ids)

        exported = await cli.run("batch", "export", str(on_v4), "-o", str(export), needs=(on_v4,))
        if v4 is not None:
            # A sync turns datapoints appended since setup into tasks: append some first.
            async with emulator.client() as client:
                appended = await client.datasets.add_datapoints(
                    v4, [{"prompt": "p3", "group": "g3"}]
                )
            assert appended.accepted_count == 1
        await cli.run("batch", "sync", str(on_v4), "--timeout", "1m", needs=(on_v4, v4))

    failed = [step.describe() for step in cli.steps if not step.ok]
    assert not failed, "CLI commands that failed against the emulator:\n\n" + "\n\n".join(failed)
    assert exported.ok
    assert re.search(r"^Accepted: 1$", partial_upload.output, re.MULTILINE)
    assert re.search(r"^Rejected: 1$", partial_upload.output, re.MULTILINE)
    with zipfile.ZipFile(export) as archive:
        assert set(archive.namelist()) >= EXPORT_MEMBERS
