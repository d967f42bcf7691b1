"""Command line: `flask --app app worker`, `configure-shop`, and the operator commands."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import click
from flask import Flask, current_app
from sqlalchemy import func, select

from app.database import reading, writing
from app.models import Event, EventStatus, Shop, db, now_utc
from app.ops.backup import backup_command
from app.ops.doctor import doctor_command
from app.settings import apply_settings, validate_settings
from app.shops import find_shop, get_or_create_shop, normalise_shop_domain

PENDING, SENDING, FAILED = EventStatus.PENDING.value, EventStatus.SENDING.value, EventStatus.FAILED.value
_RELATIVE = re.compile(r"^(\d+)\s*([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def register(app: Flask) -> None:
    app.cli.add_command(worker_command)
    app.cli.add_command(configure_shop_command)
    app.cli.add_command(status_command)
    app.cli.add_command(events_group)
    app.cli.add_command(reconcile_command)
    app.cli.add_command(doctor_command)
    app.cli.add_command(backup_command)


@click.command("worker")
@click.option("--once", is_flag=True, help="Drain what is ready now, then exit.")
def worker_command(once: bool) -> None:
    """Run the delivery worker (SIGTERM finishes the batch in flight, then exits)."""
    from app.delivery import Worker
    from app.runtime import settle_collector

    worker = Worker(current_app._get_current_object())  # type: ignore[attr-defined]
    worker.install_signal_handlers()
    settle_collector()
    worker.run(max_idle_loops=1 if once else None)


def _bool(value: str | None) -> bool | None:
    return None if value is None else value.lower() in ("1", "true", "yes", "on")


@click.command("configure-shop")
@click.option("--shop", "shop_domain", required=True, help="example.myshopify.com")
@click.option("--ad-account-id", help="Pinterest ad account id (digits).")
@click.option("--token-stdin/--no-token-stdin", default=True,
              help="Read the conversion access token from standard input (default).")
@click.option("--enabled", type=click.Choice(["true", "false"]))
@click.option("--test-mode", type=click.Choice(["true", "false"]))
@click.option("--event-id-source", type=click.Choice(["cart_token", "checkout_token", "order_id"]))
@click.option("--content-id-source", type=click.Choice(["product_id", "variant_id", "sku"]))
@click.option("--value-mode", type=click.Choice(["subtotal", "total"]))
@click.option("--currency-mode", type=click.Choice(["shop", "presentment"]))
@click.option("--include-offline-orders", type=click.Choice(["true", "false"]))
@click.option("--limited-data-processing", type=click.Choice(["true", "false"]))
def configure_shop_command(shop_domain: str, ad_account_id: str | None, token_stdin: bool, **flags: str | None) -> None:
    """Configure a shop's Pinterest connection without the UI; the token is read from stdin, never argv."""
    domain = normalise_shop_domain(shop_domain)
    if not domain:
        raise click.BadParameter("expected a shop like example.myshopify.com", param_hint="--shop")
    data: dict[str, object] = {}
    if ad_account_id is not None:
        data["ad_account_id"] = ad_account_id
    if token_stdin:
        if sys.stdin.isatty():
            token = click.prompt("Pinterest conversion access token", hide_input=True, default="",
                                 show_default=False)
        else:
            token = sys.stdin.readline()
        if token.strip():
            data["access_token"] = token.strip()
    for key, value in flags.items():
        if value is not None:
            data[key] = value if key.endswith(("_source", "_mode")) and key != "test_mode" else _bool(value)
    clean, errors = validate_settings(data)
    if errors:
        for field, message in errors.items():
            click.echo(f"{field}: {message}", err=True)
        raise SystemExit(2)
    with writing():
        settings = apply_settings(get_or_create_shop(domain), clean)
        last4 = f"••••{settings.token_last4}" if settings.token_last4 else "not set"
        saved = (f"{domain}: ad account {settings.ad_account_id or 'not set'}, token {last4}, "
                 f"{'enabled' if settings.enabled else 'disabled'}{', test mode' if settings.test_mode else ''}.")
    click.echo(saved)


def _shop_or_exit(value: str) -> Shop:
    domain = normalise_shop_domain(value)
    shop = find_shop(domain) if domain else None
    if shop is None:
        click.echo(f"No shop {value!r} is known to Pinbridge.", err=True)
        raise SystemExit(2)
    return shop


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else "never"


@click.command("status")
def status_command() -> None:
    """One line per shop: configured, paused, pending, failed, last delivery, last reconciliation."""
    with reading():
        counts: dict[int, dict[str, int]] = {}
        for shop_id, status, count in db.session.execute(
            select(Event.shop_id, Event.status, func.count()).where(Event.status.in_([PENDING, SENDING, FAILED]))
            .group_by(Event.shop_id, Event.status)
        ):
            bucket = "failed" if status == FAILED else "pending"
            counts.setdefault(shop_id, {"pending": 0, "failed": 0})[bucket] += count
        last = dict(db.session.execute(
            select(Event.shop_id, func.max(Event.delivered_at)).group_by(Event.shop_id)).all())
        header = ("SHOP", "INSTALLED", "CONFIGURED", "ENABLED", "PAUSED", "PENDING", "FAILED",
                  "LAST DELIVERY", "LAST RECONCILED")
        rows = []
        for shop in db.session.scalars(select(Shop).order_by(Shop.domain)):
            settings, tally = shop.settings, counts.get(shop.id, {"pending": 0, "failed": 0})
            rows.append((shop.domain, _yes(shop.installed), _yes(bool(settings and settings.configured)),
                         _yes(bool(settings and settings.enabled)), _yes(bool(settings and settings.paused)),
                         str(tally["pending"]), str(tally["failed"]), _when(last.get(shop.id)),
                         _when(shop.last_reconciled_at)))
    if not rows:
        click.echo("No shops yet.")
        return
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


@click.group("events")
def events_group() -> None:
    """Operate on a shop's events."""


@events_group.command("retry")
@click.option("--shop", "shop_domain", required=True, help="example.myshopify.com")
@click.option("--status", "status", type=click.Choice([FAILED, PENDING]), default=FAILED,
              show_default=True, help="failed: send again; pending: stop waiting for the backoff, send now.")
def events_retry_command(shop_domain: str, status: str) -> None:
    """Send a shop's failed events again, or its waiting events now (either way the shop's backoff is lifted)."""
    from app.clock import database_now
    from app.outbox import requeue, why_not_sending

    with reading():
        shop_id = _shop_or_exit(shop_domain).id
    max_age = int(current_app.config["EVENT_MAX_AGE_SECONDS"])
    with writing():
        result = requeue(shop_id, EventStatus(status), database_now(), max_age_seconds=max_age)
        shop = db.session.get_one(Shop, shop_id)
        blocked = why_not_sending(shop)
        domain = shop.domain
    if blocked:
        click.echo(f"{domain}: {result.count} {status} event(s) are ready, but none will be sent while {blocked}.")
    else:
        click.echo(f"{domain}: {result.count} {status} event(s) queued to send now.")
    if result.too_old:
        click.echo(f"{result.too_old} failed event(s) received more than {max_age // 3600} h ago "
                   "were left as they are.")


def parse_since(value: str, now: datetime) -> datetime:
    """`24h`, `90m`, `3d`, or an ISO-8601 time (UTC when no offset is given)."""
    relative = _RELATIVE.match(value.strip().lower())
    if relative:
        return now - timedelta(**{_UNITS[relative.group(2)]: int(relative.group(1))})
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter("use an ISO-8601 time or a duration like 24h, 90m, 3d") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@click.command("reconcile")
@click.option("--shop", "shop_domain", required=True, help="example.myshopify.com")
@click.option("--since", "since_text", required=True, help="ISO-8601 time, or a duration like 24h or 3d.")
@click.option("--dry-run", is_flag=True, help="Only report what would be enqueued; write nothing.")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a terminal).")
def reconcile_command(shop_domain: str, since_text: str, dry_run: bool, progress: bool | None) -> None:
    """Enqueue every order created since SINCE that Pinbridge has no event for (webhooks can be missed)."""
    from app.shopify.orders import AdminApiError
    from app.shopify.reconcile import make_reader, reconcile_shop

    now = now_utc()
    try:
        since = parse_since(since_text, now)
    except click.BadParameter as exc:
        exc.param_hint = "--since"
        raise
    if since >= now:
        raise click.BadParameter("must be in the past", param_hint="--since")
    shop = _shop_or_exit(shop_domain)
    reader = make_reader(shop)
    show = sys.stdout.isatty() if progress is None else progress
    try:
        with _progress(show, lambda: reader.count(since)) as advance:
            summary = reconcile_shop(shop, since, dry_run=dry_run, reader=reader, on_page=advance)
    except AdminApiError as exc:
        click.echo(f"{shop.domain}: reconciliation failed ({exc.code}): {exc.message}", err=True)
        raise SystemExit(1) from None
    verb = "would be enqueued" if dry_run else "enqueued"
    click.echo(f"{shop.domain} since {_when(since)}: {summary.seen} orders seen, "
               f"{summary.already_present} already present, {summary.enqueued} {verb}, "
               f"{summary.skipped} skipped ({summary.pages} pages, {summary.requests} requests)."
               + (" Dry run: nothing was written." if dry_run else ""))


@contextmanager
def _progress(show: bool, total: Any) -> Iterator[Any]:
    """A progress bar on stderr sized by the order count, or a no-op."""
    length = total() if show else None
    if not length:
        yield lambda _count: None
        return
    with click.progressbar(length=length, label="Reconciling orders", file=sys.stderr, show_pos=True) as bar:
        yield bar.update
