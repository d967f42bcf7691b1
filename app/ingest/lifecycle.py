"""Shop lifecycle and privacy topics: uninstall, shop/customer redaction, data requests."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select

from app import beacons, shops
from app.inbox import records, unreadable
from app.mapping.fields import ident
from app.mapping.user_data import hashed, normalise_email, normalise_phone, sha256_hex
from app.models import DataRequest, Event, Shop, Topic, db
from app.vocabulary import ReceiptOutcome

logger = logging.getLogger(__name__)

TOPICS = frozenset({Topic.APP_UNINSTALLED, Topic.SHOP_REDACT, Topic.CUSTOMERS_REDACT, Topic.CUSTOMERS_DATA_REQUEST})


def customer_keys(payload: dict[str, Any]) -> tuple[str | None, list[str], list[str]]:
    """(customer ref, identifier hashes, order ids) of a compliance payload, tolerant of missing parts.

    Email and phone go through the mapping's own normalisers, so a value the mapping hashed for an event
    is found again whatever its case, spacing, Unicode composition or phone formatting. Shopify keeps a
    customer's phone in E.164 ("+1..."), which needs no region.
    """
    raw = payload.get("customer")
    customer: dict[str, Any] = raw if isinstance(raw, dict) else {}
    cid = ident(customer.get("id"))
    ref = sha256_hex(cid) if cid else None
    refs = hashed([normalise_email(customer.get("email")), normalise_phone(customer.get("phone"))])
    orders = payload.get("orders_to_redact") or payload.get("orders_requested") or []
    order_ids = [found for o in (orders if isinstance(orders, list) else []) if (found := ident(o))]
    return ref, refs, order_ids


def _customer_filter(shop_id: int, ref: str | None, refs: list[str], order_ids: list[str]) -> Any:
    clauses = []
    if ref:
        clauses.append(Event.customer_ref == ref)
    # email_refs holds the event's em and ph hashes, space-separated (64 hex characters each).
    clauses.extend(Event.email_refs.contains(value) for value in refs)
    if order_ids:
        clauses.append(Event.order_id.in_(order_ids))
    if not clauses:
        return None
    return (Event.shop_id == shop_id) & or_(*clauses)


def handle(topic: str, shop_domain: str, payload: dict[str, Any], now: datetime) -> ReceiptOutcome:
    """Apply one privacy/lifecycle webhook inside the caller's transaction; return the receipt outcome."""
    shop = db.session.execute(select(Shop).filter_by(domain=shop_domain)).scalar_one_or_none()
    if topic == Topic.SHOP_REDACT:
        records.forget_shop(shop_domain)
        if shop is not None:
            shops.forget(shop)
        return ReceiptOutcome.SHOP_REDACTED
    if topic == Topic.CUSTOMERS_REDACT:
        # Bodies no key opens cannot be searched for this customer: none of them may be read later.
        unreadable.forget(shop_domain)
    if shop is None:
        return ReceiptOutcome.UNKNOWN_SHOP
    if topic == Topic.APP_UNINSTALLED:
        shops.uninstall(shop, now)  # Pinterest settings stay until shop/redact (48 h later): a quick
        # reinstall keeps working.
        return ReceiptOutcome.UNINSTALLED
    ref, refs, order_ids = customer_keys(payload)
    where = _customer_filter(shop.id, ref, refs, order_ids)
    if topic == Topic.CUSTOMERS_REDACT:
        if where is not None:  # the pixel's beacons for these purchases go with them
            beacons.forget(shop.id, select(Event.checkout_token).where(where, Event.checkout_token.is_not(None)))
        removed = db.session.execute(delete(Event).where(where)).rowcount if where is not None else 0  # type: ignore[attr-defined]
        logger.info("customer redacted", extra={"action": "customer_redacted", "events": removed})
        return ReceiptOutcome.CUSTOMER_REDACTED
    held = db.session.scalar(select(db.func.count()).select_from(Event).where(where)) if where is not None else 0
    db.session.add(DataRequest(shop_id=shop.id, received_at=now, customer_ref=ref,
                               orders_requested=len(order_ids), events_held=int(held or 0)))
    return ReceiptOutcome.DATA_REQUEST_RECORDED
