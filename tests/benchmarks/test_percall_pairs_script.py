"""benchmarks/percall_pairs.py runs and writes its figures (a smoke test: no timing asserted)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ._run import run_script


@pytest.mark.timeout(120)
def test_percall_pairs_prints_a_table_and_writes_json(tmp_path: Path) -> None:
    """With two short turns it gives every client a figure, a ratio and its blocks per config."""
    document = run_script("percall_pairs.py", tmp_path, "--block", "64", "--blocks", "2")
    figures = document["figures"]
    assert len(figures) == 3 * 4  # three clients, four configurations
    assert {row["client"] for row in figures} >= {"prolific_async"}
    for row in figures:
        assert len(row["blocks"]) == 2
        low, high = row["ratio_quartiles"]
        assert low <= row["ratio_to_floor"] <= high or low == high
