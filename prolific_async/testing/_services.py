"""Everything one fake serves, wired together: the service per noun and their routes."""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import TYPE_CHECKING

from aiohttp import web

from ._batches import BatchService
from ._datasets import DatasetService
from ._exports import ExportService
from ._migrations import MigrationService
from ._stamps import Stamps
from ._storage import Storage
from ._sync import SyncService
from ._timeline import Timeline, WorkflowConfig
from ._workflow import WorkflowService

if TYPE_CHECKING:
    from aiohttp.typedefs import Handler, Middleware

__all__ = ["Services", "install_routes"]


def install_routes(
    router: web.UrlDispatcher, table: Iterable[tuple[str, str, Handler, str]]
) -> dict[web.AbstractRoute, str]:
    """Add each ``(method, path, handler, stats name)`` to ``router``; map routes to names."""
    return {router.add_route(method, path, handler): name for method, path, handler, name in table}


class Services:
    """The batch, dataset, workflow, export, sync, migration and storage endpoints of one fake.

    Args:
        stamps: ids and creation times, shared by every service.
        config: the delays and the export behaviour (shared, so changes apply at once).
        storage_rng: the seeded generator presigned-URL tokens are drawn from.
    """

    def __init__(
        self, *, stamps: Stamps, config: WorkflowConfig, storage_rng: random.Random
    ) -> None:
        self.stamps = stamps
        self.config = config
        self.timeline = Timeline()
        self.storage = Storage(timeline=self.timeline, clock=stamps.now, rng=storage_rng)
        timeline, storage = self.timeline, self.storage
        self.datasets = DatasetService(
            stamps=stamps, timeline=timeline, storage=storage, config=config
        )
        self.batches = BatchService(stamps=stamps, datasets=self.datasets.datasets)
        self.workflow = WorkflowService(
            stamps=stamps,
            batches=self.batches,
            datasets=self.datasets.datasets,
            timeline=timeline,
            storage=storage,
            config=config,
        )
        self.exports = ExportService(
            stamps=stamps,
            batches=self.batches,
            timeline=timeline,
            storage=storage,
            config=config,
            workflow=self.workflow,
        )
        self.migrations = MigrationService(
            stamps=stamps, datasets=self.datasets, timeline=timeline, config=config
        )
        self.syncs = SyncService(
            stamps=stamps,
            batches=self.batches,
            datasets=self.datasets,
            migrations=self.migrations,
            timeline=timeline,
            config=config,
        )

    def install(self, router: web.UrlDispatcher) -> dict[web.AbstractRoute, str]:
        """Add every route to ``router``; return each route's stats name."""
        return install_routes(
            router,
            [
                *self.batches.routes(),
                *self.datasets.routes(),
                *self.workflow.routes(),
                *self.exports.routes(),
                *self.migrations.routes(),
                *self.syncs.routes(),
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
