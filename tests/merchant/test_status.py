"""The page's status line as a table: the one state a merchant must know first, from the shop's facts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from app.merchant.status import decide

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
UNREADABLE = "Pinbridge cannot read the stored token: the encryption key changed. Paste the token again."


def settings(**changes: Any) -> SimpleNamespace:
    values = {"configured": True, "connection_status": "ok", "connection_message": None,
              "ad_account_id": "549755885175", "enabled": True}
    values.update(changes)
    values["paused"] = values["connection_status"] in ("rejected", "unreadable")  # as PinterestSettings.paused
    return SimpleNamespace(**values)


def state(**changes: Any) -> SimpleNamespace:
    values = {"failure_class": None, "failing_since": None, "failure_message": None,
              "last_success_at": NOW - timedelta(minutes=3)}
    values.update(changes)
    return SimpleNamespace(**values)


def facts(waiting: int = 0, overdue: int = 0) -> dict[str, Any]:
    return {"waiting": waiting, "overdue": overdue,
            "oldest_waiting_at": NOW - timedelta(minutes=30) if waiting else None}


OUTAGE = state(failure_class="pinterest", failing_since=NOW - timedelta(minutes=5),
               failure_message="Service Unavailable")


@pytest.mark.parametrize(("shop", "delivery", "waiting", "heartbeat", "expected"), [
    # Not connected yet: orders are recorded meanwhile.
    (None, None, facts(2), NOW,
     {"state": "not_configured", "heading": "Connect Pinterest to start",
      "message": "Add your Pinterest ad account id and conversion access token. Orders are recorded meanwhile: "
                 "2 orders will be sent once you connect."}),
    (settings(configured=False), None, facts(), NOW,
     {"state": "not_configured",
      "message": "Add your Pinterest ad account id and conversion access token. Orders are recorded meanwhile."}),
    # A token the key cannot read comes before everything else.
    (settings(connection_status="unreadable", connection_message=UNREADABLE), state(), facts(2), NOW,
     {"state": "paused", "reason": "unreadable",
      "message": f"{UNREADABLE} 2 orders are waiting and will be sent once you save it.",
      "action": {"label": "Paste the token again", "target": "access_token"}}),
    # Paused for the token, or for the ad account, each leading to its own field.
    (settings(connection_status="rejected", connection_message="Authentication failed."),
     state(failure_class="token"), facts(3), NOW,
     {"state": "paused", "reason": "token", "pinterest_message": "Authentication failed.",
      "message": "Pinterest no longer accepts your conversion access token. 3 orders are waiting and will be "
                 "sent once this is fixed.",
      "action": {"label": "Update access token", "target": "access_token"}}),
    (settings(connection_status="rejected"), state(failure_class="ad_account", failure_message="Forbidden."),
     facts(), NOW,
     {"state": "paused", "reason": "ad_account", "pinterest_message": "Forbidden.",
      "message": "Your access token works, but Pinterest doesn't allow it to send conversions for ad account "
                 "549755885175. This usually means the ad account id is wrong. New orders will wait and be "
                 "sent once this is fixed.",
      "action": {"label": "Check ad account id", "target": "ad_account_id"}}),
    # Turned off by the merchant.
    (settings(enabled=False), state(), facts(2), NOW,
     {"state": "disabled", "message": "Pinbridge is not sending orders to Pinterest. 2 orders received while "
                                      "off are held and will be sent when you turn it back on."}),
    # Pinterest failing for over a minute: delayed, in Pinterest's words one click away.
    (settings(), OUTAGE, facts(1), NOW,
     {"state": "delayed", "heading": "Sending delayed", "since": "2026-11-20T11:55:00Z", "next_step": None,
      "pinterest_message": "Service Unavailable",
      "message": "Pinterest is having trouble on its side. 1 order is waiting and will be sent automatically."}),
    # Failing for less than a minute: still working.
    (settings(), state(failure_class="pinterest", failing_since=NOW - timedelta(seconds=20)),
     facts(), NOW, {"state": "working", "heading": "Working", "message": "Orders are reaching Pinterest."}),
    # Orders overdue with no worker alive: Pinbridge's side, said plainly.
    (settings(), state(), facts(2, overdue=2), NOW - timedelta(minutes=10),
     {"state": "delayed", "pinterest_message": None,
      "message": "Pinbridge's sending service isn't running right now. 2 orders are waiting and will be sent "
                 "automatically.",
      "next_step": "Nothing to do: orders are kept and will be sent once it catches up."}),
    (settings(), state(), facts(1, overdue=1), NOW - timedelta(seconds=10),
     {"state": "delayed",
      "message": "Sending is running late on Pinbridge's side. 1 order is waiting and will be sent automatically."}),
    # Healthy.
    (settings(), state(), facts(2), NOW,
     {"state": "working", "message": "Orders are reaching Pinterest. 2 orders about to be sent."}),
    (settings(), state(last_success_at=None), facts(), NOW,
     {"state": "working", "heading": "Connected",
      "message": "Pinterest accepted your settings. Orders are sent as soon as they come in."}),
    # Connected but never checked.
    (settings(connection_status="unknown"), None, facts(), None,
     {"state": "waiting", "heading": "Check your connection",
      "action": {"label": "Send test event", "target": "verify"}}),
])
def test_the_status_line(shop: Any, delivery: Any, waiting: dict[str, Any], heartbeat: datetime | None,
                         expected: dict[str, Any]) -> None:
    decided = decide(shop, delivery, waiting, heartbeat, NOW)
    assert {key: decided.get(key) for key in expected} == expected
