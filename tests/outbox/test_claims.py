"""Which events are ready and who holds them (app/outbox/claims.py): its guarded transitions, as a table.

The table and its two tests are in transitions.py, shared with test_outcomes.py (which also checks that
a worker that lost its lease can no longer renew it).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from app import outbox
from app.models import db, now_utc
from tests.event_rows import add_event
from tests.outbox.transitions import CLAIMS, table_tests

test_a_transition_moves_an_event_from_the_status_it_expects, test_a_transition_changes_nothing_in_any_other_status = (
    table_tests(CLAIMS))


def test_a_claim_takes_one_shops_ready_events_oldest_first_through_its_own_index(configure_shop: Any) -> None:
    """One shop's ready events, oldest first, up to the limit; on SQLite read through the (shop, status)
    index, not by walking every shop's pending events in the claim index's order."""
    from sqlalchemy import event as sa_event

    first, second = configure_shop("claims-one.myshopify.com"), configure_shop("claims-two.myshopify.com")
    now = now_utc()
    oldest = [add_event(first.id, status="pending", received_at=now - timedelta(minutes=m)).id for m in (9, 8, 7)]
    for m in (6, 5):
        add_event(second.id, status="pending", received_at=now - timedelta(minutes=m))
    later = add_event(first.id, status="pending", received_at=now - timedelta(minutes=1), available_at=now + timedelta(
        minutes=5)).id  # not ready yet
    db.session.commit()
    statements: list[tuple[str, Any]] = []

    def seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    sa_event.listen(db.engine, "before_cursor_execute", seen)
    try:
        claimed = outbox.claim("worker-a", now, lease_seconds=60, limit=2)
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", seen)
    assert [item.row_id for item in claimed] == oldest[:2]
    rest = outbox.claim("worker-b", now, lease_seconds=60, limit=10)  # the shop still waits longest
    assert [item.row_id for item in rest] == oldest[2:] and later not in [item.row_id for item in rest]
    if db.engine.dialect.name == "sqlite":
        shop_read, parameters = next(s for s in statements if s[0].startswith("SELECT events.id")
                                      and "events.shop_id = ?" in s[0])
        with db.engine.connect() as conn:
            plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + shop_read, parameters))
        assert "ix_events_shop_status" in plan, plan


def test_a_claimed_event_goes_as_its_stored_text_unless_something_reads_it(configure_shop: Any) -> None:
    """The claim hands each event over as the JSON text stored at routing; the request carries that text
    as it is (nothing parsed or written again), and an event the worker read goes as what it read."""
    import orjson

    shop = configure_shop()
    event = {"event_name": "checkout", "event_id": "stored-text-1", "user_data": {"em": ["a" * 64]},
             "custom_data": {"value": "45.00", "currency": "USD", "note": "caf\u00e9 \u2603"}}
    add_event(shop.id, status="pending", event_id="stored-text-1", payload=event)
    db.session.commit()
    [claimed] = outbox.claim("worker-a", now_utc(), lease_seconds=60, limit=10)
    db.session.commit()
    assert isinstance(claimed.stored, str) and orjson.loads(claimed.stored) == event
    as_sent = claimed.for_request()
    assert isinstance(as_sent, orjson.Fragment)
    assert orjson.loads(orjson.dumps({"data": [as_sent]})) == {"data": [event]}
    assert claimed.payload == event  # read: parsed once, and from then on sent as that dict
    assert claimed.for_request() is claimed.payload
    made = outbox.Claimed(claimed.row_id, shop.id, "other-id", {**event, "event_id": "other-id"}, False, 1,
                          claimed.received_at)  # what the beacon join makes: a dict, sent as it is
    assert made.for_request() == made.payload == {**event, "event_id": "other-id"}


def test_one_claim_takes_several_shops_batches_each_of_one_shop_within_its_limits(configure_shop: Any) -> None:
    """Several batches in one transaction: the shops waiting longest first, each batch one shop's events
    (oldest first, up to `limit`), `total` events in all; busy shops are left for their batch in flight."""
    from sqlalchemy import event as sa_event

    now = now_utc()
    shops = [configure_shop(f"claims-many-{n}.myshopify.com") for n in range(4)]
    ids: dict[int, list[int]] = {}
    for n, (shop, count) in enumerate(zip(shops, (3, 2, 1, 1), strict=True)):
        ids[shop.id] = [add_event(shop.id, status="pending",
                                  received_at=now - timedelta(minutes=40 - 10 * n, seconds=-k)).id
                        for k in range(count)]
    db.session.commit()
    commits: list[int] = []

    def committed(_conn: Any) -> None:
        commits.append(1)

    sa_event.listen(db.engine, "commit", committed)
    try:
        batches = outbox.claim_batches("worker-a", now, lease_seconds=60, limit=2, total=3, batches=3, shops=8,
                                       busy_shops={shops[1].id})  # the fourth shop is a candidate: `total` stops it
    finally:
        sa_event.remove(db.engine, "commit", committed)
    assert len(commits) == 1
    assert [[item.row_id for item in batch] for batch in batches] == [ids[shops[0].id][:2], ids[shops[2].id]]
    assert all(item.shop_id == batch[0].shop_id for batch in batches for item in batch)
    rest = outbox.claim_batches("worker-b", now, lease_seconds=60, limit=5, total=100, batches=2)
    assert [[item.row_id for item in batch] for batch in rest] == [ids[shops[0].id][2:], ids[shops[1].id]]
    last = outbox.claim_batches("worker-c", now, lease_seconds=60, limit=5, total=100, batches=5)
    assert [[item.row_id for item in batch] for batch in last] == [ids[shops[3].id]]
