"""/metrics can be closed to everyone but the scraper holding METRICS_TOKEN."""

from __future__ import annotations

from typing import Any


def test_metrics_are_open_without_a_token(client: Any) -> None:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert b"# TYPE" in response.data


def test_metrics_token_is_required_when_configured(app: Any, client: Any) -> None:
    app.config["METRICS_TOKEN"] = "scrape-token-for-tests"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    ok = client.get("/metrics", headers={"Authorization": "Bearer scrape-token-for-tests"})
    assert ok.status_code == 200
    assert b"# TYPE" in ok.data
