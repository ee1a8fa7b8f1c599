"""Fixtures of the contract tests: Prolific's spec, read from ``../shared/real-payloads/``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from .spec import SPEC_FILE, SPEC_FOLDER, load_spec


@pytest.fixture(scope="session")
def spec() -> Mapping[str, Any]:
    """Prolific's published OpenAPI spec; the test skips where the folder is absent."""
    if not SPEC_FILE.is_file():
        pytest.skip(
            f"Prolific's OpenAPI spec is not at {SPEC_FILE}: the contract tests read it "
            f"from {SPEC_FOLDER} (../shared/real-payloads/ beside the repository), "
            "which this checkout does not have"
        )
    return load_spec()
