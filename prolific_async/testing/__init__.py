"""An embedded Prolific API emulator with fault injection, for tests, benchmarks and demos.

:class:`FakeProlific` serves the AI Task Builder endpoints (batches and their layouts,
datasets and their uploads, setup, responses, report, exports) over a real socket
(``aiohttp.web`` on 127.0.0.1) from in-memory state, with the real API's validation, status
codes and state machines. It stands in for the storage host of presigned URLs too, and misbehaves on
request: scripted faults (:meth:`FakeProlific.add_fault`), latency, a rate limit and a
concurrency cap. Randomness is seeded, so a failing run
replays::

    from prolific_async.testing import FakeProlific

    async with FakeProlific() as fake:
        fake.add_fault("GET", "/api/v1/data-collection/batches/*", "status", status=503)
        async with fake.client() as client:
            ...

With pytest and pytest-asyncio installed, the ``prolific_fake`` and ``prolific_client``
fixtures are available without any configuration (see :mod:`.pytest_plugin`). Run it
standalone with ``python -m prolific_async.testing``.
"""

from ._batches import StoredBatch
from ._datasets import StoredDataset, StoredImport
from ._exports import StoredExport
from ._fault_schedule import FiredFault
from ._faults import Fault, FaultKind
from ._pipeline import Latency
from ._server import FAST_RETRY_POLICY, FakeProlific
from ._traffic import EmulatorStats, RateLimit, RecordedRequest

__all__ = [
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
]
