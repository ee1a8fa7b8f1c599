"""The README's Python examples run as written (against the emulator).

Every ``python`` block is one of two kinds. A whole program (it ends with
``asyncio.run(main())``) runs as a script in a subprocess, pointed at the emulator by
``PROLIFIC_URL`` and ``PROLIFIC_TOKEN``. A fragment is marked with an HTML comment
``<!-- fragment ... -->`` on the line before its fence, and runs here inside a harness
that provides ``client`` (a ProlificClient on a FakeProlific), ``fake`` and top-level
``await``; a ``test_`` function it defines is then called with the plugin's fixtures
(``prolific_fake``, ``prolific_client``). A block that is neither fails.

Also: every relative link in README.md, api.md and ARCHITECTURE.md names a file of the
repository (no public home for the project exists yet to point them at).
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import logging
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from prolific_async import ProlificClient
from prolific_async.testing import FakeProlific

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()


def python_blocks(text: str) -> list[tuple[str, str]]:
    """Each python block, with the line before its fence (the fragment marker, if any)."""
    blocks: list[tuple[str, str]] = []
    lines = text.splitlines(keepends=True)
    for index, line in enumerate(lines):
        if line.rstrip() == "```python":
            end = next(n for n in range(index + 1, len(lines)) if lines[n].rstrip() == "```")
            before = lines[index - 1].strip() if index else ""
            blocks.append((before, "".join(lines[index + 1 : end])))
    return blocks


BLOCKS = python_blocks(README)
RUNNABLE = [block for _, block in BLOCKS if "asyncio.run(main())" in block]
FRAGMENTS = [block for before, block in BLOCKS if before.startswith("<!-- fragment")]
#: What a fragment's test_ functions may ask for, by fixture name.
FRAGMENT_FIXTURES = ("prolific_fake", "prolific_client")


def block_id(block: str) -> str:
    lines = [line for line in block.splitlines() if line.strip()]
    return lines[-1].strip()[:40] if lines else "empty"


def test_readme_has_runnable_examples() -> None:
    """The quick start and the bulk example are complete programs."""
    assert len(RUNNABLE) >= 2


def test_every_python_block_is_a_program_or_a_marked_fragment() -> None:
    """No python block is left untested: each is a whole program or a marked fragment."""
    neither = [
        block_id(block)
        for before, block in BLOCKS
        if "asyncio.run(main())" not in block and not before.startswith("<!-- fragment")
    ]
    assert not neither, f"python blocks neither whole programs nor marked fragments: {neither}"
    assert len(RUNNABLE) + len(FRAGMENTS) == len(BLOCKS)


@pytest.mark.parametrize("block", RUNNABLE, ids=block_id)
async def test_readme_example_runs(block: str, tmp_path: Path, prolific_fake: FakeProlific) -> None:
    """Each complete README program runs against the emulator and exits 0."""
    # Work the server does in the background finishes at once, so the example's waits end
    # at their first poll instead of after its real poll interval.
    prolific_fake.processing_delay = prolific_fake.setup_delay = prolific_fake.export_delay = 0.0
    script = tmp_path / "example.py"
    script.write_text(block)
    env = {**os.environ, "PROLIFIC_URL": prolific_fake.url, "PROLIFIC_TOKEN": prolific_fake.token}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    assert prolific_fake.batches, "the example made no batch"
    if "create_trace_config" in block:  # the OpenTelemetry example: its spans were recorded
        spans = re.search(r"^(\d+) spans: (.*)$", out.decode(), re.MULTILINE)
        assert spans is not None, out.decode()
        assert int(spans[1]) >= 2
        assert "POST" in spans[2]


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """Undo what a fragment does to logging (the logging fragment configures it)."""
    root, ours = logging.getLogger(), logging.getLogger("prolific_async")
    saved = (list(root.handlers), root.level, ours.level)
    yield
    root.handlers[:], (root.level, level) = saved[0], saved[1:]
    root.setLevel(saved[1])
    ours.setLevel(level)


@pytest.mark.parametrize("block", FRAGMENTS, ids=block_id)
async def test_readme_fragment_runs(
    block: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    prolific_fake: FakeProlific,
    prolific_client: ProlificClient,
    restored_logging: None,
) -> None:
    """Each marked fragment runs with client, fake and top-level await (and its tests pass)."""
    monkeypatch.chdir(tmp_path)
    prolific_fake.processing_delay = prolific_fake.setup_delay = prolific_fake.export_delay = 0.0
    namespace: dict[str, Any] = {"client": prolific_client, "fake": prolific_fake}
    code = compile(block, "<README fragment>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    result = eval(code, namespace)  # noqa: S307 (the README's own code)
    if inspect.isawaitable(result):
        await result
    fixtures = dict(zip(FRAGMENT_FIXTURES, (prolific_fake, prolific_client), strict=True))
    for name, value in list(namespace.items()):
        if name.startswith("test_") and inspect.iscoroutinefunction(value):
            await value(**{p: fixtures[p] for p in inspect.signature(value).parameters})


# -- links -------------------------------------------------------------------------------

LINKED_DOCS = ("README.md", "api.md", "ARCHITECTURE.md")
#: ``[text](target)``, the target without a scheme, a leading ``#`` or a ``mailto:``.
RELATIVE_LINK = re.compile(r"\]\((?![a-z][a-z0-9+.-]*:|#)([^)\s]+)\)")


@pytest.mark.parametrize("doc", LINKED_DOCS)
def test_every_relative_link_names_a_file_of_the_repository(doc: str) -> None:
    """A relative link (its #anchor aside) resolves to a file or folder in the repository."""
    text = (ROOT / doc).read_text()
    targets = RELATIVE_LINK.findall(text)
    missing = [
        target
        for target in targets
        if not (ROOT / doc).parent.joinpath(target.split("#", 1)[0]).resolve().exists()
    ]
    assert not missing, f"{doc} links to paths that do not exist: {missing}"
