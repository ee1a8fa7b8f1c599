"""pytest plugin: the ``prolific_fake`` and ``prolific_client`` fixtures.

Registered through the ``pytest11`` entry point, so installing prolific_async is enough::

    async def test_retries_a_503(prolific_fake, prolific_client):
        batch = prolific_fake.add_batch(name="Ready")
        prolific_fake.add_fault("GET", f"/api/v1/data-collection/batches/{batch.id}", "status")
        assert (await prolific_client.batches.get(batch.id)).name == "Ready"

* ``prolific_fake``: a started :class:`~prolific_async.testing.FakeProlific`, stopped
  after the test.
* ``prolific_client``: a :class:`~prolific_async.ProlificClient` bound to it, with
  :data:`~prolific_async.testing.FAST_RETRY_POLICY` (millisecond backoff), closed
  after the test.

Opt-in: ``prolific_assert_all_faults_fired = true`` (ini) or
``@pytest.mark.prolific(assert_all_faults_fired=True)`` fails a test at teardown when a
fault it injected never fired (``prolific_async.testing._fault_check``).

The fixtures are async and need pytest-asyncio. This module is imported by every pytest
run in an environment where prolific_async is installed, so it never fails to import:
without pytest-asyncio the fixtures fail with a message saying what to install, and
pytest otherwise runs as usual. Importing it loads neither the client nor the emulator
(both packages resolve their names on first use): they load when a test asks for a
fixture.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

if TYPE_CHECKING:
    from .._client import ProlificClient
    from ._server import FakeProlific

try:
    import pytest_asyncio
except ImportError:  # pragma: no cover (exercised in a subprocess by the plugin tests)
    _HAS_PYTEST_ASYNCIO = False
else:
    _HAS_PYTEST_ASYNCIO = True

__all__ = ["prolific_client", "prolific_fake", "pytest_addoption", "pytest_configure"]

_MISSING_PYTEST_ASYNCIO = (
    "The prolific_fake and prolific_client fixtures are async and need pytest-asyncio: "
    "pip install pytest-asyncio (and set asyncio_mode = 'auto', or mark your tests "
    "with @pytest.mark.asyncio)."
)


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the ``prolific_assert_all_faults_fired`` ini option (off by default)."""
    parser.addini(
        "prolific_assert_all_faults_fired",
        "Fail a test whose prolific_fake has an injected fault that never fired.",
        type="bool",
        default=False,
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``prolific`` marker, so ``--strict-markers`` accepts it."""
    config.addinivalue_line(
        "markers",
        "prolific(assert_all_faults_fired=True): check that every fault of prolific_fake fired",
    )


async def _prolific_fake(request: pytest.FixtureRequest) -> AsyncIterator[FakeProlific]:
    """A started FakeProlific on 127.0.0.1, stopped after the test."""
    from ._fault_check import check_faults_fired
    from ._server import FakeProlific

    async with FakeProlific() as fake:
        yield fake
        check_faults_fired(fake, request)


async def _prolific_client(prolific_fake: FakeProlific) -> AsyncIterator[ProlificClient]:
    """A ProlificClient bound to ``prolific_fake`` with millisecond retry waits."""
    from ._server import FAST_RETRY_POLICY

    async with prolific_fake.client(retry=FAST_RETRY_POLICY) as client:
        yield client


def _missing_pytest_asyncio(*_: object) -> NoReturn:
    pytest.fail(_MISSING_PYTEST_ASYNCIO, pytrace=False)


prolific_fake: Any
prolific_client: Any
if _HAS_PYTEST_ASYNCIO:
    prolific_fake = pytest_asyncio.fixture(_prolific_fake, name="prolific_fake")
    prolific_client = pytest_asyncio.fixture(_prolific_client, name="prolific_client")
else:  # pragma: no cover (exercised in a subprocess by the plugin tests)
    prolific_fake = pytest.fixture(_missing_pytest_asyncio, name="prolific_fake")
    prolific_client = pytest.fixture(_missing_pytest_asyncio, name="prolific_client")
