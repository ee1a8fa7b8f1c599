"""The demo's ``--seed`` replays: the same seed faults the same requests, another does not."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from prolific_async._cli import _demo, _provision
from prolific_async.cli import main
from prolific_async.testing import FakeProlific, FiredFault

EXAMPLE = Path(__file__).parents[2] / "examples" / "batches.jsonl"


def demo_manifest(path: Path) -> Path:
    """The example manifest's first 60 creates and first 20 duplicates (a quicker demo)."""
    lines = [line for line in EXAMPLE.read_text().splitlines() if line.startswith("{")]
    creates = [line for line in lines if '"duplicate_of"' not in line][:60]
    copies = [line for line in lines if '"duplicate_of"' in line][:20]
    path.write_text("\n".join(creates + copies) + "\n")
    return path


@pytest.mark.usefixtures("testing_mode")  # no 1 s Retry-After waits
def test_the_demo_replays_its_faults_from_its_seed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two demo runs with one seed fault the same requests; a third seed faults others."""
    manifest = demo_manifest(tmp_path / "demo.jsonl")
    fakes: list[FakeProlific] = []

    @contextlib.asynccontextmanager
    async def recorded(path: Path, seed: int) -> AsyncIterator[FakeProlific]:
        async with _demo.demo_emulator(path, seed) as fake:
            fakes.append(fake)
            yield fake

    monkeypatch.setattr(_provision, "demo_emulator", recorded)
    logs: list[set[FiredFault]] = []
    digests: list[str] = []
    for seed in (0, 0, 1):
        args = ["provision", str(manifest), "--emulator", "--no-progress", "--seed", str(seed)]
        args += ["--reconcile-delay", "0.1"]  # a shorter wait: the same decisions
        assert main(args) == 0
        found = re.search(r"faults injected .*? (\d+), digest (\w+)", capsys.readouterr().out)
        assert found is not None
        logs.append(set(fakes[-1].fault_log))
        assert int(found[1]) == len(fakes[-1].fault_log)
        digests.append(found[2])
    assert logs[0], "the demo's faults fired on no request"
    assert logs[0] == logs[1]
    assert digests[0] == digests[1]
    assert logs[0] != logs[2]
    assert digests[0] != digests[2]
