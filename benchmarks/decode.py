"""Decoding one answer: our path (JSON, checks, cattrs into the attrs models) vs the parsers.

Three bodies: a realistic batch (about 2.4 KB, a layout of 14 objects), a small batch
with no layout, and a listing of 1,000 small batches (shown per batch). Each is decoded
by ``decode_json`` + ``structure_response`` (what ``batches.get``/``list`` run), by
``json.loads`` alone, by ``orjson.loads`` and by msgspec into equivalent Structs (when
installed). Figures are CPU microseconds (best of 5 rounds); the ratio column is our
path over msgspec (over ``json.loads`` when msgspec is absent).

Run: ``python benchmarks/decode.py [--number 2000] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _env import per_call, table, write_json
from _payloads import REALISTIC, SMALL, encoded, listing

from prolific_async._body import decode_json, structure_response
from prolific_async._converter import converter
from prolific_async._listing import BatchListing
from prolific_async.models import Batch

URL = "http://127.0.0.1/api/v1/data-collection/batches"
#: The surrogate check of the path before issue 14 (one alternation, run on every body).
BEFORE_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")


def ours(cls: type[Any]) -> Callable[[bytes], Any]:
    def decode(raw: bytes) -> Any:
        data = decode_json(raw, 200, "GET", URL)
        return structure_response(data, cls, status_code=200, method="GET", url=URL)

    return decode


def before(cls: type[Any]) -> Callable[[bytes], Any]:
    """The path before issue 14: ``json.loads``, the surrogate pattern, the detailed converter."""

    def decode(raw: bytes) -> Any:
        data = json.loads(raw)
        if BEFORE_SURROGATE.search(raw):
            raise AssertionError("the benchmark bodies hold no surrogate escape")
        return converter.structure(data, cls)

    return decode


def msgspec_decoders() -> tuple[Callable[[bytes], Any], Callable[[bytes], Any]] | None:
    """Decoders from msgspec into Structs shaped like our models (``None``: not installed)."""
    try:
        import _structs
    except ImportError:
        return None
    return _structs.batch_decoder(), _structs.listing_decoder()


def measure(number: int) -> list[dict[str, Any]]:
    try:
        import orjson
    except ImportError:
        orjson = None
    structs = msgspec_decoders()
    listing_size = 1000
    cases: list[tuple[str, bytes, int, type[Any], int]] = [
        ("realistic batch (layout)", encoded(REALISTIC), number, Batch, 0),
        ("small batch", encoded(SMALL), number, Batch, 0),
        (
            f"per batch in a {listing_size:,} listing",
            encoded(listing(listing_size)),
            0,
            BatchListing,
            1,
        ),
    ]
    figures = []
    for label, raw, count, cls, struct_index in cases:
        per = listing_size if cls is BatchListing else 1
        repeat = max(1, count or number // listing_size)
        decoders: dict[str, Callable[[bytes], Any] | None] = {
            "ours": ours(cls),
            "before": before(cls),
            "json.loads": json.loads,
            "orjson": orjson.loads if orjson is not None else None,
            "msgspec": structs[struct_index] if structs is not None else None,
        }
        row: dict[str, Any] = {"case": label, "bytes": len(raw)}
        for name, decoder in decoders.items():
            if decoder is None:
                row[name] = None
                continue
            decoder(raw)  # warm up: hooks are generated on first use
            row[name] = per_call(lambda d=decoder, r=raw: d(r), repeat) / per
        reference = row["msgspec"] or row["json.loads"]
        row["ours_over_before"] = row["ours"] / row["before"]
        row["ratio_to_" + ("msgspec" if row["msgspec"] else "json")] = row["ours"] / reference
        figures.append(row)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--number", type=int, default=2000, help="decodes per round")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    figures = measure(args.number)

    def cell(value: float | None) -> str:
        return "not installed" if value is None else f"{value:.1f} µs"

    rows = []
    for row in figures:
        ratio_key = next(key for key in row if key.startswith("ratio_to_"))
        rows.append(
            [
                row["case"],
                f"{row['bytes']:,} B",
                cell(row["ours"]),
                f"{cell(row['before'])} ({row['ours_over_before']:.2f}x)",
                cell(row["json.loads"]),
                cell(row["orjson"]),
                cell(row["msgspec"]),
                f"{row[ratio_key]:.1f}x {ratio_key.removeprefix('ratio_to_')}",
            ]
        )
    print(
        table(
            [
                "body",
                "size",
                "ours",
                "before (ours / before)",
                "json.loads",
                "orjson",
                "msgspec",
                "ours / ref",
            ],
            rows,
        )
    )
    write_json(args.json, figures)


if __name__ == "__main__":
    main()
