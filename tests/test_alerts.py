"""deploy/prometheus: the alerting rules load in Prometheus, each alert fires as its unit test says, and every
metric they read is one /metrics serves.

promtool comes from Debian's `prometheus` package (`make test` installs it when run as root, like Chromium).
Without it these tests skip on a laptop and fail under CI=true.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from app.config import PROJECT_ROOT
from app.models import WorkerHeartbeat, db, now_utc

RULES = PROJECT_ROOT / "deploy" / "prometheus"
TOKEN_PATH = "/etc/prometheus/pinbridge-metrics-token"


def promtool() -> str:
    found = shutil.which("promtool")
    if found:
        return found
    message = "promtool is not installed (apt-get install prometheus; `make test` does it as root)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def run(*args: str, cwd: Path = RULES) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def alerts_in(path: Path, pattern: str) -> set[str]:
    return set(re.findall(pattern, path.read_text(), flags=re.MULTILINE))


def test_the_rules_load() -> None:
    result = run("check", "rules", "alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 11 rules found" in result.stdout


def test_each_alert_fires_as_its_unit_test_says() -> None:
    result = run("test", "rules", "alerts.test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_has_a_unit_test_that_sees_it_fire() -> None:
    rules = alerts_in(RULES / "alerts.yml", r"^\s+- alert: (\w+)$")
    tested = alerts_in(RULES / "alerts.test.yml", r"^\s+alertname: (\w+)$")
    firing = set(re.findall(r"alertname: (\w+)\n\s+exp_alerts:\n\s+- exp_labels:", (RULES / "alerts.test.yml")
                            .read_text()))
    assert rules == tested == firing


def test_a_wrong_expectation_fails(tmp_path: Path) -> None:
    """The unit tests compare whole annotations: one changed word in an expectation fails the run."""
    shutil.copy(RULES / "alerts.yml", tmp_path / "alerts.yml")
    text = (RULES / "alerts.test.yml").read_text()
    assert text.count("its orders wait.\"") == 2
    (tmp_path / "alerts.test.yml").write_text(text.replace("its orders wait.\"", "its orders are lost.\"", 1))
    result = run("test", "rules", "alerts.test.yml", cwd=tmp_path)
    assert result.returncode != 0
    assert "PinbridgeShopPaused" in result.stdout + result.stderr


def test_the_example_configuration_loads(tmp_path: Path) -> None:
    shutil.copy(RULES / "alerts.yml", tmp_path / "alerts.yml")
    token = tmp_path / "token"
    token.write_text("fake-metrics-token-0123456789abcdef\n")
    config = (RULES / "prometheus.yml").read_text()
    assert config.count(TOKEN_PATH) == 1
    (tmp_path / "prometheus.yml").write_text(config.replace(TOKEN_PATH, str(token)))
    result = run("check", "config", "prometheus.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_metric_the_rules_read_is_served(client: FlaskClient, configure_shop: Any) -> None:
    configure_shop()
    now = now_utc()
    db.session.add(WorkerHeartbeat(worker_id="alerts-test", last_seen_at=now, started_at=now))
    db.session.commit()
    served = set(re.findall(r"^# TYPE (pinbridge_\w+) ", client.get("/metrics").get_data(as_text=True), re.MULTILINE))
    read = alerts_in(RULES / "alerts.yml", r"\b(pinbridge_\w+)")
    assert read - served == set()
