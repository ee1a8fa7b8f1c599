"""Bulk creation: create or duplicate many batches concurrently, each exactly once.

Design
------
The API has no idempotency keys, so a create (or duplicate) that fails *ambiguously*
(:class:`~prolific_async.errors.OutcomeUnknownError`, a read timeout, a 408 or a 5xx, a
2xx body we could not read) may or may not have made a batch. Sending it again could
make a second one; giving up could lose one. Instead the bulk layer **reconciles**:

1. Requests are grouped by *match key*: the fields a batch made for them would show in
   a listing. For a create: workspace, name, task details and dataset. For a duplicate:
   the source's workspace and task details, the expected name (the given one, or
   ``"<source name> (Copy)"``), the source's dataset (none with
   ``upload_new_dataset``) and its layout. A create's layout (``batch_items``, compared
   without the ids the server gives it) is part of the key, and ``auto_sync_enabled``
   when the request sets it. Requests with equal keys are interchangeable: any batch
   matching the key satisfies any of them.
2. **Adopt early, resend late.** When a request's outcome is ambiguous, no new POST of
   its group starts until the group's POSTs in flight have settled; then the workspace
   is listed *at once* (``GET /batches?workspace_id=``; one listing of a workspace runs
   at a time, and the next one serves every group that waits for it) and searched for
   *candidates*: batches that match the key, were created no earlier than the group's
   earliest first attempt minus ``reconcile_margin``, and are not *claimed*. A candidate
   found is proof enough: it is adopted at once. Only the decision to *send again* waits:
   a request is resent only if a listing begun ``reconcile_delay`` after its last send
   (so a server still working on it has finished) still shows nothing for it. Until
   then it *waits*: it sends nothing and holds no concurrency slot, so new requests
   are admitted meanwhile (and new POSTs of its group may go out), and any listing of
   its group may still find its batch. Every batch id this run has seen (from a 201,
   an adoption, or the journal) is claimed and is never adopted twice; duplicate sources
   are never adopted.
3. With ``k`` ambiguous requests and ``m`` candidates: if ``m <= k``, ``m`` requests adopt
   a candidate each (``reconciled=True``; those whose ``reconcile_delay`` has passed
   first) and the others whose delay has passed are sent again, unless an unclaimed
   *look-alike* (the same but for its layout or sync flag, or for its name as a server
   may store it: trimmed, spaces collapsed, NFKC, HTML-escaped with or without its
   quotes, or cut to a column's length in characters or UTF-8 bytes, 64, 100, 128, 255
   and the like, before or after those; a name that merely begins the request's is
   another, unless such a cut ends there: escaped, a name with an apostrophe cut to 64
   ends five characters sooner) is in the window: it may be theirs, changed by the
   server, so they fail with ``ReconciliationError``; the rest wait. If
   ``m > k``, more batches match than this run can explain (another process may be
   making the same batches): those ``k`` requests fail with
   :class:`~prolific_async.errors.ReconciliationError` naming the candidates, and nothing
   is adopted or sent. A human decides.
4. A listing is checked before it is believed. Entries it repeats (one id twice) count
   once. A listing that says it is partial (``meta.count`` above its results, or a
   ``next`` link; the endpoint has no page to follow) cannot prove a batch was not made:
   it is taken again after ``reconcile_delay``, and after three partial answers the
   requests fail with ``ReconciliationError``, never sent again on it. A 2xx naming a
   batch this run already claimed, or one of another workspace, is not a success:
   which batch that send made is unknown, so it is reconciled like a dropped answer. So
   is one of another name made well before the send, or one that shows the key of
   another request in progress (unless its name is the request's as the server may
   store it; cut short, only when no request in progress has that name). A batch of
   another name made just now is the request's: the server rewrote its name.
5. A request is sent at most ``RetryPolicy.attempts`` times; its last ambiguous send is
   reconciled too, so "may exist" becomes "was not made" (a plain
   :class:`~prolific_async.errors.APIConnectionError`) when the listing shows nothing.
   That holds for this run only: the journal keeps the request in flight, and a re-run
   lists for it once more before sending it (a later listing may show a late batch).

A :class:`~prolific_async.Journal` makes this survive the process running the bulk call:
each send of a request is recorded (committed to its SQLite file) before it goes out,
and each outcome after it (a result is reported once its record is committed), and a
second run on the same journal is refused while one
holds it. Each request is known there by its *fingerprint*, a digest of its wire form (the
same body the POST carries), so a journal refuses another manifest. A re-run with the
same journal reports finished requests without sending anything,
reconciles the ones that were in flight when the process died (listed at once and
adopted if found; sent again only ``reconcile_delay`` after their last recorded send, as
above; a send the client then held in its connection slots or rate pacer for over a
second is recorded again with its real time, queued as it gets its connection and
committed before its call ends), and does the rest.
A request whose every send provably made nothing (refused with a 401, 403 or 429, or
never connected) is recorded *not made*: a re-run sends it at once, with nothing to
reconcile. One send that may have made a batch keeps it in flight for good: a listing
that showed none then is no proof for a later run.

The limit
---------
Reconciliation can only see what the server has applied when it lists. A POST that the
server applies *after* that listing is invisible to it, and its request will be sent
again: that case can still make a duplicate. It takes a server that applies a request
more than ``reconcile_delay`` after it was sent, with the connection already gone: by
default that is the client's per-attempt ``timeout`` (30 s), the time we were willing to
wait for the answer. ``reconcile_margin`` (10 s) covers the other direction, server clocks
behind ours and whole-second timestamps, so a batch the request made is never left out of
the creation-time window. Raise ``reconcile_delay`` for a server known to be slower; a
lower value only makes sense against a server that applies at once (the emulator).

Flow control
------------
At most ``concurrency`` requests are in progress, and the input is read only as slots
free up, so the requests read and the tasks running are bounded by the concurrency, not
by the number of requests (a resumed run reads each item's journal record when it
reaches it, and looks up the journal's batches when a listing shows one; the batch ids
this run claims are kept). Requests being reconciled (waiting for a listing, or waiting
out ``reconcile_delay``), and finished ones whose result waits for its journal record
to commit, send nothing and hold no slot, up to ``MAX_WAITING_PER_SLOT``
(8) per slot of ``concurrency``; beyond that bound they count toward the concurrency
again, so the requests held stay below ``9 * concurrency``; the POSTs in flight never
exceed ``concurrency``. A :class:`BulkProgress` passed as ``progress=`` shows the requests
in progress and those waiting, with when each lists again. A 429 seen by any request closes
the client's shared gate for its ``Retry-After`` (a longer wait than
``RetryPolicy.retry_after_cap`` fails the request instead), and the client's pacer
(``_pacer``, in its rate gate) then spaces every send of the client at the rate it
learnt from the 429s: a rate limit is a rate, which no limit on sends in flight can
follow. A ``concurrency`` above the client's ``max_connections`` is capped by it, and
the client's first such run says so in a warning when it starts.

Stopping a run that cannot succeed
----------------------------------
After ``max_consecutive_unsent`` (20) sends in a row failed before reaching the server
(connection refused, DNS, TLS), the run stops sending: the sends still waiting inside the
client to retry a connection never made are cancelled (each runs in its request's own
task, which the stop cancels; the sender tells that from a cancelled run), and every
request not yet sent ends with :class:`~prolific_async.errors.RunStoppedError` (its
``cause``). A 401 stops the run the same way (a token does not get better by retrying);
a 403 fails its request and stops only the requests of the same workspace (creates) or
duplicate source. The journal records nothing final for a stopped request, so a plain
re-run does it.

Where it lives
--------------
This module keeps the design and the public names. The run is in ``_bulk`` (one
request's path: admit, prepare, reconcile, journal), its sends in ``_bulk_send``, the
stop rule in ``_bulk_stop``, the match key in ``_match_key``, the reconciler in
``_reconcile`` and its shared listings in ``_reconcile_listing`` (read and checked in
``_listing``), the live view in ``_bulk_progress``, the journal's records in
``_journal``, the fingerprint in ``_fingerprint``, the bounded reading of the input in
``_fanout``, and the body of each request in the converter (``_converter``), which
``client.batches.create``/``duplicate`` use too. The pace of sends is the client's
(``_pacer``).
"""

from __future__ import annotations

from ._bulk import run_bulk
from ._bulk_progress import BulkProgress
from ._fingerprint import fingerprint
from ._journal import Journal
from .models.bulk import BulkResult, CreateBatchRequest, DuplicateBatchRequest

__all__ = [
    "BulkProgress",
    "BulkResult",
    "CreateBatchRequest",
    "DuplicateBatchRequest",
    "Journal",
    "fingerprint",
    "run_bulk",
]
