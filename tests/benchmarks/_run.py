"""Run a benchmark script as a user would, with a tiny N (no timing is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

BENCHMARKS = Path(__file__).parents[2] / "benchmarks"


def run_script(name: str, tmp_path: Path, *args: str) -> dict[str, Any]:
    out = tmp_path / "figures.json"
    done = subprocess.run(  # noqa: S603
        [sys.executable, str(BENCHMARKS / name), *args, "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "|---" in done.stdout  # the table
    document: dict[str, Any] = json.loads(out.read_text())
    assert document["environment"]["cpu_count"]
    return document
