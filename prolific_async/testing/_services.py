"""Everything one fake serves, wired together: state, the services per noun, their routes."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from aiohttp import web

from ._datasets import DatasetService
from ._exports import ExportService
from ._routes import BatchRoutes, install_routes
from ._state import EmulatorState
from ._storage import Storage
from ._timeline import Timeline, WorkflowConfig
from ._workflow import WorkflowService

if TYPE_CHECKING:
    from aiohttp.typedefs import Handler, Middleware

__all__ = ["Services"]


class Services:
    """The batch, dataset, workflow, export and storage endpoints of one fake.

    Args:
        store: batches and datasets.
        config: the delays and the export behaviour (shared, so changes apply at once).
        storage_rng: the seeded generator presigned-URL tokens are drawn from.
    """

    def __init__(
        self, *, store: EmulatorState, config: WorkflowConfig, storage_rng: random.Random
    ) -> None:
        self.store = store
        self.config = config
        self.timeline = Timeline()
        self.storage = Storage(timeline=self.timeline, clock=store.now, rng=storage_rng)
        timeline, storage = self.timeline, self.storage
        self.datasets = DatasetService(
            store=store, timeline=timeline, storage=storage, config=config
        )
        self.workflow = WorkflowService(
            store=store, timeline=timeline, storage=storage, config=config
        )
        self.exports = ExportService(
            store=store, timeline=timeline, storage=storage, config=config, workflow=self.workflow
        )

    def install(self, router: web.UrlDispatcher) -> dict[web.AbstractRoute, str]:
        """Add every route to ``router``; return each route's stats name."""
        return install_routes(
            router,
            [
                *BatchRoutes(self.store).routes(),
                *self.datasets.routes(),
                *self.workflow.routes(),
                *self.exports.routes(),
                *self.storage.routes(),
            ],
        )

    def settle(self) -> None:
        """Apply the state transitions that have come due (see :mod:`._timeline`)."""
        self.timeline.settle()

    def middleware(self) -> Middleware:
        """An aiohttp middleware settling the state before each endpoint runs."""

        @web.middleware
        async def settle(request: web.Request, handler: Handler) -> web.StreamResponse:
            self.timeline.settle()
            return await handler(request)

        return settle
