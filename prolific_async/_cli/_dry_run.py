"""``provision --dry-run``: what a run would send, from the manifest alone."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Final

import click

from .._converter import converter
from .._manifest import read_manifest
from .._paths import BATCHES_PATH, DUPLICATE_TEMPLATE
from .._resource import expand
from ..models.bulk import CreateBatchRequest
from ._render import counted

__all__ = ["SHOWN_BODIES", "print_dry_run"]

#: How many request bodies a dry run prints (the rest are counted).
SHOWN_BODIES: Final = 3


def print_dry_run(manifest: Path, count: int) -> None:
    """Print the requests a run of ``manifest`` (already validated) would send, sending none.

    The counts by kind, then the first :data:`SHOWN_BODIES` requests as the client
    would send them: method, path and JSON body. A run may send fewer (a journal's
    items done are not sent again) or more (retries), so it is what one fresh run starts.
    """
    kinds: Counter[str] = Counter()
    shown: list[str] = []
    for line, request in read_manifest(manifest):
        if isinstance(request, CreateBatchRequest):
            kinds["create"] += 1
            path = BATCHES_PATH
        else:
            kinds["duplicate"] += 1
            path = expand(DUPLICATE_TEMPLATE, {"batch_id": request.batch_id})
        if len(shown) < SHOWN_BODIES:
            body = json.dumps(converter.unstructure(request), indent=2, ensure_ascii=False)
            shown.append(f"# line {line}\nPOST {path}\n{body}")
    click.echo(
        f"Dry run of {manifest}: {counted(count, 'request')} would be sent "
        f"({kinds['create']} create, {kinds['duplicate']} duplicate); nothing was sent."
    )
    for text in shown:
        click.echo(text)
    if count > len(shown):
        click.echo(f"... and {counted(count - len(shown), 'more request')}.")
