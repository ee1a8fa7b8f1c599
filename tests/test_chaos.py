"""The chaos soak at a small size: exactly once under random faults, SIGKILLs and a rival run.

The machinery is ``benchmarks/chaos.py`` (the full size runs there); see its docstring.
The emulator lives in this process, the provisioning runs are child processes, and the
kill points are counted in batches the server holds, so nothing here waits on a timer.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


def chaos() -> Any:
    """The benchmark module, loaded from its file (``benchmarks/`` is not a package)."""
    spec = importlib.util.spec_from_file_location(
        "chaos_benchmark", ROOT / "benchmarks" / "chaos.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.timeout(60)
async def test_the_soak_makes_every_item_exactly_once_through_kills_and_a_rival(
    tmp_path: Path,
) -> None:
    """Faults, three SIGKILLs and resumes, a refused rival run: one batch per item, no leak."""
    report = await chaos().soak(
        240, seed=0, concurrency=16, reconcile_delay=0.3, directory=tmp_path
    )
    assert len(report.killed_at) == 3
    assert report.rival_status == 2
    assert "is in use by another run" in report.rival_refusal
    assert report.rival_requests == 0  # refused before it sent anything
    assert report.listings >= 1  # the creates left in doubt were reconciled by listing
    assert report.unfired == []  # every configured kind whose turn came, creates and listings
    assert "POST late_apply" in report.faults  # applied within reconcile_delay: adopted
    assert (report.reported, report.reported_twice, report.reported_ok) == (240, 0, 240)
    assert (report.exactly_once, report.duplicates, report.missing) == (240, 0, 0)
    assert (report.leaked_tasks, report.busy_connections) == (0, 0)
    assert report.passed


async def test_applies_later_than_reconcile_delay_make_one_duplicate_each() -> None:
    """The documented limit: a create applied after reconcile_delay was resent, so it doubles."""
    report = await chaos().late_applies(120, seed=0, rate=0.05, reconcile_delay=0.05)
    assert report.reported_ok == 120
    assert report.late_applies > 0
    assert report.duplicates == report.late_applies


def test_a_listing_kind_with_no_listing_left_is_unreached_not_unfired() -> None:
    """Listing kinds past the number of listings are unreached; every other kind must fire."""
    module = chaos()
    labels = [f"GET {label}" for label, _, _ in module.GET_FAULTS] + ["POST status"]
    first_eleven = set(labels[:11])
    assert module.coverage(labels, first_eleven, 11) == (["POST status"], [labels[11]])
    assert module.coverage(labels, first_eleven | {"POST status"}, 12) == ([labels[11]], [])
