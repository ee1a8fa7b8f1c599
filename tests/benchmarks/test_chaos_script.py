"""``benchmarks/chaos.py`` runs as a script at a tiny size: its table and its JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ._run import ENVIRONMENT, VERSIONS

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "chaos.py"


@pytest.mark.timeout(60)
def test_the_chaos_script_prints_its_table_and_writes_its_json(tmp_path: Path) -> None:
    """At 30 items and one kill it passes, prints its table, writes figures and environment."""
    figures = tmp_path / "chaos.json"
    done = subprocess.run(  # noqa: S603 (our own interpreter and script)
        [
            sys.executable,
            str(SCRIPT),
            "--items",
            "30",
            "--kills",
            "1",
            "--late-items",
            "10",
            "--json",
            str(figures),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "items with exactly one batch" in done.stdout
    assert "kinds that never fired:" in done.stdout
    document = json.loads(figures.read_text())
    assert document["script"] == "chaos"
    assert set(document["environment"]) >= ENVIRONMENT
    assert set(document["environment"]["versions"]) >= VERSIONS
    data = document["figures"]
    assert data["soak"]["passed"] is True
    assert data["soak"]["exactly_once"] == 30
    assert data["late_applies"]["items"] == 10
