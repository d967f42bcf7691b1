"""`flask --app app doctor` (app/ops/doctor.py): the proxy probe, the database's checks, the report and the exit
code. The pure checks of the environment, shopify.app.toml and proxies are in test_doctor_env.py."""

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
from app.config import PROJECT_ROOT
from app.models import PinterestSettings, Shop, WebhookReceipt, WorkerHeartbeat, db
from app.ops.doctor import check_database, check_public_url, diagnose, report
from app.ops.doctor_env import Severity
from tests.conftest import ENCRYPTION_KEY, SHOP
from tests.ops.test_doctor_env import CLIENT_ID, GOOD, GOOD_TOML, env_with, problems

OK, WARN, FAIL = Severity.OK, Severity.WARN, Severity.FAIL


# -- the public URL's probe ----------------------------------------------------------------------------------
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
