"""benchmarks/bulk_overhead.py runs and writes its figures (a smoke test: no timing asserted)."""

from __future__ import annotations

from pathlib import Path

from ._run import run_script


def test_bulk_overhead_prints_both_parts_and_writes_json(tmp_path: Path) -> None:
    """With a few items and one round it times both runners, with and without latency."""
    document = run_script(
        "bulk_overhead.py", tmp_path, "--items", "40", "--latency-items", "16", "--rounds", "1"
    )
    figures = document["figures"]
    plain = figures["no_latency"]
    assert plain["items"] == 40
    assert plain["concurrency"] == 64
    for name in ("create_many", "gather"):
        assert plain[name]["cpu_us_per_item"] > 0
    assert isinstance(plain["cpu_ratio"], float)
    assert [row["concurrency"] for row in figures["latency"]] == [16, 64]
    for row in figures["latency"]:
        assert row["ideal_s"] == row["items"] * figures["latency_s"] / row["concurrency"]
        assert row["create_many"]["x_ideal"] > 0
