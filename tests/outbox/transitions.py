"""The outbox's guarded event transitions as tables, and the two checks every row of them must pass.

Each row: the status an event starts in, the call, and the status it must end in. The same call on an
event in any other status must change nothing: that guard is what keeps a worker whose lease was taken
over from overwriting the newer owner's result. test_claims.py checks the rows of app/outbox/claims.py,
test_outcomes.py those of app/outbox/outcomes.py, each with the two tests `table_tests` makes; both run on
SQLite and PostgreSQL.
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


def changed(value: Any) -> int:
    """Rows a call changed, whatever it returns (a count, the claimed events, the renewed ids, ...)."""
    if isinstance(value, int):
        return value
    if isinstance(value, outbox.Requeued):
        return value.count
    return len(value)


Call = Callable[[int, int], Callable[[], Any]]  # (row id, shop id) → the call
Transition = tuple[str, str, Call, str, dict[str, Any]]  # name, from status, call, to status, other columns
LATER = {"available_at": NOW + timedelta(hours=1)}

CLAIMS: list[Transition] = [
    # name, from status, call, to status, the row's other columns
    ("claim", "pending", lambda rid, sid: lambda: outbox.claim(WORKER, NOW, lease_seconds=60, limit=10),
     "sending", {}),
    ("renew_lease", "sending", lambda rid, sid: _written(lambda: outbox.renew_lease([rid], WORKER, NOW, 600)),
     "sending", {}),  # same status, a longer lease
    ("reclaim_expired_leases", "sending", lambda rid, sid: lambda: outbox.reclaim_expired_leases(NOW),
     "pending", {}),  # its worker died: the lease ran out
    ("release_backed_off", "pending", lambda rid, sid: _written(lambda: outbox.release_backed_off(sid)),
     "pending", {**LATER, "attempts": 1}),  # tried once, waiting out the shop's backoff: ready now
    ("release_waiting_order", "pending",
     lambda rid, sid: _written(lambda: outbox.release_waiting_order(sid, TOKEN, NOW)),
     "pending", {**LATER, "checkout_token": TOKEN}),  # the beacon came: the order goes now
]

OUTCOMES: list[Transition] = [
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
    ("expire_stale", "pending", lambda rid, sid: lambda: outbox.expire_stale(NOW, MAX_AGE), "failed", {}),
    ("requeue failed", "failed",
     lambda rid, sid: _written(lambda: outbox.requeue(sid, EventStatus.FAILED, NOW, max_age_seconds=10 * MAX_AGE)),
     "pending", {}),
    ("requeue pending", "pending",
     lambda rid, sid: _written(lambda: outbox.requeue(sid, EventStatus.PENDING, NOW, max_age_seconds=MAX_AGE)),
     "pending", LATER),  # same status, ready now
]

FIELDS = ("name", "from_status", "call", "to_status", "columns")


def ids(table: list[Transition]) -> list[str]:
    return [row[0] for row in table]


def add(shop_id: int, status: str, columns: dict[str, Any]) -> int:
    """One event in `status`, received 73 h ago (expirable); a sending one is held by WORKER, lease run out."""
    values: dict[str, Any] = {"available_at": NOW - timedelta(minutes=1), **columns}
    if status == "sending":
        values.update(claimed_by=WORKER, lease_expires_at=NOW - timedelta(seconds=1))
    row = add_event(shop_id, status=status, received_at=NOW - timedelta(hours=73), **values)
    row_id = int(row.id)
    db.session.commit()
    return row_id


def shop_id_of(shop: Shop) -> int:
    """The shop's id, read before any call: touching the expired object later would open a transaction."""
    shop_id = int(shop.id)
    db.session.rollback()
    return shop_id


def state(row_id: int) -> tuple[Any, ...]:
    db.session.rollback()
    row = db.session.execute(select(Event).where(Event.id == row_id)).scalar_one()
    found = (row.status, row.available_at, row.claimed_by, row.lease_expires_at, row.error_code, row.skip_reason,
             row.attempts)
    db.session.rollback()  # claims open their own write transaction
    return found


def _ready_now(moment: datetime | None) -> bool:
    return moment is not None and moment <= now_utc() + timedelta(seconds=1)


def check_moves(shop: Shop, name: str, from_status: str, call: Call, to_status: str, columns: dict[str, Any]) -> None:
    """The call moves one event from the status it expects to `to_status`, and lets go of it."""
    shop_id = shop_id_of(shop)
    row_id = add(shop_id, from_status, columns)
    before = state(row_id)
    assert changed(call(row_id, shop_id)()) == 1
    after = state(row_id)
    assert after[0] == to_status
    assert after != before  # same-status transitions change the lease or the time it is ready
    if to_status != "sending":
        assert after[2:4] == (None, None)  # no longer held by any worker
    if to_status == "pending" and name != "release_for_retry":
        assert _ready_now(after[1])


def check_guard(shop: Shop, from_status: str, call: Call, columns: dict[str, Any]) -> None:
    """The same call on an event in every other status changes nothing."""
    shop_id = shop_id_of(shop)
    for status in EventStatus:
        if status.value == from_status:
            continue
        row_id = add(shop_id, status.value, columns)
        before = state(row_id)
        assert changed(call(row_id, shop_id)()) == 0, status
        assert state(row_id) == before, status


def table_tests(table: list[Transition]) -> tuple[Callable[..., None], Callable[..., None]]:
    """The two tests for every row of `table`, for a test module to take as its own (pytest collects them there):
    the call moves an event from the status it expects, and changes nothing in any other status."""

    @pytest.mark.parametrize(FIELDS, table, ids=ids(table))
    def moves(configure_shop: Any, name: str, from_status: str, call: Call, to_status: str,
              columns: dict[str, Any]) -> None:
        check_moves(configure_shop(), name, from_status, call, to_status, columns)

    @pytest.mark.parametrize(FIELDS, table, ids=ids(table))
    def guarded(configure_shop: Any, name: str, from_status: str, call: Call, to_status: str,
                columns: dict[str, Any]) -> None:
        check_guard(configure_shop(), from_status, call, columns)

    return moves, guarded
