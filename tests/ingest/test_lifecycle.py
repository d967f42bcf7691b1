"""Uninstall and the compliance topics, end to end through signed webhooks; data requests on the page."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given, settings
from hypothesis import strategies as st

from app import crypto, outbox
from app.ingest.lifecycle import customer_keys
from app.mapping import MappingOptions, map_order
from app.models import DataRequest, Event, PinterestSettings, Shop, WebhookReceipt, db, now_utc
from app.shops import get_or_create_shop
from tests.conftest import SHOP
from tests.event_rows import add_event
from tests.factories import web_order
from tests.jwt_helpers import OTHER_SHOP, bearer, use_session_secrets

CUSTOMER_ID = 7_301_234_567_890


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@pytest.fixture
def shops(configure_shop: Any) -> dict[str, int]:
    """Two configured shops with events: two customers in ours, one in the other shop."""
    ours, theirs = configure_shop(SHOP), configure_shop(OTHER_SHOP)
    ours.shopify_token_enc = crypto.encrypt("shpat_fake_live")
    ours.shopify_refresh_token_enc = crypto.encrypt("shprt_fake_live")
    ours.shopify_token_expires_at = ours.shopify_refresh_expires_at = now_utc()
    add_event(ours.id, customer_ref=_sha(str(CUSTOMER_ID)), email_refs=_sha("buyer@example.com"))
    add_event(ours.id, order_id="5912345678909999")                       # a guest order of the customer
    add_event(ours.id, customer_ref=_sha("42"), email_refs=_sha("someone@example.com"))
    add_event(ours.id, status="pending")                                  # waiting to be sent
    add_event(theirs.id, customer_ref=_sha(str(CUSTOMER_ID)))             # same id, other shop
    db.session.commit()
    return {"ours": ours.id, "theirs": theirs.id}


def _count(model: Any, **where: Any) -> int:
    db.session.rollback()
    return len(db.session.execute(db.select(model).filter_by(**where)).scalars().all())


def test_uninstall_stops_delivery_and_deletes_shopify_tokens(post_webhook: Any, shops: dict[str, int],
                                                             app: Flask) -> None:
    assert post_webhook({"id": 1, "domain": SHOP}, "app/uninstalled").get_json() == {"status": "accepted"}
    db.session.rollback()
    shop = db.session.get(Shop, shops["ours"])
    assert shop is not None and shop.installed is False and shop.uninstalled_at is not None
    assert (shop.shopify_token_enc, shop.shopify_refresh_token_enc, shop.shopify_token_expires_at) == (None,) * 3
    db.session.rollback()
    claimed = outbox.claim("w1", now_utc(), lease_seconds=60, limit=100)
    assert {c.shop_id for c in claimed} <= {shops["theirs"]}  # nothing of the uninstalled shop is sent


def test_shop_redact_deletes_everything_about_the_shop(post_webhook: Any, shops: dict[str, int]) -> None:
    post_webhook({"id": 1}, "orders/create")  # a receipt for our shop
    db.session.add(DataRequest(shop_id=shops["ours"], orders_requested=1, events_held=1))
    db.session.commit()
    post_webhook({"id": 1, "myshopify_domain": SHOP}, "app/uninstalled")  # Shopify redacts uninstalled shops
    assert post_webhook({"shop_id": 1, "shop_domain": SHOP}, "shop/redact").status_code == 200
    assert _count(Shop, domain=SHOP) == 0
    assert _count(PinterestSettings, shop_id=shops["ours"]) == 0
    assert _count(Event, shop_id=shops["ours"]) == 0
    assert _count(DataRequest, shop_id=shops["ours"]) == 0
    receipts = db.session.execute(db.select(WebhookReceipt.topic).filter_by(shop_domain=SHOP)).scalars().all()
    assert receipts == ["shop/redact"]  # only the record that the redaction happened
    assert _count(Event, shop_id=shops["theirs"]) == 1 and _count(Shop, domain=OTHER_SHOP) == 1


def test_customer_redact_deletes_that_customers_events_only(post_webhook: Any, shops: dict[str, int]) -> None:
    payload = {"shop_domain": SHOP, "customer": {"id": CUSTOMER_ID, "email": "Buyer@Example.com "},
               "orders_to_redact": [5912345678909999]}
    assert post_webhook(payload, "customers/redact").status_code == 200
    db.session.rollback()
    left = db.session.execute(db.select(Event).filter_by(shop_id=shops["ours"])).scalars().all()
    assert sorted(e.customer_ref or "-" for e in left) == sorted([_sha("42"), "-"])
    assert _count(Event, shop_id=shops["theirs"]) == 1


def test_data_request_is_recorded_and_shown(post_webhook: Any, shops: dict[str, int], client: FlaskClient,
                                            app: Flask) -> None:
    payload = {"shop_domain": SHOP, "customer": {"id": CUSTOMER_ID, "email": "buyer@example.com"},
               "orders_requested": [5912345678909999], "data_request": {"id": 9}}
    assert post_webhook(payload, "customers/data_request").status_code == 200
    (request,) = db.session.execute(db.select(DataRequest)).scalars().all()
    assert (request.shop_id, request.orders_requested, request.events_held) == (shops["ours"], 1, 2)
    use_session_secrets(app)
    db.session.rollback()
    shown = client.get("/api/status", headers=bearer()).get_json()["data_requests"]
    assert [(r["orders_requested"], r["events_held"]) for r in shown] == [(1, 2)]
    assert client.get("/api/status", headers=bearer(shop=OTHER_SHOP)).get_json()["data_requests"] == []
    assert "buyer@example.com" not in str(shown)


def test_privacy_webhooks_for_unknown_shops_are_accepted(post_webhook: Any) -> None:
    for topic in ("app/uninstalled", "customers/redact", "customers/data_request", "shop/redact"):
        assert post_webhook({"customer": {"id": 1}}, topic, shop="never-seen.myshopify.com").status_code == 200
    assert _count(Shop, domain="never-seen.myshopify.com") == 0


def test_reinstall_after_uninstall_keeps_pinterest_settings(post_webhook: Any, shops: dict[str, int]) -> None:
    post_webhook({"id": 1}, "app/uninstalled")
    db.session.rollback()
    settings = get_or_create_shop(SHOP).settings
    assert settings is not None and settings.ad_account_id == "549755885175"


# -- redaction finds what the mapping hashed -----------------------------------------------------------
LOCALS = st.text("abcdefghij0123456789._", min_size=1, max_size=8)
ACCENTED = st.sampled_from(["élodie", "e\u0301lodie", "ÉLODIE", "E\u0301lodie", "zoë", "ZOE\u0308", "øystein"])
EMAIL_FORMS = st.tuples(ACCENTED, LOCALS, st.sampled_from(["example.com", "EXAMPLE.com"]))
SPACES = st.sampled_from(["", " ", "  ", "\t"])
# Valid numbers in the forms shops and buyers type them; the redact payload carries Shopify's E.164.
PHONES = st.sampled_from([("(201) 555-0123", "US", "+12015550123"), ("201.555.0199", "US", "+12015550199"),
                          ("020 7946 0958", "GB", "+442079460958"), ("06 12345678", "NL", "+31612345678"),
                          ("+44 (0)20 7946 0000", "US", "+442079460000")])


def _variant(text: str, upper: bool) -> str:
    import unicodedata
    return unicodedata.normalize("NFD" if upper else "NFC", text.upper() if upper else text)


@settings(max_examples=150, deadline=None, database=None)
@given(email=EMAIL_FORMS, pad=SPACES, upper=st.booleans(), phone=PHONES,
       customer_id=st.integers(1, 2**63), which=st.sampled_from(["email", "phone", "id"]))
def test_redaction_finds_every_identifier_the_mapping_hashed(
    email: tuple[str, str, str], pad: str, upper: bool, phone: tuple[str, str, str], customer_id: int,
    which: str,
) -> None:
    accented, local, domain = email
    order_email = f"{pad}{accented}.{local}@{domain}{pad}"
    typed, country, e164 = phone
    order = web_order(email=order_email, phone=None,
                      customer={"id": customer_id, "email": None, "phone": None},
                      billing_address={"phone": typed, "country_code": country})
    mapped = map_order(order, MappingOptions())
    stored = set(mapped.email_hashes + mapped.phone_hashes)
    # The customer as Shopify names them in customers/redact: another case, composition and spacing.
    customer: dict[str, Any] = {"id": str(customer_id) if which == "id" else None,
                                "email": _variant(order_email.strip(), not upper) if which == "email" else None,
                                "phone": e164 if which == "phone" else None}
    ref, refs, _orders = customer_keys({"customer": customer})
    if which == "id":
        assert ref == mapped.customer_ref is not None
    else:
        assert refs and set(refs) <= stored


def test_customer_redact_finds_an_email_written_with_a_combining_accent(
    post_webhook: Any, configure_shop: Any
) -> None:
    configure_shop(SHOP)
    order = web_order(email="E\u0301lodie.Buyer@Example.com", phone=None, customer=None,
                      billing_address={"phone": "020 7946 0958", "country_code": "GB"})
    assert post_webhook(order).get_json() == {"status": "accepted"}
    other = web_order(email="someone@example.com", customer=None)
    assert post_webhook(other).get_json() == {"status": "accepted"}
    by_email = {"shop_domain": SHOP, "customer": {"id": 1, "email": "élodie.buyer@example.com"},
                "orders_to_redact": []}
    assert post_webhook(by_email, "customers/redact").status_code == 200
    db.session.rollback()
    assert [e.order_id for e in db.session.execute(db.select(Event)).scalars()] == [str(other["id"])]
    # ...and by phone alone, as Shopify stores it.
    third = web_order(email=None, contact_email=None, customer=None,
                      billing_address={"phone": "020 7946 0958", "country_code": "GB"})
    post_webhook(third)
    by_phone = {"shop_domain": SHOP, "customer": {"id": 2, "phone": "+442079460958"}, "orders_to_redact": []}
    post_webhook(by_phone, "customers/redact")
    db.session.rollback()
    assert [e.order_id for e in db.session.execute(db.select(Event)).scalars()] == [str(other["id"])]
