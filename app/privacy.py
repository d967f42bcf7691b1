"""Shop lifecycle and privacy topics: uninstall, shop/customer redaction, data requests."""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select

from .models import DataRequest, Event, Shop, WebhookReceipt, db

logger = logging.getLogger(__name__)

TOPICS = {"app/uninstalled", "shop/redact", "customers/redact", "customers/data_request"}


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _customer_keys(payload: dict[str, Any]) -> tuple[str | None, str | None, list[str]]:
    """(customer ref, email hash, order ids) of a compliance payload, tolerant of missing parts."""
    raw = payload.get("customer")
    customer: dict[str, Any] = raw if isinstance(raw, dict) else {}
    cid = customer.get("id")
    ref = _sha256(str(cid)) if isinstance(cid, (int, str)) and not isinstance(cid, bool) and str(cid) else None
    email = customer.get("email")
    em = _sha256(email.strip().lower()) if isinstance(email, str) and email.strip() else None
    orders = payload.get("orders_to_redact") or payload.get("orders_requested") or []
    order_ids = [str(o) for o in orders if isinstance(o, (int, str)) and not isinstance(o, bool)] \
        if isinstance(orders, list) else []
    return ref, em, order_ids


def _customer_filter(shop_id: int, ref: str | None, em: str | None, order_ids: list[str]) -> Any:
    clauses = []
    if ref:
        clauses.append(Event.customer_ref == ref)
    if em:
        clauses.append(Event.email_refs.contains(em))
    if order_ids:
        clauses.append(Event.order_id.in_(order_ids))
    if not clauses:
        return None
    return (Event.shop_id == shop_id) & or_(*clauses)


def handle(topic: str, shop_domain: str, payload: dict[str, Any], now: datetime) -> str:
    """Apply one privacy/lifecycle webhook inside the caller's transaction; return the receipt outcome."""
    shop = db.session.execute(select(Shop).filter_by(domain=shop_domain)).scalar_one_or_none()
    if topic == "shop/redact":
        db.session.execute(delete(WebhookReceipt).where(WebhookReceipt.shop_domain == shop_domain))
        if shop is not None:
            db.session.delete(shop)
        return "shop_redacted"
    if shop is None:
        return "unknown_shop"
    if topic == "app/uninstalled":
        shop.installed = False
        shop.uninstalled_at = now
        shop.shopify_token_enc = shop.shopify_refresh_token_enc = None
        shop.shopify_token_expires_at = shop.shopify_refresh_expires_at = None
        shop.shopify_scope = shop.token_exchange_error = None
        # Pinterest settings stay until shop/redact (48 h later): a quick reinstall keeps working.
        return "uninstalled"
    ref, em, order_ids = _customer_keys(payload)
    where = _customer_filter(shop.id, ref, em, order_ids)
    if topic == "customers/redact":
        removed = db.session.execute(delete(Event).where(where)).rowcount if where is not None else 0  # type: ignore[attr-defined]
        logger.info("customer redacted", extra={"action": "customer_redacted", "events": removed})
        return "customer_redacted"
    held = db.session.scalar(select(db.func.count()).select_from(Event).where(where)) if where is not None else 0
    db.session.add(DataRequest(shop_id=shop.id, received_at=now, customer_ref=ref,
                               orders_requested=len(order_ids), events_held=int(held or 0)))
    return "data_request_recorded"
