"""benchmarks/journal.py runs at a tiny N (its figures are not asserted)."""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "journal.py"


def _benchmark() -> Any:
    spec = importlib.util.spec_from_file_location("journal_benchmark", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_with_and_without_a_journal_every_batch_is_made(tmp_path: Path) -> None:
    """Both runs make 30 batches; the journal's run leaves its scratch directory empty."""
    benchmark = _benchmark()
    for journal in (False, True):
        row = asyncio.run(benchmark.measure(30, concurrency=4, journal=journal, directory=tmp_path))
        assert (row.items, row.made, row.journal) == (30, 30, journal)
    assert list(tmp_path.iterdir()) == []
    assert benchmark.environment()["cpu_count"]
