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

from typing import TYPE_CHECKING

from .._lazy import resolve as _resolve

if TYPE_CHECKING:  # for mypy and IDEs; at run time each name loads on first use
    from ._batches import StoredBatch
    from ._datasets import StoredDataset, StoredImport
    from ._exports import StoredExport
    from ._fault_schedule import FiredFault
    from ._faults import Fault, FaultKind
    from ._pipeline import Latency
    from ._server import FAST_RETRY_POLICY, FakeProlific
    from ._traffic import EmulatorStats, RateLimit, RecordedRequest

del TYPE_CHECKING  # not a name of this package

#: Where each public name lives, ``name: (submodule, attribute)`` (``None``: the module
#: itself): resolved on first use by :func:`__getattr__`, so importing this package (as
#: the pytest plugin does on every pytest run) loads nothing until a name is asked for.
_LAZY: dict[str, tuple[str, str | None]] = {
    "EmulatorStats": ("_traffic", "EmulatorStats"),
    "FAST_RETRY_POLICY": ("_server", "FAST_RETRY_POLICY"),
    "FakeProlific": ("_server", "FakeProlific"),
    "Fault": ("_faults", "Fault"),
    "FaultKind": ("_faults", "FaultKind"),
    "FiredFault": ("_fault_schedule", "FiredFault"),
    "Latency": ("_pipeline", "Latency"),
    "RateLimit": ("_traffic", "RateLimit"),
    "RecordedRequest": ("_traffic", "RecordedRequest"),
    "StoredBatch": ("_batches", "StoredBatch"),
    "StoredDataset": ("_datasets", "StoredDataset"),
    "StoredExport": ("_exports", "StoredExport"),
    "StoredImport": ("_datasets", "StoredImport"),
}


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def __getattr__(name: str) -> object:
    if name in _LAZY:
        return _resolve(__name__, globals(), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
