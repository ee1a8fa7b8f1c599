"""Client settings: what the constructor accepts and refuses before any request."""

from __future__ import annotations

import ssl

import aiohttp
import pytest

from prolific_async import ProlificClient


def test_an_ssl_context_that_does_not_verify_is_refused() -> None:
    """Verification cannot be switched off through ssl_context."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with pytest.raises(ValueError, match="must verify certificates"):
        ProlificClient("t", ssl_context=context)


def test_an_ssl_context_without_host_name_checks_is_refused() -> None:
    """A context that verifies the chain but not the host name is refused too."""
    context = ssl.create_default_context()
    context.check_hostname = False
    with pytest.raises(ValueError, match="host names"):
        ProlificClient("t", ssl_context=context)


def test_an_ssl_context_must_be_an_ssl_context() -> None:
    """Anything else (a bool, a path) is a TypeError, not a silent default."""
    with pytest.raises(TypeError, match=r"ssl\.SSLContext"):
        ProlificClient("t", ssl_context=False)  # type: ignore[arg-type]


async def test_an_ssl_context_with_a_callers_session_is_refused() -> None:
    """A caller's session keeps its own connector settings: the two cannot be combined."""
    async with aiohttp.ClientSession() as session:
        with pytest.raises(ValueError, match="keeps its own connector"):
            ProlificClient("t", session=session, ssl_context=ssl.create_default_context())


async def test_a_verifying_ssl_context_is_used_by_the_clients_connector() -> None:
    """The context given is the one the client's own connector uses."""
    context = ssl.create_default_context()
    async with ProlificClient("t", ssl_context=context) as client, client.storage_session() as s:
        assert s.connector is not None
        assert s.connector._ssl is context  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "url", ["http://api.prolific.com", "http://10.0.0.5:8080", "http://example.test"]
)
def test_plain_http_off_this_machine_is_refused(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A one-letter typo (http for https) must not send the token in the clear."""
    monkeypatch.delenv("PROLIFIC_ALLOW_INSECURE_HTTP", raising=False)
    with pytest.raises(ValueError, match="in the clear") as caught:
        ProlificClient("secret-token", base_url=url)
    assert "secret-token" not in str(caught.value)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8765", "http://localhost:1", "http://[::1]:9", "http://127.1.2.3"]
)
def test_plain_http_to_this_machine_is_allowed(url: str) -> None:
    """The emulator on loopback needs no opt-in."""
    assert ProlificClient("t", base_url=url).base_url == url


def test_plain_http_elsewhere_needs_an_explicit_opt_in(monkeypatch: pytest.MonkeyPatch) -> None:
    """allow_insecure_http=True, or PROLIFIC_ALLOW_INSECURE_HTTP=1, accepts it."""
    url = "http://proxy.internal.test"
    assert ProlificClient("t", base_url=url, allow_insecure_http=True).base_url == url
    monkeypatch.setenv("PROLIFIC_ALLOW_INSECURE_HTTP", "1")
    assert ProlificClient("t", base_url=url).base_url == url


def test_a_malformed_base_url_is_a_value_error_naming_it_briefly() -> None:
    """A broken URL is a ValueError; a long one is shortened in the message."""
    with pytest.raises(ValueError, match=r"not a valid URL|http"):
        ProlificClient("t", base_url="http://[::1")
    with pytest.raises(ValueError, match=r"characters\)") as caught:
        ProlificClient("t", base_url="ftp://" + "x" * 5000)
    assert len(str(caught.value)) < 400


@pytest.mark.parametrize(
    ("url", "root"),
    [
        ("http://127.0.0.1:8765/api/v1", "http://127.0.0.1:8765"),
        ("https://api.prolific.com/api/v1/", "https://api.prolific.com"),
        ("https://proxy.example/prolific/api/v1", "https://proxy.example/prolific"),
    ],
)
@pytest.mark.parametrize("source", ["argument", "environment"])
def test_a_base_url_ending_in_the_api_prefix_is_refused_naming_the_root(
    url: str, root: str, source: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A base_url or PROLIFIC_URL ending in /api/v1 is a ValueError naming its source and root."""
    monkeypatch.setenv("PROLIFIC_URL", url)
    with pytest.raises(ValueError, match="ends in /api/v1") as caught:
        ProlificClient("t", base_url=url if source == "argument" else None)
    message = str(caught.value)
    assert message.startswith("base_url " if source == "argument" else "PROLIFIC_URL ")
    assert message.endswith(f"set it without /api/v1 ({root})")


def test_a_base_url_with_the_api_prefix_elsewhere_in_its_path_is_kept() -> None:
    """Only a path ending in /api/v1 is refused: a proxy's /api/v1-proxy prefix is kept."""
    url = "https://proxy.example/api/v1-proxy"
    assert ProlificClient("t", base_url=url).base_url == url


@pytest.mark.parametrize("token", ["ab\ncd", "ab\r\ncd", "tab\there", "t\udcffk", "tøken"])
@pytest.mark.parametrize("source", ["argument", "environment"])
def test_a_token_no_header_can_carry_is_refused_without_repeating_it(
    token: str, source: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A token with a newline, a control or non-ASCII character: a ValueError naming its source."""
    monkeypatch.setenv("PROLIFIC_TOKEN", token)
    with pytest.raises(ValueError, match="HTTP header cannot carry") as caught:
        ProlificClient(token if source == "argument" else None)
    assert ("PROLIFIC_TOKEN" in str(caught.value)) is (source == "environment")
    assert token.strip() not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "https://user:pw-secret@api.example:99999",
        "ftp://user:pw-secret@api.example/",
        "https://user:pw-secret@[::1/",
        "https:/user:pw-secret@api.example/",
        "http:user:pw-secret@api.example",
        "user:pw-secret@api.example:1",
        "http://user:pw secret@api.example:bad/",
        "http://user:pw-secret\t@api.example:99999",
    ],
)
def test_an_unusable_base_url_with_credentials_never_repeats_them(url: str) -> None:
    """A base_url refused for another reason (port, scheme, syntax) is shown without a password."""
    with pytest.raises(ValueError, match="base_url") as caught:
        ProlificClient("t", base_url=url)
    assert "pw-secret" not in str(caught.value)
    assert "pw secret" not in str(caught.value)


@pytest.mark.parametrize("url", ["https://user:pw-secret@api.example", "https://user@api.example"])
def test_a_base_url_with_credentials_is_refused_without_repeating_them(url: str) -> None:
    """A base_url with a user name or password: a ValueError showing the URL without them."""
    with pytest.raises(ValueError, match="must not hold a user name or password") as caught:
        ProlificClient("t", base_url=url)
    assert "https://api.example" in str(caught.value)
    assert "pw-secret" not in str(caught.value)
    assert "user" not in str(caught.value).replace("user name", "")
