"""`flask --app app doctor`: a deployment's configuration checked the way an operator would in the first hour.

It reads the environment as the processes get it, shopify.app.toml, the database (reachable, migrated to
head, its clock beside this host's, every stored secret readable with ENCRYPTION_KEY, a worker's heartbeat)
and, unless `--offline`, asks the app's own public URL what a request from outside arrives with, to compare
the proxies in front of it with TRUSTED_PROXY_HOPS. Each finding is printed with its fix; the exit code is 1
when something would lose, refuse or hold back orders, else 0.

When the configuration does not even load (a required variable missing in production, a broken key),
`flask` cannot build the app to find this command: `python -m app.ops.doctor` runs the same checks without it.
The checks of plain data are in app/ops/doctor_env.py.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

import click
from flask import Blueprint, Flask, Response, current_app, jsonify, request
from sqlalchemy import select, text

from app.config import PROJECT_ROOT, ConfigError
from app.crypto import SealedBodies, SecretUnreadable, decrypt
from app.database import discard
from app.models import PinterestSettings, Shop, WebhookReceipt, db, now_utc
from app.ops.doctor_env import (
    Finding,
    Severity,
    check_environment,
    check_proxy,
    check_shopify_toml,
    fail,
    ok,
    public_url,
)

CLOCK_WARN_SECONDS = 2.0
CLOCK_FAIL_SECONDS = 60.0  # the checkout settle window and the pixel join are measured across both clocks
SECRETS_CHECKED = 5000  # stored tokens decrypted per kind (the first ones by id)
BODIES_CHECKED = 50  # oldest waiting inbox bodies opened
PROBE_SECONDS = 10.0
LABELS = {Severity.OK: "OK  ", Severity.WARN: "WARN", Severity.FAIL: "FAIL"}

Fetch = Callable[[str, Mapping[str, str]], Mapping[str, Any]]

bp = Blueprint("doctor", __name__)


@bp.get("/doctor/proxy")
def proxy_probe() -> Any:
    """What this request arrived with: how many X-Forwarded-For entries, the forwarded scheme. No addresses."""
    token = current_app.config.get("METRICS_TOKEN")
    if not token and current_app.config.get("APP_ENV") == "production":
        return Response("the doctor's probe is off until METRICS_TOKEN is set\n", status=403)
    if token and not hmac.compare_digest(request.headers.get("Authorization", "").encode(),
                                         f"Bearer {token}".encode()):
        return Response("the doctor's probe needs the METRICS_TOKEN bearer token\n", status=401,
                        headers={"WWW-Authenticate": "Bearer"})
    forwarded = [part for part in request.headers.get("X-Forwarded-For", "").split(",") if part.strip()]
    proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip() or None
    return jsonify({"forwarded_for_entries": len(forwarded), "forwarded_proto": proto, "scheme": request.scheme})


# -- the database ------------------------------------------------------------------------------------
def check_database(now: Callable[[], datetime] = now_utc) -> list[Finding]:
    """Reachable, at the migrations' head, on time, its secrets readable, a worker alive (app context)."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as exc:  # any driver's refusal: the message says which
        discard()
        return [fail("database", f"the database does not answer ({type(exc).__name__}).",
                     "Check DATABASE_URL and that the database server is up and reachable from here.")]
    try:
        migrations = _migrations()
        if migrations.severity is not Severity.OK:  # tables may be missing: read none of them
            return [migrations, _clock(now)]
        return [migrations, _clock(now), *_secrets(), _worker()]
    finally:
        discard()


def _migrations() -> Finding:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(PROJECT_ROOT / "migrations"))
    heads = set(script.get_heads())
    with db.engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    if current == heads:
        return ok("migrations", f"at head ({', '.join(sorted(heads))}).")
    known = {revision.revision for revision in script.walk_revisions()}
    if current - known:
        return fail("migrations", f"the database is at {', '.join(sorted(current))}, which this code does not "
                    "know: a newer Pinbridge migrated it.", "Deploy that newer version (never an older one).")
    at = ", ".join(sorted(current)) or "no revision (empty database)"
    return fail("migrations", f"the database is at {at}, the code needs {', '.join(sorted(heads))}: webhooks "
                "and the worker would fail on missing tables or columns.",
                "Run `flask --app app db upgrade` (a Procfile platform's release phase does it on every deploy).")


def _clock(now: Callable[[], datetime]) -> Finding:
    from app.clock import database_now

    before = now()
    database = database_now()
    after = now()
    if database < before:
        ahead = (database - before).total_seconds()
    elif database > after:
        ahead = (database - after).total_seconds()
    else:
        ahead = 0.0
    skew = abs(ahead)
    message = (f"the database's clock is {skew:.1f} s {'ahead of' if ahead > 0 else 'behind'} this host's: "
               "leases and heartbeats use the database's, webhooks are stamped with the host's.")
    fix = "Keep both the database server and every web and worker host on NTP."
    if skew > CLOCK_FAIL_SECONDS:
        return fail("clock", message + " Waits measured across both (the checkout settle window, the pixel "
                    "join) are off by as much.", fix)
    if skew > CLOCK_WARN_SECONDS:
        return Finding(Severity.WARN, "clock", message, fix)
    return ok("clock", f"the database's clock and this host's agree within {CLOCK_WARN_SECONDS:g} s.")


def _secrets() -> list[Finding]:
    """Every stored token, and the oldest waiting webhook bodies, open with the configured keys."""
    keys = list(current_app.config["ENCRYPTION_KEYS"])
    pinterest = db.session.execute(
        select(Shop.domain, PinterestSettings.access_token_enc).join(PinterestSettings.shop)
        .where(PinterestSettings.access_token_enc.is_not(None)).order_by(Shop.id).limit(SECRETS_CHECKED)).all()
    shopify = db.session.execute(
        select(Shop.domain, Shop.shopify_token_enc).where(Shop.shopify_token_enc.is_not(None))
        .order_by(Shop.id).limit(SECRETS_CHECKED)).all()
    bodies = db.session.execute(
        select(WebhookReceipt.shop_domain, WebhookReceipt.body).where(WebhookReceipt.body.is_not(None))
        .order_by(WebhookReceipt.id).limit(BODIES_CHECKED)).all()
    sealed = SealedBodies(keys)
    return [
        _unreadable("Pinterest tokens", _failing(pinterest, lambda value, _shop: decrypt(value, keys)),
                    len(pinterest), "their orders wait, paused, until each merchant pastes the token again"),
        _unreadable("Shopify tokens", _failing(shopify, lambda value, _shop: decrypt(value, keys)),
                    len(shopify), "reconciliation cannot recover those shops' missed orders"),
        _unreadable("waiting webhook bodies", _failing(bodies, lambda value, shop: sealed.open(bytes(value),
                    shop.encode())), len(bodies), "those orders are recorded unreadable and wait for reconciliation"),
    ]


def _failing(rows: Iterable[Any], opener: Callable[[Any, str], object]) -> list[str]:
    failing = []
    for shop, value in rows:
        try:
            opener(value, shop)
        except SecretUnreadable:
            failing.append(shop)
    return failing


def _unreadable(kind: str, shops: list[str], checked: int, consequence: str) -> Finding:
    check = f"ENCRYPTION_KEY ({kind})"
    if not shops:
        return ok(check, f"all {checked} stored {kind} open with the configured keys.")
    named = sorted(set(shops))
    listed = ", ".join(named[:5]) + (f" and {len(named) - 5} more" if len(named) > 5 else "")
    return fail(check, f"{len(shops)} of {checked} stored {kind} open with none of the configured keys "
                f"({listed}): {consequence}.",
                "Put the key that encrypted them back into ENCRYPTION_KEY, after the newest (new,old).")


def _worker() -> Finding:
    from app.clock import heartbeat_age

    stale = int(current_app.config.get("WORKER_STALE_SECONDS", 120))
    age = heartbeat_age()
    if age is None:
        return fail("worker", "no delivery worker has reported against this database: orders are stored "
                    "but nothing sends them to Pinterest.",
                    "Start one: `flask --app app worker` (Procfile `worker`; e.g. `heroku ps:scale worker=1`).")
    if age > stale:
        return fail("worker", f"the newest worker heartbeat is {age:.0f} s old (stale after {stale} s): "
                    "orders are not being sent.", "Restart the worker process and read its log.")
    return ok("worker", f"a worker reported {age:.0f} s ago.")


# -- the public URL ------------------------------------------------------------------------------------
def fetch_probe(url: str, headers: Mapping[str, str]) -> Mapping[str, Any]:
    import requests  # only here: the web process serves the probe, it never fetches it

    response = requests.get(f"{url.rstrip('/')}/doctor/proxy", headers=dict(headers), timeout=PROBE_SECONDS)
    response.raise_for_status()
    answer = response.json()
    if not isinstance(answer, dict):
        raise ValueError("the probe's answer is not a JSON object")
    return answer


def check_public_url(url: str, env: Mapping[str, str], fetch: Fetch) -> list[Finding]:
    import requests

    token = (env.get("METRICS_TOKEN") or "").strip()
    try:
        answer = fetch(url, {"Authorization": f"Bearer {token}"} if token else {})
    except (requests.RequestException, ValueError) as exc:
        return check_proxy(None, env, url, error=type(exc).__name__ + (f" {exc}" if str(exc) else ""))
    return check_proxy(answer, env, url)


# -- putting it together ---------------------------------------------------------------------------------
def diagnose(env: Mapping[str, str], app: Flask | None, *, url: str | None, fetch: Fetch | None,
             now: Callable[[], datetime] = now_utc, toml_text: str | None = None) -> list[Finding]:
    """Every finding, worst first within each part: environment, Shopify configuration, database, public URL."""
    if toml_text is None:
        path = PROJECT_ROOT / "shopify.app.toml"
        toml_text = path.read_text() if path.exists() else None
    findings = check_environment(env) + check_shopify_toml(toml_text, env)
    if app is None:
        findings.append(fail("database", "not checked: the configuration does not load (see the FAIL lines "
                             "above).", "Fix those, then run the doctor again."))
    else:
        with app.app_context():
            findings += check_database(now)
    target = url or public_url(toml_text)
    if fetch is not None and target:
        findings += check_public_url(target, env, fetch)
    return findings


def report(findings: list[Finding], echo: Callable[[str], None] = click.echo) -> int:
    """Print each finding with its fix; 1 when any would break orders."""
    for finding in findings:
        echo(f"{LABELS[finding.severity]}  {finding.check}: {finding.message}")
        if finding.fix:
            echo(f"      fix: {finding.fix}")
    failures = sum(f.severity is Severity.FAIL for f in findings)
    warnings = sum(f.severity is Severity.WARN for f in findings)
    echo(f"{failures} problem(s) that would lose or hold back orders, {warnings} warning(s).")
    return 1 if failures else 0


_URL = click.option("--url", help="The app's public URL to probe (default: application_url in shopify.app.toml).")
_OFFLINE = click.option("--offline", is_flag=True, help="Do not ask the public URL how requests arrive.")


@click.command("doctor")
@_URL
@_OFFLINE
def doctor_command(url: str | None, offline: bool) -> None:
    """Check this deployment's configuration; exit 1 when something would break orders."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    raise SystemExit(report(diagnose(os.environ, app, url=url, fetch=None if offline else fetch_probe)))


@click.command("python -m app.ops.doctor")
@_URL
@_OFFLINE
def standalone_command(url: str | None, offline: bool) -> None:
    """The same checks when the app cannot be built (its configuration does not load)."""
    from app import create_app

    try:
        app: Flask | None = create_app()
    except ConfigError:
        app = None  # the environment checks say why
    raise SystemExit(report(diagnose(os.environ, app, url=url, fetch=None if offline else fetch_probe)))


if __name__ == "__main__":
    standalone_command()
