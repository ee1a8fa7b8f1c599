"""``provision``'s summary: what reached the server, what a stopped run never attempted."""

from __future__ import annotations

import re
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from prolific_async.testing import FakeProlific

from .conftest import RunCli, creates, write_manifest

REACHED = "POSTs that may have reached the server"
UNSENT = "attempts that provably did not"


@pytest.fixture
async def fake() -> AsyncIterator[FakeProlific]:
    async with FakeProlific(seed=5) as emulator:
        yield emulator


@pytest.fixture
def closed_port(
    cli: RunCli,
    never_listening: socket.socket,
    retry_waits: list[float],
    monkeypatch: pytest.MonkeyPatch,
) -> RunCli:
    """``cli``, pointed at a port on 127.0.0.1 that refuses connections (retries unslept)."""
    monkeypatch.setenv("PROLIFIC_URL", f"http://127.0.0.1:{never_listening.getsockname()[1]}")
    return cli


def row(out: str, label: str) -> int:
    """The number in the summary row ``label``."""
    found = re.search(rf"{re.escape(label)}\W+(\d+)", out)
    assert found is not None, out
    return int(found.group(1))


async def test_a_closed_port_reports_no_post_reached_the_server(
    closed_port: RunCli, tmp_path: Path
) -> None:
    """Against a closed port the attempts are counted as unsent, none as reaching the server."""
    manifest = write_manifest(tmp_path / "m.jsonl", creates(40))
    code, out, _ = await closed_port("provision", manifest, "--no-progress", "--concurrency", "2")
    assert code == 1
    assert row(out, REACHED) == 0
    assert row(out, UNSENT) > 0
    assert "POSTs sent" not in out


async def test_a_reachable_server_counts_each_post_as_reaching_it(
    cli: RunCli, tmp_path: Path
) -> None:
    """Against the emulator every POST may have reached the server and none is unsent."""
    manifest = write_manifest(tmp_path / "m.jsonl", creates(3))
    code, out, _ = await cli("provision", manifest, "--no-progress")
    assert code == 0
    assert row(out, REACHED) == 3
    assert row(out, UNSENT) == 0


async def test_the_items_a_stopped_run_never_attempted_are_one_line(
    closed_port: RunCli, tmp_path: Path
) -> None:
    """The items the stop caught are folded into one line naming the cause, not one each."""
    manifest = write_manifest(tmp_path / "m.jsonl", creates(60))
    code, out, _ = await closed_port("provision", manifest, "--no-progress", "--concurrency", "2")
    assert code == 1
    assert "RunStoppedError" not in out
    folded = [line for line in out.splitlines() if "not attempted: the run stopped" in line]
    assert len(folded) == 1
    count = int(folded[0].split()[0])
    assert count == row(out, "not attempted (the run stopped)") > 30
    assert "(APIConnectionError: " in folded[0]
    assert folded[0].endswith("; a re-run does them")
    assert len(out.splitlines()) < 40


async def test_max_consecutive_unsent_sets_when_the_run_stops(
    closed_port: RunCli, tmp_path: Path
) -> None:
    """With --max-consecutive-unsent 2 and one send at a time, the run stops after two sends."""
    manifest = write_manifest(tmp_path / "m.jsonl", creates(10))
    code, out, _ = await closed_port(
        "provision", manifest, "--no-progress", "--concurrency", "1",
        "--max-consecutive-unsent", "2",
    )  # fmt: skip
    assert code == 1
    per_send = re.search(r"could not connect after (\d+) attempts", out)
    assert per_send is not None
    assert row(out, UNSENT) == 2 * int(per_send.group(1))  # two sends, each to its retry cap
    stopped = row(out, "not attempted (the run stopped)")
    assert stopped >= 10 - 2  # an item may be resent once it provably was not sent
    assert f"{stopped} items not attempted: the run stopped" in out


@pytest.mark.parametrize("value", ["0", "-3", "two", "1.5"])
async def test_max_consecutive_unsent_must_be_a_positive_integer(
    cli: RunCli, fake: FakeProlific, tmp_path: Path, value: str
) -> None:
    """--max-consecutive-unsent below 1 or not an integer is a usage error; nothing is sent."""
    manifest = write_manifest(tmp_path / "m.jsonl", creates(2))
    code, _, err = await cli("provision", manifest, "--max-consecutive-unsent", value)
    assert code == 2
    assert "--max-consecutive-unsent" in err
    assert "Traceback" not in err
    assert fake.requests == []
