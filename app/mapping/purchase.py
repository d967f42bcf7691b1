"""Assemble one Pinterest `checkout` event from an order or a completed checkout, or say why not."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from app.mapping.commerce import custom_data
from app.mapping.fields import ident
from app.mapping.identity import (
    checkout_completed,
    checkout_event_id,
    checkout_event_time,
    checkout_order_id,
    customer_id,
    is_test,
    order_event_id,
    order_event_time,
    order_name,
    storefront_url,
    token,
)
from app.mapping.order_class import BUYER_BROWSER_CLASSES, CLASS_LABELS, CLASS_SETTINGS, order_class
from app.mapping.timing import BACKDATED_SKIPPED, timing, too_old_reason
from app.mapping.types import MappedPurchase, MappingOptions
from app.mapping.user_data import build_user_data, can_match, match_keys, normalise_language, sha256_hex

Kind = Literal["order", "checkout"]

NOT_AN_OBJECT = "the webhook body is not a JSON object"
CHECKOUT_OPEN = "checkout not completed"
CLASS_SKIPPED = "{label}: not sent ({setting} is 'skip'; choose 'web' or 'offline' to send these)"
NO_EVENT_ID = "no cart token, checkout token or order id to build an event id from"
NO_ORDER_TIME = "no valid processed_at or created_at time on the order"
NO_CHECKOUT_TIME = "no valid completed_at time on the checkout"
NO_MATCH_KEY = "no email or browser IP/user agent to match the buyer"
INTERNAL_ERROR = "could not be mapped because of an unexpected error ({error}); it was not sent"


def map_order(order: Any, options: MappingOptions, *, received_at: int | None = None) -> MappedPurchase:
    """Map an orders/create body (or a reconciled order in the same shape); never raises.

    `received_at` (Unix seconds) is when Pinbridge received it: an order placed more than 7 days before is
    not sent (app/mapping/timing.py). Without it only the order's own dates are compared.
    """
    return _safely("order", order, options, lambda body, chosen: _map_order(body, chosen, received_at))


def map_checkout(checkout: Any, options: MappingOptions, *, received_at: int | None = None) -> MappedPurchase:
    """Map a checkouts/create|update body; only a completed checkout becomes an event. Never raises."""
    return _safely("checkout", checkout, options, lambda body, chosen: _map_checkout(body, chosen, received_at))


def _safely(kind: Kind, body: Any, options: MappingOptions,
            build: Callable[[dict[str, Any], MappingOptions], MappedPurchase]) -> MappedPurchase:
    # The webhook must still be answered and recorded whatever Shopify (or a bug here) sends, so the
    # last resort is a skipped purchase that names the error type, never an exception.
    if not isinstance(body, dict):
        return MappedPurchase(kind=kind, event_id=None, event=None, skip_reason=NOT_AN_OBJECT)
    try:
        return build(body, options)
    except Exception as error:  # noqa: BLE001
        reason = INTERNAL_ERROR.format(error=type(error).__name__)
        return MappedPurchase(kind=kind, event_id=None, event=None, skip_reason=reason)


def _map_order(order: dict[str, Any], options: MappingOptions, received_at: int | None = None) -> MappedPurchase:
    event_time = order_event_time(order)
    return _assemble(
        "order", order, options,
        event_id=order_event_id(order, options.event_id_source),
        event_time=event_time,
        order_id=ident(order.get("id")),
        join_token=token(order.get("checkout_token")),
        first_reason=None if event_time else NO_ORDER_TIME, received_at=received_at,
    )


def _map_checkout(checkout: dict[str, Any], options: MappingOptions,
                  received_at: int | None = None) -> MappedPurchase:
    completed = checkout_completed(checkout)
    event_time = checkout_event_time(checkout) if completed else None
    return _assemble(
        "checkout", checkout, options,
        event_id=checkout_event_id(checkout, options.event_id_source),
        event_time=event_time,
        order_id=checkout_order_id(checkout),
        join_token=token(checkout.get("token")),
        first_reason=CHECKOUT_OPEN if not completed else (None if event_time else NO_CHECKOUT_TIME),
        received_at=received_at,
    )


def class_skipped(klass: str) -> str:
    """The skip reason of an order class its setting says not to send."""
    return CLASS_SKIPPED.format(label=CLASS_LABELS[klass].capitalize(), setting=CLASS_SETTINGS[klass])


def _skip_reason(first_reason: str | None, klass: str, send_as: str, event_id: str | None,
                 user_data: dict[str, Any], late_reason: str | None = None) -> str | None:
    if first_reason == CHECKOUT_OPEN:
        return first_reason
    if late_reason:
        return late_reason
    if send_as == "skip":
        return class_skipped(klass)
    if event_id is None:
        return NO_EVENT_ID
    if first_reason:
        return first_reason
    return None if can_match(user_data) else NO_MATCH_KEY


def _late(body: dict[str, Any], options: MappingOptions, send_as: str, event_time: int | None,
          received_at: int | None) -> tuple[str, str | None]:
    """How a purchase is sent once its dates are read (app/mapping/timing.py), and why not when it is not."""
    if send_as == "skip":
        return send_as, None
    kind = timing(body, event_time, received_at)
    if kind == "too_old" and event_time is not None:
        return "skip", too_old_reason(event_time)
    if kind == "backdated" and send_as == "web":
        chosen = options.backdated_as()
        return chosen, BACKDATED_SKIPPED if chosen == "skip" else None
    return send_as, None


def _assemble(kind: Kind, body: dict[str, Any], options: MappingOptions, *, event_id: str | None,
              event_time: int | None, order_id: str | None, join_token: str | None,
              first_reason: str | None, received_at: int | None = None) -> MappedPurchase:
    klass = order_class(body)
    send_as, late_reason = _late(body, options, options.send_as(klass), event_time, received_at)
    # A skipped order still records where it came from: offline unless a shopper's browser placed it.
    natural = "web" if klass in BUYER_BROWSER_CLASSES else "offline"
    source = natural if send_as == "skip" else send_as
    browser = source == "web" and klass in BUYER_BROWSER_CLASSES
    user_data = build_user_data(body, web=browser, shop_country=options.shop_country)
    custom = custom_data(body, options, checkout=kind == "checkout", order_id=order_id)
    reason = _skip_reason(first_reason, klass, send_as, event_id, user_data, late_reason)
    event: dict[str, Any] | None = None
    if reason is None:
        event = {
            "event_name": "checkout",
            "action_source": source,
            "event_time": event_time,
            "event_id": event_id,
            "user_data": user_data,
        }
        url = storefront_url(body) if source == "web" else None
        if url:
            event["event_source_url"] = url
        language = normalise_language(body.get("customer_locale"))
        if language:
            event["language"] = language
        if custom:
            event["custom_data"] = custom
    customer = customer_id(body)
    return MappedPurchase(
        kind=kind,
        event_id=event_id,
        event=event,
        skip_reason=reason,
        test=is_test(body),
        order_id=order_id,
        order_name=order_name(body),
        occurred_at=event_time,
        action_source=source,
        value=custom.get("value"),
        currency=custom.get("currency"),
        match_keys=match_keys(user_data),
        customer_ref=sha256_hex(customer) if customer else None,
        email_hashes=tuple(user_data.get("em", ())),
        phone_hashes=tuple(user_data.get("ph", ())),
        order_class=klass,
        checkout_token=join_token,
    )
