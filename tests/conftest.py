"""Shared test fixtures: the aioresponses shim and a loopback aiohttp.web server helper."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import aioresponses.core
import pytest
from aiohttp import ClientResponse, web


class _NoStreamWriter:
    output_size = 0


class _PatchedClientResponse(ClientResponse):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", _NoStreamWriter())
        super().__init__(*args, **kwargs)


@pytest.fixture(autouse=True)
def _aioresponses_aiohttp_314_shim(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make aioresponses 0.7.9 work on aiohttp >= 3.14.

    aiohttp 3.14 added a required ``stream_writer`` argument to ClientResponse, which
    aioresponses does not pass (pnuckowski/aioresponses#289, fixed upstream but not
    released). Remove this shim once a fixed aioresponses release is out.
    """
    monkeypatch.setattr(aioresponses.core, "ClientResponse", _PatchedClientResponse)
    return


async def wait_until(condition: Callable[[], bool], *, seconds: float = 10.0) -> None:
    """Poll ``condition`` every few milliseconds; fail the test if it stays false."""
    for _ in range(int(seconds / 0.005)):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"condition still false after {seconds} s")


class LoopbackServer:
    """An aiohttp.web application served on 127.0.0.1 for one test."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        self.url = ""

    async def start(self) -> LoopbackServer:
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self

    async def close(self) -> None:
        await self._runner.cleanup()


@pytest.fixture
async def serve() -> AsyncIterator[Any]:
    """Start aiohttp.web apps on loopback; all are stopped when the test ends."""
    servers: list[LoopbackServer] = []

    async def start(app: web.Application) -> LoopbackServer:
        server = await LoopbackServer(app).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.close()
