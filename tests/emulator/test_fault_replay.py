"""Which requests a random fault hits: a function of the seed and each request's identity."""

from __future__ import annotations

import aiohttp

from prolific_async.testing import FakeProlific, FaultKind, FiredFault

from .conftest import BATCHES


async def hit(seed: int, names: list[str], *, rounds: int = 2) -> set[FiredFault]:
    """GET ``names`` (``rounds`` times, in this order) under a 50 % fault; its log as a set."""
    async with FakeProlific(seed=seed) as fake, aiohttp.ClientSession() as session:
        fake.add_fault("GET", "/never/*", "status", times=None)  # number 1: matches none
        fake.add_fault("GET", BATCHES + "/*", "status", times=None, probability=0.5)
        headers = {"Authorization": f"Token {fake.token}"}
        for _ in range(rounds):
            for name in names:
                async with session.get(f"{fake.url}{BATCHES}/{name}", headers=headers) as answer:
                    await answer.read()
        assert len(fake.fault_log) == sum(fault.fired for fault in fake.faults)
        return set(fake.fault_log)


async def test_a_random_fault_hits_the_same_requests_in_any_arrival_order() -> None:
    """One seed faults the same (request, attempt) pairs whether requests come forward or back."""
    names = [f"b{n}" for n in range(16)]
    forward = await hit(7, names)
    assert forward == await hit(7, names[::-1])
    assert 0 < len(forward) < 32  # the 50 % both fired and held back
    assert forward != await hit(8, names)
    entry = min(forward)
    assert (entry.fault, entry.kind, entry.method, entry.body) == (2, FaultKind.STATUS, "GET", "")
    assert {item.attempt for item in forward} <= {1, 2}


async def test_fault_numbers_outlive_clear_faults_and_the_log_names_the_body() -> None:
    """A fault added after clear_faults gets a new number; a POST's entry digests its body."""
    async with FakeProlific() as fake, aiohttp.ClientSession() as session:
        fake.add_fault("POST", BATCHES, "status")
        fake.clear_faults()
        fault = fake.add_fault("POST", BATCHES, "status")
        headers = {"Authorization": f"Token {fake.token}"}
        async with session.post(f"{fake.url}{BATCHES}", data=b"{}", headers=headers) as answer:
            assert answer.status == 503
        assert fault.fired == 1
        [entry] = fake.fault_log
        assert (entry.fault, entry.path, entry.attempt) == (2, BATCHES, 1)
        assert entry.body == "44136fa355b3678a"  # sha256(b"{}")[:16]
        fake.fault_log.clear()
        assert fake.fault_log == []
