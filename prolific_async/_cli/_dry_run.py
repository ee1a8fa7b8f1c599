"""``provision --dry-run``: what a run would send, from the manifest alone."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Final

import click

from .._converter import converter
from .._manifest import read_manifest
from .._paths import BATCHES_PATH, DUPLICATE_TEMPLATE
from .._resource import expand
from ..models.bulk import CreateBatchRequest
from ._exit import json_text
from ._options import print_csv
from ._render import counted
from ._shared import print_json

__all__ = ["SHOWN_BODIES", "dry_run_data", "print_dry_run"]

#: How many request bodies a dry run prints (the rest are counted).
SHOWN_BODIES: Final = 3


def dry_run_data(manifest: Path, count: int) -> dict[str, Any]:
    """What a run of ``manifest`` (already validated, ``count`` requests) would send.

    The counts by kind and the first :data:`SHOWN_BODIES` requests, each its manifest
    ``line``, ``method``, ``path`` and JSON ``body`` as the client would send it.
    """
    kinds: Counter[str] = Counter()
    shown: list[dict[str, Any]] = []
    for line, request in read_manifest(manifest):
        if isinstance(request, CreateBatchRequest):
            kinds["create"] += 1
            path = BATCHES_PATH
        else:
            kinds["duplicate"] += 1
            path = expand(DUPLICATE_TEMPLATE, {"batch_id": request.batch_id})
        if len(shown) < SHOWN_BODIES:
            body = converter.unstructure(request)
            shown.append({"line": line, "method": "POST", "path": path, "body": body})
    return {
        "manifest": str(manifest),
        "requests": count,
        "create": kinds["create"],
        "duplicate": kinds["duplicate"],
        "shown": shown,
        "not_shown": count - len(shown),
        "sent": 0,
    }


def print_dry_run(manifest: Path, count: int, output_format: str = "table") -> None:
    """Print the requests a run of ``manifest`` (already validated) would send, sending none.

    The counts by kind, then the first :data:`SHOWN_BODIES` requests as the client
    would send them: method, path and JSON body. A run may send fewer (a journal's
    items done are not sent again) or more (retries), so it is what one fresh run starts.
    ``json``: :func:`dry_run_data`'s one object; ``csv``: a row per request shown (its
    body as JSON in one cell).
    """
    data = dry_run_data(manifest, count)
    shown: list[dict[str, Any]] = data["shown"]
    if output_format == "json":
        print_json(data)
        return
    if output_format == "csv":
        print_csv(shown)
        return
    click.echo(
        f"Dry run of {manifest}: {counted(count, 'request')} would be sent "
        f"({data['create']} create, {data['duplicate']} duplicate); nothing was sent."
    )
    for row in shown:
        body = json_text(row["body"], indent=2)
        click.echo(f"# line {row['line']}\n{row['method']} {row['path']}\n{body}")
    if data["not_shown"]:
        click.echo(f"... and {counted(data['not_shown'], 'more request')}.")
