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
from app.mapping.timing import timing, too_old_day
from app.mapping.types import MappedPurchase, MappingOptions
from app.mapping.user_data import build_user_data, can_match, match_keys, normalise_language, sha256_hex
from app.vocabulary import ActionSource, EventSource, OrderClass, SendChoice, SkipReason

Kind = Literal[EventSource.ORDER, EventSource.CHECKOUT]


def map_order(order: Any, options: MappingOptions, *, received_at: int | None = None) -> MappedPurchase:
    """Map an orders/create body (or a reconciled order in the same shape); never raises.

    `received_at` (Unix seconds) is when Pinbridge received it: an order placed more than 7 days before is
    not sent (app/mapping/timing.py). Without it only the order's own dates are compared.
    """
    return _safely(EventSource.ORDER, order, options, lambda body, chosen: _map_order(body, chosen, received_at))


def map_checkout(checkout: Any, options: MappingOptions, *, received_at: int | None = None) -> MappedPurchase:
    """Map a checkouts/create|update body; only a completed checkout becomes an event. Never raises."""
    return _safely(EventSource.CHECKOUT, checkout, options,
                   lambda body, chosen: _map_checkout(body, chosen, received_at))


def _safely(kind: Kind, body: Any, options: MappingOptions,
            build: Callable[[dict[str, Any], MappingOptions], MappedPurchase]) -> MappedPurchase:
    # The webhook must still be answered and recorded whatever Shopify (or a bug here) sends, so the
    # last resort is a skipped purchase that names the error type, never an exception.
    if not isinstance(body, dict):
        return MappedPurchase(kind=kind, event_id=None, event=None, skip=SkipReason.NOT_AN_OBJECT,
                              skip_reason=SkipReason.NOT_AN_OBJECT.sentence())
    try:
        return build(body, options)
    except Exception as error:  # noqa: BLE001
        reason = SkipReason.MAPPING_ERROR
        return MappedPurchase(kind=kind, event_id=None, event=None, skip=reason,
                              skip_reason=reason.sentence(error=type(error).__name__))


def _map_order(order: dict[str, Any], options: MappingOptions, received_at: int | None = None) -> MappedPurchase:
    event_time = order_event_time(order)
    return _assemble(
        EventSource.ORDER, order, options,
        event_id=order_event_id(order, options.event_id_source),
        event_time=event_time,
        order_id=ident(order.get("id")),
        join_token=token(order.get("checkout_token")),
        first_reason=None if event_time else SkipReason.NO_ORDER_TIME, received_at=received_at,
    )


def _map_checkout(checkout: dict[str, Any], options: MappingOptions,
                  received_at: int | None = None) -> MappedPurchase:
    completed = checkout_completed(checkout)
    event_time = checkout_event_time(checkout) if completed else None
    return _assemble(
        EventSource.CHECKOUT, checkout, options,
        event_id=checkout_event_id(checkout, options.event_id_source),
        event_time=event_time,
        order_id=checkout_order_id(checkout),
        join_token=token(checkout.get("token")),
        first_reason=(SkipReason.CHECKOUT_OPEN if not completed
                      else None if event_time else SkipReason.NO_CHECKOUT_TIME),
        received_at=received_at,
    )


def class_skipped(klass: OrderClass) -> str:
    """The sentence of an order class its setting says not to send."""
    label = CLASS_LABELS[klass]
    return SkipReason.CLASS_SKIPPED.sentence(label=label[:1].upper() + label[1:], setting=CLASS_SETTINGS[klass])


def _skip_reason(first_reason: SkipReason | None, send_as: SendChoice, event_id: str | None,
                 user_data: dict[str, Any], late_reason: SkipReason | None = None) -> SkipReason | None:
    if first_reason is SkipReason.CHECKOUT_OPEN:
        return first_reason
    if late_reason is not None:
        return late_reason
    if send_as is SendChoice.SKIP:
        return SkipReason.CLASS_SKIPPED
    if event_id is None:
        return SkipReason.NO_EVENT_ID
    if first_reason is not None:
        return first_reason
    return None if can_match(user_data) else SkipReason.NO_MATCH_KEY


def _late(body: dict[str, Any], options: MappingOptions, send_as: SendChoice, event_time: int | None,
          received_at: int | None) -> tuple[SendChoice, SkipReason | None]:
    """How a purchase is sent once its dates are read (app/mapping/timing.py), and why not when it is not."""
    if send_as is SendChoice.SKIP:
        return send_as, None
    kind = timing(body, event_time, received_at)
    if kind == "too_old" and event_time is not None:
        return SendChoice.SKIP, SkipReason.TOO_OLD
    if kind == "backdated" and send_as is SendChoice.WEB:
        chosen = options.backdated_as()
        return chosen, SkipReason.BACKDATED_SKIPPED if chosen is SendChoice.SKIP else None
    return send_as, None


def _sentence(reason: SkipReason | None, klass: OrderClass, event_time: int | None) -> str | None:
    if reason is None:
        return None
    if reason is SkipReason.CLASS_SKIPPED:
        return class_skipped(klass)
    if reason is SkipReason.TOO_OLD and event_time is not None:
        return reason.sentence(day=too_old_day(event_time))
    return reason.sentence()


def _assemble(kind: Kind, body: dict[str, Any], options: MappingOptions, *, event_id: str | None,
              event_time: int | None, order_id: str | None, join_token: str | None,
              first_reason: SkipReason | None, received_at: int | None = None) -> MappedPurchase:
    klass = order_class(body)
    send_as, late_reason = _late(body, options, options.send_as(klass), event_time, received_at)
    # A skipped order still records where it came from: offline unless a shopper's browser placed it.
    natural = ActionSource.WEB if klass in BUYER_BROWSER_CLASSES else ActionSource.OFFLINE
    source = natural if send_as is SendChoice.SKIP else ActionSource(send_as)
    browser = source is ActionSource.WEB and klass in BUYER_BROWSER_CLASSES
    user_data = build_user_data(body, web=browser, shop_country=options.shop_country)
    custom = custom_data(body, options, checkout=kind is EventSource.CHECKOUT, order_id=order_id)
    reason = _skip_reason(first_reason, send_as, event_id, user_data, late_reason)
    event: dict[str, Any] | None = None
    if reason is None:
        event = {
            "event_name": "checkout",
            "action_source": source.value,
            "event_time": event_time,
            "event_id": event_id,
            "user_data": user_data,
        }
        url = storefront_url(body) if source is ActionSource.WEB else None
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
        skip=reason,
        skip_reason=_sentence(reason, klass, event_time),
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
