"""Every guarded event transition of the outbox, as a table, on SQLite and PostgreSQL.

Each row: the status an event starts in, the call, and the status it must end in. The same call on an
event in any other status must change nothing: that guard is what keeps a worker whose lease was taken
over from overwriting the newer owner's result.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app import outbox
from app.database import writing
from app.models import Event, EventStatus, Shop, db, now_utc
from tests.event_rows import add_event

WORKER = "worker-a"
TOKEN = "checkout-token-fake-0001"
MAX_AGE = 72 * 3600  # seconds
NOW = now_utc()  # release_backed_off asks the database's clock, so the table is anchored near real time


def _written(call: Callable[[], Any]) -> Callable[[], Any]:
    """Run a call that expects the caller's write transaction in one."""
    def run() -> Any:
        with writing():
            return call()
    return run


def _count(value: Any) -> int:
    """Rows a call changed, whatever it returns (a count, the claimed events, the renewed ids, ...)."""
    if isinstance(value, int):
        return value
    if isinstance(value, outbox.Requeued):
        return value.count
    return len(value)


Call = Callable[[int, int], Callable[[], Any]]  # (row id, shop id) → the call
LATER = {"available_at": NOW + timedelta(hours=1)}

TRANSITIONS: list[tuple[str, str, Call, str, dict[str, Any]]] = [
    # name, from status, call, to status, the row's other columns
    ("claim", "pending", lambda rid, sid: lambda: outbox.claim(WORKER, NOW, lease_seconds=60, limit=10),
     "sending", {}),
    ("mark_delivered", "sending", lambda rid, sid: _written(lambda: outbox.mark_delivered([rid], WORKER, NOW, {})),
     "delivered", {}),
    ("mark_failed", "sending",
     lambda rid, sid: _written(lambda: outbox.mark_failed({rid: ("failed", "Refused.")}, WORKER, NOW)),
     "failed", {}),
    ("release_for_retry", "sending",
     lambda rid, sid: _written(lambda: outbox.release_for_retry([rid], WORKER, NOW, "unavailable", "Down.")),
     "pending", {}),
    ("mark_withheld", "sending",
     lambda rid, sid: _written(lambda: outbox.mark_withheld([rid], WORKER, NOW, "the buyer refused")),
     "skipped", {}),
    ("renew_lease", "sending", lambda rid, sid: _written(lambda: outbox.renew_lease([rid], WORKER, NOW, 600)),
     "sending", {}),  # same status, a longer lease
    ("reclaim_expired_leases", "sending", lambda rid, sid: lambda: outbox.reclaim_expired_leases(NOW),
     "pending", {}),  # its worker died: the lease ran out
    ("expire_stale", "pending", lambda rid, sid: lambda: outbox.expire_stale(NOW, MAX_AGE), "failed", {}),
    ("requeue failed", "failed",
     lambda rid, sid: _written(lambda: outbox.requeue(sid, EventStatus.FAILED, NOW, max_age_seconds=10 * MAX_AGE)),
     "pending", {}),
    ("requeue pending", "pending",
     lambda rid, sid: _written(lambda: outbox.requeue(sid, EventStatus.PENDING, NOW, max_age_seconds=MAX_AGE)),
     "pending", LATER),  # same status, ready now
    ("release_backed_off", "pending", lambda rid, sid: _written(lambda: outbox.release_backed_off(sid)),
     "pending", {**LATER, "attempts": 1}),  # tried once, waiting out the shop's backoff: ready now
    ("release_waiting_order", "pending",
     lambda rid, sid: _written(lambda: outbox.release_waiting_order(sid, TOKEN, NOW)),
     "pending", {**LATER, "checkout_token": TOKEN}),  # the beacon came: the order goes now
]


def _event(shop_id: int, status: str, columns: dict[str, Any]) -> int:
    """One event in `status`, received 73 h ago (expirable); a sending one is held by WORKER, lease run out."""
    values: dict[str, Any] = {"available_at": NOW - timedelta(minutes=1), **columns}
    if status == "sending":
        values.update(claimed_by=WORKER, lease_expires_at=NOW - timedelta(seconds=1))
    row = add_event(shop_id, status=status, received_at=NOW - timedelta(hours=73), **values)
    row_id = int(row.id)
    db.session.commit()
    return row_id


def _shop_id(shop: Shop) -> int:
    """The shop's id, read before any call: touching the expired object later would open a transaction."""
    shop_id = int(shop.id)
    db.session.rollback()
    return shop_id


def _state(row_id: int) -> tuple[Any, ...]:
    db.session.rollback()
    row = db.session.execute(select(Event).where(Event.id == row_id)).scalar_one()
    state = (row.status, row.available_at, row.claimed_by, row.lease_expires_at, row.error_code, row.skip_reason,
             row.attempts)
    db.session.rollback()  # claims open their own write transaction
    return state


def _ready_now(moment: datetime | None) -> bool:
    return moment is not None and moment <= now_utc() + timedelta(seconds=1)


@pytest.mark.parametrize(("name", "from_status", "call", "to_status", "columns"), TRANSITIONS,
                         ids=[row[0] for row in TRANSITIONS])
def test_a_transition_moves_an_event_from_the_status_it_expects(
    configure_shop: Any, name: str, from_status: str, call: Call, to_status: str, columns: dict[str, Any]
) -> None:
    shop_id = _shop_id(configure_shop())
    row_id = _event(shop_id, from_status, columns)
    before = _state(row_id)
    assert _count(call(row_id, shop_id)()) == 1
    after = _state(row_id)
    assert after[0] == to_status
    assert after != before  # same-status transitions change the lease or the time it is ready
    if to_status != "sending":
        assert after[2:4] == (None, None)  # no longer held by any worker
    if to_status == "pending" and name != "release_for_retry":
        assert _ready_now(after[1])


@pytest.mark.parametrize(("name", "from_status", "call", "to_status", "columns"), TRANSITIONS,
                         ids=[row[0] for row in TRANSITIONS])
def test_a_transition_changes_nothing_in_any_other_status(
    configure_shop: Any, name: str, from_status: str, call: Call, to_status: str, columns: dict[str, Any]
) -> None:
    shop_id = _shop_id(configure_shop())
    for status in EventStatus:
        if status.value == from_status:
            continue
        row_id = _event(shop_id, status.value, columns)
        before = _state(row_id)
        assert _count(call(row_id, shop_id)()) == 0, status
        assert _state(row_id) == before, status


def test_a_worker_that_lost_its_lease_changes_nothing(configure_shop: Any) -> None:
    shop_id = _shop_id(configure_shop())
    row_id = _event(shop_id, "sending", {})
    db.session.execute(db.update(Event).where(Event.id == row_id).values(claimed_by="worker-b"))
    db.session.commit()
    before = _state(row_id)
    for name, from_status, call, _to, _columns in TRANSITIONS:
        if from_status == "sending" and name != "reclaim_expired_leases":  # reaping is not any worker's call
            assert _count(call(row_id, shop_id)()) == 0, name
    assert _state(row_id) == before


def test_requeue_leaves_test_events_and_failures_too_old_to_send(configure_shop: Any) -> None:
    shop = configure_shop()
    recent = add_event(shop.id, status="failed", received_at=NOW - timedelta(hours=1))
    old = add_event(shop.id, status="failed", received_at=NOW - timedelta(hours=80))
    verify = add_event(shop.id, status="failed", received_at=NOW - timedelta(hours=1), source="verify")
    ids = (recent.id, old.id, verify.id)
    db.session.commit()
    with writing():
        result = outbox.requeue(shop.id, EventStatus.FAILED, NOW, max_age_seconds=MAX_AGE)
    assert (result.count, result.too_old) == (1, 1)
    assert [_state(i)[0] for i in ids] == ["pending", "failed", "failed"]


def test_requeue_moves_only_failed_or_pending_events(configure_shop: Any) -> None:
    shop = configure_shop()
    with pytest.raises(ValueError):
        outbox.requeue(shop.id, EventStatus.DELIVERED, NOW, max_age_seconds=MAX_AGE)
