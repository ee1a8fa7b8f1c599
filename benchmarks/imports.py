"""Import time and the pytest plugin's cost, each against its baseline in the same run.

* ``from prolific_async import ProlificClient`` against ``import aiohttp, attrs,
  cattrs`` (fresh interpreters, the median of N).
* ``pytest --co`` in an empty directory with the plugin (installed through its entry
  point) against ``-p no:prolific_async``.

Run: ``python benchmarks/imports.py [--runs 7] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _env import table, write_json


def wall(command: list[str], cwd: str | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=False, capture_output=True)  # noqa: S603
    return time.perf_counter() - start


def paired_ms(
    command: list[str], baseline: list[str], runs: int, cwd: str | None = None
) -> tuple[float, float]:
    """Medians of ``command`` and ``baseline``, run alternately (the load moves)."""
    ours: list[float] = []
    base: list[float] = []
    for _ in range(runs):
        base.append(wall(baseline, cwd))
        ours.append(wall(command, cwd))
    return statistics.median(ours) * 1e3, statistics.median(base) * 1e3


def measure(runs: int) -> list[dict[str, Any]]:
    python = sys.executable
    figures = []
    ours, base = paired_ms(
        [python, "-c", "from prolific_async import ProlificClient"],
        [python, "-c", "import aiohttp, attrs, cattrs"],
        runs,
    )
    figures.append(
        {
            "what": "from prolific_async import ProlificClient",
            "ms": ours,
            "baseline_ms": base,
            "baseline": "import aiohttp, attrs, cattrs",
            "extra_ms": ours - base,
        }
    )
    with tempfile.TemporaryDirectory() as empty:
        env_cmd = [python, "-m", "pytest", "--co", "-q", "-p", "no:cacheprovider"]
        with_plugin, without = paired_ms(
            env_cmd, [*env_cmd, "-p", "no:prolific_async"], runs, cwd=empty
        )
    figures.append(
        {
            "what": "pytest --co, plugin on",
            "ms": with_plugin,
            "baseline_ms": without,
            "baseline": "pytest --co -p no:prolific_async",
            "extra_ms": with_plugin - without,
        }
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh interpreters per figure")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    os.environ.pop("PYTEST_ADDOPTS", None)
    figures = measure(args.runs)
    rows = [
        [
            r["what"],
            f"{r['ms']:.0f} ms",
            f"{r['baseline']}: {r['baseline_ms']:.0f} ms",
            f"+{r['extra_ms']:.0f} ms",
        ]
        for r in figures
    ]
    print(table(["measured", "time", "baseline", "added"], rows))
    write_json(args.json, figures)


if __name__ == "__main__":
    main()
