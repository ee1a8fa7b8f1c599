"""Run a benchmark script as a user would, with a tiny N (no timing is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

BENCHMARKS = Path(__file__).parents[2] / "benchmarks"
#: What every script's JSON names in its environment (``benchmarks/_env.py``).
ENVIRONMENT = {"python", "platform", "cpu_count", "load_average", "versions"}
VERSIONS = {"prolific-async", "aiohttp", "attrs", "cattrs", "msgspec"}


def run_script(
    name: str, tmp_path: Path, *args: str, table: str = "|---", timeout: float = 120
) -> dict[str, Any]:
    """Run ``benchmarks/<name>`` with ``args`` and ``--json``; check the shared layout.

    ``table`` is a piece of the printed table (its header rule by default). Returns the
    JSON document (``script``, ``environment``, ``figures``).
    """
    out = tmp_path / "figures.json"
    done = subprocess.run(  # noqa: S603
        [sys.executable, str(BENCHMARKS / name), *args, "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert table in done.stdout  # the table
    document: dict[str, Any] = json.loads(out.read_text())
    assert set(document) == {"script", "environment", "figures"}
    assert document["script"] == Path(name).stem
    assert set(document["environment"]) >= ENVIRONMENT
    assert document["environment"]["cpu_count"]
    assert set(document["environment"]["versions"]) >= VERSIONS
    assert document["environment"]["versions"]["prolific-async"]
    return document
