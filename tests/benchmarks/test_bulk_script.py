"""benchmarks/bulk.py runs at a tiny N (its figures are not asserted)."""

from __future__ import annotations

from pathlib import Path

from ._run import run_script


def test_bulk_prints_every_scenario_and_writes_json(tmp_path: Path) -> None:
    """At 20 items each scenario has a bulk and a baseline row, every bulk item made once."""
    document = run_script("bulk.py", tmp_path, "--items", "20", "--rate", "400", table="---")
    rows = document["figures"]["rows"]
    assert [row["scenario"] for row in rows] == ["plain", "rate-limit", "faults"]
    for row in rows:
        assert {"ok", "exact", "rate", "429s", "items"} <= set(row["bulk"])
        assert row["bulk"]["exact"] == 20
        assert "ratio_items_per_s" in row
