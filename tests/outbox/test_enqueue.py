"""Adding a purchase to the outbox (app/outbox/enqueue.py): one purchase, one event, however it arrives."""

from __future__ import annotations

import importlib
from dataclasses import replace
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update

from app import outbox
from app.mapping import MappedPurchase, MappingOptions, map_checkout, map_order
from app.models import Event, Shop, db, now_utc
from app.vocabulary import EventIdSource, EventSource, ReceiptOutcome
from tests.factories import completed_checkout, web_order

NOW = now_utc()
ENQUEUE_MODULE = importlib.import_module("app.outbox.enqueue")  # the package re-exports its function


def _enqueue(shop: Shop, mapped: MappedPurchase, **options: Any) -> outbox.EnqueueResult:
    result = outbox.enqueue(shop.id, mapped, now=NOW, **options)
    db.session.commit()
    return result


def _rows() -> list[Event]:
    db.session.rollback()
    return list(db.session.scalars(select(Event).order_by(Event.id)))


def test_a_new_purchase_is_queued_and_waits_out_its_settle_time(configure_shop: Any) -> None:
    shop = configure_shop()
    mapped = map_order(web_order(email="buyer@example.com"), MappingOptions())
    result = _enqueue(shop, mapped, settle_seconds=120)
    assert (result.outcome, result.detail) == (ReceiptOutcome.QUEUED, None)
    [row] = _rows()
    assert row.id == result.event_row_id
    assert (row.status, row.source, row.event_id, row.order_id) == ("pending", "order", mapped.event_id,
                                                                      mapped.order_id)
    assert row.payload == mapped.event and row.skip_reason is None
    assert row.match_keys == " ".join(mapped.match_keys)
    assert row.email_refs is not None and mapped.email_hashes[0] in row.email_refs  # found again by a redaction
    assert row.received_at == NOW and row.available_at == NOW + timedelta(seconds=120)


def test_the_same_purchase_again_is_already_received(configure_shop: Any) -> None:
    shop = configure_shop()
    order = web_order()
    first = _enqueue(shop, map_order(order, MappingOptions()))
    again = _enqueue(shop, map_order(order, MappingOptions()))
    assert again.outcome == ReceiptOutcome.ALREADY_RECEIVED and again.event_row_id == first.event_row_id
    assert len(_rows()) == 1


def test_the_same_order_under_another_event_id_is_found_by_its_order_id(configure_shop: Any) -> None:
    """The merchant changed where event ids come from, or reconciliation found the order again."""
    shop = configure_shop()
    order = web_order()
    first = _enqueue(shop, map_order(order, MappingOptions()))
    again = _enqueue(shop, map_order(order, MappingOptions(event_id_source=EventIdSource.ORDER_ID)),
                     source=EventSource.RECONCILE)
    assert (again.outcome, again.event_row_id) == (ReceiptOutcome.ALREADY_RECEIVED, first.event_row_id)
    [row] = _rows()
    assert row.source == "order"


def test_a_purchase_that_will_not_be_sent_is_kept_with_its_reason(configure_shop: Any) -> None:
    shop = configure_shop()
    mapped = replace(map_order(web_order(), MappingOptions()), event=None,
                     skip_reason="Not sent: no email, phone or browser details to match the buyer by.")
    result = _enqueue(shop, mapped)
    assert (result.outcome, result.detail) == (ReceiptOutcome.SKIPPED, mapped.skip_reason)
    [row] = _rows()
    assert (row.status, row.payload, row.skip_reason) == ("skipped", None, mapped.skip_reason)


def test_a_reconciled_order_is_stored_as_found_by_reconciliation(configure_shop: Any) -> None:
    shop = configure_shop()
    _enqueue(shop, map_order(web_order(), MappingOptions()), source=EventSource.RECONCILE)
    [row] = _rows()
    assert row.source == "reconcile"


def test_an_order_replaces_its_waiting_checkout_and_goes_at_once(configure_shop: Any) -> None:
    shop = configure_shop()
    order = web_order()
    checkout = _enqueue(shop, map_checkout(completed_checkout(order), MappingOptions()), settle_seconds=120)
    assert checkout.outcome == ReceiptOutcome.QUEUED
    db.session.execute(update(Event).values(attempts=2, error_code="unavailable", error_message="Down."))
    db.session.commit()
    replaced = _enqueue(shop, map_order(order, MappingOptions()), settle_seconds=120)
    assert (replaced.outcome, replaced.event_row_id) == (ReceiptOutcome.REPLACED_CHECKOUT, checkout.event_row_id)
    [row] = _rows()
    assert (row.source, row.status, row.order_id) == ("order", "pending", str(order["id"]))
    assert (row.attempts, row.error_code, row.error_message) == (0, None, None)
    assert row.available_at == NOW  # its checkout already waited for it


def test_a_checkout_after_its_order_changes_nothing(configure_shop: Any) -> None:
    shop = configure_shop()
    order = web_order()
    first = _enqueue(shop, map_order(order, MappingOptions()))
    late = _enqueue(shop, map_checkout(completed_checkout(order), MappingOptions()))
    assert (late.outcome, late.event_row_id) == (ReceiptOutcome.ALREADY_RECEIVED, first.event_row_id)
    [row] = _rows()
    assert row.source == "order"


def test_an_order_whose_checkout_was_already_sent_is_not_sent_again(configure_shop: Any) -> None:
    shop = configure_shop()
    order = web_order()
    checkout = _enqueue(shop, map_checkout(completed_checkout(order), MappingOptions()))
    db.session.execute(update(Event).values(status="delivered", delivered_at=NOW))
    db.session.commit()
    result = _enqueue(shop, map_order(order, MappingOptions()))
    assert (result.outcome, result.event_row_id) == (ReceiptOutcome.ALREADY_SENT, checkout.event_row_id)
    [row] = _rows()
    assert (row.source, row.status) == ("checkout", "delivered")
    assert db.session.scalar(select(func.count()).select_from(Event)) == 1


# -- a batch at once (routing) ---------------------------------------------------------------------------------
def _mixed_arrivals() -> list[MappedPurchase]:
    """Purchases as a busy inbox brings them: checkouts before and after their orders, repeats, another id."""
    orders = [web_order() for _ in range(4)]
    by_order_id = MappingOptions(event_id_source=EventIdSource.ORDER_ID)
    return [
        map_checkout(completed_checkout(orders[0]), MappingOptions()),  # then its order replaces it
        map_order(orders[0], MappingOptions()),
        map_order(orders[1], MappingOptions()),
        map_order(orders[1], MappingOptions()),  # orders/create and orders/paid of one order
        map_order(orders[2], by_order_id),  # the order first, with the order's id
        map_checkout(completed_checkout(orders[2]), MappingOptions()),  # its checkout after: a repeat
        map_checkout(completed_checkout(orders[3]), by_order_id),
        map_order(orders[3], by_order_id),  # order and checkout under different event ids
        map_order(orders[0], MappingOptions()),  # a late repeat of the replaced one
        # The order that replaced its checkout again, with no tokens left to find it by (as reconciliation
        # may bring it): only the keys it took from the order ("order-<id>", its id) find it.
        map_order({**orders[3], "cart_token": None, "checkout_token": None}, MappingOptions()),
    ]


def _stored_rows(shop_id: int) -> list[tuple[Any, ...]]:
    db.session.rollback()
    return [(row.event_id, row.source, row.status, row.order_id, row.checkout_token, row.payload, row.available_at)
            for row in db.session.scalars(select(Event).where(Event.shop_id == shop_id).order_by(Event.id))]


def test_a_batch_gets_what_each_purchase_would_get_alone(configure_shop: Any) -> None:
    """One batch and the same purchases one at a time: the same outcomes, the same rows, the same ids."""
    arrivals = _mixed_arrivals()
    one_by_one, batched = configure_shop("one-by-one.myshopify.com"), configure_shop("batched.myshopify.com")
    alone = [_enqueue(one_by_one, mapped, settle_seconds=30) for mapped in arrivals]
    together = outbox.enqueue_many([outbox.Purchase(batched.id, mapped, NOW, 30) for mapped in arrivals])
    db.session.commit()
    assert [r.outcome for r in together] == [r.outcome for r in alone] == [
        ReceiptOutcome.QUEUED, ReceiptOutcome.REPLACED_CHECKOUT, ReceiptOutcome.QUEUED,
        ReceiptOutcome.ALREADY_RECEIVED, ReceiptOutcome.QUEUED, ReceiptOutcome.ALREADY_RECEIVED,
        ReceiptOutcome.QUEUED, ReceiptOutcome.REPLACED_CHECKOUT, ReceiptOutcome.ALREADY_RECEIVED,
        ReceiptOutcome.ALREADY_RECEIVED]
    assert [r.detail for r in together] == [r.detail for r in alone]
    assert _stored_rows(batched.id) == _stored_rows(one_by_one.id)
    assert len(_stored_rows(batched.id)) == 4  # four purchases, four events
    first_row = {r.event_row_id for r in alone}, {r.event_row_id for r in together}
    assert all(len(ids) == 4 and None not in ids for ids in first_row)
    # Each result names its purchase's row: the positions that share a row in one share it in the other.
    assert [alone.index(next(a for a in alone if a.event_row_id == r.event_row_id)) for r in alone] == \
        [together.index(next(t for t in together if t.event_row_id == r.event_row_id)) for r in together]


def test_a_batch_finds_the_events_already_stored(configure_shop: Any) -> None:
    shop = configure_shop()
    order = web_order()
    stored = _enqueue(shop, map_checkout(completed_checkout(order), MappingOptions()))
    results = outbox.enqueue_many([outbox.Purchase(shop.id, map_order(order, MappingOptions()), NOW),
                                   outbox.Purchase(shop.id, map_order(web_order(), MappingOptions()), NOW)])
    db.session.commit()
    assert [(r.outcome, r.event_row_id == stored.event_row_id) for r in results] == [
        (ReceiptOutcome.REPLACED_CHECKOUT, True), (ReceiptOutcome.QUEUED, False)]
    assert [row.source for row in _rows()] == ["order", "order"]


def test_an_event_another_worker_stored_meanwhile_is_that_purchase_again(configure_shop: Any, monkeypatch: Any) -> None:
    """The batch's look-up ran before another worker committed the same event: its INSERT yields."""
    shop = configure_shop()
    order = web_order()
    theirs = _enqueue(shop, map_order(order, MappingOptions()))
    looked = []
    real = ENQUEUE_MODULE._stored

    def before_their_commit(purchases: Any, seq: Any) -> Any:
        looked.append(len(purchases))
        return {} if len(looked) == 1 else real(purchases, seq)

    monkeypatch.setattr(ENQUEUE_MODULE, "_stored", before_their_commit)
    results = outbox.enqueue_many([outbox.Purchase(shop.id, map_order(order, MappingOptions()), NOW),
                                   outbox.Purchase(shop.id, map_order(web_order(), MappingOptions()), NOW)])
    db.session.commit()
    assert [(r.outcome, r.event_row_id == theirs.event_row_id) for r in results] == [
        (ReceiptOutcome.ALREADY_RECEIVED, True), (ReceiptOutcome.QUEUED, False)]
    assert looked == [2, 1]  # the yielded purchase looked again, alone
    assert len(_rows()) == 2


def test_a_batch_compares_ids_as_the_database_stores_them(configure_shop: Any) -> None:
    """A NUL is dropped and a long token cut when stored; the batch finds such events all the same."""
    shop = configure_shop()
    odd = web_order(checkout_token="tok\x00en-" + "x" * 80, cart_token="c\x00art-" + "y" * 40)
    by_order_id = MappingOptions(event_id_source=EventIdSource.ORDER_ID)
    stored = _enqueue(shop, map_checkout(completed_checkout(odd), by_order_id))
    results = outbox.enqueue_many([
        outbox.Purchase(shop.id, map_order(odd, by_order_id), NOW),
        outbox.Purchase(shop.id, map_checkout(completed_checkout(odd), MappingOptions()), NOW)])
    db.session.commit()
    assert [(r.outcome, r.event_row_id) for r in results] == [
        (ReceiptOutcome.REPLACED_CHECKOUT, stored.event_row_id), (ReceiptOutcome.ALREADY_RECEIVED, stored.event_row_id)]
    assert len(_rows()) == 1


def test_two_workers_adding_one_purchase_side_by_side_store_one_event(app: Any, configure_shop: Any) -> None:
    """Worker A adds a checkout and has not committed when worker B adds its order under another event id.

    PostgreSQL: B waits for A's shop lock, then finds the checkout and replaces it. Without that lock B
    would find nothing and store a second event for the same purchase. (SQLite: B waits for the write lock.)
    """
    import threading
    import time

    from sqlalchemy import create_engine, text

    from app.database import writing

    shop = configure_shop()
    order = web_order()
    by_order_id = MappingOptions(event_id_source=EventIdSource.ORDER_ID)
    a_added, a_may_commit = threading.Event(), threading.Event()
    answers: dict[str, Any] = {}

    def worker(name: str, mapped: MappedPurchase) -> None:
        with app.app_context():
            with writing():
                answers[name] = outbox.enqueue_many([outbox.Purchase(shop.id, mapped, NOW)])[0].outcome
                if name == "a":
                    a_added.set()
                    assert a_may_commit.wait(30)
            db.session.remove()

    a = threading.Thread(target=worker, args=("a", map_checkout(completed_checkout(order), MappingOptions())))
    b = threading.Thread(target=worker, args=("b", map_order(order, by_order_id)))
    a.start()
    assert a_added.wait(30)
    b.start()
    if db.engine.dialect.name == "postgresql":  # B is waiting for the shop's lock before A commits
        watcher = create_engine(db.engine.url)
        deadline = time.monotonic() + 30
        with watcher.connect() as conn:
            while not conn.execute(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                        "AND NOT granted")).scalar():
                assert time.monotonic() < deadline, "B never waited for A"
                time.sleep(0.01)
        watcher.dispose()
    a_may_commit.set()
    a.join(30)
    b.join(30)
    assert answers == {"a": ReceiptOutcome.QUEUED, "b": ReceiptOutcome.REPLACED_CHECKOUT}
    [row] = _rows()
    assert (row.source, row.event_id) == ("order", f"order-{order['id']}")
