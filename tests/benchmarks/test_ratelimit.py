"""benchmarks/ratelimit.py runs at a tiny N (its figures are not asserted)."""

from __future__ import annotations

from pathlib import Path

from ._run import run_script

ROW = {"runner", "made", "failed", "requests", "rate_limited", "retry_after_violations"}


def test_every_runner_makes_every_batch_under_a_roomy_limit(tmp_path: Path) -> None:
    """At 20 items and one roomy limit, the three runners each make 20 batches."""
    document = run_script(
        "ratelimit.py",
        tmp_path,
        *("--items", "20", "--concurrency", "4", "--config", "1000,20,0"),
        table="RA viol.",
    )
    rows = document["figures"]["rows"]
    assert [row["runner"] for row in rows] == ["create_many", "semaphore", "plain loop"]
    for row in rows:
        assert set(row) >= ROW
        assert (row["made"], row["failed"], row["retry_after_violations"]) == (20, 0, 0)
