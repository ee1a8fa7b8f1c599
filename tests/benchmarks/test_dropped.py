"""The 5 %-dropped benchmark runs at a tiny size and prints and writes what it promises."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ._run import ENVIRONMENT, VERSIONS

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "dropped.py"
FIGURES = {"items", "wall_s", "items_per_s", "reported_ok", "duplicates", "listings"}


def test_the_dropped_benchmark_prints_its_table_and_writes_its_json(tmp_path: Path) -> None:
    """A 40-item run prints both rows and the ratio, and writes the figures and environment."""
    out = tmp_path / "dropped.json"
    done = subprocess.run(  # noqa: S603 (our own interpreter and script)
        [sys.executable, str(SCRIPT), "--items", "40", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    header = done.stdout.splitlines()[0].split()
    assert header[:2] == ["run", "items/s"]
    assert {"wall", "ratio", "duplicates", "reported", "ok"} <= set(header)
    assert "no faults" in done.stdout
    assert "5% dropped" in done.stdout
    assert "target (ratio <= 1.3x, no duplicate)" in done.stdout
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["script"] == "dropped"
    assert set(document["environment"]) >= ENVIRONMENT
    assert set(document["environment"]["versions"]) >= VERSIONS
    figures = document["figures"]
    for run in ("clean", "dropped"):
        assert set(figures[run]) >= FIGURES
        assert figures[run]["items"] == 40
        assert figures[run]["duplicates"] == 0
        assert figures[run]["reported_ok"] == 40
    assert isinstance(figures["ratio"], float)
