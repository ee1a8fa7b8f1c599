"""benchmarks/journal_resume.py runs at a tiny N (its figures are not asserted)."""

from __future__ import annotations

from pathlib import Path

from ._run import run_script


def test_journal_resume_prints_each_size_and_writes_json(tmp_path: Path) -> None:
    """Journals of 20 and 40 done items are resumed in full; peak RSS is reported for each."""
    document = run_script(
        "journal_resume.py", tmp_path, "--sizes", "20", "40", table="peak RSS (MB)"
    )
    rows = document["figures"]
    assert [(row["items"], row["resumed"]) for row in rows] == [(20, 20), (40, 40)]
    assert all({"peak_rss_mb", "peak_vs_first", "seconds"} <= set(row) for row in rows)
