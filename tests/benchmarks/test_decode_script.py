"""benchmarks/decode.py runs and writes its figures (a smoke test: no timing asserted)."""

from __future__ import annotations

from pathlib import Path

from ._run import run_script


def test_decode_prints_a_table_and_writes_json(tmp_path: Path) -> None:
    """With a tiny N the script prints its table and writes one row per body."""
    document = run_script("decode.py", tmp_path, "--number", "20")
    assert len(document["figures"]) == 3
