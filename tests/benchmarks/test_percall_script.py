"""benchmarks/percall.py runs and writes its figures (a smoke test: no timing asserted)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ._run import run_script


@pytest.mark.timeout(120)
def test_percall_prints_a_table_and_writes_json(tmp_path: Path) -> None:
    """With a few calls, one round and --ablate it shows every client and every ablation."""
    document = run_script(
        "percall.py", tmp_path, "--calls", "32", "--rounds", "1", "--ablate", table="saves"
    )
    clients = {row["client"] for row in document["figures"]}
    assert "prolific_async" in clients
    assert "pyrolific" in clients
    ablated = [row for row in document["figures"] if row["client"].startswith("without ")]
    assert len({row["client"] for row in ablated}) == 9
    assert all({"saves_us", "share_of_excess"} <= set(row) for row in ablated)
