"""The pytest plugin's opt-in check that every fault a test injected fired.

As pytest-httpx's ``assert_all_responses_were_requested``: a fault that never fired
means the test did not exercise what it claims (a path pattern that matches nothing,
a retry that never happened). Off by default; on for a whole suite with the ini option
``prolific_assert_all_faults_fired = true``, and per test with
``@pytest.mark.prolific(assert_all_faults_fired=True)`` (or ``False`` to opt one out).

The rule: a fault fails the check when it fired **no** time (``fired == 0``). A fault
for ``times=3`` that fired once passes: ``times`` and ``probability`` bound how often
a fault may fire, and a client that needed fewer retries is not wrong. Faults removed
with ``clear_faults()`` are not checked.
"""

from __future__ import annotations

from typing import Final

import pytest

from ._server import FakeProlific

__all__ = ["INI_OPTION", "MARKER", "check_faults_fired", "wants_check"]

INI_OPTION: Final = "prolific_assert_all_faults_fired"
MARKER: Final = "prolific"


def wants_check(request: pytest.FixtureRequest) -> bool:
    """Whether this test asks for the check: its marker first, else the ini option."""
    marker = request.node.get_closest_marker(MARKER)
    if marker is not None and "assert_all_faults_fired" in marker.kwargs:
        return bool(marker.kwargs["assert_all_faults_fired"])
    return bool(request.config.getini(INI_OPTION))


def check_faults_fired(fake: FakeProlific, request: pytest.FixtureRequest) -> None:
    """Fail the test (at teardown) naming every fault that never fired, if it asks."""
    if not wants_check(request):
        return
    unfired = [fault for fault in fake.faults if fault.fired == 0]
    if not unfired:
        return
    lines = "\n".join(
        f"  {fault.method} {fault.path} {fault.kind.value}"
        f" (times={fault.times}, probability={fault.probability})"
        for fault in unfired
    )
    pytest.fail(
        f"{len(unfired)} injected fault(s) of prolific_fake never fired:\n{lines}\n"
        f"Check the method and path pattern, or turn the check off for this test with "
        f"@pytest.mark.{MARKER}(assert_all_faults_fired=False).",
        pytrace=False,
    )
