"""Import time and the pytest plugin's cost, each against its baseline in the same run.

Each figure is measured inside fresh interpreters (the median of N), so the noise of
starting a process does not swamp a few milliseconds:

* the client: ``import aiohttp, attrs, cattrs`` is timed first (the baseline), then
  ``from prolific_async import ProlificClient`` in the same interpreter: what the
  package adds over its dependencies;
* the pytest plugin: ``import pytest`` (the baseline), then the plugin module pytest
  imports through its entry point (``prolific_async.testing.pytest_plugin``): what every
  pytest run pays in an environment where the package is installed;
* as a cross-check, whole interpreters: ``python -c "from prolific_async import
  ProlificClient"`` against ``python -c "import aiohttp, attrs, cattrs"``, run in pairs.

Run: ``python benchmarks/imports.py [--runs 9] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _env import add_json_option, table, write_json

#: (what, baseline statement, measured statement): both timed in one fresh interpreter.
IN_PROCESS = (
    (
        "from prolific_async import ProlificClient",
        "import aiohttp, attrs, cattrs",
        "from prolific_async import ProlificClient",
    ),
    (
        "pytest plugin module (prolific_async.testing.pytest_plugin)",
        "import pytest",
        "import prolific_async.testing.pytest_plugin",
    ),
)
TIMER = """
import time, json
t0 = time.perf_counter()
{baseline}
t1 = time.perf_counter()
{measured}
t2 = time.perf_counter()
print(json.dumps([t1 - t0, t2 - t1]))
"""


def in_process_ms(baseline: str, measured: str, runs: int) -> tuple[float, float]:
    """Medians (ms) of the baseline's import and of what ``measured`` adds after it."""
    code = TIMER.format(baseline=baseline, measured=measured)
    base: list[float] = []
    added: list[float] = []
    for _ in range(runs):
        done = subprocess.run(  # noqa: S603 (our own interpreter)
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        first, second = json.loads(done.stdout)
        base.append(first * 1e3)
        added.append(second * 1e3)
    return statistics.median(base), statistics.median(added)


def wall(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=False, capture_output=True)  # noqa: S603
    return time.perf_counter() - start


def paired_ms(command: list[str], baseline: list[str], runs: int) -> tuple[float, float]:
    """Medians of ``command`` and ``baseline``, run alternately (the load moves)."""
    ours: list[float] = []
    base: list[float] = []
    for _ in range(runs):
        base.append(wall(baseline))
        ours.append(wall(command))
    return statistics.median(ours) * 1e3, statistics.median(base) * 1e3


def measure(runs: int) -> list[dict[str, Any]]:
    figures = []
    for what, baseline, measured in IN_PROCESS:
        base, added = in_process_ms(baseline, measured, runs)
        figures.append(
            {
                "what": what,
                "how": "in one fresh interpreter, after the baseline",
                "baseline": baseline,
                "baseline_ms": base,
                "ms": base + added,
                "extra_ms": added,
            }
        )
    python = sys.executable
    ours, base = paired_ms(
        [python, "-c", "from prolific_async import ProlificClient"],
        [python, "-c", "import aiohttp, attrs, cattrs"],
        runs,
    )
    figures.append(
        {
            "what": "python -c 'from prolific_async import ProlificClient'",
            "how": "whole interpreters, paired",
            "baseline": "python -c 'import aiohttp, attrs, cattrs'",
            "baseline_ms": base,
            "ms": ours,
            "extra_ms": ours - base,
        }
    )
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=9, help="fresh interpreters per figure")
    add_json_option(parser)
    args = parser.parse_args(argv)
    figures = measure(args.runs)
    rows = [
        [
            r["what"],
            f"{r['baseline']}: {r['baseline_ms']:.0f} ms",
            f"{r['ms']:.0f} ms",
            f"{r['extra_ms']:+.1f} ms",
        ]
        for r in figures
    ]
    print(table(["measured", "baseline", "time", "added"], rows))
    print(f"\nmedians of {args.runs}; targets: the client +40 ms at most, the plugin 50 ms.")
    write_json(args.json, figures, script="imports")


if __name__ == "__main__":
    main()
