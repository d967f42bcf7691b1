"""What became of claimed events (app/outbox/outcomes.py): every guarded transition, as a table, and requeue.

The table and its two tests are in transitions.py, shared with test_claims.py.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from app import outbox
from app.database import writing
from app.models import Event, EventStatus, db
from tests.event_rows import add_event
from tests.outbox.transitions import (
    CLAIMS,
    MAX_AGE,
    NOW,
    OUTCOMES,
    add,
    changed,
    shop_id_of,
    state,
    table_tests,
)

test_a_transition_moves_an_event_from_the_status_it_expects, test_a_transition_changes_nothing_in_any_other_status = (
    table_tests(OUTCOMES))


def test_a_worker_that_lost_its_lease_changes_nothing(configure_shop: Any) -> None:
    """Every call a worker makes on the events it holds (renewing the lease too) is refused once another holds them."""
    shop_id = shop_id_of(configure_shop())
    row_id = add(shop_id, "sending", {})
    db.session.execute(db.update(Event).where(Event.id == row_id).values(claimed_by="worker-b"))
    db.session.commit()
    before = state(row_id)
    for name, from_status, call, _to, _columns in CLAIMS + OUTCOMES:
        if from_status == "sending" and name != "reclaim_expired_leases":  # reaping is not any worker's call
            assert changed(call(row_id, shop_id)()) == 0, name
    assert state(row_id) == before


def test_requeue_leaves_test_events_and_failures_too_old_to_send(configure_shop: Any) -> None:
    shop = configure_shop()
    recent = add_event(shop.id, status="failed", received_at=NOW - timedelta(hours=1))
    old = add_event(shop.id, status="failed", received_at=NOW - timedelta(hours=80))
    verify = add_event(shop.id, status="failed", received_at=NOW - timedelta(hours=1), source="verify")
    row_ids = (recent.id, old.id, verify.id)
    db.session.commit()
    with writing():
        result = outbox.requeue(shop.id, EventStatus.FAILED, NOW, max_age_seconds=MAX_AGE)
    assert (result.count, result.too_old) == (1, 1)
    assert [state(i)[0] for i in row_ids] == ["pending", "failed", "failed"]


def test_requeue_moves_only_failed_or_pending_events(configure_shop: Any) -> None:
    shop = configure_shop()
    with pytest.raises(ValueError):
        outbox.requeue(shop.id, EventStatus.DELIVERED, NOW, max_age_seconds=MAX_AGE)
