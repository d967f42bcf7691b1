"""Command line: `flask --app app worker`, `configure-shop`, and the operator commands."""

from __future__ import annotations

import sys

import click
from flask import Flask, current_app

from .models import db
from .settings import apply_settings, get_or_create_shop, normalise_shop_domain, validate_settings


def register(app: Flask) -> None:
    app.cli.add_command(worker_command)
    app.cli.add_command(configure_shop_command)


@click.command("worker")
@click.option("--once", is_flag=True, help="Drain what is ready now, then exit.")
def worker_command(once: bool) -> None:
    """Run the delivery worker (SIGTERM finishes the batch in flight, then exits)."""
    from .delivery import Worker

    worker = Worker(current_app._get_current_object())  # type: ignore[attr-defined]
    worker.install_signal_handlers()
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
    shop = get_or_create_shop(domain)
    settings = apply_settings(shop, clean)
    db.session.commit()
    last4 = f"••••{settings.token_last4}" if settings.token_last4 else "not set"
    click.echo(f"{domain}: ad account {settings.ad_account_id or 'not set'}, token {last4}, "
               f"{'enabled' if settings.enabled else 'disabled'}{', test mode' if settings.test_mode else ''}.")
