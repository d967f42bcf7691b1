"""Per-shop gauges for Prometheus alerts: what costs a merchant conversions, read from the database.

`app.metrics.DatabaseCollector` yields these at every scrape, so any web process gives the same answer:
whether Pinterest refuses a shop (paused), whether its merchant turned sending off, how many webhook bodies
no configured key opens, and how many orders Shopify counted that never reached Pinbridge. The alerting
rules that read them are in deploy/prometheus/alerts.yml.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app
from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import and_, func, or_, select

from app.models import ConnectionStatus, Event, PinterestSettings, Shop, ShopifyDailyOrders, WebhookReceipt, db

PAUSED = (ConnectionStatus.REJECTED.value, ConnectionStatus.UNREADABLE.value)  # statuses that hold a shop's events
PURCHASE_SOURCES = ("order", "checkout", "reconcile")


class ShopAlerts:
    """Per-shop gauges for what costs a merchant conversions: a paused shop, sending turned off, webhook
    bodies no key opens, and orders Shopify counted that never reached Pinbridge. Cheap queries: held
    bodies through their partial index, and one range per shop over its counted days."""

    MISSING_DAYS = 7  # whole days of the shop compared with Shopify's own count
    SHOPS_PER_QUERY = 200

    def __init__(self, now: datetime) -> None:
        self.now = now

    def families(self) -> Iterator[Metric]:
        paused = GaugeMetricFamily("pinbridge_shop_paused", "1 while Pinterest refuses the shop's token or ad "
                                   "account, or its token cannot be decrypted (reason: connection status).",
                                   labels=["shop", "reason"])
        sending = GaugeMetricFamily("pinbridge_shop_sending_enabled", "1 when the merchant has sending on.",
                                    labels=["shop"])
        for domain, status, enabled in db.session.execute(
            select(Shop.domain, PinterestSettings.connection_status, PinterestSettings.enabled)
            .join(PinterestSettings, PinterestSettings.shop_id == Shop.id).where(Shop.installed)
        ):
            paused.add_metric([domain, status], 1 if status in PAUSED else 0)
            sending.add_metric([domain], 1 if enabled else 0)
        yield paused
        yield sending
        yield self._unreadable()
        yield self._missing()

    def _unreadable(self) -> Metric:
        """Bodies held sealed because no configured key opens them, per shop (app/inbox/unreadable.py)."""
        family = GaugeMetricFamily("pinbridge_unreadable_bodies", "Webhook bodies no configured ENCRYPTION_KEY "
                                   "opens, kept sealed until one does or retention deletes them.",
                                   labels=["shop"])
        for domain, count in db.session.execute(
            select(WebhookReceipt.shop_domain, func.count())
            .where(WebhookReceipt.held_body.isnot(None))  # a partial index holds exactly these
            .group_by(WebhookReceipt.shop_domain)
        ):
            family.add_metric([domain], count)
        return family

    def _missing(self) -> Metric:
        """Shopify's order count minus Pinbridge's, over each shop's most recent run of counted whole days."""
        family = GaugeMetricFamily("pinbridge_shopify_orders_missing", "Orders Shopify counted in the shop's last "
                                   "7 whole days that never reached Pinbridge (reconciliation did not recover them).",
                                   labels=["shop"])
        spans = self._counted_spans()
        ours: dict[int, int] = {}
        shop_ids = sorted(spans)
        for i in range(0, len(shop_ids), self.SHOPS_PER_QUERY):
            chunk = shop_ids[i:i + self.SHOPS_PER_QUERY]
            for shop_id, count in db.session.execute(
                select(Event.shop_id, func.count())
                .where(Event.source.in_(PURCHASE_SOURCES), or_(*(
                    and_(Event.shop_id == shop_id, Event.occurred_at >= spans[shop_id][1],
                         Event.occurred_at < spans[shop_id][2]) for shop_id in chunk)))
                .group_by(Event.shop_id)):
                ours[shop_id] = count
        for shop_id, (domain, _start, _end, shopify) in spans.items():
            family.add_metric([domain], max(0, shopify - ours.get(shop_id, 0)))
        return family

    def _counted_spans(self) -> dict[int, tuple[str, datetime, datetime, int]]:
        """Per shop: (domain, start, end, Shopify's orders) of its newest unbroken run of counted days."""
        days = int(current_app.config.get("EVENT_RETENTION_DAYS", 30)) if current_app else 30
        kept_from = self.now - timedelta(days=max(0, days - 1))  # older events may be purged already
        rows = db.session.execute(
            select(Shop.id, Shop.domain, ShopifyDailyOrders.day, ShopifyDailyOrders.orders, ShopifyDailyOrders.timezone)
            .join(Shop, Shop.id == ShopifyDailyOrders.shop_id)
            .where(Shop.installed, ShopifyDailyOrders.day >= (self.now - timedelta(days=self.MISSING_DAYS + 1)).date())
            .order_by(Shop.id, ShopifyDailyOrders.day.desc())).all()
        spans: dict[int, tuple[str, datetime, datetime, int]] = {}
        for shop_id, domain, day, orders, zone_name in rows:
            try:
                zone = ZoneInfo(zone_name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
            start = datetime.combine(day, dt_time(0), tzinfo=zone).astimezone(UTC)
            end = datetime.combine(day + timedelta(days=1), dt_time(0), tzinfo=zone).astimezone(UTC)
            if start < kept_from or end > self.now or start < self.now - timedelta(days=self.MISSING_DAYS):
                continue
            found = spans.get(shop_id)
            if found is None:
                spans[shop_id] = (domain, start, end, orders)
            elif end == found[1]:  # the day before the run: extend it
                spans[shop_id] = (domain, start, found[2], found[3] + orders)
        return spans
