"""Plain data passed into and out of the mapping: options in, a mapped purchase out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from app.mapping.order_class import CLASS_SETTINGS, DEFAULT_SEND
from app.vocabulary import (
    ActionSource,
    ContentIdSource,
    CurrencyMode,
    EventIdSource,
    EventSource,
    OrderClass,
    SendChoice,
    SkipReason,
    ValueMode,
)

EVENT_ID_SOURCES = tuple(EventIdSource)
CONTENT_ID_SOURCES = tuple(ContentIdSource)
VALUE_MODES = tuple(ValueMode)
CURRENCY_MODES = tuple(CurrencyMode)
_SEND_CHOICES = frozenset(SendChoice)
DEFAULT_BACKDATED = SendChoice.OFFLINE


@dataclass(frozen=True)
class MappingOptions:
    """The merchant's choices that change what an order becomes (SPEC 4.2)."""

    event_id_source: EventIdSource = EventIdSource.CART_TOKEN
    content_id_source: ContentIdSource = ContentIdSource.PRODUCT_ID
    value_mode: ValueMode = ValueMode.SUBTOTAL
    currency_mode: CurrencyMode = CurrencyMode.SHOP
    include_offline_orders: bool = False   # older switch: POS and draft orders as offline when no send_* says
    limited_data_processing: bool = False
    # How each non-web order class is sent (see order_class.py); None = default.
    send_pos: SendChoice | None = None
    send_draft: SendChoice | None = None
    send_subscription: SendChoice | None = None
    send_other_channels: SendChoice | None = None
    shop_country: str | None = None         # ISO alpha-2 of the shop, for national phone numbers
    # How a web order recorded in Shopify long after its sale date (imported, back-dated) is sent: offline
    # (default: how Pinterest reports a late event anyway), skip, or web as before. See timing.py.
    send_backdated: SendChoice | None = None

    def backdated_as(self) -> SendChoice:
        """How a back-dated order that its class would send as web is sent."""
        return SendChoice(self.send_backdated) if self.send_backdated in _SEND_CHOICES else DEFAULT_BACKDATED

    def send_as(self, order_class: OrderClass) -> SendChoice:
        """How an order class is sent."""
        key = CLASS_SETTINGS.get(order_class)
        if key is None:
            return SendChoice.WEB
        chosen = getattr(self, key)
        if chosen in _SEND_CHOICES:
            return SendChoice(chosen)
        if order_class in (OrderClass.POS, OrderClass.DRAFT) and self.include_offline_orders:
            return SendChoice.OFFLINE
        return DEFAULT_SEND[key]


@dataclass(frozen=True)
class MappedPurchase:
    """One purchase as Pinterest should see it, or the reason it will not be sent.

    `event` is the exact JSON object for Pinterest's `data` array (already hashed), or None when `skip`
    says why not (`skip_reason`: its sentence for the merchant, as the outbox stores it). Everything else
    is metadata the outbox stores beside it; none of it is personal data in plain text.
    """

    kind: Literal[EventSource.ORDER, EventSource.CHECKOUT]
    event_id: str | None
    event: dict[str, Any] | None
    skip: SkipReason | None = None
    skip_reason: str | None = None
    test: bool = False                       # order.test: send with ?test=true
    order_id: str | None = None              # decimal string, never through a float
    order_name: str | None = None            # "#1001"
    occurred_at: int | None = None           # Unix seconds (event_time)
    action_source: ActionSource | None = None
    value: str | None = None                 # decimal string
    currency: str | None = None
    match_keys: tuple[str, ...] = ()         # subset of MATCH_KEYS, in that order
    customer_ref: str | None = None          # sha256 hex of the normalised customer id
    email_hashes: tuple[str, ...] = field(default_factory=tuple)  # the `em` values, for redaction
    phone_hashes: tuple[str, ...] = field(default_factory=tuple)  # the `ph` values, for redaction
    order_class: OrderClass | None = None    # see order_class.py
    # Joins a completed checkout to its order whatever event_id_source is (order.checkout_token ==
    # checkout.token); needed because with event_id_source "order_id" their event ids can differ.
    checkout_token: str | None = None


# Identifier kinds reported per event (no values), used for match-quality coverage.
MATCH_KEYS = ("em", "ph", "ip_ua", "click_id", "address", "name", "external_id")
