"""Adding a purchase to the outbox (app/outbox/enqueue.py): one purchase, one event, however it arrives."""

from __future__ import annotations

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
