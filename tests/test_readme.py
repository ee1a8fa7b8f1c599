"""The README's Python examples run as written (against the emulator)."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import pytest

from prolific_async.testing import FakeProlific

README = (Path(__file__).parent.parent / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, re.DOTALL)
RUNNABLE = [block for block in BLOCKS if "asyncio.run(main())" in block]


def test_readme_has_runnable_examples() -> None:
    """The quick start and the bulk example are complete programs."""
    assert len(RUNNABLE) >= 2


@pytest.mark.parametrize("block", RUNNABLE, ids=lambda b: b.splitlines()[-3][:40])
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
    _out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    assert prolific_fake.batches, "the example made no batch"
