"""The beacon joined to its order, as tables: what a beacon adds to an event, and what consent keeps back.

The join against stored beacons and a running worker is exercised in tests/ingest/test_beacon.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from app.beacons import StoredBeacon, _match_keys, apply

EVENT = {"event_name": "checkout", "event_id": "c1", "user_data": {"em": ["hashed-email"]},
         "custom_data": {"currency": "USD", "value": "45.00"}}
AGENT = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X)"


def beacon(**changes: Any) -> StoredBeacon:
    values = {"tag_event_id": "c1", "click_id": "epik-click", "consent_marketing": True,
              "consent_sale_of_data": True, "user_agent": AGENT, "ip": "198.51.100.7"}
    values.update(changes)
    return StoredBeacon(**values)


def test_a_beacon_adds_the_click_id_and_the_browser() -> None:
    out = apply(EVENT, beacon(), "skip", "limited")
    assert out is not None
    assert out["user_data"] == {"em": ["hashed-email"], "click_id": "epik-click", "client_user_agent": AGENT,
                                "client_ip_address": "198.51.100.7"}
    assert out["custom_data"] == EVENT["custom_data"]
    assert EVENT["user_data"] == {"em": ["hashed-email"]}  # the event given is left as it was


def test_the_orders_own_click_id_and_browser_win() -> None:
    own = {**EVENT, "user_data": {"click_id": "orders-own", "client_user_agent": "own agent",
                                  "client_ip_address": "203.0.113.9"}}
    out = apply(own, beacon(), "skip", "limited")
    assert out is not None and out["user_data"] == own["user_data"]


def test_half_a_browser_is_not_added() -> None:
    out = apply(EVENT, beacon(ip=None), "skip", "limited")
    assert out is not None and "client_user_agent" not in out["user_data"]


@pytest.mark.parametrize(("marketing", "sale", "marketing_rule", "sale_rule", "expected"), [
    (True, True, "skip", "skip", "sent"),
    (False, True, "skip", "limited", "withheld"),     # refused marketing, the merchant skips such buyers
    (False, True, "limited", "limited", "LDP"),       # ... or sends them for limited data processing
    (False, True, "send", "limited", "sent"),         # ... or sends them as usual
    (True, False, "skip", "limited", "LDP"),          # refused the sale of their data: limited by default
    (True, False, "skip", "skip", "withheld"),
    (True, False, "skip", "send", "sent"),
    (None, None, "skip", "skip", "sent"),             # consent unknown: nothing refused
    (False, False, "limited", "skip", "withheld"),    # either rule that skips keeps it back
])
def test_consent_table(marketing: bool | None, sale: bool | None, marketing_rule: str, sale_rule: str,
                       expected: str) -> None:
    out = apply(EVENT, beacon(consent_marketing=marketing, consent_sale_of_data=sale), marketing_rule, sale_rule)
    if expected == "withheld":
        assert out is None
        return
    assert out is not None
    assert out["custom_data"].get("opt_out_type") == ("LDP" if expected == "LDP" else None)


@pytest.mark.parametrize(("stored", "user_data", "keys"), [
    ("em ph", {}, "em ph"),
    ("em", {"click_id": "x"}, "em click_id"),
    (None, {"client_ip_address": "1", "client_user_agent": "a"}, "ip_ua"),
    ("em", {"client_ip_address": "1"}, "em"),         # half a browser is no key
    (None, {}, None),
])
def test_the_match_keys_after_the_join(stored: str | None, user_data: dict[str, Any], keys: str | None) -> None:
    result = _match_keys(stored, {"user_data": user_data})
    assert (set(result.split()) if result else None) == (set(keys.split()) if keys else None)
