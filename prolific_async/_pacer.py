"""The client's send pacer: how fast requests may go out, learnt from the 429s they meet.

A rate limit is a rate (a token bucket, on most servers): limiting what is in flight
cannot respect it, since the right in-flight count depends on the latency. So the
client paces its sends instead, one pacer per client:

* until a 429 is met, nothing is paced;
* a 429 that comes while the client was sending fast (at least :data:`MIN_SENDS` sends
  in the :data:`WINDOW` before it) is a measurement: the limit is below the rate the
  client was sending at. The pace is cut to :data:`CUT` of that rate (by less than
  half) and then, over :data:`RAMP` seconds, brought back to :data:`TARGET` of it;
* a 429 met by a burst (several sends at once, as a run starts or a hold ends) says
  nothing of the rate, but how many sends the server took at once is the depth of its
  bucket: the pacer learns it as its burst, and never lets more than that go at once
  again (the credit below). With no rate learnt yet, the pace starts from what the
  server took and doubles every :data:`DOUBLING` seconds until the next 429 (a "slow
  start"); with one learnt, the pace stays (the burst was too large, not the rate);
* with no 429 for a while the pace probes upwards, slowly at first: after a plateau
  (:data:`PLATEAU` seconds, doubled each time the limit is found where it was, up to
  :data:`MAX_PLATEAU`) it grows as a cube of time (+1 % after 3 s, +10 % after 6.5 s,
  x2 after 14 s), so a limit that rose is found again, and a client that met one 429
  while it was quiet is not held to its quiet rate for long;
* a short credit (:data:`CREDIT` seconds of the pace, at least two sends, but never more
  than the burst learnt) lets a client that was idle, or held, send a little at once:
  against a shallow bucket a hold ends in at most what the server took at once before,
  then sends spaced at the pace.

The pacer only says when the next send may go; waiting, the 429 holds (``Retry-After``)
and deadlines are the rate gate's (:class:`~prolific_async._rate_gate.RateGate`). Everything
here runs on a clock passed in, so the rules are tested without sleeping.
"""

from __future__ import annotations

from collections import deque
from typing import Final

__all__ = ["Pacer"]

#: Seconds of sends a rate is measured over.
WINDOW: Final = 2.0
#: Fewer sends than this in the window: a 429 teaches no rate (the client was quiet).
MIN_SENDS: Final = 8
#: A window shorter than this (a burst after a hold or at the start) measures no rate.
MIN_SPAN: Final = 0.25
#: A 429 cuts the pace to this share of the rate that met it (by less than half).
CUT: Final = 0.85
#: ...and the pace returns to this share of it over ``RAMP`` seconds.
TARGET: Final = 0.97
RAMP: Final = 1.0
#: Seconds at the target before probing upwards; doubled while the limit holds still.
PLATEAU: Final = 4.0
MAX_PLATEAU: Final = 32.0
#: The limit "holds still" when a 429 comes within this share of the last one's rate.
STABLE: Final = 0.06
#: Probing: the pace grows by PROBE * t**3 (t: seconds since the plateau ended).
PROBE: Final = 0.01 / 27
#: In a slow start the pace doubles every this many seconds.
DOUBLING: Final = 0.5
#: Idle credit: this many seconds of the pace (at least ``MIN_CREDIT`` sends) may go at once.
CREDIT: Final = 0.05
MIN_CREDIT: Final = 2.0
#: The pace is never below this many sends a second.
MIN_RATE: Final = 0.5
#: Seconds of send and answer times kept: the window, and a second's margin.
_KEPT: Final = WINDOW + 1.0


class Pacer:
    """When the next send of one client may go, from the 429s its sends met.

    Call :meth:`ready_at` to learn when a send may go, :meth:`took` when it goes, and
    :meth:`answered` with each answer (``throttled``: it was a 429). Times are seconds
    on one monotonic clock (the event loop's).
    """

    def __init__(self) -> None:
        self._sends: deque[float] = deque()
        """When the sends of the last ``WINDOW`` seconds went."""
        self._accepted: deque[float] = deque()
        """When the sends answered other than 429 in the last ``WINDOW`` seconds went."""
        self._base: float | None = None
        """The rate the last cut measured (``None``: nothing learnt yet)."""
        self._start_rate = 0.0
        self._cut_at = 0.0
        self._slow_start = False
        self._plateau = PLATEAU
        self._round_from = 0.0
        """A 429 for a send that went before this is of a round already counted."""
        self._quiet_from = 0.0
        """Sends before this (the end of the last hold) are not part of a measurement."""
        self._credit = MIN_CREDIT
        self._credit_at = 0.0
        self.burst: float | None = None
        """How many sends the server took at once before a 429 (``None``: not learnt)."""
        self._answered_up_to = 0.0
        self._fresh_cut = False
        self.cuts = 0
        """How many times a 429 cut the pace."""

    # -- the pace ------------------------------------------------------------------------

    def rate(self, now: float) -> float | None:
        """Sends a second allowed at ``now``; ``None`` while nothing is paced."""
        if self._base is None:
            return None
        since = max(0.0, now - self._cut_at)
        if self._slow_start:
            return float(self._start_rate * 2.0 ** (since / DOUBLING))
        target = self._base * TARGET
        if since < RAMP:
            return self._start_rate + (target - self._start_rate) * since / RAMP
        probing = since - RAMP - self._plateau
        if probing <= 0:
            return target
        return target * (1.0 + PROBE * probing**3)

    def ready_at(self, now: float) -> float:
        """The earliest moment, ``now`` or later, the next send may go."""
        rate = self.rate(now)
        if rate is None:
            return now
        credit = self._credit_now(now, rate)
        if credit >= 1.0:
            return now
        return now + (1.0 - credit) / rate

    def kept(self) -> int:
        """How many send and answer times it holds: those of about its window, no more."""
        return len(self._sends) + len(self._accepted)

    def take_now(self, now: float) -> bool:
        """Count a send going out at ``now`` if one may go at once (``False``: it must wait).

        :meth:`ready_at` and :meth:`took` in one call, cheap while nothing is paced:
        asked before every send.
        """
        if self._base is not None and self.ready_at(now) > now:  # paced, and not yet
            return False
        self.took(now)
        return True

    def took(self, now: float) -> None:
        """Count a send going out at ``now``."""
        self._fresh_cut = False
        sends = self._sends
        sends.append(now)
        if sends[0] < now - _KEPT:  # tested here: a call fewer on every send
            self._trim(sends, now)
        if self._base is None:  # nothing learnt: no pace, no credit to keep
            return
        rate = self.rate(now)
        if rate is not None:
            self._credit = self._credit_now(now, rate) - 1.0
            self._credit_at = now

    def _credit_now(self, now: float, rate: float) -> float:
        limit = max(MIN_CREDIT, rate * CREDIT)
        if self.burst is not None:
            limit = min(limit, self.burst)
        return min(limit, self._credit + (now - self._credit_at) * rate)

    # -- learning ------------------------------------------------------------------------

    def answered(self, sent_at: float, now: float, *, throttled: bool) -> None:
        """Learn from the answer (at ``now``) to a send that went at ``sent_at``."""
        if sent_at > self._answered_up_to:
            self._answered_up_to = sent_at
        if not throttled:
            accepted = self._accepted
            accepted.append(sent_at)
            if accepted[0] < now - _KEPT:
                self._trim(accepted, now)
            return
        if sent_at >= self._round_from:  # else: the cut this round called for is made
            self._cut(sent_at, now)
        self._round_from = max(self._round_from, now)

    def held(self, until: float) -> None:
        """The gate holds every send until ``until``: the new pace starts there."""
        self._quiet_from = max(self._quiet_from, until)
        if self._fresh_cut:
            self._cut_at = max(self._cut_at, until)

    def _cut(self, sent_at: float, now: float) -> None:
        # Measure up to the last send already answered: later ones may still be taken.
        end = min(sent_at, self._answered_up_to)
        start = max(end - WINDOW, self._first_send(self._quiet_from))
        # The sends of this round: those that went before the 429 was read, so a burst
        # whose sixth send met the 429 counts all its sends, not five.
        sends = self._count(self._sends, self._quiet_from, now)
        current = self.rate(sent_at)
        if sent_at - start < MIN_SPAN and sends >= 2:
            # A burst (at the start, or right after a hold): the server took
            # ``accepted`` at once, which says nothing of its rate but is its burst.
            accepted = self._count(self._accepted, self._quiet_from, sent_at)
            self.burst = max(1.0, float(accepted))
            self.cuts += 1
            if current is None:  # no rate learnt: start slowly from what it took
                self._begin(now, max(MIN_RATE, float(accepted)), slow_start=True)
            else:  # keep the pace, from the end of the hold
                self._begin(now, current, slow_start=self._slow_start)
            return
        if sends < MIN_SENDS:
            return  # a quiet client: the gate's hold is all it needs
        self.cuts += 1
        if self._slow_start:
            # The pace was doubling: only its last stretch ran above the limit.
            start = max(start, end - DOUBLING)
        taken = self._count(self._accepted, start, end) / max(end - start, 1e-3)
        measured = max(MIN_RATE, taken if current is None else min(current, taken))
        base = self._base
        stable = base is not None and not self._slow_start and abs(measured - base) <= STABLE * base
        self._plateau = min(MAX_PLATEAU, self._plateau * 2.0) if stable else PLATEAU
        self._base = measured
        self._begin(now, max(MIN_RATE, measured * CUT), slow_start=False)

    @staticmethod
    def _count(times: deque[float], start: float, end: float) -> int:
        return sum(1 for at in times if start <= at <= end)

    def _begin(self, now: float, rate: float, *, slow_start: bool) -> None:
        if self._base is None:
            self._base = rate
        self._start_rate = rate
        self._cut_at = now
        self._fresh_cut = True
        self._slow_start = slow_start
        self._credit = min(self._credit, MIN_CREDIT)

    def _first_send(self, since: float) -> float:
        """When the first send at or after ``since`` went (``since`` if none did)."""
        return next((at for at in self._sends if at >= since), since)

    @staticmethod
    def _trim(times: deque[float], now: float) -> None:
        horizon = now - _KEPT
        while times and times[0] < horizon:
            times.popleft()
