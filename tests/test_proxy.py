"""Proxies: the environment's (``HTTP(S)_PROXY``, ``NO_PROXY``) or ``proxy=``; loopback direct."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from prolific_async import ProlificClient
from prolific_async._config import base_url_from
from prolific_async._session import is_loopback, proxy_for
from prolific_async.testing import FakeProlific
from tests.conftest import BATCHES_PATH, TOKEN, StartServer, server_url

UNRESOLVABLE = "http://api.prolific.invalid"
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture(autouse=True)
def no_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts from an environment without proxy variables."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


class ForwardProxy:
    """A local server answering, as a forward proxy would, for any host it is asked for."""

    def __init__(self) -> None:
        self.targets: list[str] = []
        self.authorizations: list[str | None] = []
        self.proxy_authorizations: list[str | None] = []
        self.app = web.Application()
        self.app.router.add_get(BATCHES_PATH, self.list_batches)

    async def list_batches(self, request: web.Request) -> web.Response:
        self.targets.append(request.raw_path)  # absolute-form: the proxied URL
        self.authorizations.append(request.headers.get("Authorization"))
        self.proxy_authorizations.append(request.headers.get("Proxy-Authorization"))
        return web.json_response({"results": []})


@pytest.fixture
async def forward_proxy(start_server: StartServer) -> tuple[ForwardProxy, str]:
    proxy = ForwardProxy()
    return proxy, server_url(await start_server(proxy.app))


async def test_http_proxy_reaches_a_host_this_machine_cannot_resolve(
    monkeypatch: pytest.MonkeyPatch, forward_proxy: tuple[ForwardProxy, str]
) -> None:
    """HTTP_PROXY at a local server: a call to an unresolvable base URL succeeds through it."""
    proxy, proxy_url = forward_proxy
    monkeypatch.setenv("HTTP_PROXY", proxy_url)
    async with ProlificClient(TOKEN, base_url=UNRESOLVABLE, allow_insecure_http=True) as client:
        assert await client.batches.list("ws1") == []
    assert proxy.targets == [f"{UNRESOLVABLE}{BATCHES_PATH}?workspace_id=ws1"]
    assert proxy.authorizations == [f"Token {TOKEN}"]


async def test_an_explicit_proxy_wins_over_the_environment(
    monkeypatch: pytest.MonkeyPatch,
    forward_proxy: tuple[ForwardProxy, str],
    never_listening: socket.socket,
) -> None:
    """proxy= is used even when HTTP_PROXY points elsewhere; its credentials go as auth."""
    proxy, proxy_url = forward_proxy
    host, port = never_listening.getsockname()[:2]
    monkeypatch.setenv("HTTP_PROXY", f"http://{host}:{port}")
    with_user = proxy_url.replace("http://", "http://user:pass@")
    async with ProlificClient(
        TOKEN, base_url=UNRESOLVABLE, allow_insecure_http=True, proxy=with_user
    ) as client:
        assert await client.batches.list("ws1") == []
    assert proxy.proxy_authorizations == ["Basic dXNlcjpwYXNz"]


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"])
async def test_loopback_bypasses_an_environment_proxy(
    monkeypatch: pytest.MonkeyPatch,
    prolific_fake: FakeProlific,
    never_listening: socket.socket,
    variable: str,
) -> None:
    """A proxy variable at a closed port: the client still reaches the emulator directly."""
    host, port = never_listening.getsockname()[:2]
    monkeypatch.setenv(variable, f"http://{host}:{port}")
    async with ProlificClient(prolific_fake.token, base_url=prolific_fake.url) as client:
        assert await client.batches.list("ws-none") == []


def test_the_environment_proxy_is_chosen_by_scheme_and_no_proxy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """HTTPS_PROXY for https, NO_PROXY honoured, trust_env=False ignores the environment."""
    monkeypatch.setenv("HTTPS_PROXY", "http://corp:3128")
    monkeypatch.setenv("HTTP_PROXY", "http://plain:3128")
    api = "https://api.prolific.com"
    assert str(proxy_for(api, proxy=None, trust_env=True).url) == "http://corp:3128"
    assert str(proxy_for("http://x.test", proxy=None, trust_env=True).url) == "http://plain:3128"
    assert proxy_for(api, proxy=None, trust_env=False).url is None
    monkeypatch.setenv("NO_PROXY", "prolific.com")
    assert proxy_for(api, proxy=None, trust_env=True).url is None


def test_proxy_credentials_stay_out_of_the_repr() -> None:
    """user:password in a proxy URL is kept for aiohttp but not shown."""
    chosen = proxy_for(UNRESOLVABLE, proxy="http://me:secret@corp:3128", trust_env=True)
    assert chosen.url is not None
    assert chosen.url.password == "secret"
    assert "secret" not in repr(chosen)


@pytest.mark.parametrize("proxy", ["corp:3128", "ftp://corp", "socks5://corp:1080", "http://"])
def test_a_proxy_that_is_not_an_http_url_is_refused(proxy: str) -> None:
    """proxy= must be an http:// or https:// URL with a host."""
    with pytest.raises(ValueError, match="proxy must be"):
        ProlificClient(TOKEN, proxy=proxy)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.0.1", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("api.localhost", True),
        ("LOCALHOST.", True),
        ("api.localhost.", True),
        ("127.0.0.1.", False),
        ("notlocalhost", False),
        ("localhost.example", False),
        ("", False),
        ("10.0.0.1", False),
        ("api.prolific.com", False),
        (None, False),
    ],
)
def test_loopback_hosts(host: str | None, *, loopback: bool) -> None:
    """Loopback is (*.)localhost with or without a trailing dot, 127.0.0.0/8 and ::1."""
    assert is_loopback(host) is loopback


@pytest.mark.parametrize("host", ["localhost.", "api.localhost", "API.LOCALHOST.", "[::1]"])
def test_plain_http_is_allowed_to_every_loopback_name_the_proxy_rule_knows(host: str) -> None:
    """The base URL check and the proxy bypass use the one rule: http://HOST is accepted."""
    assert is_loopback(host)
    assert base_url_from(f"http://{host}:8080") == f"http://{host}:8080"


# -- storage transfers choose their own proxy ----------------------------------------------


def test_storage_honours_no_proxy_for_its_own_host(monkeypatch: pytest.MonkeyPatch) -> None:
    """NO_PROXY naming the storage host sends transfers there directly; others go proxied."""
    monkeypatch.setenv("HTTPS_PROXY", "http://corp:3128")
    monkeypatch.setenv("NO_PROXY", "storage.example")
    client = ProlificClient(TOKEN)
    assert str(client.storage_proxy("https://api.other.example/x")) == "http://corp:3128"
    assert client.storage_proxy("https://storage.example/bucket/f.csv?X-Amz-Signature=s") is None
    assert client.storage_proxy("https://127.0.0.1:9/_storage/x") is None


def test_an_explicit_proxy_carries_storage_too_except_loopback() -> None:
    """proxy= applies to a storage host elsewhere, never to a loopback one."""
    client = ProlificClient(TOKEN, proxy="http://corp:3128")
    assert str(client.storage_proxy("https://s3.example/bucket/x")) == "http://corp:3128"
    assert client.storage_proxy("http://localhost:9/_storage/x") is None
    assert ProlificClient(TOKEN, trust_env=False).storage_proxy("https://s3.example/x") is None


class RelayProxy:
    """A forward proxy on loopback that relays each request to the URL it names."""

    def __init__(self) -> None:
        self.targets: list[str] = []
        self.app = web.Application()
        self.app.router.add_route("*", "/{tail:.*}", self.relay)

    async def relay(self, request: web.Request) -> web.Response:
        self.targets.append(request.raw_path)
        headers = {
            key: value
            for key, value in request.headers.items()
            if key.lower() not in {"host", "proxy-authorization", "content-length"}
        }
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                request.method, request.raw_path, headers=headers, data=await request.read()
            ) as answer,
        ):
            body = await answer.read()
            kept = {"Content-Type": answer.headers.get("Content-Type", "application/json")}
            return web.Response(status=answer.status, body=body, headers=kept)


async def test_loopback_storage_goes_direct_while_the_api_goes_through_a_proxy(
    prolific_fake: FakeProlific, start_server: StartServer
) -> None:
    """proxy= relays the API calls of an upload; the PUT to loopback storage never reaches it."""
    relay = RelayProxy()
    proxy_url = server_url(await start_server(relay.app))
    async with prolific_fake.client(proxy=proxy_url) as client:
        dataset = await client.datasets.create(name="via proxy", workspace_id="ws-1")
        await client.datasets.upload(
            dataset.id, b"text\nhi\n", filename="rows.csv", poll_interval=0.01
        )
    assert relay.targets
    assert all("/api/v1/" in target for target in relay.targets)
    assert not [target for target in relay.targets if "/_storage/" in target]
    assert prolific_fake.datasets[dataset.id].total_datapoint_count == 1


@contextlib.asynccontextmanager
async def connect_proxy(tunnels: list[str]) -> AsyncIterator[str]:
    """A CONNECT proxy on loopback: it opens each tunnel asked for and pipes the bytes."""
    writers: list[asyncio.StreamWriter] = []

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        method, target, _ = head.split("\r\n", 1)[0].split(" ")
        assert method == "CONNECT"
        tunnels.append(target)
        host, port = target.rsplit(":", 1)
        upstream_reader, upstream_writer = await asyncio.open_connection(host, int(port))
        writers.extend((writer, upstream_writer))
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        for writer in writers:
            writer.close()
        await server.wait_closed()


async def test_https_through_a_connect_proxy_reaches_the_tls_emulator() -> None:
    """An https API behind proxy=: the client tunnels with CONNECT and TLS works end to end."""
    tunnels: list[str] = []
    async with FakeProlific(tls=True) as fake, connect_proxy(tunnels) as proxy_url:
        async with fake.client(proxy=proxy_url) as client:
            assert await client.batches.list("ws-none") == []
        assert fake.url.startswith("https://127.0.0.1:")
        assert tunnels == [fake.url.removeprefix("https://")]


async def test_a_callers_session_keeps_its_own_proxy_over_the_environment(
    monkeypatch: pytest.MonkeyPatch,
    forward_proxy: tuple[ForwardProxy, str],
    never_listening: socket.socket,
) -> None:
    """session=ClientSession(proxy=A) with HTTP_PROXY at a closed port: the call goes via A."""
    proxy, proxy_url = forward_proxy
    host, port = never_listening.getsockname()[:2]
    monkeypatch.setenv("HTTP_PROXY", f"http://{host}:{port}")
    async with aiohttp.ClientSession(proxy=proxy_url) as session:
        client = ProlificClient(
            TOKEN, base_url=UNRESOLVABLE, allow_insecure_http=True, session=session
        )
        async with client:
            assert await client.batches.list("ws1") == []
    assert proxy.targets == [f"{UNRESOLVABLE}{BATCHES_PATH}?workspace_id=ws1"]


STORAGE_NAME = "storage.example.test"


@pytest.fixture
def storage_off_loopback(monkeypatch: pytest.MonkeyPatch, prolific_fake: FakeProlific) -> str:
    """The emulator's presigned URLs name STORAGE_NAME, which resolves (alone) to loopback."""
    real = socket.getaddrinfo

    def resolve(host: Any, *args: Any, **kwargs: Any) -> Any:
        return real("127.0.0.1" if host == STORAGE_NAME else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    base = f"http://{STORAGE_NAME}:{URL(prolific_fake.url).port}"
    prolific_fake._services.storage.base_url = base  # no public knob: a test-only rename
    return base


async def _upload_and_download(fake: FakeProlific, folder: Path) -> None:
    """A dataset upload (PUT) and an export download (GET), both to the fake's storage."""
    fake.export_delay = fake.processing_delay = 0.0
    batch = fake.add_batch(status="READY")
    fake.add_response(batch.id)
    async with fake.client() as client:
        dataset = await client.datasets.create(name="stored", workspace_id="ws-1")
        await client.datasets.upload(dataset.id, b"text\nhi\n", filename="rows.csv")
        export = await client.batches.request_export(batch.id)
        export = await client.batches.wait_for_export(batch.id, export)
        await client.batches.download_export(export, folder / "export.zip")
    assert fake.datasets[dataset.id].total_datapoint_count == 1
    assert (folder / "export.zip").stat().st_size > 0


async def test_storage_off_loopback_goes_through_the_environment_proxy(
    monkeypatch: pytest.MonkeyPatch,
    prolific_fake: FakeProlific,
    start_server: StartServer,
    storage_off_loopback: str,
    tmp_path: Path,
) -> None:
    """HTTP_PROXY relays the upload's PUT and the export's GET; the loopback API goes direct."""
    relay = RelayProxy()
    monkeypatch.setenv("HTTP_PROXY", server_url(await start_server(relay.app)))
    await _upload_and_download(prolific_fake, tmp_path)
    assert [target.split("/_storage/")[1].split("/")[0] for target in relay.targets] == [
        "uploads",
        "exports",
    ]
    assert all(target.startswith(f"{storage_off_loopback}/_storage/") for target in relay.targets)


async def test_storage_named_in_no_proxy_goes_direct(
    monkeypatch: pytest.MonkeyPatch,
    prolific_fake: FakeProlific,
    start_server: StartServer,
    storage_off_loopback: str,
    tmp_path: Path,
) -> None:
    """NO_PROXY naming the storage host: the same transfers bypass HTTP_PROXY's relay."""
    relay = RelayProxy()
    monkeypatch.setenv("HTTP_PROXY", server_url(await start_server(relay.app)))
    monkeypatch.setenv("NO_PROXY", STORAGE_NAME)
    await _upload_and_download(prolific_fake, tmp_path)
    assert relay.targets == []
