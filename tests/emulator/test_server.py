"""FakeProlific itself: its public names, lifecycle, constructor and standalone run."""

from __future__ import annotations

import asyncio
import errno
import gc
import math
import socket
import sys
import weakref
from typing import Any

import aiohttp
import pytest

import prolific_async.testing
from prolific_async import ProlificClient, TaskDetails
from prolific_async.testing import FakeProlific

from .conftest import BATCHES, WORKSPACE

# -- package ---------------------------------------------------------------------------


EXPECTED_PUBLIC_NAMES = {
    "FAST_RETRY_POLICY",
    "EmulatorStats",
    "FakeProlific",
    "Fault",
    "FaultKind",
    "FiredFault",
    "Latency",
    "RateLimit",
    "RecordedRequest",
    "StoredBatch",
    "StoredDataset",
    "StoredExport",
    "StoredImport",
}


def test_all_lists_exactly_the_public_names() -> None:
    """prolific_async.testing.__all__ names every public attribute and nothing else."""
    module = prolific_async.testing
    for name in module.__all__:  # resolved on first use (issue 14): now in vars()
        getattr(module, name)
    # pytest loaded the plugin submodule (reachable, not curated) and, as for any plugin's
    # distribution, rewrote the package's asserts, adding non-identifier "@py_*" globals.
    public = {name for name in vars(module) if name.isidentifier() and not name.startswith("_")}
    public -= {"pytest_plugin"}
    assert set(module.__all__) == public == EXPECTED_PUBLIC_NAMES


# -- lifecycle -------------------------------------------------------------------------


async def test_lifecycle_errors_say_what_to_do() -> None:
    """The URL and client() need a started fake; a stopped fake cannot restart."""
    fake = FakeProlific()
    with pytest.raises(RuntimeError, match="before start"):
        _ = fake.url
    with pytest.raises(RuntimeError, match="is unstarted: create clients while it runs"):
        fake.client()
    async with fake:
        running_inside = fake.is_running
        with pytest.raises(RuntimeError, match="running"):
            await fake.start()
    assert (running_inside, fake.is_running) == (True, False)
    await fake.stop()  # idempotent
    with pytest.raises(RuntimeError, match="stopped"):
        await fake.start()


async def test_stop_closes_the_clients_it_made_and_the_socket() -> None:
    """Clients from fake.client() are closed on stop, and the port stops accepting."""
    async with FakeProlific(token="fixed-token") as fake:
        client = fake.client()
        await client.batches.list(WORKSPACE)
        url = fake.url
    assert client.is_closed
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectorError):
            await session.get(url + BATCHES)


async def test_a_stopped_fake_that_served_requests_can_be_collected() -> None:
    """No cache of aiohttp's keeps a stopped fake's state (its batches) alive."""
    async with FakeProlific() as fake, fake.client() as client:
        details = TaskDetails(task_name="t", task_introduction="i", task_steps="s")
        await client.batches.create(name="b", workspace_id=WORKSPACE, task_details=details)
        (stored,) = fake.batches.values()
        kept, fake_kept = weakref.ref(stored), weakref.ref(fake)
    del fake, client, stored
    gc.collect()
    assert kept() is None
    assert fake_kept() is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"token": " "}, "token"),
        ({"latency": -1.0}, "latency"),
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"max_upload_size": 0}, "max_upload_size"),
    ],
)
def test_constructor_rejects_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    """An empty token, negative latency, max_concurrency or max_upload_size < 1: ValueError."""
    with pytest.raises(ValueError, match=message):
        FakeProlific(**kwargs)


@pytest.mark.parametrize(
    "knob", ["processing_delay", "setup_delay", "export_delay", "sync_delay", "migration_delay"]
)
def test_delays_default_to_50_ms_and_refuse_negative_values(knob: str) -> None:
    """Each delay defaults to 0.05 s, is a keyword and settable, and is never negative."""
    assert getattr(FakeProlific(**{knob: 0.25}), knob) == 0.25
    fake = FakeProlific()
    assert getattr(fake, knob) == 0.05
    setattr(fake, knob, 0.0)
    assert getattr(fake, knob) == 0.0
    with pytest.raises(ValueError, match=knob):
        setattr(fake, knob, -1.0)
    kwargs: dict[str, Any] = {knob: -0.5}
    with pytest.raises(ValueError, match=knob):
        FakeProlific(**kwargs)


@pytest.mark.parametrize("switch", ["legacy_exports", "legacy_v3_uploads"])
def test_the_legacy_switches_are_off_by_default_and_keywords(switch: str) -> None:
    """legacy_exports and legacy_v3_uploads default to False and can be set as keywords."""
    assert getattr(FakeProlific(), switch) is False
    assert getattr(FakeProlific(**{switch: True}), switch) is True


# -- standalone ------------------------------------------------------------------------


async def test_python_m_runs_standalone_and_stops_on_ctrl_c() -> None:
    """`python -m prolific_async.testing` prints URL and token, serves, exits 0 on SIGINT."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "prolific_async.testing",
        "--port",
        "0",
        "--token",
        "cli-token",
        "--seed",
        "5",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    lines = [(await asyncio.wait_for(process.stdout.readline(), 20)).decode() for _ in range(3)]
    assert "(seed 5)" in lines[0]
    url = lines[1].strip().removeprefix("PROLIFIC_URL=")
    assert lines[2].strip() == "PROLIFIC_TOKEN=cli-token"
    async with ProlificClient(token="cli-token", base_url=url) as client:
        assert await client.batches.list(WORKSPACE) == []
    process.send_signal(2)  # SIGINT, as Ctrl-C sends
    stdout, stderr = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 0, stderr.decode()
    assert stdout.decode().strip().endswith("Stopped.")


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ([], {"legacy_exports": False, "legacy_v3_uploads": False}),
        (["--legacy-exports"], {"legacy_exports": True, "legacy_v3_uploads": False}),
        (["--legacy-v3-uploads"], {"legacy_exports": False, "legacy_v3_uploads": True}),
        (
            ["--legacy-exports", "--legacy-v3-uploads"],
            {"legacy_exports": True, "legacy_v3_uploads": True},
        ),
    ],
)
def test_python_m_passes_the_legacy_switches_on(
    monkeypatch: pytest.MonkeyPatch, flags: list[str], expected: dict[str, bool]
) -> None:
    """`python -m prolific_async.testing --legacy-exports/--legacy-v3-uploads` reach serve()."""
    from prolific_async.testing import __main__ as standalone

    given: dict[str, object] = {}

    async def serve(**kwargs: object) -> None:
        given.update(kwargs)

    monkeypatch.setattr(standalone, "serve", serve)
    assert standalone.main(["--port", "0", *flags]) == 0
    assert {name: given[name] for name in expected} == expected


def test_python_m_on_a_busy_port_exits_2_saying_why(capsys: pytest.CaptureFixture[str]) -> None:
    """`python -m prolific_async.testing --port <in use>` is bad input: exit 2, one line."""
    from prolific_async.testing import __main__ as standalone

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(SystemExit) as exited:
            standalone.main(["--port", str(port)])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot listen on 127.0.0.1:{port}: the port is in use; ")
    assert err.count("\n") == 1


def test_python_m_on_a_privileged_port_exits_2_saying_why(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A port the user may not bind (EACCES, below 1024 unprivileged) is bad input: exit 2."""
    from aiohttp import web

    from prolific_async.testing import __main__ as standalone

    async def refused(self: web.TCPSite) -> None:  # as the kernel refuses a non-root bind
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(web.TCPSite, "start", refused)
    with pytest.raises(SystemExit) as exited:
        standalone.main(["--port", "80"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot listen on 127.0.0.1:80: permission denied ")
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"token": ""}, "token must be printable ASCII"),
        ({"token": "a\nb"}, "token must be printable ASCII"),
        ({"token": "t\u00f6k"}, "token must be printable ASCII"),
        ({"latency": -1.0}, "latency must be a finite number"),
        ({"latency": math.inf}, "latency must be a finite number"),
        ({"latency": math.nan}, "latency must be a finite number"),
    ],
)
def test_an_emulator_no_client_could_use_is_refused(settings: dict[str, Any], problem: str) -> None:
    """A token a client cannot send, or a latency that is not finite: ValueError at once."""
    with pytest.raises(ValueError, match=problem) as caught:
        FakeProlific(**settings)
    if "token" in settings and settings["token"].strip():
        assert settings["token"] not in str(caught.value)  # a token is never quoted


def test_an_emulator_token_with_spaces_at_either_end_is_kept_trimmed() -> None:
    """A token read from a file (a newline at its end) serves as trimmed, as a client sends it."""
    assert FakeProlific(token=" tok123\n").token == "tok123"


@pytest.mark.parametrize("latency", [math.inf, math.nan, -0.5])
def test_setting_a_latency_that_is_not_finite_is_refused(latency: float) -> None:
    """fake.latency = inf (or nan, or below 0): ValueError, the latency kept as it was."""
    fake = FakeProlific(latency=0.01)
    with pytest.raises(ValueError, match="latency must be a finite number"):
        fake.latency = latency
    assert fake.latency == 0.01
