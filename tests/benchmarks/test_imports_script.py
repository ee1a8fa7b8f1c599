"""benchmarks/imports.py runs and writes its figures (a smoke test: no timing asserted)."""

from __future__ import annotations

from pathlib import Path

from ._run import run_script


def test_imports_prints_a_table_and_writes_json(tmp_path: Path) -> None:
    """With one run it measures the import (twice) and the plugin against their baselines."""
    document = run_script("imports.py", tmp_path, "--runs", "1")
    assert len(document["figures"]) == 3
    assert all({"baseline_ms", "ms", "extra_ms"} <= set(row) for row in document["figures"])
