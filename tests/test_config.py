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
