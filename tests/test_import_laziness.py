"""What an import loads, read from ``sys.modules`` in a fresh interpreter (no timing).

``from prolific_async import ProlificClient`` must not load the layout and response
models, the command line, the emulator or the journal (nor ``sqlite3``); importing the
pytest plugin must load neither the client nor the emulator, so an environment with the
package installed pays almost nothing per pytest run (``benchmarks/imports.py`` times it).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def _modules_after(statement: str) -> set[str]:
    """The modules loaded by ``statement`` in a fresh interpreter."""
    code = f"import sys, json\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(  # noqa: S603 (our own interpreter)
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return set(json.loads(done.stdout))


def _matching(modules: set[str], names: tuple[str, ...]) -> list[str]:
    """The modules that are one of ``names``, inside one, or (``name*``) start with one."""
    prefixes = tuple(n[:-1] if n.endswith("*") else n + "." for n in names)
    return sorted(m for m in modules if m in names or m.startswith(prefixes))


@pytest.mark.timeout(60)
def test_importing_the_client_loads_no_models_cli_emulator_or_journal() -> None:
    """The client's import leaves models, _cli, testing, the journal and sqlite3 unloaded."""
    modules = _modules_after("from prolific_async import ProlificClient")
    assert "prolific_async._client" in modules
    unwanted = (
        "prolific_async.models",
        "prolific_async._cli",
        "prolific_async.cli",
        "prolific_async.testing",
        "prolific_async._journal*",
        "prolific_async._bulk*",
        "prolific_async.bulk",
        "sqlite3",
        "_sqlite3",
        "click",
    )
    assert _matching(modules, unwanted) == []


@pytest.mark.timeout(60)
def test_importing_the_pytest_plugin_loads_neither_the_client_nor_the_emulator() -> None:
    """The plugin module alone loads no client, emulator, aiohttp or converter."""
    modules = _modules_after("import prolific_async.testing.pytest_plugin")
    assert "prolific_async.testing.pytest_plugin" in modules
    unwanted = (
        "prolific_async._client",
        "prolific_async._base_client",
        "prolific_async._converter",
        "prolific_async.testing._server",
        "prolific_async.testing._services",
        "aiohttp",
        "attrs",
        "cattrs",
    )
    assert _matching(modules, unwanted) == []
