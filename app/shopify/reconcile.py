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
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import httpx
from flask import current_app
from sqlalchemy import or_, select

from app import locks, outbox, shops
from app.clock import database_now
from app.database import discard, reading, writing
from app.mapping import MappedPurchase, map_order
from app.metrics import RECONCILED_ORDERS
from app.models import Event, PinterestSettings, Shop, db
from app.settings import mapping_options
from app.shopify.daily import count_by_day, count_missing_days, created_at, remember_timezone, store_day_counts
from app.shopify.orders import AdminApiError, OrderReader
from app.shopify.translate import order_from_graphql
from app.vocabulary import EventSource, ReceiptOutcome

logger = logging.getLogger(__name__)

_ALREADY = {ReceiptOutcome.ALREADY_RECEIVED, ReceiptOutcome.REPLACED_CHECKOUT, ReceiptOutcome.ALREADY_SENT}


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
    with reading():
        options = mapping_options(shop.settings)
        shop_id, domain, installed_at = shop.id, shop.domain, shop.installed_at
    summary = Summary()
    created: list[datetime | None] = []  # every order node Shopify returned, skipped and known ones too
    for nodes in reader.pages(since, until):
        if reader.shop_country and reader.shop_country != options.shop_country:
            options = replace(options, shop_country=reader.shop_country)
        created.extend(created_at(node) for node in nodes)
        mapped = [map_order(order_from_graphql(node), options) for node in nodes]
        _record_page(shop, mapped, summary, dry_run=dry_run)
        summary.pages += 1
        if on_page is not None:
            on_page(len(nodes))
    summary.requests = reader.requests
    if not dry_run:
        with writing():
            shops.reconciled(shop, database_now())  # compared with the worker's database time
            # Webhooks carry no shop country; remembering it lets them read national phone numbers.
            if reader.shop_country and shop.settings is not None:
                shop.settings.shop_country = reader.shop_country
        zone = remember_timezone(shop_id, reader.shop_timezone)
        if zone is not None:
            # A day is counted once it ended before the window did, and long enough ago for Shopify's
            # search to hold its last orders.
            now = database_now()
            settled = now - timedelta(seconds=QUIET_SECONDS)
            end = min(until, settled) if until else settled
            counts = count_by_day(created, since, end, zone, not_before=installed_at)
            store_day_counts(shop_id, counts, zone, now)
    logger.info("orders reconciled", extra={"action": "reconcile_done", "shop": domain,
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
        with reading():
            _classify(shop, mapped, summary, dry_run=True)
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
            result = outbox.enqueue(shop.id, purchase, now=now, source=EventSource.RECONCILE)
            outcome = ("already_present" if result.outcome in _ALREADY
                       else "enqueued" if result.outcome is ReceiptOutcome.QUEUED else "skipped")
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
            discard()  # what a failed shop's run left
            locks.release(LEASE_NAME, self.worker_id)

    def _run(self, now: datetime) -> int:
        started, done = self.monotonic(), 0
        with reading():
            due = due_shops(now, self.interval)
        for shop in due:
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
            discard()
            self.failed_until[shop_id] = self.monotonic() + self.interval
            logger.warning("reconciliation failed", extra={"action": "reconcile_failed", "shop": domain,
                                                           "code": exc.code, "reason": exc.message})
            return False
        self.failed_until.pop(shop_id, None)
        try:  # after the orders themselves, so a day's count already includes what this run recovered
            count_missing_days(db.session.get(Shop, shop_id) or shop, reader, database_now(),
                               quiet_seconds=self.quiet)
        except AdminApiError as exc:
            discard()
            logger.warning("Shopify's daily order count failed", extra={
                "action": "reconcile_count_failed", "shop": domain, "code": exc.code, "reason": exc.message})
        return True
