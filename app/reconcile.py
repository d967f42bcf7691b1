"""Reconciliation: find orders Shopify never delivered by webhook, and send them like any other.

Shopify does not guarantee webhooks and can drop a subscription after repeated failures, so Pinbridge
reads each shop's recent orders from the Admin GraphQL API, converts each order node to the webhook shape
and runs it through the same `map_order` as `orders/create`. An order is known when an event carries its
order id (whatever the event id source) or its event id; known orders produce nothing new. New ones are
enqueued with source `reconcile`, which the dashboard counts as recovered.

The same reads tell the page how complete Pinbridge is: the shop's IANA time zone (`shop { ianaTimezone }`,
stored with `shop_state.set_timezone`) and how many orders Shopify has per whole calendar day of the shop
(`shopify_daily_orders`), counted from the order nodes a run read and, in the worker's run, asked with
`ordersCount` for the recent days still without a count.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from datetime import time as clock_time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
from flask import current_app
from sqlalchemy import delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from . import locks, outbox, shop_state
from .clock import database_now
from .db_util import writing
from .mapping import MappedPurchase, map_order
from .metrics import RECONCILED_ORDERS
from .models import Event, PinterestSettings, Shop, ShopifyDailyOrders, db
from .settings import mapping_options
from .shopify_orders import AdminApiError, OrderReader

logger = logging.getLogger(__name__)

_ALREADY = {"already_received", "replaced_checkout", "already_sent"}


@dataclass
class Summary:
    """What one reconciliation of one shop found."""

    seen: int = 0
    already_present: int = 0
    enqueued: int = 0
    skipped: int = 0
    pages: int = 0
    requests: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


# -- GraphQL order node -> webhook order -------------------------------------------------------------
def _money_set(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    out = {}
    for graph_key, hook_key in (("shopMoney", "shop_money"), ("presentmentMoney", "presentment_money")):
        money = value.get(graph_key)
        if isinstance(money, dict):
            out[hook_key] = {"amount": money.get("amount"), "currency_code": money.get("currencyCode")}
    return out


def _shop_amount(money_set: dict[str, Any] | None) -> Any:
    return ((money_set or {}).get("shop_money") or {}).get("amount")


def _address(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    return {"first_name": value.get("firstName"), "last_name": value.get("lastName"),
            "city": value.get("city"), "province_code": value.get("provinceCode"), "zip": value.get("zip"),
            "country": value.get("country"), "country_code": value.get("countryCodeV2"),
            "phone": value.get("phone")}


def _tax_lines(value: Any) -> list[dict[str, Any]]:
    """GraphQL `taxLines` as webhook `tax_lines` (price in shop money, price_set with both)."""
    lines = value if isinstance(value, list) else []
    out = []
    for line in lines:
        price = _money_set(line.get("priceSet")) if isinstance(line, dict) else None
        if price:
            out.append({"price": _shop_amount(price), "price_set": price})
    return out


def _legacy_id(value: Any) -> Any:
    return value.get("legacyResourceId") if isinstance(value, dict) else None


def _line(node: dict[str, Any]) -> dict[str, Any]:
    price = _money_set(node.get("originalUnitPriceSet")) or {}
    return {
        "product_id": _legacy_id(node.get("product")), "variant_id": _legacy_id(node.get("variant")),
        "sku": node.get("sku"), "title": node.get("title"), "name": node.get("name"),
        "vendor": node.get("vendor"), "quantity": node.get("quantity"),
        "price": _shop_amount(price), "price_set": price or None,
        "tax_lines": _tax_lines(node.get("taxLines")),
        "gift_card": node.get("isGiftCard"), "requires_shipping": node.get("requiresShipping"),
    }


def _customer(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    email, phone = value.get("defaultEmailAddress"), value.get("defaultPhoneNumber")
    return {"id": value.get("legacyResourceId"), "first_name": value.get("firstName"),
            "last_name": value.get("lastName"),
            "email": email.get("emailAddress") if isinstance(email, dict) else None,
            "phone": phone.get("phoneNumber") if isinstance(phone, dict) else None,
            "default_address": _address(value.get("defaultAddress"))}


def _landing_page(journey: Any) -> str | None:
    """The visit that brought the buyer (the one carrying a Pinterest click id if any), as landing_site."""
    if not isinstance(journey, dict):
        return None
    visits = [v for v in (journey.get("lastVisit"), journey.get("firstVisit")) if isinstance(v, dict)]
    pages = [v["landingPage"] for v in visits if isinstance(v.get("landingPage"), str)]
    return next((page for page in pages if "epik=" in page), pages[0] if pages else None)


def order_from_graphql(node: dict[str, Any]) -> dict[str, Any]:
    """The `orders/create` body shape `map_order` reads, from an Admin GraphQL Order node.

    GraphQL has no browser user agent for an order, so a reconciled order matches on identifiers
    (email, phone, address, click id, IP) but never on IP + user agent.
    """
    line_items, custom = node.get("lineItems"), node.get("customAttributes")
    lines: dict[str, Any] = line_items if isinstance(line_items, dict) else {}
    shipping = node.get("shippingLines")
    shipping_nodes = (shipping.get("nodes") if isinstance(shipping, dict) else None) or []
    attributes: list[Any] = custom if isinstance(custom, list) else []
    subtotal, total = _money_set(node.get("subtotalPriceSet")), _money_set(node.get("totalPriceSet"))
    return {
        "id": node.get("legacyResourceId") or node.get("id"),
        "admin_graphql_api_id": node.get("id"),
        "name": node.get("name"), "email": node.get("email"), "phone": node.get("phone"),
        "created_at": node.get("createdAt"), "processed_at": node.get("processedAt"),
        "test": node.get("test"), "source_name": node.get("sourceName"),
        "currency": node.get("currencyCode"), "presentment_currency": node.get("presentmentCurrencyCode"),
        "subtotal_price": _shop_amount(subtotal), "subtotal_price_set": subtotal,
        "total_price": _shop_amount(total), "total_price_set": total,
        "taxes_included": node.get("taxesIncluded"), "customer_locale": node.get("customerLocale"),
        "total_tax": _shop_amount(_money_set(node.get("totalTaxSet"))),
        "total_tax_set": _money_set(node.get("totalTaxSet")),
        # Duties inside prices come off the value; a tip listed among the lines is no product.
        "duties_included": node.get("dutiesIncluded"),
        "original_total_duties_set": _money_set(node.get("originalTotalDutiesSet")),
        "total_tip_received": _shop_amount(_money_set(node.get("totalTipReceivedSet"))),
        "shipping_lines": [{"tax_lines": _tax_lines(n.get("taxLines"))} for n in shipping_nodes
                           if isinstance(n, dict)],
        "cart_token": node.get("cartToken"), "checkout_token": node.get("checkoutToken"),
        "order_status_url": node.get("statusPageUrl"),
        "client_details": {"browser_ip": node.get("clientIp"), "user_agent": None},
        "landing_site": _landing_page(node.get("customerJourneySummary")),
        "note_attributes": [{"name": a.get("key"), "value": a.get("value")} for a in attributes
                            if isinstance(a, dict)],
        "line_items": [_line(n) for n in lines.get("nodes") or [] if isinstance(n, dict)],
        "customer": _customer(node.get("customer")),
        "billing_address": _address(node.get("billingAddress")),
        "shipping_address": _address(node.get("shippingAddress")),
    }


# -- Shopify's orders per day of the shop ---------------------------------------------------------------
COUNTED_DAYS = 14  # the worker asks Shopify for the whole days of the last two weeks that have no count


def day_span(day: date, zone: tzinfo) -> tuple[datetime, datetime]:
    """The UTC instants a calendar day of the zone begins and ends (23 or 25 hours long around DST)."""
    start = datetime.combine(day, clock_time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), clock_time(0), tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def whole_days(since: datetime, until: datetime, zone: tzinfo) -> list[date]:
    """The zone's calendar days whose whole span lies inside [since, until), oldest first."""
    day = since.astimezone(zone).date()
    if day_span(day, zone)[0] < since:
        day += timedelta(days=1)
    days = []
    while day_span(day, zone)[1] <= until:
        days.append(day)
        day += timedelta(days=1)
    return days


def count_by_day(created: Iterable[datetime | None], since: datetime, until: datetime, zone: tzinfo, *,
                 not_before: datetime | None = None) -> dict[date, int]:
    """Orders per calendar day of the shop, for the days a read of [since, until) covered completely.

    A window rarely starts or ends at the shop's midnight, and a day cut short at either end would look
    like missing orders, so only days whose whole span lies inside the window are counted (zero included:
    a whole day without orders is a count too). Days that began before `not_before` (the install) are left
    out as well: Pinbridge could not have received their earlier orders. An order whose creation time is
    unreadable leaves its day unknown, so then nothing is counted.
    """
    if not_before is not None and not_before > since:
        since = not_before
    days = whole_days(since, until, zone)
    counts = dict.fromkeys(days, 0)
    for moment in created:
        if moment is None:
            return {}
        local = moment.astimezone(zone).date()
        if local in counts:
            counts[local] += 1
    return counts


def _created_at(node: dict[str, Any]) -> datetime | None:
    value = node.get("createdAt")
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    return moment if moment is not None and moment.tzinfo is not None else None


def remember_timezone(shop: Shop, name: str | None) -> ZoneInfo | None:
    """The shop's zone as Shopify just said it, stored when it is new or changed; None if it said none."""
    if not name:
        return None
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    state = shop_state.get(shop.id)
    if state is None or state.iana_timezone != name:
        shop_state.set_timezone(shop.id, name)
    return zone


def store_day_counts(shop_id: int, counts: dict[date, int], zone: ZoneInfo, now: datetime) -> None:
    """Upsert whole-day counts: the latest count of a day replaces the one before.

    Counts made in another time zone are deleted: their days begin and end at other hours, so they compare
    with nothing once the shop's zone has changed (and, near midnight, one of them would fall outside the
    days counted again and linger).
    """
    if not counts:
        return
    table = ShopifyDailyOrders.__table__
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).values([
        {"shop_id": shop_id, "day": day, "orders": orders, "timezone": zone.key, "counted_at": now}
        for day, orders in sorted(counts.items())])
    statement = statement.on_conflict_do_update(
        index_elements=["shop_id", "day"],
        set_={"orders": statement.excluded.orders, "timezone": statement.excluded.timezone,
              "counted_at": statement.excluded.counted_at})
    with writing():
        db.session.execute(delete(table).where(table.c.shop_id == shop_id, table.c.timezone != zone.key))
        db.session.execute(statement)


def count_missing_days(shop: Shop, reader: OrderReader, now: datetime, *, quiet_seconds: int = 0,
                       days: int = COUNTED_DAYS) -> int:
    """Ask Shopify (`ordersCount`, one request a day) for the recent whole days that have no count yet.

    Which days: the last `days` days of the shop before today, that began after the install and ended at
    least `quiet_seconds` ago (so Shopify's search holds their last orders), with no count in the shop's
    present zone. Once counted, a day is only counted again by a run whose window covers it whole. Returns
    how many days were stored; a count Shopify says is not exact is left out.
    """
    zone = shop_state.zone(shop_state.get(shop.id))
    today = now.astimezone(zone).date()
    settled = now - timedelta(seconds=quiet_seconds)
    wanted = []
    for back in range(days, 0, -1):
        day = today - timedelta(days=back)
        start, end = day_span(day, zone)
        if end <= settled and (shop.installed_at is None or start >= shop.installed_at):
            wanted.append(day)
    if not wanted:
        return 0
    have = set(db.session.scalars(select(ShopifyDailyOrders.day).where(
        ShopifyDailyOrders.shop_id == shop.id, ShopifyDailyOrders.day.in_(wanted),
        ShopifyDailyOrders.timezone == zone.key)))
    db.session.rollback()  # no read left open while Shopify answers
    counts: dict[date, int] = {}
    for day in (d for d in wanted if d not in have):
        count = reader.exact_count(*day_span(day, zone))
        if count is not None:
            counts[day] = count
    store_day_counts(shop.id, counts, zone, database_now())
    return len(counts)


# -- one shop ---------------------------------------------------------------------------------------
def reconcile_shop(
    shop: Shop, since: datetime, *, until: datetime | None = None, dry_run: bool = False,
    http_client: httpx.Client | None = None, sleep: Callable[[float], Any] = time.sleep,
    on_page: Callable[[int], Any] | None = None, reader: OrderReader | None = None,
) -> Summary:
    """Enqueue every order created in [since, until) that has no event yet; return what was found.

    Raises `shopify_orders.AdminApiError` when the Admin API cannot be used; pages already recorded stay.
    """
    reader = reader or make_reader(shop, http_client=http_client, sleep=sleep)
    options = mapping_options(shop.settings)
    summary = Summary()
    created: list[datetime | None] = []  # every order node Shopify returned, skipped and known ones too
    for nodes in reader.pages(since, until):
        if reader.shop_country and reader.shop_country != options.shop_country:
            options = replace(options, shop_country=reader.shop_country)
        created.extend(_created_at(node) for node in nodes)
        mapped = [map_order(order_from_graphql(node), options) for node in nodes]
        _record_page(shop, mapped, summary, dry_run=dry_run)
        summary.pages += 1
        if on_page is not None:
            on_page(len(nodes))
    summary.requests = reader.requests
    if not dry_run:
        with writing():
            shop.last_reconciled_at = database_now()  # compared with the worker's database time
            # Webhooks carry no shop country; remembering it lets them read national phone numbers.
            if reader.shop_country and shop.settings is not None:
                shop.settings.shop_country = reader.shop_country
        zone = remember_timezone(shop, reader.shop_timezone)
        if zone is not None:
            # A day is counted once it ended before the window did, and long enough ago for Shopify's
            # search to hold its last orders.
            now = database_now()
            settled = now - timedelta(seconds=QUIET_SECONDS)
            end = min(until, settled) if until else settled
            counts = count_by_day(created, since, end, zone, not_before=shop.installed_at)
            store_day_counts(shop.id, counts, zone, now)
    logger.info("orders reconciled", extra={"action": "reconcile_done", "shop": shop.domain,
                                            "dry_run": dry_run, **summary.as_dict()})
    return summary


def make_reader(shop: Shop, *, http_client: httpx.Client | None = None,
                sleep: Callable[[float], Any] = time.sleep) -> OrderReader:
    """An order reader for the shop with the app's API version and Shopify HTTP client."""
    cfg = current_app.config
    return OrderReader(shop, api_version=cfg["SHOPIFY_API_VERSION"],
                       http_client=http_client or cfg.get("SHOPIFY_HTTP_CLIENT"), sleep=sleep)


def _known(shop_id: int, mapped: list[MappedPurchase]) -> tuple[set[str], set[str]]:
    """Order ids and event ids among these purchases that already have an event."""
    order_ids = {m.order_id for m in mapped if m.order_id}
    event_ids = {m.event_id for m in mapped if m.event_id}
    if not order_ids and not event_ids:
        return set(), set()
    rows = db.session.execute(
        select(Event.order_id, Event.event_id).where(
            Event.shop_id == shop_id,
            or_(Event.order_id.in_(order_ids or {""}), Event.event_id.in_(event_ids or {""})),
        )
    ).all()
    return {r.order_id for r in rows if r.order_id}, {r.event_id for r in rows if r.event_id}


def _record_page(shop: Shop, mapped: list[MappedPurchase], summary: Summary, *, dry_run: bool) -> None:
    """Enqueue one page's unknown orders in one transaction (nothing is written on a dry run)."""
    if dry_run:
        try:
            _classify(shop, mapped, summary, dry_run=True)
        finally:
            db.session.rollback()
        return
    with writing():  # the page's events and nothing else, under SQLite's write lock
        _classify(shop, mapped, summary, dry_run=False)


def _classify(shop: Shop, mapped: list[MappedPurchase], summary: Summary, *, dry_run: bool) -> None:
    known_orders, known_events = _known(shop.id, mapped)
    now = database_now()  # found orders wait and expire by the same clock as the worker's
    for purchase in mapped:
        summary.seen += 1
        if (purchase.order_id in known_orders) or (purchase.event_id in known_events):
            outcome = "already_present"
        elif dry_run:
            outcome = "enqueued" if purchase.event is not None else "skipped"
        else:
            result = outbox.enqueue(shop, purchase, now=now, source="reconcile")
            outcome = ("already_present" if result.outcome in _ALREADY
                       else "enqueued" if result.outcome == "queued" else "skipped")
        setattr(summary, outcome, getattr(summary, outcome) + 1)
        RECONCILED_ORDERS.labels(outcome=outcome).inc()
        known_orders.add(purchase.order_id or "")
        known_events.add(purchase.event_id or "")


# -- the worker's periodic job ------------------------------------------------------------------------
LEASE_NAME = "reconciler"
LEASE_SECONDS = 300  # renewed after every page, so only a dead holder lets it run out
CHECK_EVERY = 60.0  # seconds between looks for shops that are due
TIME_BUDGET = 20.0  # seconds of reconciling per look, so deliveries are not held up for long
QUIET_SECONDS = 600  # orders younger than this are left to their webhook, which is normally on its way
MAX_LOOKBACK = timedelta(days=7)  # never further back than Pinterest accepts events


def due_shops(now: datetime, interval_seconds: int) -> list[Shop]:
    """Installed shops with an Admin API token and Pinterest set up, least recently reconciled first."""
    cutoff = now - timedelta(seconds=interval_seconds)
    return list(db.session.scalars(
        select(Shop)
        .join(PinterestSettings, PinterestSettings.shop_id == Shop.id)
        .where(Shop.installed.is_(True), Shop.shopify_token_enc.is_not(None),
               PinterestSettings.enabled.is_(True), PinterestSettings.ad_account_id.is_not(None),
               PinterestSettings.access_token_enc.is_not(None),
               or_(Shop.last_reconciled_at.is_(None), Shop.last_reconciled_at <= cutoff))
        .order_by(Shop.last_reconciled_at.is_not(None), Shop.last_reconciled_at, Shop.id)
    ))


def window_start(shop: Shop, now: datetime, lookback_hours: int) -> datetime:
    """From `lookback` before the previous run (covering late webhooks), never before the install."""
    since = (shop.last_reconciled_at or now) - timedelta(hours=lookback_hours)
    floors = [now - MAX_LOOKBACK] + ([shop.installed_at] if shop.installed_at else [])
    return max([since, *floors])


class Reconciler:
    """The worker's periodic job: one reconciler at a time across all workers (a lease in `locks`)."""

    def __init__(self, config: Any, worker_id: str, *, sleep: Callable[[float], Any] = time.sleep,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.interval = int(config["RECONCILE_INTERVAL_SECONDS"])
        self.lookback = int(config["RECONCILE_LOOKBACK_HOURS"])
        self.quiet = int(config.get("RECONCILE_QUIET_SECONDS", QUIET_SECONDS))
        self.worker_id, self.sleep, self.monotonic = worker_id, sleep, monotonic
        self.failed_until: dict[int, float] = {}  # shop id -> monotonic time to try again

    def __call__(self, now: datetime) -> int:
        """Reconcile the shops that are due, within the time budget; return how many were done."""
        if self.interval <= 0:
            return 0
        if not locks.acquire(LEASE_NAME, self.worker_id, now, LEASE_SECONDS):
            return 0
        try:
            return self._run(now)
        finally:
            db.session.rollback()
            locks.release(LEASE_NAME, self.worker_id)

    def _run(self, now: datetime) -> int:
        started, done = self.monotonic(), 0
        for shop in due_shops(now, self.interval):
            if self.monotonic() - started > TIME_BUDGET:
                break
            if self.failed_until.get(shop.id, 0.0) > self.monotonic():
                continue
            if self._one(shop, now):
                done += 1
        return done

    def _one(self, shop: Shop, now: datetime) -> bool:
        shop_id, domain = shop.id, shop.domain
        try:
            reader = make_reader(shop, sleep=self.sleep)
            reconcile_shop(shop, window_start(shop, now, self.lookback),
                           until=now - timedelta(seconds=self.quiet), reader=reader,
                           on_page=lambda _count: locks.renew(LEASE_NAME, self.worker_id, database_now(),
                                                              LEASE_SECONDS))
        except AdminApiError as exc:
            db.session.rollback()
            self.failed_until[shop_id] = self.monotonic() + self.interval
            logger.warning("reconciliation failed", extra={"action": "reconcile_failed", "shop": domain,
                                                           "code": exc.code, "reason": exc.message})
            return False
        self.failed_until.pop(shop_id, None)
        try:  # after the orders themselves, so a day's count already includes what this run recovered
            count_missing_days(db.session.get(Shop, shop_id) or shop, reader, database_now(),
                               quiet_seconds=self.quiet)
        except AdminApiError as exc:
            db.session.rollback()
            logger.warning("Shopify's daily order count failed", extra={
                "action": "reconcile_count_failed", "shop": domain, "code": exc.code, "reason": exc.message})
        return True
