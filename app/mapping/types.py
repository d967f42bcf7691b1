"""Plain data passed into and out of the mapping: options in, a mapped purchase out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from app.mapping.order_class import CLASS_SETTINGS, DEFAULT_SEND, SEND_AS

EVENT_ID_SOURCES = ("cart_token", "checkout_token", "order_id")
CONTENT_ID_SOURCES = ("product_id", "variant_id", "sku")
VALUE_MODES = ("subtotal", "total")
CURRENCY_MODES = ("shop", "presentment")
DEFAULT_BACKDATED = "offline"


@dataclass(frozen=True)
class MappingOptions:
    """The merchant's choices that change what an order becomes (SPEC 4.2)."""

    event_id_source: str = "cart_token"
    content_id_source: str = "product_id"
    value_mode: str = "subtotal"
    currency_mode: str = "shop"
    include_offline_orders: bool = False   # older switch: POS and draft orders as offline when no send_* says
    limited_data_processing: bool = False
    # How each non-web order class is sent: "web" | "offline" | "skip" (see order_class.py); None = default.
    send_pos: str | None = None
    send_draft: str | None = None
    send_subscription: str | None = None
    send_other_channels: str | None = None
    shop_country: str | None = None         # ISO alpha-2 of the shop, for national phone numbers
    # How a web order recorded in Shopify long after its sale date (imported, back-dated) is sent: "offline"
    # (default: how Pinterest reports a late event anyway), "skip", or "web" as before. See timing.py.
    send_backdated: str | None = None

    def backdated_as(self) -> str:
        """"offline", "skip" or "web" for a back-dated order that its class would send as web."""
        return str(self.send_backdated) if self.send_backdated in SEND_AS else DEFAULT_BACKDATED

    def send_as(self, order_class: str) -> str:
        """"web", "offline" or "skip" for an order class."""
        key = CLASS_SETTINGS.get(order_class)
        if key is None:
            return "web"
        chosen = getattr(self, key)
        if chosen in SEND_AS:
            return str(chosen)
        if order_class in ("pos", "draft") and self.include_offline_orders:
            return "offline"
        return DEFAULT_SEND[key]


@dataclass(frozen=True)
class MappedPurchase:
    """One purchase as Pinterest should see it, or the reason it will not be sent.

    `event` is the exact JSON object for Pinterest's `data` array (already hashed), or None when
    `skip_reason` is set. Everything else is metadata the outbox stores beside it; none of it is
    personal data in plain text.
    """

    kind: Literal["order", "checkout"]
    event_id: str | None
    event: dict[str, Any] | None
    skip_reason: str | None = None
    test: bool = False                       # order.test: send with ?test=true
    order_id: str | None = None              # decimal string, never through a float
    order_name: str | None = None            # "#1001"
    occurred_at: int | None = None           # Unix seconds (event_time)
    action_source: str | None = None         # "web" | "offline"
    value: str | None = None                 # decimal string
    currency: str | None = None
    match_keys: tuple[str, ...] = ()         # subset of MATCH_KEYS, in that order
    customer_ref: str | None = None          # sha256 hex of the normalised customer id
    email_hashes: tuple[str, ...] = field(default_factory=tuple)  # the `em` values, for redaction
    phone_hashes: tuple[str, ...] = field(default_factory=tuple)  # the `ph` values, for redaction
    order_class: str | None = None           # see order_class.py
    # Joins a completed checkout to its order whatever event_id_source is (order.checkout_token ==
    # checkout.token); needed because with event_id_source "order_id" their event ids can differ.
    checkout_token: str | None = None


# Identifier kinds reported per event (no values), used for match-quality coverage.
MATCH_KEYS = ("em", "ph", "ip_ua", "click_id", "address", "name", "external_id")
