"""What every benchmark writes beside its figures: versions, CPU count, load; and timing.

Every script takes ``--json FILE`` (:func:`add_json_option`) and writes one layout
through :func:`write_json`::

    {"script": "ratelimit", "environment": {"python": ..., "cpu_count": ...,
     "load_average": [...], "versions": {"prolific-async": ..., "msgspec": null, ...}},
     "figures": ...}
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PACKAGES = ("prolific-async", "aiohttp", "attrs", "cattrs", "httpx", "orjson", "msgspec")


def environment(extra: tuple[str, ...] = ()) -> dict[str, Any]:
    """The machine and the versions the figures were measured with."""
    versions: dict[str, str | None] = {}
    for name in (*PACKAGES, *extra):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "versions": versions,
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def add_json_option(parser: argparse.ArgumentParser) -> None:
    """The ``--json FILE`` option every benchmark script takes."""
    parser.add_argument(
        "--json", metavar="FILE", help="also write the figures and the environment here"
    )


def write_json(
    path: str | Path | None,
    figures: Any,
    extra: tuple[str, ...] = (),
    *,
    script: str | None = None,
) -> None:
    """Write ``figures`` with the environment to ``path`` (nothing when ``None``).

    ``script`` names the benchmark (default: the running script's file name).
    """
    if path is None:
        return
    name = script or Path(sys.argv[0]).stem
    document = {"script": name, "environment": environment(extra), "figures": figures}
    Path(path).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def per_call(fn: Callable[[], Any], number: int, rounds: int = 5) -> float:
    """The best of ``rounds`` mean times of ``fn()``, in microseconds (CPU time)."""
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(number):
            fn()
        best = min(best, (time.process_time() - start) / number)
    return best * 1e6


def settle_allocator() -> None:
    """Free one large block first, so every socket read of the run costs the same.

    asyncio reads a socket into a fresh 256 KiB buffer and shrinks it to what came.
    glibc maps a block that large with ``mmap`` until a freed mapped block raises its
    threshold; until then every read maps, shrinks and unmaps its buffer, with a page
    fault or two. When that happens depends on what the process freed before, so the
    same client measured 145 or 195 µs a call from one process to the next (2 page
    faults a call). Freeing a 1 MiB block settles it at once, for every client alike;
    a long-running service gets there by itself. Elsewhere it costs nothing.
    """
    block = bytearray(1 << 20)
    del block


def table(headers: list[str], rows: list[list[str]]) -> str:
    """A Markdown table (the same one benchmarks/README.md shows)."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
