"""The bulk layer's INFO lines: reconciliation decisions, journal resumes, fail-fast stops."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import pytest

from prolific_async import Journal, ProlificClient
from prolific_async.testing import FakeProlific

from .test_bulk import FAST, _no_retry_waits, client, collect, creates, fake
from .test_reconcile import KEY, Member, batch, reconciler

__all__ = ["_no_retry_waits", "client", "fake"]  # the fixtures, shared with the bulk tests


def infos(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "prolific_async" and record.levelno == logging.INFO
    ]


def test_a_reconciliation_logs_what_became_of_each_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One INFO line per decision: which request adopted which batch, which is resent."""
    caplog.set_level(logging.INFO, logger="prolific_async")
    reconciler().decide(KEY, [Member(3), Member(1)], [batch("early")])
    assert infos(caplog) == [
        "reconciled 2 request(s) of unknown outcome in workspace 'ws-1': "
        "request 1 adopted early, request 3 sent again"
    ]


async def test_a_401_stop_is_logged(fake: FakeProlific, caplog: pytest.LogCaptureFixture) -> None:
    """A run that stops because the token was refused says so at INFO, token masked."""
    caplog.set_level(logging.INFO, logger="prolific_async")
    async with ProlificClient("wrong-token-long", base_url=fake.url, retry=FAST) as bound:
        await collect(bound.batches.create_many(creates(3), concurrency=1))
    (stop,) = [line for line in infos(caplog) if line.startswith("the run stopped sending")]
    assert "because the server refused the token" in stop
    assert "wrong-token-long" not in caplog.text


async def test_a_journal_resume_is_logged(
    client: ProlificClient, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A second run on a journal logs the resume, and each item it takes from the journal."""
    path = tmp_path / "run.db"
    await collect(client.batches.create_many(creates(2), journal=Journal(path)))
    caplog.set_level(logging.INFO, logger="prolific_async")
    await collect(client.batches.create_many(creates(2), journal=Journal(path)))
    lines = infos(caplog)
    assert f"resuming the create run recorded in journal {path}" in lines
    resumed = [line for line in lines if "resumed from journal" in line]
    assert len(resumed) == 2
    assert "made " in resumed[0]


async def test_an_unsent_limit_stop_is_logged(
    never_listening: socket.socket, caplog: pytest.LogCaptureFixture
) -> None:
    """Sends that never reach the server, max_consecutive_unsent=2: the stop is one INFO line."""
    port = never_listening.getsockname()[1]
    caplog.set_level(logging.INFO, logger="prolific_async")
    async with ProlificClient("token", base_url=f"http://127.0.0.1:{port}", retry=FAST) as bound:
        await collect(bound.batches.create_many(creates(6), max_consecutive_unsent=2))
    (stop,) = [line for line in infos(caplog) if line.startswith("the run stopped sending")]
    assert "after 2 sends in a row failed before reaching the server" in stop


async def test_a_403_stop_is_logged_with_its_scope(
    client: ProlificClient, fake: FakeProlific, caplog: pytest.LogCaptureFixture
) -> None:
    """A 403 stops its workspace's sends, and says so at INFO naming the workspace."""
    fake.add_fault("POST", "/api/v1/data-collection/batches", "status", status=403)
    caplog.set_level(logging.INFO, logger="prolific_async")
    await collect(client.batches.create_many(creates(3), concurrency=1))
    (stop,) = [line for line in infos(caplog) if line.startswith("the run stopped sending")]
    assert stop.startswith("the run stopped sending to workspace ")
    assert "because the server refused it" in stop
