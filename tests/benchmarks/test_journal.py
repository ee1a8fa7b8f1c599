"""benchmarks/journal.py runs at a tiny N (its figures are not asserted)."""

from __future__ import annotations

from pathlib import Path

from ._run import run_script


def test_with_and_without_a_journal_every_batch_is_made(tmp_path: Path) -> None:
    """Both runs make 30 batches; the JSON holds both times and their ratio."""
    document = run_script("journal.py", tmp_path, "--items", "30", table="journal on / off")
    figures = document["figures"]
    assert {"seconds_without_journal", "seconds_with_journal", "ratio", "sqlite"} <= set(figures)
    assert [(run["journal"], run["made"]) for run in figures["runs"]] == [(False, 30), (True, 30)]
