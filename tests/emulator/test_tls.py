"""FakeProlific(tls=True): HTTPS with a throwaway CA, storage links included."""

from __future__ import annotations

import asyncio
import ssl
import sys
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from prolific_async import APIConnectionError, ProlificClient, TaskDetails
from prolific_async.testing import FAST_RETRY_POLICY, FakeProlific
from prolific_async.testing._tls import certificate_hosts

from .conftest import CSV, WORKSPACE

pytest.importorskip("trustme", reason="the tls extra (trustme) is not installed")

TASK_DETAILS = TaskDetails(task_name="Rate it", task_introduction="<p>Hi</p>", task_steps="<ol/>")


@pytest.fixture
async def tls_fake(testing_mode: None) -> AsyncIterator[FakeProlific]:
    """A started HTTPS fake whose uploads, setups and exports take 10 ms; 10 ms polls."""
    async with FakeProlific(
        tls=True, processing_delay=0.01, setup_delay=0.01, export_delay=0.01
    ) as fake:
        yield fake


async def test_the_url_and_every_storage_link_are_https(tls_fake: FakeProlific) -> None:
    """With tls the API URL, upload URLs, report links and export links are https."""
    assert tls_fake.tls
    assert tls_fake.url.startswith("https://127.0.0.1:")
    batch = tls_fake.add_batch(status="READY")
    async with tls_fake.client(retry=FAST_RETRY_POLICY) as client:
        dataset = await client.datasets.create(name="Data", workspace_id=WORKSPACE)
        upload_url = await client.datasets.get_upload_url(dataset.id, "data.csv")
        report = await client.batches.report(batch.id)
    assert upload_url.upload_url.startswith(f"{tls_fake.url}/_storage/")
    assert report.url is not None
    assert report.url.startswith(f"{tls_fake.url}/_storage/")


async def test_a_whole_workflow_runs_over_tls(tls_fake: FakeProlific, tmp_path: Path) -> None:
    """fake.client() trusts the CA: create, upload, setup and an export download work."""
    async with tls_fake.client(retry=FAST_RETRY_POLICY) as client:
        dataset = await client.datasets.create(name="Data", workspace_id=WORKSPACE)
        upload = await client.datasets.upload(dataset.id, CSV, filename="data.csv")
        batch = await client.batches.create(
            name="TLS", workspace_id=WORKSPACE, task_details=TASK_DETAILS, dataset_id=dataset.id
        )
        await client.batches.setup(batch.id, tasks_per_group=1)
        ready = await client.batches.wait_until_ready(batch.id, timeout=5)
        tls_fake.add_response(batch.id)
        job = await client.batches.request_export(batch.id)
        export = await client.batches.wait_for_export(batch.id, job, timeout=5)
        archive = await client.batches.download_export(export, tmp_path / "export.zip")
    assert str(upload.status) == "complete"  # the V3 upload's import job
    assert ready.total_task_count == 3
    assert export.url is not None
    assert export.url.startswith("https://")
    assert zipfile.is_zipfile(archive)
    uploads = [r for r in tls_fake.storage_requests if r.method == "PUT"]
    assert len(uploads) == 1


async def test_a_client_trusting_only_the_system_is_refused(tls_fake: FakeProlific) -> None:
    """A default client (system trust) fails with a certificate error; nothing is served."""
    client = ProlificClient(token=tls_fake.token, base_url=tls_fake.url, retry=FAST_RETRY_POLICY)
    async with client:
        with pytest.raises(APIConnectionError) as caught:
            await client.batches.list(WORKSPACE)
    assert isinstance(caught.value.__cause__, aiohttp.ClientConnectorCertificateError)
    assert tls_fake.requests == []


async def test_other_clients_trust_the_ca_file(tls_fake: FakeProlific) -> None:
    """The CA's PEM file is all another client needs (as with SSL_CERT_FILE=...)."""
    assert tls_fake.ca_file is not None
    assert b"BEGIN CERTIFICATE" in tls_fake.ca_file.read_bytes()
    assert b"PRIVATE KEY" not in tls_fake.ca_file.read_bytes()
    context = ssl.create_default_context(cafile=str(tls_fake.ca_file))
    headers = {"Authorization": f"Token {tls_fake.token}"}
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as session,
        session.get(
            f"{tls_fake.url}/api/v1/data-collection/batches",
            params={"workspace_id": WORKSPACE},
            headers=headers,
        ) as response,
    ):
        assert response.status == 200


async def test_the_ca_file_is_deleted_when_the_fake_stops() -> None:
    """The CA file exists only while the fake runs; it is gone (folder too) after stop."""
    fake = FakeProlific(tls=True)
    before_start = fake.ca_file
    async with fake:
        ca_file = fake.ca_file
        assert ca_file is not None
        assert await asyncio.to_thread(ca_file.is_file)
    assert (before_start, fake.ca_file) == (None, None)
    assert not await asyncio.to_thread(ca_file.exists)
    assert not ca_file.parent.exists()


async def test_a_plain_fake_has_no_ca_file(prolific_fake: FakeProlific) -> None:
    """Without tls the fake serves plain http and has no CA to trust."""
    assert not prolific_fake.tls
    assert prolific_fake.ca_file is None
    assert prolific_fake.url.startswith("http://")


async def test_an_ssl_context_given_to_client_wins(tls_fake: FakeProlific) -> None:
    """fake.client(ssl_context=...) uses the caller's context, not the fake's CA."""
    async with tls_fake.client(
        ssl_context=ssl.create_default_context(), retry=FAST_RETRY_POLICY
    ) as client:
        with pytest.raises(APIConnectionError):
            await client.batches.list(WORKSPACE)


def test_tls_without_trustme_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """tls=True without trustme raises ImportError saying which extra to install."""
    monkeypatch.setitem(sys.modules, "trustme", None)
    with pytest.raises(ImportError, match=r"pip install 'prolific-async\[tls\]'"):
        FakeProlific(tls=True)


def test_the_certificate_covers_loopback_and_the_host() -> None:
    """The server certificate names the loopback addresses and the host it listens on."""
    assert certificate_hosts("127.0.0.1") == ["127.0.0.1", "::1", "localhost"]
    assert certificate_hosts("0.0.0.0") == ["127.0.0.1", "::1", "localhost", "0.0.0.0"]
    assert certificate_hosts("fake.test") == ["127.0.0.1", "::1", "localhost", "fake.test"]


#: Runs ``python -m prolific_async.testing`` with ``import trustme`` failing, as it does
#: where the tls extra is not installed.
_WITHOUT_TRUSTME = """
import runpy, sys

class NoTrustme:
    def find_spec(self, name, path=None, target=None):
        if name == "trustme" or name.startswith("trustme."):
            raise ModuleNotFoundError("No module named 'trustme'", name="trustme")
        return None

sys.meta_path.insert(0, NoTrustme())
sys.modules.pop("trustme", None)
runpy.run_module("prolific_async.testing", run_name="__main__", alter_sys=True)
"""


async def test_python_m_tls_prints_the_ca_file_and_serves_https() -> None:
    """`python -m prolific_async.testing --tls` prints SSL_CERT_FILE; a client trusting it works."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "prolific_async.testing", "--tls", "--port", "0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    printed: dict[str, str] = {}
    while "SSL_CERT_FILE" not in printed:
        line = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
        assert line, "the emulator exited before printing SSL_CERT_FILE"
        name, _, value = line.strip().partition("=")
        printed[name] = value
    ca_file = Path(printed["SSL_CERT_FILE"])
    assert printed["PROLIFIC_URL"].startswith("https://")
    assert await asyncio.to_thread(ca_file.is_file)
    context = ssl.create_default_context(cafile=str(ca_file))
    async with ProlificClient(
        token=printed["PROLIFIC_TOKEN"], base_url=printed["PROLIFIC_URL"], ssl_context=context
    ) as client:
        assert await client.batches.list(WORKSPACE) == []
    process.send_signal(2)  # SIGINT, as Ctrl-C sends
    _, stderr = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 0, stderr.decode()
    assert not await asyncio.to_thread(ca_file.exists)


async def test_python_m_tls_without_trustme_exits_1_naming_the_extra() -> None:
    """Without trustme, `--tls` exits 1 with a message saying to install the tls extra."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _WITHOUT_TRUSTME, "--tls", "--port", "0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 1
    assert "pip install 'prolific-async[tls]'" in stderr.decode()
    assert "PROLIFIC_URL" not in stdout.decode()
