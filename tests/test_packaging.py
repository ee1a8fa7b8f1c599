"""pyproject.toml against CI: the Pythons it claims are the ones .ci/run tests."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CI = ROOT / ".ci" / "run"


@pytest.mark.skipif(not CI.exists(), reason="the sdist carries no .ci folder")
def test_the_classifiers_list_exactly_the_pythons_ci_runs() -> None:
    """Every 'Python :: 3.X' classifier is in .ci/run's pythons=(...), and the other way round."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    claimed = {
        classifier.rsplit(" :: ", 1)[1]
        for classifier in project["classifiers"]
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", classifier)
    }
    match = re.search(r"^pythons=\(([^)]*)\)", CI.read_text(), re.MULTILINE)
    assert match is not None
    assert set(match.group(1).split()) == claimed
    floor = project["requires-python"].removeprefix(">=")
    assert floor == min(claimed, key=lambda version: tuple(map(int, version.split("."))))


def test_directly_imported_libraries_are_declared() -> None:
    """The package's direct imports (yarl, multidict too) are dependencies with a floor."""
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {re.split(r"[<>=!~ \[]", requirement, maxsplit=1)[0] for requirement in dependencies}
    assert {"yarl", "multidict", "aiohttp", "attrs", "cattrs"} <= names
    assert all(">=" in requirement for requirement in dependencies)
