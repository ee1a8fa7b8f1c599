"""What every benchmark writes beside its figures: versions, CPU count, load; and timing."""

from __future__ import annotations

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


def write_json(path: str | None, figures: Any, extra: tuple[str, ...] = ()) -> None:
    """Write ``figures`` with the environment to ``path`` (nothing when ``None``)."""
    if path is None:
        return
    document = {"environment": environment(extra), "figures": figures}
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


def table(headers: list[str], rows: list[list[str]]) -> str:
    """A Markdown table (the same one benchmarks/README.md shows)."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
