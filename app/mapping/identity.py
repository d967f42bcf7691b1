"""Who and when: event_id, event_time, action_source and the test flag of a purchase.

Event id rules (SPEC 5). Each source has exactly one rendering:
  cart_token      -> the cart token as Shopify sends it (what the storefront Tag can also see)
  checkout_token  -> the checkout token (`order.checkout_token` == `checkout.token`)
  order_id        -> "order-<order id>"
The configured source comes first, then the fixed chain cart token -> checkout token -> order id.

Orders and checkouts give the same id for the same purchase whenever both carry the chosen token.
Caveat for `order_id`: a checkout webhook normally has no order id, so a completed checkout falls back to
its cart token / token and will NOT share the order's event_id. The order still replaces it through
`MappedPurchase.checkout_token` (the join key), and `custom_data.order_id` lets Pinterest deduplicate.
If a checkout body does carry `order_id` (or `order.id`) it is used, so the ids agree.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from app.mapping.fields import dig, first, ident, text
from app.vocabulary import EventIdSource

# Longer "tokens" are junk (or an attack on storage columns); a real token is 32-130 characters.
MAX_EVENT_ID_LENGTH = 255
# After the configured source, every purchase falls back through this chain (the storefront pixel too).
EVENT_ID_CHAIN = (EventIdSource.CART_TOKEN, EventIdSource.CHECKOUT_TOKEN, EventIdSource.ORDER_ID)
# Unix seconds after the epoch and before year 10000 (what an ISO-8601 date can express).
_MIN_EVENT_TIME = 1
_MAX_EVENT_TIME = 253402300800
_WHITESPACE = re.compile(r"\s")  # what str.isspace() calls whitespace, Unicode included


def token(value: Any) -> str | None:
    """A cart/checkout token usable as an event id, or None."""
    raw = text(value)
    if raw is None or len(raw) > MAX_EVENT_ID_LENGTH or _WHITESPACE.search(raw):
        return None
    return raw


def _chain(preferred: EventIdSource, candidates: dict[EventIdSource, str | None]) -> str | None:
    order = [preferred, *EVENT_ID_CHAIN]
    return first(candidates.get(name) for name in order)


def order_event_id(order: dict[str, Any], event_id_source: EventIdSource) -> str | None:
    """The event id of an orders/create body (see module docstring)."""
    order_id = ident(order.get("id"))
    return _chain(event_id_source, {
        EventIdSource.CART_TOKEN: token(order.get("cart_token")),
        EventIdSource.CHECKOUT_TOKEN: token(order.get("checkout_token")),
        EventIdSource.ORDER_ID: f"order-{order_id}" if order_id else None,
    })


def checkout_order_id(checkout: dict[str, Any]) -> str | None:
    """The order id a completed checkout points at, when the body carries one (unverified shape)."""
    return ident(checkout.get("order_id")) or ident(dig(checkout, "order", "id"))


def checkout_event_id(checkout: dict[str, Any], event_id_source: EventIdSource) -> str | None:
    """The event id of a checkouts/create|update body: the same rules, with `token` as checkout token."""
    order_id = checkout_order_id(checkout)
    return _chain(event_id_source, {
        EventIdSource.CART_TOKEN: token(checkout.get("cart_token")),
        EventIdSource.CHECKOUT_TOKEN: token(checkout.get("token")),
        EventIdSource.ORDER_ID: f"order-{order_id}" if order_id else None,
    })


def parse_time(value: Any) -> int | None:
    """ISO-8601 (with offset; a naive time is taken as UTC) or Unix seconds -> int Unix seconds."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if _MIN_EVENT_TIME <= value < _MAX_EVENT_TIME else None
    raw = text(value)
    if raw is None or len(raw) > 64:
        return None
    try:
        moment = datetime.fromisoformat(raw)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = int(moment.timestamp())
    except (ValueError, OverflowError, OSError):
        return None
    return seconds if seconds >= _MIN_EVENT_TIME else None


def order_event_time(order: dict[str, Any]) -> int | None:
    """processed_at (when the sale happened, also for imported orders), else created_at."""
    return parse_time(order.get("processed_at")) or parse_time(order.get("created_at"))


def checkout_completed(checkout: dict[str, Any]) -> bool:
    """A checkout is a purchase only once `completed_at` is set."""
    completed_at = checkout.get("completed_at")
    if isinstance(completed_at, bool):
        return False
    return isinstance(completed_at, int) or text(completed_at) is not None


def checkout_event_time(checkout: dict[str, Any]) -> int | None:
    """completed_at; if malformed, updated_at (bumped by completion). created_at is when the cart began."""
    return parse_time(checkout.get("completed_at")) or parse_time(checkout.get("updated_at"))


def is_test(body: dict[str, Any]) -> bool:
    """Only a literal JSON true marks a test order."""
    return body.get("test") is True


def order_name(body: dict[str, Any]) -> str | None:
    """The merchant-facing name such as "#1001" (not personal data)."""
    name = text(body.get("name"))
    return name[:64] if name else None


def storefront_url(body: dict[str, Any]) -> str | None:
    """The shop's storefront address, as `event_source_url`: scheme and host only.

    Read from the order-status URL (orders) or the checkout-recovery URL (checkouts), whose host is the
    storefront the buyer used (the shop's own domain or its myshopify.com one). Their paths and queries are
    never sent: `?key=` opens the buyer's order page without a login, and the path names the order.
    """
    for field in ("order_status_url", "abandoned_checkout_url"):
        raw = text(body.get(field))
        if raw is None or len(raw) > 2048:
            continue
        try:
            parts = urlsplit(raw)
            host = parts.hostname
        except ValueError:
            continue
        if parts.scheme.lower() in ("https", "http") and host and "." in host:
            return f"{parts.scheme.lower()}://{host}/"
    return None


def customer_id(body: dict[str, Any]) -> str | None:
    """The Shopify customer id as a decimal string."""
    return ident(dig(body, "customer", "id"))
