"""The merchant's choices as the mapping reads them: each order class's send choice, back-dated orders."""

from __future__ import annotations

from typing import Any

import pytest

from app.mapping.types import MappingOptions
from app.vocabulary import OrderClass, SendChoice


@pytest.mark.parametrize(("options", "order_class", "expected"), [
    (MappingOptions(), OrderClass.WEB, "web"),                            # the online store is always sent
    (MappingOptions(), OrderClass.POS, "skip"),                           # defaults: POS and drafts are not
    (MappingOptions(), OrderClass.DRAFT, "skip"),
    (MappingOptions(), OrderClass.SUBSCRIPTION, "skip"),
    (MappingOptions(), OrderClass.OTHER_CHANNELS, "web"),
    (MappingOptions(send_pos=SendChoice.OFFLINE), OrderClass.POS, "offline"),
    (MappingOptions(include_offline_orders=True), OrderClass.POS, "offline"),      # the older switch...
    (MappingOptions(include_offline_orders=True), OrderClass.DRAFT, "offline"),
    (MappingOptions(include_offline_orders=True, send_pos=SendChoice.SKIP), OrderClass.POS, "skip"),  # ...loses
    (MappingOptions(include_offline_orders=True), OrderClass.SUBSCRIPTION, "skip"),  # only POS and drafts
    (MappingOptions(send_draft="bogus"), OrderClass.DRAFT, "skip"),  # type: ignore[arg-type]  # unknown: default
])
def test_each_order_class_is_sent_as_its_setting_says(options: MappingOptions, order_class: OrderClass,
                                                      expected: str) -> None:
    assert options.send_as(order_class) == expected


@pytest.mark.parametrize(("setting", "expected"), [
    (None, "offline"),      # default: how Pinterest reports a late event anyway
    ("skip", "skip"),
    ("web", "web"),
    ("sideways", "offline"),
])
def test_a_back_dated_order_goes_as_the_shop_says(setting: Any, expected: str) -> None:
    assert MappingOptions(send_backdated=setting).backdated_as() == expected
