"""One purchase assembled, or the reason it is not sent: which reason wins, as a code with its sentence."""

from __future__ import annotations

from typing import Any

import pytest

from app.mapping import MappingOptions, map_checkout, map_order
from app.vocabulary import ActionSource, SkipReason
from tests.mapping import orders

NOW = 1_764_979_200  # 2025-12-06T00:00:00Z, a receipt time for the timing rule


def _web(**overrides: Any) -> dict[str, Any]:
    return orders.web_order(**overrides)


@pytest.mark.parametrize(("body", "options", "reason"), [
    (_web(), MappingOptions(), None),                                                  # sent
    (_web(source_name="pos"), MappingOptions(), SkipReason.CLASS_SKIPPED),             # the class says skip...
    (_web(source_name="pos", cart_token=None, checkout_token=None, id=None),
     MappingOptions(), SkipReason.CLASS_SKIPPED),                                      # ...before anything else
    (_web(cart_token=None, checkout_token=None, id=None), MappingOptions(), SkipReason.NO_EVENT_ID),
    (_web(processed_at=None, created_at=None), MappingOptions(), SkipReason.NO_ORDER_TIME),
    (_web(email=None, contact_email=None, customer=None, browser_ip=None, client_details=None,
          billing_address=None, shipping_address=None, phone=None),
     MappingOptions(), SkipReason.NO_MATCH_KEY),                                       # nobody to match
], ids=["sent", "class", "class-first", "no-event-id", "no-time", "no-match-key"])
def test_which_reason_wins(body: dict[str, Any], options: MappingOptions, reason: SkipReason | None) -> None:
    mapped = map_order(body, options)
    assert mapped.skip == reason
    assert (mapped.event is None) == (reason is not None)
    assert (mapped.skip_reason is None) == (reason is None)


def test_an_open_checkout_is_not_a_purchase_whatever_else_is_missing() -> None:
    mapped = map_checkout({"token": "ch-1", "completed_at": None, "email": None}, MappingOptions())
    assert (mapped.skip, mapped.skip_reason) == (SkipReason.CHECKOUT_OPEN, "checkout not completed")


def test_a_too_old_order_names_its_day_and_comes_before_the_class_rule() -> None:
    body = _web(processed_at="2025-11-20T10:00:00Z", created_at="2025-11-20T10:00:00Z")
    mapped = map_order(body, MappingOptions(), received_at=NOW)
    assert mapped.skip is SkipReason.TOO_OLD
    assert (mapped.skip_reason or "").startswith("placed on 2025-11-20, more than 7 days")


def test_an_unexpected_error_is_a_skip_that_names_its_type_never_an_exception(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*_: Any, **__: Any) -> Any:
        raise KeyError("subtotal")

    monkeypatch.setattr("app.mapping.purchase.custom_data", broken)  # a bug of ours, not Shopify's data
    mapped = map_order(_web(), MappingOptions())
    assert (mapped.event, mapped.skip) == (None, SkipReason.MAPPING_ERROR)
    assert mapped.skip_reason == "could not be mapped because of an unexpected error (KeyError); it was not sent"
    assert map_order([], MappingOptions()).skip is SkipReason.NOT_AN_OBJECT


def test_a_skipped_order_still_records_where_it_came_from() -> None:
    assert map_order(_web(source_name="pos"), MappingOptions()).action_source is ActionSource.OFFLINE
    assert map_order(_web(cart_token=None, checkout_token=None, id=None),
                     MappingOptions()).action_source is ActionSource.WEB
