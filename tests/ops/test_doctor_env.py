"""The doctor's pure checks (app/ops/doctor_env.py): each broken environment, shopify.app.toml and proxy
setup found and named with its severity; no secret in a message."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.fernet import Fernet

from app.config import DEFAULTS, PROJECT_ROOT
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
from tests.conftest import ENCRYPTION_KEY

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
