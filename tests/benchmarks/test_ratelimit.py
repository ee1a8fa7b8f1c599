"""benchmarks/ratelimit.py runs at a tiny N (its figures are not asserted)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "ratelimit.py"


def _benchmark() -> Any:
    spec = importlib.util.spec_from_file_location("ratelimit_benchmark", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_both_runners_make_every_batch_under_a_roomy_limit() -> None:
    """create_many and the semaphore loop each make 20 batches; the row is filled in."""
    benchmark = _benchmark()
    for runner in ("create_many", "semaphore"):
        row = await benchmark.measure(runner, 1000.0, 20, 0.0, 20, concurrency=4)
        assert (row.made, row.failed, row.retry_after_violations) == (20, 0, 0)
        assert row.requests >= 20
    benchmark.print_table([row])
