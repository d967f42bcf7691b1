"""`flask --app app doctor`: broken configurations, each found, named and given its fix; the exit code."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.fernet import Fernet
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from app import create_app, crypto
from app.clock import database_now
from app.config import DEFAULTS, PROJECT_ROOT
from app.models import PinterestSettings, Shop, WebhookReceipt, WorkerHeartbeat, db
from app.ops.doctor import check_database, check_public_url, diagnose, report
from app.ops.doctor_env import (
    NUMBERS,
    PLACEHOLDER_CLIENT_ID,
    Finding,
    Severity,
    check_environment,
    check_proxy,
    check_shopify_toml,
    public_url,
)
from tests.conftest import ENCRYPTION_KEY, SHOP

OK, WARN, FAIL = Severity.OK, Severity.WARN, Severity.FAIL
CLIENT_ID = "0123456789abcdef0123456789abcdef"
GOOD = {
    "APP_ENV": "production",
    "SHOPIFY_API_KEY": CLIENT_ID,
    "SHOPIFY_API_SECRET": "fake-client-secret-not-real-0001",
    "ENCRYPTION_KEY": ENCRYPTION_KEY,
    "DATABASE_URL": "postgres://pinbridge@db.internal.example:5432/pinbridge",
    "METRICS_TOKEN": "fake-metrics-token-0123456789abcdef",
    "TRUSTED_PROXY_HOPS": "1",
}
TOML = (PROJECT_ROOT / "shopify.app.toml").read_text()
GOOD_TOML = (TOML.replace(PLACEHOLDER_CLIENT_ID, CLIENT_ID)
             .replace("https://pinbridge.example.com", "https://pinbridge.shop-tools.test"))
DELETE = object()


def env_with(**changes: Any) -> dict[str, str]:
    env = {**GOOD, **changes}
    return {key: value for key, value in env.items() if value is not DELETE}


def problems(findings: list[Finding]) -> set[tuple[str, Severity]]:
    return {(f.check, f.severity) for f in findings if f.severity is not OK}


def test_a_good_production_environment_has_no_problem() -> None:
    assert problems(check_environment(GOOD)) == set()
    assert problems(check_shopify_toml(GOOD_TOML, GOOD)) == set()


@pytest.mark.parametrize(("changes", "expected"), [
    # APP_ENV: a typo runs the app as development, with secrets of its own.
    ({"APP_ENV": "prod"}, {("APP_ENV", FAIL)}),
    ({"APP_ENV": DELETE}, {("APP_ENV", WARN)}),
    # Each variable production cannot start without.
    ({"SHOPIFY_API_KEY": DELETE}, {("SHOPIFY_API_KEY", FAIL)}),
    ({"SHOPIFY_API_SECRET": DELETE}, {("SHOPIFY_API_SECRET", FAIL)}),
    ({"ENCRYPTION_KEY": DELETE}, {("ENCRYPTION_KEY", FAIL)}),
    ({"DATABASE_URL": DELETE}, {("DATABASE_URL", FAIL)}),
    # Secrets compared byte for byte: a pasted newline breaks every signature.
    ({"SHOPIFY_API_SECRET": "fake-client-secret-not-real-0001\n"}, {("SHOPIFY_API_SECRET", FAIL)}),
    ({"SHOPIFY_API_KEY": f" {CLIENT_ID}"}, {("SHOPIFY_API_KEY", FAIL)}),
    ({"SHOPIFY_API_SECRET": CLIENT_ID}, {("SHOPIFY_API_SECRET", FAIL)}),
    ({"SHOPIFY_API_SECRET_OLD": GOOD["SHOPIFY_API_SECRET"]}, {("SHOPIFY_API_SECRET_OLD", WARN)}),
    # API versions: not a release, or older than what reconciliation reads.
    ({"SHOPIFY_API_VERSION": "2026-11"}, {("SHOPIFY_API_VERSION", FAIL)}),
    ({"SHOPIFY_API_VERSION": "unstable"}, {("SHOPIFY_API_VERSION", FAIL)}),
    ({"SHOPIFY_API_VERSION": "2025-10"}, {("SHOPIFY_API_VERSION", FAIL)}),
    ({"SHOPIFY_API_VERSION": "2027-01"}, set()),
    # Encryption keys that cannot be read.
    ({"ENCRYPTION_KEY": "not-a-fernet-key"}, {("ENCRYPTION_KEY", FAIL)}),
    ({"ENCRYPTION_KEY": " , "}, {("ENCRYPTION_KEY", FAIL)}),
    ({"ENCRYPTION_KEY": f"{Fernet.generate_key().decode()},{ENCRYPTION_KEY}"}, set()),
    # Databases.
    ({"DATABASE_URL": "mysql://pinbridge@db.internal.example/pinbridge"}, {("DATABASE_URL", FAIL)}),
    ({"DATABASE_URL": "sqlite:///:memory:"}, {("DATABASE_URL", FAIL)}),
    ({"DATABASE_URL": "not a url"}, {("DATABASE_URL", FAIL)}),
    ({"DATABASE_URL": "sqlite:////srv/pinbridge/pinbridge.db"}, {("DATABASE_URL", WARN)}),
    ({"DATABASE_URL": "sqlite:///pinbridge.db"}, {("DATABASE_URL", WARN)}),
    ({"DATABASE_URL": " postgres://pinbridge@db.internal.example/pinbridge"}, {("DATABASE_URL", FAIL)}),
    # Pinterest: tokens never in clear text; a stand-in is worth a word.
    ({"PINTEREST_API_URL": "http://api.pinterest.example/v5"}, {("PINTEREST_API_URL", FAIL)}),
    ({"PINTEREST_API_URL": "pinterest"}, {("PINTEREST_API_URL", FAIL)}),
    ({"PINTEREST_API_URL": "https://standin.example.net/v5"}, {("PINTEREST_API_URL", WARN)}),
    ({"PINTEREST_API_URL": "http://127.0.0.1:9000/v5"}, {("PINTEREST_API_URL", WARN)}),
    ({"PINTEREST_API_URL": "https://api.pinterest.com/v5/"}, set()),
    # Metrics: closed in production without a token, so alerts are blind.
    ({"METRICS_TOKEN": DELETE}, {("METRICS_TOKEN", WARN)}),
    ({"METRICS_TOKEN": "short"}, {("METRICS_TOKEN", WARN)}),
    ({"APP_ENV": "development", "METRICS_TOKEN": DELETE}, {("APP_ENV", WARN)}),
    # Beacon limits.
    ({"PIXEL_RATE_LIMIT_CLIENT": "lots"}, {("PIXEL_RATE_LIMIT_CLIENT", FAIL)}),
    ({"PIXEL_RATE_LIMIT_SHOP": "6000 per minute"}, set()),
    ({"RATELIMIT_STORAGE_URI": "postgres://limits.example/db"}, {("RATELIMIT_STORAGE_URI", FAIL)}),
    ({"RATELIMIT_STORAGE_URI": "redis://cache.internal.example:6379/0"}, set()),
    # Numbers: not numbers, out of range, or against Shopify's and Pinterest's limits.
    ({"BATCH_SIZE": "ten"}, {("BATCH_SIZE", FAIL)}),
    ({"BATCH_SIZE": "0"}, {("BATCH_SIZE", FAIL)}),
    ({"BATCH_SIZE": "5000"}, {("BATCH_SIZE", FAIL)}),
    ({"PORT": "70000"}, {("PORT", FAIL)}),
    ({"WORKER_IDLE_SECONDS": "soon"}, {("WORKER_IDLE_SECONDS", FAIL)}),
    ({"EVENT_MAX_AGE_SECONDS": "0"}, {("EVENT_MAX_AGE_SECONDS", FAIL)}),
    ({"WEBHOOK_MAX_AGE_SECONDS": "600"}, {("WEBHOOK_MAX_AGE_SECONDS", FAIL)}),
    ({"WEBHOOK_MAX_AGE_SECONDS": "0"}, set()),
    ({"LEASE_SECONDS": "10"}, {("LEASE_SECONDS", WARN)}),
    ({"CHECKOUT_SETTLE_SECONDS": "5"}, {("CHECKOUT_SETTLE_SECONDS", WARN)}),
    ({"PIXEL_JOIN_SECONDS": "60"}, {("PIXEL_JOIN_SECONDS", WARN)}),
    ({"TRUSTED_PROXY_HOPS": "-1"}, {("TRUSTED_PROXY_HOPS", FAIL)}),
    ({"RECEIPT_RETENTION_DAYS": "0"}, {("RECEIPT_RETENTION_DAYS", FAIL)}),
    # What gunicorn and the metrics read.
    ({"WEB_CONCURRENCY": "auto"}, {("WEB_CONCURRENCY", FAIL)}),
    ({"GUNICORN_WORKER_CLASS": "sync"}, {("GUNICORN_WORKER_CLASS", WARN)}),
    ({"PROMETHEUS_MULTIPROC_DIR": "/nonexistent/pinbridge-metrics"}, {("PROMETHEUS_MULTIPROC_DIR", FAIL)}),
])
def test_each_broken_environment_is_named(changes: dict[str, Any], expected: set[tuple[str, Severity]]) -> None:
    findings = check_environment(env_with(**changes))
    assert problems(findings) == expected
    assert all(f.fix for f in findings if f.severity is not OK)


def test_messages_never_show_a_secret() -> None:
    secret = "fake-client-secret-not-real-0001"
    findings = check_environment(env_with(SHOPIFY_API_SECRET=secret + " ", ENCRYPTION_KEY="nonsense-key-value",
                                          METRICS_TOKEN="tiny"))
    text_out = " ".join(f.message + f.fix for f in findings)
    for value in (secret, "nonsense-key-value", "tiny"):
        assert value not in text_out


def test_every_variable_the_app_reads_is_looked_at() -> None:
    """A variable added to app/config.py without a check here fails this test."""
    source = (PROJECT_ROOT / "app" / "ops" / "doctor_env.py").read_text()
    checked = {name for name, *_ in NUMBERS} | {name for name in DEFAULTS if f'"{name}"' in source}
    assert set(DEFAULTS) - checked == set()


# -- shopify.app.toml ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("toml", "env", "expected"), [
    (TOML, GOOD, {("shopify.app.toml client_id", FAIL), ("shopify.app.toml application_url", FAIL)}),
    (GOOD_TOML.replace(CLIENT_ID, "fedcba9876543210fedcba9876543210"), GOOD, {("shopify.app.toml client_id", FAIL)}),
    (GOOD_TOML.replace("https://pinbridge.shop-tools.test/", "http://pinbridge.shop-tools.test/"), GOOD,
     {("shopify.app.toml application_url", FAIL)}),
    (GOOD_TOML.replace("https://pinbridge.shop-tools.test/", "https://apps.example.org/"), GOOD,
     {("shopify.app.toml application_url", FAIL)}),
    (GOOD_TOML.replace("https://pinbridge.shop-tools.test/auth", "https://old-host.shop-tools.test/auth"), GOOD,
     {("shopify.app.toml redirect_urls", WARN)}),
    (GOOD_TOML, {**GOOD, "SHOPIFY_API_KEY": ""}, set()),
    (None, GOOD, {("shopify.app.toml", FAIL)}),
    ("client_id = ", GOOD, {("shopify.app.toml", FAIL)}),
])
def test_shopify_app_toml(toml: str | None, env: dict[str, str], expected: set[tuple[str, Severity]]) -> None:
    findings = check_shopify_toml(toml, env)
    assert problems(findings) == expected
    assert all(f.fix for f in findings if f.severity is not OK)


def test_the_public_url_is_read_only_when_real() -> None:
    assert public_url(GOOD_TOML) == "https://pinbridge.shop-tools.test/"
    assert public_url(TOML) is None
    assert public_url("nonsense = ") is None


# -- proxies -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("answer", "hops", "expected"), [
    # One platform router, told: the beacon's address is the shopper's.
    ({"forwarded_for_entries": 1, "forwarded_proto": "https", "scheme": "http"}, "1", set()),
    # No proxy at all, none configured.
    ({"forwarded_for_entries": 0, "forwarded_proto": None, "scheme": "https"}, "0", set()),
    # A router in front, not configured: every beacon would come from the router's address.
    ({"forwarded_for_entries": 1, "forwarded_proto": "https", "scheme": "http"}, "0", {("TRUSTED_PROXY_HOPS", WARN)}),
    # A CDN and a load balancer, one configured.
    ({"forwarded_for_entries": 2, "forwarded_proto": "https", "scheme": "http"}, "1", {("TRUSTED_PROXY_HOPS", WARN)}),
    # TLS ends at a proxy that does not say so.
    ({"forwarded_for_entries": 1, "forwarded_proto": None, "scheme": "http"}, "1", {("X-Forwarded-Proto", WARN)}),
    # No answer.
    (None, "1", {("proxy", WARN)}),
])
def test_proxy_hops_against_what_a_request_arrives_with(answer: dict[str, Any] | None, hops: str,
                                                       expected: set[tuple[str, Severity]]) -> None:
    assert problems(check_proxy(answer, env_with(TRUSTED_PROXY_HOPS=hops), "https://pinbridge.shop-tools.test")) \
        == expected


def probe_through(client: FlaskClient, forwarded_for: str | None) -> Callable[[str, Mapping[str, str]], Any]:
    """A fetch that reaches the app as a request from outside would, through proxies that add these entries."""
    def fetch(url: str, headers: Mapping[str, str]) -> Any:
        extra = {"X-Forwarded-For": forwarded_for, "X-Forwarded-Proto": "https"} if forwarded_for else {}
        response = client.get("/doctor/proxy", headers={**headers, **extra})
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()
    return fetch


def test_the_probe_counts_forwarded_entries_and_shows_no_address(client: FlaskClient) -> None:
    fetch = probe_through(client, "198.51.100.7, 10.1.2.3")
    answer = fetch("https://pinbridge.shop-tools.test", {})
    assert answer == {"forwarded_for_entries": 2, "forwarded_proto": "https", "scheme": "http"}
    assert problems(check_public_url("https://pinbridge.shop-tools.test", env_with(TRUSTED_PROXY_HOPS="2"),
                                     fetch)) == set()


def test_the_probe_is_closed_like_metrics(app: Flask, client: FlaskClient) -> None:
    app.config.update(APP_ENV="production", METRICS_TOKEN=None)
    assert client.get("/doctor/proxy").status_code == 403
    app.config["METRICS_TOKEN"] = "fake-metrics-token-0123456789abcdef"
    assert client.get("/doctor/proxy").status_code == 401
    assert client.get("/doctor/proxy", headers={"Authorization": "Bearer wrong"}).status_code == 401
    answer = client.get("/doctor/proxy", headers={"Authorization": "Bearer fake-metrics-token-0123456789abcdef"})
    assert answer.status_code == 200


def test_an_unreachable_public_url_is_a_warning() -> None:
    def refused(url: str, headers: Mapping[str, str]) -> Any:
        raise requests.ConnectionError("connection refused")

    [finding] = check_public_url("https://pinbridge.shop-tools.test", GOOD, refused)
    assert finding.severity is WARN and "connection refused" in finding.message


# -- the database -----------------------------------------------------------------------------------------
def heartbeat(age_seconds: float = 1.0) -> None:
    seen = database_now() - timedelta(seconds=age_seconds)
    db.session.add(WorkerHeartbeat(worker_id="doctor-test-worker", last_seen_at=seen, started_at=seen))
    db.session.commit()


def test_a_healthy_database(app: Flask, configure_shop: Any) -> None:
    configure_shop()
    heartbeat()
    findings = check_database()
    assert problems(findings) == set()
    assert {f.check for f in findings} == {"migrations", "clock", "ENCRYPTION_KEY (Pinterest tokens)",
                                           "ENCRYPTION_KEY (Shopify tokens)", "ENCRYPTION_KEY (waiting webhook bodies)",
                                           "worker"}


def test_no_worker_or_a_stale_one_holds_orders_back(app: Flask) -> None:
    assert problems(check_database()) == {("worker", FAIL)}
    heartbeat(age_seconds=600)
    [worker] = [f for f in check_database() if f.check == "worker"]
    assert worker.severity is FAIL and "600 s old" in worker.message


def test_tokens_and_bodies_no_configured_key_opens(app: Flask, configure_shop: Any) -> None:
    heartbeat()
    shop = configure_shop()
    other = [Fernet.generate_key().decode()]
    settings = db.session.get(PinterestSettings, shop.settings.id)
    assert settings is not None
    settings.access_token_enc = crypto.encrypt("pina_fake_token_0002", other)
    record = db.session.get(Shop, shop.id)
    assert record is not None
    record.shopify_token_enc = crypto.encrypt("shpat_fake_token_0003", other)
    db.session.add(WebhookReceipt(webhook_id="doctor-unreadable-1", shop_domain=SHOP, topic="orders/create",
                                  outcome="waiting", body=crypto.SealedBodies(other).seal(b"{}", SHOP.encode())))
    db.session.commit()
    findings = check_database()
    assert problems(findings) == {(f"ENCRYPTION_KEY ({kind})", FAIL)
                                  for kind in ("Pinterest tokens", "Shopify tokens", "waiting webhook bodies")}
    assert all(SHOP in f.message for f in findings if f.severity is FAIL)
    assert "pina_fake_token_0002" not in " ".join(f.message for f in findings)


@pytest.mark.parametrize(("revision", "words"), [("0006", "the code needs 0012"), ("9999", "a newer Pinbridge")])
def test_a_database_not_at_the_migrations_head(app: Flask, revision: str, words: str) -> None:
    with db.engine.begin() as connection:
        head = connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        connection.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    try:
        findings = check_database()
    finally:
        with db.engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": head})
    assert problems(findings) == {("migrations", FAIL)}
    assert words in findings[0].message
    assert [f.check for f in findings] == ["migrations", "clock"]  # no table of an unknown schema is read


@pytest.mark.parametrize(("offset", "expected"), [(0, set()), (-10, {("clock", WARN)}), (600, {("clock", FAIL)})])
def test_the_database_clock_beside_the_hosts(app: Flask, offset: int, expected: set[tuple[str, Severity]]) -> None:
    heartbeat()
    findings = check_database(now=lambda: database_now() + timedelta(seconds=offset))
    assert problems(findings) == expected


def test_a_database_that_does_not_answer(tmp_path: Path) -> None:
    url = "postgresql://pinbridge@127.0.0.1:9/pinbridge"
    broken = create_app({"TESTING": True, "INSTANCE_DIR": tmp_path, "DATABASE_URL": url,
                         "SQLALCHEMY_DATABASE_URI": url.replace("postgresql://", "postgresql+psycopg://"),
                         "ENCRYPTION_KEYS": [ENCRYPTION_KEY]})
    with broken.app_context():
        assert problems(check_database()) == {("database", FAIL)}


# -- the command -------------------------------------------------------------------------------------------
def test_a_good_deployment_exits_0(app: Flask, configure_shop: Any, client: FlaskClient) -> None:
    configure_shop()
    heartbeat()
    lines: list[str] = []
    findings = diagnose(GOOD, app, url=None, fetch=probe_through(client, "203.0.113.9"), toml_text=GOOD_TOML)
    assert report(findings, lines.append) == 0
    assert lines[-1] == "0 problem(s) that would lose or hold back orders, 0 warning(s)."
    assert any(line.startswith("OK    TRUSTED_PROXY_HOPS: 1") for line in lines)


def test_the_command_prints_each_finding_with_its_fix_and_exits_1(runner: Any) -> None:
    result = runner.invoke(args=["doctor", "--offline"])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    at = lines.index(next(line for line in lines if line.startswith("FAIL  shopify.app.toml application_url")))
    assert lines[at + 1].startswith("      fix: Set application_url")
    assert lines[-1].endswith("warning(s).")


def test_python_m_app_doctor_runs_when_the_app_cannot_start(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SHOPIFY_", "APP_", "DATABASE"))}
    env.update(APP_ENV="production", SHOPIFY_API_KEY=CLIENT_ID, ENCRYPTION_KEY=ENCRYPTION_KEY,
               DATABASE_URL=f"sqlite:///{tmp_path / 'pinbridge.db'}")
    result = subprocess.run([sys.executable, "-m", "app.ops.doctor", "--offline"], cwd=PROJECT_ROOT, env=env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1, result.stderr
    assert "FAIL  SHOPIFY_API_SECRET: SHOPIFY_API_SECRET is required when APP_ENV=production" in result.stdout
    assert "FAIL  database: not checked: the configuration does not load" in result.stdout
