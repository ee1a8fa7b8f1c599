"""One reconciliation listing of a large workspace: client CPU and peak memory.

The emulator's answer for a workspace of N batches (the small batch, N distinct names)
is decoded as reconciliation reads it (``RawListing``, the items left as JSON, then
:meth:`~prolific_async._listing.RawListing.matching` for one key), side by side with
reading every batch (``BatchListing``, what reconciliation did before issue 14) and
with ``json.loads`` alone. CPU is ``time.process_time``; peak memory is tracemalloc's
peak above the raw body, in a separate pass.

Run: ``python benchmarks/reconcile_listing.py [--batches 50000] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _env import table, write_json
from _payloads import SMALL, encoded, listing

from prolific_async._body import decode_json, structure_response
from prolific_async._listing import BatchListing, RawListing
from prolific_async._match_key import MatchKey
from prolific_async.models import TaskDetails

URL = "http://127.0.0.1/api/v1/data-collection/batches?workspace_id=ws"


def read(raw: bytes, cls: type[Any]) -> Any:
    data = decode_json(raw, 200, "GET", URL)
    return structure_response(data, cls, status_code=200, method="GET", url=URL)


def measure(count: int) -> list[dict[str, Any]]:
    raw = encoded(listing(count))
    details = TaskDetails(**SMALL["task_details"])
    key = MatchKey(SMALL["workspace_id"], f"batch-{count // 2}", details, frozenset())

    def reconcile() -> Any:
        answer = read(raw, RawListing)
        return RawListing(results=answer.results, url=URL).matching(key)

    ways: dict[str, Callable[[], Any]] = {
        "json.loads alone (floor)": lambda: json.loads(raw),
        "reconciliation (RawListing + matching)": reconcile,
        "every batch read (BatchListing, before)": lambda: read(raw, BatchListing),
    }
    figures = []
    for name, way in ways.items():
        gc.collect()
        start = time.process_time()
        way()
        cpu = time.process_time() - start
        gc.collect()
        tracemalloc.start()
        way()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        figures.append({"way": name, "batches": count, "cpu_s": cpu, "peak_mb": peak / 2**20})
    floor = figures[0]["cpu_s"]
    for row in figures:
        row["ratio_to_floor"] = row["cpu_s"] / floor
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=50_000)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    figures = measure(args.batches)
    rows = [
        [r["way"], f"{r['cpu_s']:.3f} s ({r['ratio_to_floor']:.2f}x)", f"{r['peak_mb']:.0f} MB"]
        for r in figures
    ]
    print(f"listing of {args.batches:,} batches")
    print(table(["decoded as", "client CPU (x json.loads)", "peak memory"], rows))
    write_json(args.json, figures)


if __name__ == "__main__":
    main()
