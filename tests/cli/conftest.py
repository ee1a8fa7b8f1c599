"""Shared helpers of the command-line tests: manifests, in-process runs, signalled children.

A command runs in-process (:func:`cli`) unless the test sends it a signal: then it runs
in a child process (:func:`spawn_cli`), which costs about a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import attrs
import pytest

from prolific_async.cli import main
from prolific_async.testing import FakeProlific, Fault

WS = "6278acb09062db3b35bcbeb0"
DETAILS = {"task_name": "t", "task_introduction": "<p>i</p>", "task_steps": "<ol></ol>"}
CREATE_PATH = "/api/v1/data-collection/batches"

#: Runs a command; returns its exit status, stdout and stderr.
RunCli = Callable[..., Awaitable[tuple[int, str, str]]]

#: The child's program: the command, with Python's usual Ctrl-C handling and SIGTERM and
#: SIGHUP at their defaults even when this test run ignores them (as a background job of
#: a non-interactive shell, or nohup, does, and a child inherits); then the signals the
#: test wants ignored from the start. The command leaves an ignored signal ignored.
_CHILD = (
    "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "signal.signal(signal.SIGTERM, signal.SIG_DFL); signal.signal(signal.SIGHUP, signal.SIG_DFL); "
    "[signal.signal(signal.Signals(s), signal.SIG_IGN) for s in {ignored}]; "
    "from prolific_async.cli import entry_point; entry_point()"
)


def write_manifest(path: Path, lines: list[dict[str, Any] | str]) -> Path:
    """Write manifest lines (dicts as JSON, strings as they are) to ``path``."""
    path.write_text(
        "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    )
    return path


def creates(count: int, prefix: str = "item") -> list[dict[str, Any] | str]:
    """``count`` create lines named ``<prefix>-<i>``."""
    return [
        {"name": f"{prefix}-{i}", "workspace_id": WS, "task_details": DETAILS} for i in range(count)
    ]


def copies(source_id: str, count: int) -> list[dict[str, Any] | str]:
    """``count`` lines duplicating ``source_id``."""
    return [{"duplicate_of": source_id} for _ in range(count)]


def stall_creates(fake: FakeProlific) -> Fault:
    """Hold every create POST after it takes effect (the batch exists) until the fake stops.

    A run whose every slot holds a stalled create can go no further: a test counts the
    fault's ``fired`` to know the run is mid-way, whatever the machine's speed.
    """
    return fake.add_fault("POST", CREATE_PATH, "stall_after", times=None)


@pytest.fixture
def cli(
    fake: FakeProlific,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
) -> RunCli:
    """Run the command in-process against the module's ``fake`` (it keeps serving).

    The command runs on a worker thread with its own event loop, as it would in its own
    process; its output is captured with ``capsys``, as a pipe would see it. ``HOME`` is
    an empty directory: the developer's own config file never sets a default workspace.
    """
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("home")))
    monkeypatch.setenv("PROLIFIC_URL", fake.url)
    monkeypatch.setenv("PROLIFIC_TOKEN", fake.token)
    monkeypatch.delenv("COLUMNS", raising=False)  # a pipe: tables as wide as their content

    async def run(*args: str | Path) -> tuple[int, str, str]:
        capsys.readouterr()  # only this command's output
        code = await asyncio.to_thread(main, [str(arg) for arg in args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


async def spawn_cli(
    fake: FakeProlific | str | None,
    *args: str | Path,
    stdout: int,
    stderr: int,
    ignored: tuple[signal.Signals, ...] = (),
) -> asyncio.subprocess.Process:
    """Start the command in a child process, for a test that signals it.

    Args:
        fake: the emulator it talks to, or the URL of another test server (token
            ``test-token``).
        args: the command's arguments.
        stdout: where its stdout goes (``asyncio.subprocess.PIPE``, ``DEVNULL`` ...).
        stderr: where its stderr goes.
        ignored: signals the child starts with ignored, as under ``nohup``.
    """
    env = dict(os.environ)
    if isinstance(fake, FakeProlific):
        env.update(PROLIFIC_URL=fake.url, PROLIFIC_TOKEN=fake.token)
    elif fake is not None:
        env.update(PROLIFIC_URL=fake, PROLIFIC_TOKEN="test-token")
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _CHILD.format(ignored=[int(signum) for signum in ignored]),
        *map(str, args),
        stdout=stdout,
        stderr=stderr,
        env=env,
    )


@attrs.define
class EmulatorRun:
    """A running ``prolific-async emulator``: the lines it printed first, and all it printed."""

    lines: list[str]
    out: str = ""
    """Everything on its stdout, once it stopped."""

    @property
    def url(self) -> str:
        """The URL it printed (its ``PROLIFIC_URL=`` line)."""
        return self.lines[1].strip().removeprefix("PROLIFIC_URL=")


@contextlib.asynccontextmanager
async def emulator_command(
    *flags: str | Path,
    token: str = "cli-token",  # noqa: S107 (the emulator's own throwaway token)
    until: str | None = None,
    lines: int = 2,
) -> AsyncIterator[EmulatorRun]:
    """Run ``prolific-async emulator --port 0 --token TOKEN FLAGS`` in a child process.

    Yields once it printed ``lines`` lines (or up to one starting with ``until``). On
    leaving it is stopped with SIGTERM and must exit 0; it is killed if the body raised.
    """
    process = await spawn_cli(
        None,
        "emulator",
        "--port",
        "0",
        "--token",
        token,
        *flags,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    try:
        run = EmulatorRun([])
        while not _printed_enough(run.lines, lines, until):
            line = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
            assert line, f"the emulator ended its output after {run.lines!r}"
            run.lines.append(line)
        yield run
        process.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(process.communicate(), 20)
        run.out = out.decode()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, err.decode()


def _printed_enough(printed: list[str], lines: int, until: str | None) -> bool:
    if until is None:
        return len(printed) >= lines
    return bool(printed) and printed[-1].startswith(until)
