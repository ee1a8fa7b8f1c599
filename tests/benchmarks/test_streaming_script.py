"""benchmarks/streaming.py runs at a tiny N (its figures are not asserted)."""

from __future__ import annotations

from pathlib import Path

from ._run import run_script


def test_streaming_prints_its_sizes_and_writes_json(tmp_path: Path) -> None:
    """At 200 items it runs 2, 20 and 200, each made in full, with the design's bounds."""
    document = run_script("streaming.py", tmp_path, "--items", "200", table="peak read ahead")
    figures = document["figures"]
    assert (figures["bound_read_ahead"], figures["bound_tasks"]) == (17, 40)
    assert [(row["items"], row["made"]) for row in figures["rows"]] == [
        (2, 2),
        (20, 20),
        (200, 200),
    ]
    assert all({"peak_read_ahead", "peak_tasks"} <= set(row) for row in figures["rows"])
