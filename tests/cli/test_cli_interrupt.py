"""An interrupted or stopped ``provision``: what it says was sent, and what its journal keeps.

The emulator runs on a thread of its own, so the command runs on the main thread as
it would in a terminal, and Ctrl-C is a real SIGINT to this process (no child, no wait).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import threading
from collections import Counter
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from prolific_async import TaskDetails
from prolific_async.cli import main
from prolific_async.testing import FakeProlific

from ..conftest import wait_until
from .conftest import CREATE_PATH, DETAILS, WS, copies, creates, write_manifest

T = TypeVar("T")


class ThreadedFake:
    """A :class:`FakeProlific` serving from its own event loop on a background thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.fake = self.run(FakeProlific(seed=3).start())

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the fake's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(30)

    def close(self) -> None:
        self.run(self.fake.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[ThreadedFake]:
    """The threaded fake, with the command's environment pointing at it."""
    threaded = ThreadedFake()
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("PROLIFIC_URL", threaded.fake.url)
    monkeypatch.setenv("PROLIFIC_TOKEN", threaded.fake.token)
    monkeypatch.delenv("COLUMNS", raising=False)
    try:
        yield threaded
    finally:
        threaded.close()


@pytest.fixture
def ctrl_c_delivered() -> Iterator[None]:
    """SIGINT raising KeyboardInterrupt, as in a terminal, however the suite was started.

    A process started in the background without job control inherits SIGINT ignored,
    and then neither Python nor ``asyncio.run`` handles it: the test would wait forever.
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.usefixtures("ctrl_c_delivered")
def test_ctrl_c_counts_only_sent_requests_as_in_flight(
    served: ThreadedFake, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """After Ctrl-C, in flight is what was sent (the emulator made those); the rest is unsent."""
    fake = served.fake
    source = fake.add_batch(name="Source", workspace_id=WS, task_details=TaskDetails(**DETAILS))
    stalled = fake.add_fault("POST", CREATE_PATH, "stall_after", times=None)  # made, no answer
    fetch = fake.add_fault("GET", f"{CREATE_PATH}/{source.id}", "stall_after", times=None)
    manifest = write_manifest(tmp_path / "m.jsonl", [*creates(2), *copies(source.id, 2)])

    async def interrupt() -> None:
        # Both creates sent (and made), both copies read, waiting on their source.
        await wait_until(lambda: stalled.fired == 2 and fetch.fired == 1)
        os.kill(os.getpid(), signal.SIGINT)

    ctrl_c = asyncio.run_coroutine_threadsafe(interrupt(), served.loop)
    args = ["provision", manifest, "--journal", tmp_path / "j.journal", "--no-progress"]
    code = main([*map(str, args), "--concurrency", "4"])
    ctrl_c.result(10)
    out, err = capsys.readouterr()
    assert code == 130, err
    made = Counter(batch.name for batch in fake.batches.values())
    assert made == {"Source": 1, "item-0": 1, "item-1": 1}  # what the in-flight sends made
    in_flight = r"in flight when interrupted +│ 2 \(may exist: the journal will reconcile them\)"
    assert re.search(in_flight, out), out
    assert re.search(r"not attempted yet +│ 2 ", out), out
    assert "the 2 requests in flight may have made their batch" in " ".join(err.split())


def test_a_run_stopped_by_a_401_journals_the_rest_for_a_plain_rerun(
    served: ThreadedFake,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Unsent items are journaled 'not attempted', the refused one 'not made'; all made once."""
    manifest = write_manifest(tmp_path / "m.jsonl", creates(6))
    journal = tmp_path / "j.journal"
    run = ["provision", str(manifest), "--journal", str(journal), "--no-progress"]
    monkeypatch.setenv("PROLIFIC_TOKEN", "a-wrong-token")
    assert main([*run, "--concurrency", "1"]) == 1
    assert "5 items not attempted: the run stopped" in " ".join(capsys.readouterr().out.split())
    assert main(["journal", "show", str(journal)]) == 0
    shown = capsys.readouterr().out
    assert re.search(r"in flight +0 ", shown), shown  # the one answered 401 made nothing:
    assert re.search(r"not made +1 +\(sent, provably not made: a re-run sends these\)", shown)
    assert re.search(r"not attempted +5 +\(a re-run sends these\)", shown), shown
    monkeypatch.setenv("PROLIFIC_TOKEN", served.fake.token)
    assert main([*run, "--reconcile-delay", "0"]) == 0, capsys.readouterr()
    made = Counter(batch.name for batch in served.fake.batches.values())
    assert made == {f"item-{i}": 1 for i in range(6)}
    assert main(["journal", "show", str(journal)]) == 0
    assert re.search(r"done +6\b", capsys.readouterr().out)
