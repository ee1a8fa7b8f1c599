"""The emulator's HTTP surface: the route table and one thin handler per endpoint.

Handlers decode the body, call :class:`EmulatorState` and render its answer; errors
travel as :class:`APIError` and become Prolific's nested error body in the server.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Final

from aiohttp import web

from ._state import EmulatorState
from ._validation import error_body, parse_json_object

if TYPE_CHECKING:
    from aiohttp.typedefs import Handler

__all__ = ["BATCHES_PATH", "BatchRoutes", "error_response", "install_routes"]

BATCHES_PATH: Final = "/api/v1/data-collection/batches"


def install_routes(
    router: web.UrlDispatcher, table: Iterable[tuple[str, str, Handler, str]]
) -> dict[web.AbstractRoute, str]:
    """Add each ``(method, path, handler, stats name)`` to ``router``; map routes to names."""
    return {router.add_route(method, path, handler): name for method, path, handler, name in table}


def error_response(
    status: int,
    detail: object,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, object] | None = None,
) -> web.Response:
    """Answer with Prolific's nested error body (``extra`` keys added to the error object)."""
    return web.json_response(error_body(status, detail, extra), status=status, headers=headers)


class BatchRoutes:
    """The batch endpoints, served from one :class:`EmulatorState`."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def routes(self) -> list[tuple[str, str, Handler, str]]:
        """The batch routes: ``(method, path, handler, stats name)``."""
        return [
            ("GET", BATCHES_PATH, self.list_batches, "list_batches"),
            # The official CLI lists with a trailing slash; the API accepts both.
            ("GET", BATCHES_PATH + "/", self.list_batches, "list_batches"),
            ("POST", BATCHES_PATH, self.create_batch, "create_batch"),
            ("GET", BATCHES_PATH + "/{batch_id}", self.get_batch, "get_batch"),
            ("PATCH", BATCHES_PATH + "/{batch_id}", self.update_batch, "update_batch"),
            (
                "POST",
                BATCHES_PATH + "/{batch_id}/duplicate",
                self.duplicate_batch,
                "duplicate_batch",
            ),
        ]

    def install(self, router: web.UrlDispatcher) -> dict[web.AbstractRoute, str]:
        """Add every batch route to ``router``; return each route's stats name."""
        return install_routes(router, self.routes())

    async def list_batches(self, request: web.Request) -> web.Response:
        """``GET /batches?workspace_id=``: 200 ``{"results": [...], "meta": {"count"}}``."""
        batches = self.state.list_batches(request.query.get("workspace_id"))
        results = [self.state.render(batch, full=True) for batch in batches]
        return web.json_response({"results": results, "meta": {"count": len(results)}})

    async def create_batch(self, request: web.Request) -> web.Response:
        """``POST /batches``: 201 with the new batch (create-response shape)."""
        body = parse_json_object(await request.read())
        batch = self.state.create(body)
        # The docs' create schema predates the layout: its keys come back when given.
        given = body.get("batch_items") is not None or "auto_sync_enabled" in body
        return web.json_response(
            self.state.render(batch, full=False, layout_keys=given), status=201
        )

    async def get_batch(self, request: web.Request) -> web.Response:
        """``GET /batches/{id}``: 200 with the full batch."""
        batch = self.state.get(request.match_info["batch_id"])
        return web.json_response(self.state.render(batch, full=True))

    async def update_batch(self, request: web.Request) -> web.Response:
        """``PATCH /batches/{id}``: 200 with the full batch after the update."""
        batch_id = self.state.get(request.match_info["batch_id"]).id  # 404 before 400
        batch = self.state.update(batch_id, parse_json_object(await request.read()))
        return web.json_response(self.state.render(batch, full=True))

    async def duplicate_batch(self, request: web.Request) -> web.Response:
        """``POST /batches/{id}/duplicate``: 201 with the copy (create-response shape)."""
        batch_id = self.state.get(request.match_info["batch_id"]).id  # 404 before 400
        batch = self.state.duplicate(batch_id, parse_json_object(await request.read()))
        layout_keys = batch.batch_items is not None or batch.auto_sync_enabled
        return web.json_response(
            self.state.render(batch, full=False, layout_keys=layout_keys), status=201
        )
