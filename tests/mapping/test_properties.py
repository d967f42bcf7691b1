"""Properties over generated orders, checkouts and arbitrary JSON: never raise, always valid, no plaintext."""

from __future__ import annotations

import copy
import dataclasses
import json
from datetime import datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.mapping import MappedPurchase, MappingOptions, map_checkout, map_order
from app.mapping.order_class import BUYER_BROWSER_CLASSES
from app.mapping.types import CONTENT_ID_SOURCES, CURRENCY_MODES, EVENT_ID_SOURCES, VALUE_MODES

from .helpers import schema_errors

SEND_AS = ("web", "offline", "skip")  # the values of the send_* settings

FAST = settings(max_examples=200, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Any JSON value, including the awkward ones: huge ints, NaN, lone surrogates, deep nesting.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)

# Personal values carry the marker "zqx", which appears in no other generated field, in no key
# Pinterest uses and in no hex digest, so finding it (or its digits, for phones) in output is a leak.
names = st.text(st.characters(categories=["L"]), min_size=1, max_size=8).map(lambda s: "Zqx" + s)
local_parts = st.text("abcdefghij0123456789._", min_size=1, max_size=10)
lower_emails = local_parts.map(lambda local: f"zqx{local}@example.com")
emails = st.one_of(lower_emails, lower_emails.map(str.upper))
phones = st.builds(lambda a, b, national: f"(201) 555-01{a}{b}" if national else f"+1 201 555 01{a}{b}",
                   st.text("0123456789", min_size=1, max_size=1),
                   st.text("0123456789", min_size=1, max_size=1), st.booleans())


def junk_or(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly the realistic value, sometimes null, sometimes any JSON at all."""
    choices: list[st.SearchStrategy[Any]] = [strategy] * 6 + [st.none(), json_values]
    return st.sampled_from(choices).flatmap(lambda chosen: chosen)


ids = st.one_of(st.integers(1, 2**63), st.integers(1, 2**63).map(str))
tokens = st.text("abcdef0123456789", min_size=32, max_size=32)
times = st.one_of(
    st.datetimes(min_value=datetime(2015, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.timezones()),
    st.datetimes(timezones=st.timezones()),  # any year: before 1970 is refused, never crashes
).map(lambda moment: moment.isoformat())
amounts = st.decimals(min_value=0, max_value=10**6, places=2).map(str)
currencies = st.sampled_from(["USD", "AUD", "EUR", "HKD", "GBP"])
countries = st.sampled_from(["US", "GB", "CA", "AU", "HK", "DE", "FR", "JP"])

addresses = st.fixed_dictionaries({}, optional={
    "first_name": junk_or(names), "last_name": junk_or(names), "phone": junk_or(phones),
    "city": junk_or(st.sampled_from(["Yuma", "St. John's", "東京", "Saint-Étienne"])),
    "province_code": junk_or(st.sampled_from(["AZ", "ON", "ACT"])), "zip": junk_or(st.sampled_from(
        ["85365-1234", "SW1A 1AA", "K2H 7A8", "2601"])), "country_code": junk_or(countries),
})
money_sets = st.fixed_dictionaries({}, optional={
    "shop_money": junk_or(st.fixed_dictionaries({"amount": amounts, "currency_code": currencies})),
    "presentment_money": junk_or(st.fixed_dictionaries({"amount": amounts, "currency_code": currencies})),
})
line_items = st.fixed_dictionaries({}, optional={
    "id": junk_or(ids), "product_id": junk_or(ids), "variant_id": junk_or(ids),
    "sku": junk_or(st.sampled_from(["", "SNOW-HYD", "GIFT-WRAP"])), "price": junk_or(amounts),
    "price_set": junk_or(money_sets), "quantity": junk_or(st.integers(0, 10)),
    "title": junk_or(st.sampled_from(["Wax Kit", "Green Snowboard", "測試商品"])),
    "vendor": junk_or(st.sampled_from(["Kaweco", "Hydrogen Vendor", ""])),
    "variant_price": junk_or(amounts),
})
customers = st.fixed_dictionaries({}, optional={
    "id": junk_or(ids), "email": junk_or(emails), "phone": junk_or(phones), "first_name": junk_or(names),
    "last_name": junk_or(names), "default_address": junk_or(addresses),
})
# Keys most bodies carry are always present (with possibly junk values), so many examples become events.
core = {"cart_token": junk_or(tokens), "email": junk_or(emails), "created_at": junk_or(times)}
common = {
    "id": junk_or(ids), "name": junk_or(st.just("#1001")),
    "source_name": junk_or(st.sampled_from(["web", "pos", "shopify_draft_order", "1354745",
                                            "subscription_contract_checkout_one", "shop"])),
    "customer_locale": junk_or(st.sampled_from(["en", "en-US", "zh-TW", "nl"])),
    "sms_marketing_phone": junk_or(phones),
    "test": junk_or(st.booleans()), "updated_at": junk_or(times),
    "contact_email": junk_or(emails), "phone": junk_or(phones),
    "currency": junk_or(currencies), "presentment_currency": junk_or(currencies),
    "subtotal_price": junk_or(amounts), "total_price": junk_or(amounts),
    "subtotal_price_set": junk_or(money_sets), "total_price_set": junk_or(money_sets),
    "customer": junk_or(customers),
    "billing_address": junk_or(addresses), "shipping_address": junk_or(addresses),
    "line_items": junk_or(st.lists(junk_or(line_items), max_size=4)),
    "note_attributes": junk_or(st.lists(st.fixed_dictionaries(
        {"name": st.sampled_from(["_epik", "epik", "cartId"]), "value": st.text("abcXYZ019-_", max_size=40)}),
        max_size=3)),
    "landing_site": junk_or(st.sampled_from(["/", "/?epik=dj0yJnU9", "https://shop.example.com/p?epik=abc&x=1"])),
    "client_details": junk_or(st.fixed_dictionaries({}, optional={
        "browser_ip": junk_or(st.sampled_from(["203.0.113.5", "2001:db8::5", "not-an-ip"])),
        "user_agent": junk_or(st.just("Mozilla/5.0 (X11; Linux x86_64)")),
    })),
}
order_bodies = st.fixed_dictionaries({**core, "processed_at": junk_or(times)}, optional={
    **common,
    "checkout_token": junk_or(tokens),
    "order_status_url": junk_or(st.just("https://shop.example.com/1/orders/abc/authenticate?key=k")),
    "browser_ip": junk_or(st.just("203.0.113.9")),
})
checkout_bodies = st.fixed_dictionaries({**core, "completed_at": junk_or(times)}, optional={
    **common, "token": junk_or(tokens), "order_id": junk_or(ids),
})
option_sets = st.builds(
    MappingOptions,
    event_id_source=st.sampled_from([*EVENT_ID_SOURCES, "bogus"]),
    content_id_source=st.sampled_from([*CONTENT_ID_SOURCES, "bogus"]),
    value_mode=st.sampled_from(VALUE_MODES), currency_mode=st.sampled_from(CURRENCY_MODES),
    include_offline_orders=st.booleans(), limited_data_processing=st.booleans(),
    send_pos=st.sampled_from([None, *SEND_AS]), send_draft=st.sampled_from([None, *SEND_AS]),
    send_subscription=st.sampled_from([None, *SEND_AS]), send_other_channels=st.sampled_from([None, *SEND_AS]),
    shop_country=st.sampled_from([None, "GB", "US"]),
)


def check_purchase(mapped: MappedPurchase) -> None:
    """What every result must satisfy, whatever the input."""
    assert isinstance(mapped, MappedPurchase)
    assert (mapped.event is None) != (mapped.skip_reason is None)
    assert "unexpected error" not in (mapped.skip_reason or ""), mapped.skip_reason
    if mapped.event is not None:
        assert schema_errors(mapped.event) == []
        assert mapped.event["event_id"] == mapped.event_id
        json.dumps(mapped.event, allow_nan=False)           # serialisable as strict JSON


def personal_values(body: Any) -> set[str]:
    """Every generated email, phone and name in the body, raw and as normalised plaintext."""
    found: set[str] = set()
    if isinstance(body, dict):
        for value in body.values():
            found |= personal_values(value)
    elif isinstance(body, list):
        for value in body:
            found |= personal_values(value)
    elif isinstance(body, str) and ("zqx" in body.lower() or body.startswith(("(201)", "+1 201"))):
        found |= {body, body.strip().lower()}
        digits = "".join(ch for ch in body if ch.isdigit())
        if len(digits) >= 10:
            found |= {digits, "1" + digits}
    return found


def assert_no_plaintext(body: Any, mapped: MappedPurchase) -> None:
    serialised = json.dumps(dataclasses.asdict(mapped), ensure_ascii=False)
    leaked = [value for value in personal_values(body) if value in serialised]
    assert leaked == []


@FAST
@given(body=json_values, options=option_sets)
def test_arbitrary_json_never_raises(body: Any, options: MappingOptions) -> None:
    check_purchase(map_order(body, options))
    check_purchase(map_checkout(body, options))


@FAST
@given(body=order_bodies, options=option_sets)
def test_generated_orders(body: dict[str, Any], options: MappingOptions) -> None:
    before = copy.deepcopy(body)
    mapped = map_order(body, options)
    check_purchase(mapped)
    assert body == before                                   # the input is not mutated
    assert map_order(copy.deepcopy(body), options) == mapped  # deterministic, event_id stable
    assert_no_plaintext(body, mapped)


@FAST
@given(body=checkout_bodies, options=option_sets)
def test_generated_checkouts(body: dict[str, Any], options: MappingOptions) -> None:
    mapped = map_checkout(body, options)
    check_purchase(mapped)
    assert map_checkout(copy.deepcopy(body), options) == mapped
    assert_no_plaintext(body, mapped)


@FAST
@given(body=order_bodies, options=option_sets)
def test_events_that_are_sent_can_match_the_buyer(body: dict[str, Any], options: MappingOptions) -> None:
    mapped = map_order(body, options)
    if mapped.event is not None:
        user = mapped.event["user_data"]
        assert user.get("em") or (user.get("client_ip_address") and user.get("client_user_agent"))
        if mapped.action_source == "offline" or mapped.order_class not in BUYER_BROWSER_CLASSES:
            assert "client_ip_address" not in user
        assert "key=" not in mapped.event.get("event_source_url", "")
        assert all(len(value) == 64 for key in ("em", "ph", "fn", "ln") for value in user.get(key, []))
