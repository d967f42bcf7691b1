"""The event outbox: every event's row and each of its transitions, each guarded by the status it expects.

A purchase is added once (`enqueue`), claimed under a lease by one worker (`claims`), and settled by what
Pinterest answered (`outcomes`); the beacons' notes on a batch are written with it (`notes`), and the
connection check keeps its test event here too (`connection_check`). Nothing outside this package writes
the `events` table's statuses.
"""

from app.outbox.claims import (
    Claimed,
    claim,
    claim_batches,
    reclaim_expired_leases,
    release_backed_off,
    release_waiting_order,
    renew_lease,
    why_not_sending,
)
from app.outbox.connection_check import record_test_event
from app.outbox.enqueue import EnqueueResult, Purchase, enqueue, enqueue_many
from app.outbox.notes import JoinNotes, note_joined
from app.outbox.outcomes import (
    EXPIRED_BY_PINTEREST,
    Requeued,
    adopt_event_ids,
    expire_stale,
    mark_delivered,
    mark_failed,
    mark_withheld,
    release_for_retry,
    requeue,
)

__all__ = [
    "EXPIRED_BY_PINTEREST", "Claimed", "EnqueueResult", "JoinNotes", "Requeued", "adopt_event_ids", "claim",
    "claim_batches", "Purchase", "enqueue", "enqueue_many", "expire_stale", "mark_delivered", "mark_failed",
    "mark_withheld", "note_joined",
    "reclaim_expired_leases", "record_test_event", "release_backed_off", "release_for_retry",
    "release_waiting_order", "renew_lease", "requeue", "why_not_sending",
]
