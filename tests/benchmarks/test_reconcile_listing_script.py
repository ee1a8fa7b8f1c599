"""benchmarks/reconcile_listing.py runs and writes its figures (no timing asserted)."""

from __future__ import annotations

from pathlib import Path

from ._run import run_script


def test_reconcile_listing_prints_a_table_and_writes_json(tmp_path: Path) -> None:
    """With a small workspace it reports CPU and peak memory for each way of reading."""
    document = run_script("reconcile_listing.py", tmp_path, "--batches", "50")
    assert all("peak_mb" in row for row in document["figures"])
