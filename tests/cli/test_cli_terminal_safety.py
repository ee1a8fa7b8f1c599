"""A server's text never drives the terminal: control characters print as escapes.

A batch name, an error's detail or a listing's reason may hold ESC sequences (colours,
a cleared screen, a window title, an OSC 8 link), a C1 CSI or a bidirectional override.
Tables, messages and the summary show them as visible escapes; JSON output escapes them
the JSON way, so a script reads the same value.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from prolific_async import TaskDetails
from prolific_async._cli._exit import json_text, terminal_safe
from prolific_async.testing import FakeProlific

from .conftest import CREATE_PATH, DETAILS, WS, RunCli, creates, write_manifest
from .test_cli_errors import assert_one_error_line

#: What each would do: set the window title, clear the screen, a C1 CSI, move to the
#: line's start, ring the bell, reverse the rest of the line.
HOSTILE = "a\x1b]0;pwned\x07b\x1b[2Jc\x9b31md\re\u202ef"
UNSAFE = ("\x1b", "\x07", "\x9b", "\r", "\u202e")


@pytest.fixture
async def fake() -> AsyncIterator[FakeProlific]:
    async with FakeProlific(seed=3) as emulator:
        yield emulator


def test_terminal_safe_escapes_controls_and_keeps_text() -> None:
    """ESC, BEL, C1, CR and bidi overrides become escapes; newlines, tabs, letters stay."""
    assert terminal_safe(HOSTILE) == ("a\\x1b]0;pwned\\x07b\\x1b[2Jc\\x9b31md\\x0de\\u202ef")
    assert terminal_safe("line 1\n\tcafé 日本") == "line 1\n\tcafé 日本"
    assert terminal_safe("a\u200eb\u200fc\u061cd") == "a\\u200eb\\u200fc\\u061cd"
    assert json_text("\u200e") == '"\\u200e"'


@pytest.mark.parametrize("value", [HOSTILE, {"k\x9b": ["\u2066x\x7f"]}, "plain é"])
def test_json_text_escapes_the_json_way_and_reads_back_unchanged(value: object) -> None:
    """json_text holds no raw control character, and json.loads gives the value back."""
    text = json_text(value)
    assert not any(character in text for character in (*UNSAFE, "\x7f", "\u2066"))
    assert json.loads(text) == value


async def test_a_batch_name_with_escape_sequences_prints_escaped(
    fake: FakeProlific, cli: RunCli
) -> None:
    """`batches get`: the table shows the name's escapes; --json reads back the name."""
    batch = fake.add_batch(name=HOSTILE, workspace_id=WS, task_details=TaskDetails(**DETAILS))
    code, out, err = await cli("batches", "get", batch.id, "--table")
    assert code == 0, err
    assert not any(character in out for character in UNSAFE)
    assert "a\\x1b]0;pwned\\x07b" in out
    code, out, _ = await cli("batches", "get", batch.id, "--json")
    assert code == 0
    assert not any(character in out for character in UNSAFE)
    assert json.loads(out)["name"] == HOSTILE


@pytest.mark.parametrize("terminal", [True, False], ids=["terminal", "pipe"])
async def test_csv_on_a_terminal_prints_escapes_and_to_a_pipe_the_data(
    fake: FakeProlific, cli: RunCli, monkeypatch: pytest.MonkeyPatch, terminal: bool
) -> None:
    """`--csv` to a terminal shows the name's escapes; to a pipe or file, the name itself."""
    from prolific_async._cli import _options

    monkeypatch.setattr(_options, "_on_terminal", lambda: terminal)
    batch = fake.add_batch(name=HOSTILE, workspace_id=WS, task_details=TaskDetails(**DETAILS))
    code, out, err = await cli("batches", "get", batch.id, "--csv")
    assert code == 0, err
    if terminal:
        assert not any(character in out for character in UNSAFE)
        assert "a\\x1b]0;pwned\\x07b" in out
    else:
        assert HOSTILE in out


async def test_an_error_detail_with_escape_sequences_prints_escaped(
    fake: FakeProlific, cli: RunCli
) -> None:
    """A 400 whose detail holds escape sequences: one error line, every control escaped."""
    path = "/api/v1/data-collection/batches/b1"
    fake.add_fault("GET", path, "status", status=400, body={"detail": HOSTILE})
    code, _, err = await cli("batches", "get", "b1")
    assert code == 1
    message = assert_one_error_line(err)
    assert not any(character in err for character in UNSAFE)
    assert "\\x1b[2J" in message


def test_a_listing_reason_with_escape_sequences_shows_escaped_in_the_bar() -> None:
    """The bar's 'listing said it was partial (...)' shows a server's reason escaped."""
    from datetime import UTC, datetime

    from prolific_async import BulkProgress
    from prolific_async._cli._progress import wait_text

    now = datetime(2026, 1, 1, tzinfo=UTC)
    progress = BulkProgress()
    progress.relisting["ws"] = (now, "count \x1b[2J")
    text = wait_text(progress, now=now)
    assert "\x1b" not in text
    assert "(count \\x1b[2J)" in text


async def test_a_failure_with_escape_sequences_shows_escaped_in_the_summary(
    fake: FakeProlific, cli: RunCli, tmp_path: Path
) -> None:
    """Provision's summary lists a failure whose server text holds escapes, escaped."""
    fake.add_fault("POST", CREATE_PATH, "status", status=400, body={"detail": HOSTILE})
    manifest = write_manifest(tmp_path / "m.jsonl", creates(1))
    code, out, _ = await cli("provision", manifest, "--no-progress")
    assert code == 1
    assert not any(character in out for character in UNSAFE)
    assert "a\\x1b]0;pwned\\x07b" in out


async def test_a_json_summary_keeps_the_servers_text_escaped_the_json_way(
    fake: FakeProlific, cli: RunCli, tmp_path: Path
) -> None:
    """`provision --format json`: the failure's text reads back as the server sent it."""
    fake.add_fault("POST", CREATE_PATH, "status", status=400, body={"detail": HOSTILE})
    manifest = write_manifest(tmp_path / "m.jsonl", creates(1))
    code, out, _ = await cli("provision", manifest, "--no-progress", "--format", "json")
    assert code == 1
    assert not any(character in out for character in UNSAFE)
    (failure,) = json.loads(out)["failures"]
    assert HOSTILE.split("\r")[0] in failure["error"]  # as sent (shorten folds the \r)
