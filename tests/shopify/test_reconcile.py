"""Reconciliation against a GraphQL stand-in at the HTTP-client level: paging, throttling, token refresh,
orders already known, draft orders, the worker's periodic run and its single-holder lease."""

from __future__ import annotations

import functools
import gzip
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from graphql import (
    DocumentNode,
    GraphQLSchema,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    build_client_schema,
    parse,
    validate,
    visit,
)
from sqlalchemy import select

from app import crypto, locks
from app.delivery import Worker
from app.mapping.user_data import sha256_hex
from app.merchant.stats import daily
from app.models import Event, Shop, db, now_utc
from app.shopify import orders
from app.shopify.orders import AdminApiError
from app.shopify.reconcile import Reconciler, reconcile_shop
from tests.conftest import SHOP, require_or_skip
from tests.factories import web_order
from tests.shopify.conftest import TOKEN
from tests.standins.shopify_graphql import ShopifyAdminStandin, graphql_order
from tests.test_locks import lease_holder


def give_admin_token(shop: Shop, *, expires_in: float = 3600, refresh: str | None = "shprt_fake_0001") -> None:
    shop.shopify_token_enc = crypto.encrypt(TOKEN)
    shop.shopify_token_expires_at = now_utc() + timedelta(seconds=expires_in)
    shop.shopify_refresh_token_enc = crypto.encrypt(refresh) if refresh else None
    shop.shopify_refresh_expires_at = now_utc() + timedelta(days=90) if refresh else None
    shop.shopify_scope = "read_orders"
    db.session.commit()


@pytest.fixture
def shop(configure_shop: Any, admin: ShopifyAdminStandin) -> Shop:
    record: Shop = configure_shop()
    give_admin_token(record)
    return record


def orders_in_shopify(admin: ShopifyAdminStandin, count: int, start: datetime, **overrides: Any) -> list[dict]:
    """`count` webhook-shaped orders, one a minute from `start`, also present in the GraphQL stand-in."""
    made = [web_order(**overrides) for _ in range(count)]
    admin.add(*(graphql_order(o, created_at=start + timedelta(minutes=i)) for i, o in enumerate(made)))
    return made


def events() -> list[Event]:
    db.session.rollback()
    return list(db.session.scalars(select(Event).order_by(Event.id)))


# -- the command against the stand-in -----------------------------------------------------------------
def test_reconcile_pages_through_orders_and_enqueues_only_the_missing_ones(
    shop: Shop, admin: ShopifyAdminStandin, post_webhook: Any, runner: Any
) -> None:
    start = now_utc() - timedelta(hours=2)
    made = orders_in_shopify(admin, 25, start)
    for order in made[:3]:  # these arrived by webhook
        assert post_webhook(order).get_json() == {"status": "accepted"}

    result = runner.invoke(args=["reconcile", "--shop", SHOP, "--since", "3h"])

    assert result.exit_code == 0, result.output
    assert "25 orders seen, 3 already present, 22 enqueued, 0 skipped (4 pages, 4 requests)" in result.output
    pages = admin.graphql("ReconcileOrders")
    assert [p.variables["first"] for p in pages] == [8, 8, 8, 8]
    assert pages[0].variables["after"] is None and all(p.variables["after"] for p in pages[1:])
    assert all(p.token == TOKEN and p.variables["query"].startswith("created_at:>='") for p in pages)
    stored = events()
    assert len(stored) == 25
    assert [e.source for e in stored] == ["order"] * 3 + ["reconcile"] * 22
    # cartToken is exposed by the Admin API: reconciled events carry the same event id a webhook would.
    assert [e.event_id for e in stored] == [o["cart_token"] for o in made]
    assert {e.status for e in stored} == {"pending"}
    assert sum(row["recovered"] for row in daily(shop.id, 1, now_utc())) == 22
    db.session.rollback()

    again = runner.invoke(args=["reconcile", "--shop", SHOP, "--since", "3h"])
    assert "25 orders seen, 25 already present, 0 enqueued, 0 skipped" in again.output
    assert len(events()) == 25
    assert db.session.get(Shop, shop.id).last_reconciled_at is not None


def test_an_order_known_by_its_order_id_is_not_enqueued_under_another_event_id(
    shop: Shop, admin: ShopifyAdminStandin, post_webhook: Any
) -> None:
    order = web_order()
    post_webhook(order)  # event id: the cart token
    node = graphql_order(order, created_at=now_utc() - timedelta(hours=1))
    node["cartToken"] = None  # an API version without cartToken: the event id would differ
    admin.add(node)
    summary = reconcile_shop(db.session.get(Shop, shop.id), now_utc() - timedelta(hours=2))
    assert (summary.seen, summary.already_present, summary.enqueued) == (1, 1, 0)
    assert [e.event_id for e in events()] == [order["cart_token"]]


def test_draft_orders_are_recorded_as_skipped(shop: Shop, admin: ShopifyAdminStandin) -> None:
    orders_in_shopify(admin, 1, now_utc() - timedelta(hours=1), source_name="shopify_draft_order",
                      cart_token=None)
    orders_in_shopify(admin, 1, now_utc() - timedelta(minutes=50))
    summary = reconcile_shop(shop, now_utc() - timedelta(hours=2))
    assert (summary.seen, summary.enqueued, summary.skipped) == (2, 1, 1)
    draft, web = events()
    assert draft.status == "skipped" and "offline" in (draft.skip_reason or "")
    assert draft.source == "reconcile" and draft.action_source == "offline"
    assert web.status == "pending" and web.action_source == "web"


def test_a_dry_run_reports_and_writes_nothing(shop: Shop, admin: ShopifyAdminStandin, runner: Any) -> None:
    orders_in_shopify(admin, 4, now_utc() - timedelta(hours=1))
    result = runner.invoke(args=["reconcile", "--shop", SHOP, "--since", "2h", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "4 orders seen, 0 already present, 4 would be enqueued, 0 skipped" in result.output
    assert "Dry run: nothing was written." in result.output
    assert events() == []
    assert db.session.get(Shop, shop.id).last_reconciled_at is None


def test_the_window_excludes_older_and_newer_orders(shop: Shop, admin: ShopifyAdminStandin) -> None:
    now = now_utc()
    orders_in_shopify(admin, 1, now - timedelta(hours=5))
    inside = orders_in_shopify(admin, 1, now - timedelta(hours=1))
    orders_in_shopify(admin, 1, now - timedelta(minutes=2))
    summary = reconcile_shop(shop, now - timedelta(hours=2), until=now - timedelta(minutes=10))
    assert summary.seen == 1
    assert [e.event_id for e in events()] == [inside[0]["cart_token"]]


def test_orders_with_many_lines_fetch_the_rest(shop: Shop, admin: ShopifyAdminStandin) -> None:
    lines = [{"id": i, "product_id": 7_000_000_000_000 + i, "variant_id": 42_000_000_000_000 + i, "sku": f"SKU-{i}",
              "title": f"Item {i}", "name": f"Item {i}", "vendor": "Demo", "quantity": 1, "price": "1.00",
              "price_set": {"shop_money": {"amount": "1.00", "currency_code": "USD"},
                            "presentment_money": {"amount": "1.00", "currency_code": "USD"}}}
             for i in range(1, 26)]
    orders_in_shopify(admin, 1, now_utc() - timedelta(hours=1), line_items=lines)
    reconcile_shop(shop, now_utc() - timedelta(hours=2))
    assert len(admin.graphql("ReconcileOrderLines")) == 1
    [event] = events()
    assert event.payload["custom_data"]["num_items"] == 25
    assert len(event.payload["custom_data"]["content_ids"]) == 25


# -- Shopify's answers: throttling, expired and refused tokens ----------------------------------------
def test_a_throttled_query_waits_for_the_bucket_and_asks_again(shop: Shop, admin: ShopifyAdminStandin) -> None:
    orders_in_shopify(admin, 3, now_utc() - timedelta(hours=1))
    admin.script = ["throttled", "http_429"]
    waits: list[float] = []
    summary = reconcile_shop(shop, now_utc() - timedelta(hours=2), sleep=waits.append)
    assert summary.enqueued == 3
    assert waits == [7.5]  # (requested 762 - available 12) / restore rate 100 per second
    assert len(admin.graphql("ReconcileOrders")) == 3  # throttled, 429 (shopifyapp retries), answered


def test_an_expired_token_is_refreshed_before_asking(shop: Shop, admin: ShopifyAdminStandin) -> None:
    admin.revoke(TOKEN)  # Shopify no longer accepts it, and we know it expired
    give_admin_token(db.session.get(Shop, shop.id), expires_in=-60)
    orders_in_shopify(admin, 2, now_utc() - timedelta(hours=1))
    summary = reconcile_shop(db.session.get(Shop, shop.id), now_utc() - timedelta(hours=2))
    assert summary.enqueued == 2
    assert [r.kind for r in admin.requests] == ["token", "graphql"]
    assert admin.graphql()[0].token == "shpat_fake_refreshed_0001"
    stored = db.session.get(Shop, shop.id)
    # The refresh token rotates on every use: the new one must be what is stored now.
    assert crypto.decrypt(stored.shopify_refresh_token_enc or "") == "shprt_fake_rotated_0001"
    assert crypto.decrypt(stored.shopify_token_enc or "") == "shpat_fake_refreshed_0001"
    assert stored.shopify_token_expires_at > now_utc() + timedelta(minutes=50)


def test_a_rotated_refresh_token_is_kept_when_the_next_request_fails(shop: Shop, admin: ShopifyAdminStandin) -> None:
    admin.revoke(TOKEN)
    give_admin_token(db.session.get(Shop, shop.id), expires_in=-60)
    orders_in_shopify(admin, 1, now_utc() - timedelta(hours=1))
    admin.script = ["server_error"] * 10  # the refreshed token works, but Shopify fails every query
    with pytest.raises(AdminApiError):
        reconcile_shop(db.session.get(Shop, shop.id), now_utc() - timedelta(hours=2))
    assert [r.kind for r in admin.requests][:2] == ["token", "graphql"]
    db.session.rollback()  # nothing the failed run left open is what keeps the new tokens
    stored = db.session.get(Shop, shop.id)
    assert crypto.decrypt(stored.shopify_refresh_token_enc or "") == "shprt_fake_rotated_0001"
    assert crypto.decrypt(stored.shopify_token_enc or "") == "shpat_fake_refreshed_0001"


def test_a_refused_token_is_refreshed_once_then_the_query_is_repeated(
    shop: Shop, admin: ShopifyAdminStandin
) -> None:
    admin.revoke(TOKEN)  # still valid by our clock, but Shopify says 401
    orders_in_shopify(admin, 1, now_utc() - timedelta(hours=1))
    summary = reconcile_shop(shop, now_utc() - timedelta(hours=2))
    assert summary.enqueued == 1
    assert [(r.kind, r.token) for r in admin.requests] == [
        ("graphql", TOKEN), ("token", None), ("graphql", "shpat_fake_refreshed_0001")]


def test_a_token_that_cannot_be_refreshed_stops_with_a_clear_message(
    shop: Shop, admin: ShopifyAdminStandin, runner: Any
) -> None:
    admin.revoke(TOKEN)
    admin.refresh_token = None  # the merchant's grant is gone
    result = runner.invoke(args=["reconcile", "--shop", SHOP, "--since", "1h"])
    assert result.exit_code == 1
    assert "reconciliation failed" in result.output and TOKEN not in result.output
    assert events() == []


def test_without_an_admin_token_reconciliation_says_what_to_do(configure_shop: Any, admin: Any) -> None:
    with pytest.raises(AdminApiError) as caught:
        reconcile_shop(configure_shop(), now_utc() - timedelta(hours=1))
    assert caught.value.code == "no_token"
    assert admin.requests == []


# -- the worker's periodic run --------------------------------------------------------------------------
def test_the_worker_reconciles_due_shops_and_leaves_fresh_orders_to_their_webhook(
    app: Flask, shop: Shop, admin: ShopifyAdminStandin
) -> None:
    shop.installed_at = now_utc() - timedelta(days=3)
    db.session.commit()
    old = orders_in_shopify(admin, 2, now_utc() - timedelta(hours=3))
    orders_in_shopify(admin, 1, now_utc() - timedelta(minutes=1))  # its webhook is probably on the way
    first, second = Worker(app, worker_id="worker-a"), Worker(app, worker_id="worker-b")
    first.run_once()
    assert sorted(e.event_id for e in events()) == sorted(o["cart_token"] for o in old)
    assert len(admin.graphql("ReconcileOrders")) == 1
    second.run_once()  # the shop is not due again for an hour
    assert len(admin.graphql("ReconcileOrders")) == 1
    assert db.session.get(Shop, shop.id).last_reconciled_at is not None
    for worker in (first, second):
        worker.client.close()


def test_a_reconciler_does_nothing_while_another_worker_holds_the_lease(
    app: Flask, shop: Shop, admin: ShopifyAdminStandin
) -> None:
    orders_in_shopify(admin, 1, now_utc() - timedelta(hours=3))
    assert locks.acquire("reconciler", "worker-a", now_utc(), 300)
    assert Reconciler(app.config, "worker-b")(now_utc()) == 0
    assert admin.requests == []
    locks.release("reconciler", "worker-a")
    assert Reconciler(app.config, "worker-b")(now_utc()) == 1
    assert lease_holder("reconciler", now_utc()) is None  # given back after the run


def test_a_failing_shop_is_not_retried_every_minute(app: Flask, shop: Shop, admin: ShopifyAdminStandin) -> None:
    admin.revoke(TOKEN)
    admin.refresh_token = None
    job = Reconciler(app.config, "worker-a")
    assert job(now_utc()) == 0
    asked = len(admin.requests)
    assert job(now_utc()) == 0
    assert len(admin.requests) == asked


# -- the documents the app sends, against Shopify's real Admin schema --------------------------------------
SCHEMA_FILE = (Path(__file__).resolve().parents[2] / "node_modules" / "@shopify" / "dev-mcp" / "dist" / "data"
               / "admin_2026-10.json.gz")
DOCUMENTS = {name: value for name, value in vars(orders).items()
             if name.endswith("_QUERY") and isinstance(value, str)}


@functools.cache
def _admin_schema() -> GraphQLSchema:
    with gzip.open(SCHEMA_FILE, "rt", encoding="utf-8") as handle:
        introspection = json.load(handle)
    # Shopify deprecates some interface implementations (Node.id on a few types), which graphql-core's
    # schema validation refuses; the schema is Shopify's own, so it is taken as valid.
    return build_client_schema(introspection.get("data", introspection), assume_valid=True)


def admin_schema() -> GraphQLSchema:
    """Shopify's Admin API 2026-10 schema from the npm package (installed by make test from the lock)."""
    require_or_skip(SCHEMA_FILE.exists(), f"{SCHEMA_FILE} is missing: `make test` installs node_modules")
    return _admin_schema()


def _deprecated_fields(schema: GraphQLSchema, document: DocumentNode) -> list[str]:
    info, found = TypeInfo(schema), []

    class Deprecated(Visitor):
        def enter_field(self, node: Any, *_args: Any) -> None:
            field = info.get_field_def()
            if field is not None and field.deprecation_reason:
                found.append(node.name.value)

    visit(document, TypeInfoVisitor(info, Deprecated()))
    return found


def against_admin_schema(text: str) -> tuple[list[str], list[str]]:
    """A GraphQL document checked against the Admin API schema: (validation errors, deprecated fields it uses)."""
    schema = admin_schema()
    document = parse(text)
    return [error.message for error in validate(schema, document)], _deprecated_fields(schema, document)


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_every_graphql_document_is_valid_for_the_admin_schema(name: str) -> None:
    errors, deprecated = against_admin_schema(DOCUMENTS[name])
    assert errors == []
    assert deprecated == []


def test_the_documents_are_the_ones_the_reader_sends() -> None:
    assert set(DOCUMENTS) == {"ORDERS_QUERY", "LINES_QUERY", "COUNT_QUERY"}


# -- partial answers --------------------------------------------------------------------------------------
DENIED = {"message": "Access denied for product field.", "extensions": {"code": "ACCESS_DENIED"}}
TRUNCATED = {"message": "Too many errors; the remaining ones were left out."}  # no extensions.code


@pytest.mark.parametrize("errors", [
    [DENIED] * 200,                                   # a page of denied product and customer fields
    [DENIED] * 50 + [TRUNCATED],                      # ...then Shopify stops listing them
    [TRUNCATED],                                      # only the error without a code
])
def test_denied_and_truncated_answers_still_recover_the_orders(
    shop: Shop, admin: ShopifyAdminStandin, errors: list[dict[str, Any]]
) -> None:
    made = orders_in_shopify(admin, 3, now_utc() - timedelta(hours=1))
    for node in admin.orders:
        node["customer"] = None                       # what a token without read_customers gets
        for line in node["lineItems"]["nodes"]:
            line["product"] = line["variant"] = None  # ...and without read_products
    admin.errors = errors
    summary = reconcile_shop(shop, now_utc() - timedelta(hours=2))
    assert (summary.seen, summary.enqueued) == (3, 3)
    stored = events()
    assert [e.event_id for e in stored] == [o["cart_token"] for o in made]
    # Without read_products the line's product id is unknown: the SKU is the only id left; without
    # read_customers there is no external_id, but the order's own email still matches the buyer.
    assert stored[0].payload["custom_data"]["content_ids"] == ["MUG-BLUE"]
    assert "external_id" not in stored[0].payload["user_data"] and stored[0].payload["user_data"]["em"]


def test_an_error_without_data_stops_the_shop_with_the_message(shop: Shop, admin: ShopifyAdminStandin) -> None:
    orders_in_shopify(admin, 1, now_utc() - timedelta(hours=1))
    admin.errors, admin.no_data = [TRUNCATED], True
    with pytest.raises(AdminApiError) as caught:
        reconcile_shop(shop, now_utc() - timedelta(hours=2))
    assert "Too many errors" in caught.value.message


def test_the_shop_country_is_learnt_and_reads_national_phones(shop: Shop, admin: ShopifyAdminStandin,
                                                               post_webhook: Any) -> None:
    admin.country = "GB"
    orders_in_shopify(admin, 1, now_utc() - timedelta(hours=1), phone="020 7946 0958",
                      billing_address=None, shipping_address=None, customer=None)
    reconcile_shop(shop, now_utc() - timedelta(hours=2))
    db.session.rollback()
    assert db.session.get(Shop, shop.id).settings.shop_country == "GB"
    [recovered] = events()
    assert recovered.payload["user_data"]["ph"] == [sha256_hex("442079460958")]
    # A later webhook without any address country reads its national number in the shop's country too.
    post_webhook(web_order(phone="020 7946 0000", billing_address=None, shipping_address=None, customer=None))
    latest = events()[-1]
    assert latest.payload["user_data"]["ph"] == [sha256_hex("442079460000")]


@pytest.mark.parametrize("scope, products, customers", [
    ("read_orders", False, False),                                   # what Pinbridge asks for
    ("read_orders,read_products", True, False),                      # a custom install that grants more
    ("read_orders, read_customers", False, True),
    ("write_products,write_customers,read_orders", True, True),      # write scopes imply read
    (None, False, False),                                            # not known yet
])
def test_the_query_asks_only_for_what_the_token_may_read(scope: str | None, products: bool,
                                                          customers: bool) -> None:
    reader = orders.OrderReader(Shop(domain="demo-store.myshopify.com", shopify_scope=scope),
                                        api_version="2026-10")
    assert (reader.with_products, reader.with_customers) == (products, customers)
    assert "@include(if: $withProducts)" in orders.ORDERS_QUERY
    assert "customer @include(if: $withCustomers)" in orders.ORDERS_QUERY


# -- the shop's time zone and Shopify's count per day ------------------------------------------------------
def _day_counts(shop_id: int) -> dict[Any, tuple[int, str]]:
    from app.models import ShopifyDailyOrders

    db.session.rollback()
    rows = db.session.scalars(select(ShopifyDailyOrders).where(ShopifyDailyOrders.shop_id == shop_id))
    return {r.day: (r.orders, r.timezone) for r in rows}


def test_reconciliation_stores_the_time_zone_and_counts_the_whole_days_it_read(
    shop: Shop, admin: ShopifyAdminStandin, post_webhook: Any
) -> None:
    from zoneinfo import ZoneInfo

    from app import shop_state
    from app.shopify.daily import day_span

    zone = ZoneInfo("Australia/Brisbane")
    admin.timezone = "Australia/Brisbane"
    shop.installed_at = now_utc() - timedelta(days=10)
    db.session.commit()
    # Days well in the past, so the run's quiet time before now never cuts them short.
    today = now_utc().astimezone(zone).date()
    two_days_ago, yesterday = today - timedelta(days=3), today - timedelta(days=2)
    start, end = day_span(two_days_ago, zone)
    # 23:30 in Brisbane is 13:30 UTC: the order belongs to Brisbane's day, not the UTC one.
    late = orders_in_shopify(admin, 1, end - timedelta(minutes=30))
    orders_in_shopify(admin, 2, start + timedelta(hours=8))
    orders_in_shopify(admin, 1, start - timedelta(hours=2), source_name="shopify_draft_order", cart_token=None)
    orders_in_shopify(admin, 3, day_span(yesterday, zone)[0] + timedelta(hours=1))
    post_webhook(late[0])  # already received: still one of Shopify's orders that day

    # The window starts at 06:00 on the day before two_days_ago: that day is partial, not counted.
    since = start - timedelta(hours=18)
    until = day_span(today - timedelta(days=1), zone)[0] + timedelta(minutes=1)  # just into the next day
    summary = reconcile_shop(db.session.get(Shop, shop.id), since, until=until)

    assert summary.seen == 7
    assert shop_state.get(shop.id).iana_timezone == "Australia/Brisbane"
    assert _day_counts(shop.id) == {two_days_ago: (3, "Australia/Brisbane"), yesterday: (3, "Australia/Brisbane")}
    from app.merchant.stats import summary as stats_summary

    shown = {r["day"]: r["shopify_orders"] for r in stats_summary(shop.id, 5, now_utc())["daily"]}
    assert (shown[two_days_ago.isoformat()], shown[yesterday.isoformat()]) == (3, 3)
    assert shown[(today - timedelta(days=4)).isoformat()] is None  # only partly read


def test_a_dry_run_stores_neither_zone_nor_counts(shop: Shop, admin: ShopifyAdminStandin) -> None:
    from app import shop_state

    admin.timezone = "Europe/Amsterdam"
    shop.installed_at = now_utc() - timedelta(days=10)
    db.session.commit()
    reconcile_shop(db.session.get(Shop, shop.id), now_utc() - timedelta(days=3), dry_run=True)
    assert shop_state.get(shop.id) is None and _day_counts(shop.id) == {}


def test_the_worker_asks_shopify_for_the_days_still_without_a_count(
    app: Flask, shop: Shop, admin: ShopifyAdminStandin
) -> None:
    from zoneinfo import ZoneInfo

    from app import shop_state
    from app.shopify.daily import day_span

    app.config["RECONCILE_QUIET_SECONDS"] = 0  # yesterday is over the moment today begins, whatever the hour
    zone = ZoneInfo("America/New_York")
    admin.timezone = "America/New_York"
    shop.installed_at = now_utc() - timedelta(days=30)
    db.session.commit()
    today = now_utc().astimezone(zone).date()
    for back, count in ((1, 2), (5, 4), (13, 1)):
        orders_in_shopify(admin, count, day_span(today - timedelta(days=back), zone)[0] + timedelta(hours=12))

    assert Reconciler(app.config, "worker-a")(now_utc()) == 1
    assert shop_state.get(shop.id).iana_timezone == "America/New_York"
    counts = _day_counts(shop.id)
    assert sorted(counts) == [today - timedelta(days=n) for n in range(14, 0, -1)]
    assert counts[today - timedelta(days=1)] == (2, "America/New_York")
    assert counts[today - timedelta(days=5)] == (4, "America/New_York")
    assert counts[today - timedelta(days=13)] == (1, "America/New_York")
    assert sum(n for n, _zone in counts.values()) == 7
    asked = len(admin.graphql("ReconcileOrderCount"))
    assert asked <= 14  # days the reconciliation window covered whole need no question
    # The next run finds every day counted and asks nothing more.
    db.session.get(Shop, shop.id).last_reconciled_at = now_utc() - timedelta(hours=2)
    db.session.commit()
    assert Reconciler(app.config, "worker-a")(now_utc()) == 1
    assert len(admin.graphql("ReconcileOrderCount")) == asked
