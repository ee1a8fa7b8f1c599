"""benchmarks/percall.py runs and writes its figures (a smoke test: no timing asserted)."""

from __future__ import annotations

from pathlib import Path

from ._run import run_script


def test_percall_prints_a_table_and_writes_json(tmp_path: Path) -> None:
    """With a few calls and one round it shows every client, absent ones as not installed."""
    document = run_script("percall.py", tmp_path, "--calls", "64", "--rounds", "1")
    clients = {row["client"] for row in document["figures"]}
    assert "prolific_async" in clients
    assert "pyrolific" in clients
