"""Proxies: the environment's (``HTTP(S)_PROXY``, ``NO_PROXY``) or ``proxy=``; loopback direct."""

from __future__ import annotations

import socket

import pytest
from aiohttp import web

from prolific_async import ProlificClient
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
        ("10.0.0.1", False),
        ("api.prolific.com", False),
        (None, False),
    ],
)
def test_loopback_hosts(host: str | None, *, loopback: bool) -> None:
    """Loopback is localhost, 127.0.0.0/8 and ::1."""
    assert is_loopback(host) is loopback
