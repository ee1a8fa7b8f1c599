"""Which fault hits which request: the schedule of one fake and its log.

A fault's ``probability`` is drawn from the seed and the request's identity (method,
path, a digest of the body, and how many times that identity was seen), not from one
generator in arrival order: concurrent runs with one seed fault the same requests, so a
run replays (see :attr:`FakeProlific.fault_log`).
"""

from __future__ import annotations

import hashlib
import json

from aiohttp import web
from attrs import frozen

from ._faults import BODY_KINDS, Fault, FaultKind

__all__ = ["FaultSchedule", "FiredFault", "draw"]


@frozen(order=True)
class FiredFault:
    """One entry of :attr:`FakeProlific.fault_log`: which fault hit which request.

    A request is named by what the client sent, not by when it arrived: its method,
    path and a digest of its body, and ``attempt``, how many times a request with that
    identity had reached the fault schedule (this one included). Entries are hashable
    and ordered, so two runs compare as ``set(a.fault_log) == set(b.fault_log)``.
    """

    fault: int
    """Which fault fired: 1 for the first :meth:`FakeProlific.add_fault` of the fake."""
    kind: FaultKind
    """How it misbehaved."""
    method: str
    """The request's method."""
    path: str
    """The request's path, without the query string."""
    body: str
    """The first 16 hex digits of the body's SHA-256; ``""``: no body, or not read."""
    attempt: int
    """How many times this method, path and body had been seen, this request included."""


def draw(seed: int, fault: int, identity: tuple[str, str, str], attempt: int) -> float:
    """A number in ``[0, 1)`` that depends only on its arguments (the replayable draw)."""
    key = "\x1f".join((str(seed), str(fault), *identity, str(attempt))).encode()
    value = int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big")
    return value / 2.0**64


class FaultSchedule:
    """The faults of one fake, in the order they were added, and what they hit.

    Whether a fault with a ``probability`` fires on a request is a function of the seed,
    the fault, the request's identity (method, path, body digest) and how many times
    that identity has been seen: not of arrival order, so concurrent runs with one seed
    fault the same requests. (Which requests a fault with a finite ``times`` spends
    itself on still follows arrival order.)
    """

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self.faults: list[Fault] = []
        self._numbers: dict[int, int] = {}  # id(fault) -> its number (1-based, never reused)
        self._seen: dict[tuple[bool, str, str, str], int] = {}
        self.log: list[FiredFault] = []
        """What fired on which request, in firing order."""
        self.last_created_id: str | None = None
        """The id the last answered create or duplicate named (for ``claimed_id``)."""

    def add(self, fault: Fault) -> Fault:
        """Append ``fault``, numbering it after every fault this schedule ever had."""
        self._numbers[id(fault)] = len(self._numbers) + 1
        self.faults.append(fault)
        return fault

    def clear(self) -> None:
        """Remove every fault; the numbers, the counts of requests and the log stay."""
        self.faults.clear()

    def saw(self, method: str, response: web.StreamResponse) -> None:
        """Remember the id a POST's 201 answer names, for a later ``claimed_id`` fault."""
        if method != "POST" or response.status != 201 or not isinstance(response, web.Response):
            return
        body = response.body
        if isinstance(body, bytes) and response.content_type == "application/json":
            created = json.loads(body)
            if isinstance(created, dict) and isinstance(created.get("id"), str):
                self.last_created_id = created["id"]

    def pick(
        self, method: str, path: str, body: bytes | None = None, *, before_body: bool = False
    ) -> Fault | None:
        """Return the first live fault that matches and fires, counting it as fired.

        ``before_body`` picks among the kinds that act before the body is read
        (:data:`BODY_KINDS`; ``body`` is then unknown), and the other call among the
        rest. A fault whose draw fails lets the next matching one have its turn. A
        request counts towards its identity's ``attempt`` only when a live fault
        matches it, so requests no fault targets cost no memory.
        """
        live = [
            fault
            for fault in self.faults
            if not fault.exhausted
            and fault.probability > 0.0
            and (fault.kind in BODY_KINDS) == before_body
            and fault.matches(method, path)
        ]
        if not live:
            return None
        digest = hashlib.sha256(body).hexdigest()[:16] if body else ""
        seen = (before_body, method, path, digest)
        attempt = self._seen[seen] = self._seen.get(seen, 0) + 1
        for fault in live:
            number = self._numbers[id(fault)]
            if fault.probability < 1.0 and (
                draw(self._seed, number, seen[1:], attempt) >= fault.probability
            ):
                continue
            fault.fired += 1
            self.log.append(FiredFault(number, fault.kind, method, path, digest, attempt))
            return fault
        return None
