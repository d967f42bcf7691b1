"""The app pixel (extensions/pinbridge-beacon), run in Node beside the custom pixel: both send the same beacon.

tests/js/run_extension.js loads the real src/index.js and the real `register` of @shopify/web-pixels-extension
in a worker-like vm context (no window, no document), hands its callback Web Pixels-shaped `init`,
`analytics`, `customerPrivacy`, `browser` and `settings`, and records every request. Each case is compared
with what the served custom pixel (app/merchant/pixel.py, run by tests/test_pixel.py's harness) sends for the same
`init` and `checkout_completed` event: the same URL, the same options, the same body byte for byte.
"""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from app.ingest.beacon import MAX_BEACON_BYTES, parse
from app.mapping import MappingOptions, map_order
from app.mapping.identity import EVENT_ID_CHAIN, MAX_EVENT_ID_LENGTH
from app.mapping.types import EVENT_ID_SOURCES
from app.merchant.pixel import EVENT_ID_SOURCE, snippet, version
from app.shops import normalise_shop_domain
from tests.conftest import require_or_skip
from tests.mapping import orders
from tests.merchant.test_pixel import NODE, ORDERS, pixel_event, run_pixel

ROOT = Path(__file__).resolve().parent.parent
EXTENSION = ROOT / "extensions" / "pinbridge-beacon"
SOURCE = EXTENSION / "src" / "index.js"
RUNNER = Path(__file__).parent / "js" / "run_extension.js"
APP_URL = "https://pinbridge.example.com"
SHOP = "demo-store.myshopify.com"
TAG_ID = "2612345678901"
BEACON_URL = f"{APP_URL}/pixel?shop={SHOP}"
SHARED_FUNCTIONS = ("pinbridgeToken", "pinbridgeCartToken", "pinbridgeEventId")
CLI_SIZE_LIMIT = 128 * 1024  # the Shopify CLI refuses a web pixel bundle above 128 kB
ALLOWED = {"marketingAllowed": True, "saleOfDataAllowed": True,
           "analyticsProcessingAllowed": True, "preferencesProcessingAllowed": True}

require_or_skip(NODE is not None, "Node.js is required to run the pixels", module=True)


# -- running both pixels ----------------------------------------------------------------------------------
def app_init(init: dict[str, Any]) -> dict[str, Any]:
    """The custom pixel's `init` as an app pixel gets it: the same page, plus the shop (RegisterInit.data.shop)."""
    return {**init, "data": {**init["data"], "shop": {"myshopifyDomain": SHOP, "name": "Demo Store"}}}


def with_consent(init: dict[str, Any], **consent: bool) -> dict[str, Any]:
    return {**init, "customerPrivacy": {**ALLOWED, **consent}}


def checkout_completed(event: dict[str, Any]) -> dict[str, Any]:
    return {"bus": "analytics", "name": "checkout_completed", "event": event}


def consent_collected(**consent: bool) -> dict[str, Any]:
    """What the Web Pixels customerPrivacy API publishes when the buyer answers the banner."""
    return {"bus": "customerPrivacy", "name": "visitorConsentCollected",
            "event": {"customerPrivacy": {**ALLOWED, **consent}}}


def case(init: dict[str, Any], event: dict[str, Any], *, source: str = "cart_token",
         cookies: dict[str, str] | None = None, settings: dict[str, Any] | None = None,
         before: list[dict[str, Any]] | None = None, cookie_error: bool = False) -> dict[str, Any]:
    return {
        "settings": {"appUrl": APP_URL, "eventIdSource": source} if settings is None else settings,
        "init": app_init(init), "cookies": cookies or {}, "cookieError": cookie_error,
        "events": [*(before or []), checkout_completed(event)],
    }


def run_extension(cases: list[dict[str, Any]], mode: str = "source") -> dict[str, Any]:
    flags = ["--experimental-vm-modules"] if mode == "source" else []
    result = subprocess.run(
        [NODE or "node", *flags, str(RUNNER)], capture_output=True, timeout=60,
        input=json.dumps({"mode": mode, "extension": str(EXTENSION), "cases": cases}).encode(),
    )
    assert result.returncode == 0, result.stderr.decode()
    output = json.loads(result.stdout)
    for result_case in output["results"]:
        assert result_case["errors"] == [], result_case["errors"]
        assert result_case["registrations"] == ["WebPixel::Render"]
    return output


def app_beacons(cases: list[dict[str, Any]], mode: str = "source") -> list[list[dict[str, Any]]]:
    return [result["beacons"] for result in run_extension(cases, mode)["results"]]


def custom_beacons(init: dict[str, Any], event: dict[str, Any], *, source: str = "cart_token",
                   cookies: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """What the served custom pixel posts to Pinbridge for this event, in the shape the app pixel's are kept."""
    code = snippet(source, tag_id=TAG_ID, app_url=APP_URL, shop=SHOP)
    output = run_pixel(code, init, [{"name": "checkout_completed", "event": event}], cookies=cookies)
    beacons = []
    for beacon in output["beacons"]:
        # The custom pixel also says which version of its code was pasted (the app pixel's settings are kept
        # current by Pinbridge, so it has none); apart from that, the same body byte for byte.
        body = beacon["options"]["body"]
        stripped = re.sub(r',"pixel":"[0-9a-f]{12}"', "", body, count=1)
        assert stripped != body and beacon["body"].pop("pixel") == version(source, tag_id=TAG_ID)
        beacons.append({"via": "fetch", **beacon, "options": {**beacon["options"], "body": stripped}})
    return beacons


def accepted(beacon: dict[str, Any]) -> dict[str, Any]:
    """The beacon as `POST /pixel` reads it: its shop, and its body parsed by the endpoint's own validator."""
    assert len(beacon["options"]["body"].encode()) <= MAX_BEACON_BYTES
    shop = parse_qs(urlsplit(beacon["url"]).query)["shop"]
    parsed = parse(beacon["options"]["body"].encode())
    return {"shop": [normalise_shop_domain(value) for value in shop], "checkout_token": parsed.checkout_token,
            "event_id": parsed.tag_event_id, "click_id": parsed.click_id,
            "marketing": parsed.consent_marketing, "sale_of_data": parsed.consent_sale_of_data}


# -- the same beacon as the custom pixel --------------------------------------------------------------------
SHAPES = {
    **ORDERS,
    "cart token at the length limit": orders.web_order(cart_token="c" * MAX_EVENT_ID_LENGTH),
    "cart token over the length limit": orders.web_order(cart_token="c" * (MAX_EVENT_ID_LENGTH + 1)),
}


@pytest.mark.parametrize("source", EVENT_ID_SOURCES)
def test_every_order_shape_gets_the_custom_pixels_beacon(source: str) -> None:
    events = {name: pixel_event(order) for name, order in SHAPES.items()}
    got = app_beacons([case(init, event, source=source, cookies={"_epik": orders.EPIK})
                       for init, event in events.values()])
    sent = 0
    for (name, order), (init, event), beacons in zip(SHAPES.items(), events.values(), got, strict=True):
        assert beacons == custom_beacons(init, event, source=source, cookies={"_epik": orders.EPIK}), name
        if not order.get("checkout_token"):
            assert beacons == [], name  # nothing to join the beacon to: neither pixel sends one
            continue
        [beacon] = beacons
        assert beacon["url"] == BEACON_URL
        assert beacon["options"]["method"] == "POST" and beacon["options"]["keepalive"] is True
        assert beacon["options"]["headers"] == {"Content-Type": "text/plain"}  # no CORS preflight
        server = map_order(order, MappingOptions(event_id_source=source)).event
        assert server is not None
        assert accepted(beacon) == {
            "shop": [SHOP], "checkout_token": order["checkout_token"], "event_id": server["event_id"],
            "click_id": orders.EPIK, "marketing": True, "sale_of_data": True,
        }, name
        sent += 1
    assert sent == 11  # the two shapes without a checkout token send nothing


def test_the_web_order_beacon_field_by_field() -> None:
    init, event = pixel_event(orders.web_order())
    [[beacon]] = app_beacons([case(init, event, cookies={"_epik": orders.EPIK})])
    assert json.loads(beacon["options"]["body"]) == beacon["body"] == {
        "checkout_token": orders.CHECKOUT_TOKEN, "consent": {"marketing": True, "sale_of_data": True},
        "event_id": orders.CART_TOKEN, "click_id": orders.EPIK,
    }
    assert beacon["via"] == "fetch"  # not the deprecated browser.sendBeacon


# -- consent ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("marketing", "sale_of_data"), [(False, False), (False, True), (True, False)])
def test_refused_consent_at_page_load_matches_the_custom_pixel(marketing: bool, sale_of_data: bool) -> None:
    init, event = pixel_event(orders.web_order())
    init = with_consent(init, marketingAllowed=marketing, saleOfDataAllowed=sale_of_data)
    [beacons] = app_beacons([case(init, event, cookies={"_epik": orders.EPIK})])
    assert beacons == custom_beacons(init, event, cookies={"_epik": orders.EPIK})
    expected: dict[str, Any] = {"checkout_token": orders.CHECKOUT_TOKEN,
                                "consent": {"marketing": marketing, "sale_of_data": sale_of_data}}
    if marketing:  # sale of data refused alone: the click id still goes, the server applies limited processing
        expected |= {"event_id": orders.CART_TOKEN, "click_id": orders.EPIK}
    assert [beacon["body"] for beacon in beacons] == [expected]


def test_without_marketing_consent_only_the_checkout_token_and_the_refusal_go() -> None:
    init, event = pixel_event(orders.web_order())
    refused = with_consent(init, marketingAllowed=False, saleOfDataAllowed=False)
    [[beacon]] = app_beacons([case(refused, event, cookies={"_epik": orders.EPIK})])
    assert beacon["options"]["body"] == json.dumps(
        {"checkout_token": orders.CHECKOUT_TOKEN, "consent": {"marketing": False, "sale_of_data": False}},
        separators=(",", ":"))
    assert accepted(beacon)["click_id"] is None and accepted(beacon)["event_id"] is None


def test_consent_given_or_withdrawn_after_page_load_is_what_counts() -> None:
    init, event = pixel_event(orders.web_order())
    refused = with_consent(init, marketingAllowed=False, saleOfDataAllowed=False)
    withdrawn, given = app_beacons([
        case(init, event, cookies={"_epik": orders.EPIK},
             before=[consent_collected(marketingAllowed=False, saleOfDataAllowed=False)]),
        case(refused, event, cookies={"_epik": orders.EPIK}, before=[consent_collected()]),
    ])
    # The same as a custom pixel that saw that consent from the start.
    assert withdrawn == custom_beacons(refused, event, cookies={"_epik": orders.EPIK})
    assert given == custom_beacons(init, event, cookies={"_epik": orders.EPIK})
    assert withdrawn[0]["body"] == {"checkout_token": orders.CHECKOUT_TOKEN,
                                    "consent": {"marketing": False, "sale_of_data": False}}
    assert given[0]["body"]["click_id"] == orders.EPIK


def test_missing_consent_flags_count_as_allowed_as_in_the_custom_pixel() -> None:
    init, event = pixel_event(orders.web_order())
    bare = {**init, "customerPrivacy": {}}
    [beacons] = app_beacons([case(bare, event, cookies={"_epik": orders.EPIK})])
    assert beacons == custom_beacons(bare, event, cookies={"_epik": orders.EPIK})
    assert beacons[0]["body"]["consent"] == {"marketing": True, "sale_of_data": True}


# -- the click id cookie -----------------------------------------------------------------------------------
def test_without_the_cookie_or_cookie_access_the_beacon_goes_without_a_click_id() -> None:
    init, event = pixel_event(orders.web_order())
    no_cookie, no_access = app_beacons([case(init, event), case(init, event, cookies={"_epik": orders.EPIK},
                                                               cookie_error=True)])
    expected = custom_beacons(init, event)
    assert no_cookie == no_access == expected
    assert expected[0]["body"] == {"checkout_token": orders.CHECKOUT_TOKEN, "event_id": orders.CART_TOKEN,
                                   "consent": {"marketing": True, "sale_of_data": True}}


# -- settings ---------------------------------------------------------------------------------------------
def test_settings_are_read_as_the_custom_pixel_is_configured() -> None:
    init, event = pixel_event(orders.web_order())
    cookies = {"_epik": orders.EPIK}
    slash, unknown, blank_url, no_shop = run_extension([
        case(init, event, cookies=cookies, settings={"appUrl": APP_URL + "/", "eventIdSource": "order_id"}),
        case(init, event, cookies=cookies, settings={"appUrl": APP_URL, "eventIdSource": "sku"}),
        case(init, event, cookies=cookies, settings={"appUrl": " ", "eventIdSource": "cart_token"}),
        {**case(init, event, cookies=cookies), "init": init},  # no init.data.shop
    ])["results"]
    # A trailing slash is dropped, as app/merchant/pixel.py does; an unknown source is the cart token on both sides.
    assert slash["beacons"] == custom_beacons(init, event, source="order_id", cookies=cookies)
    assert slash["beacons"][0]["body"]["event_id"] == f"order-{orders.ORDER_ID}"
    assert unknown["beacons"] == custom_beacons(init, event, source="sku", cookies=cookies)
    assert unknown["beacons"][0]["body"]["event_id"] == orders.CART_TOKEN
    # Without an address or a shop there is nowhere to send: nothing goes (and nothing throws).
    assert blank_url["beacons"] == [] and no_shop["beacons"] == []


def test_the_extension_registers_once_and_listens_only_to_what_it_needs() -> None:
    init, event = pixel_event(orders.web_order())
    [result] = run_extension([case(init, event)])["results"]
    assert result["subscriptions"] == {"analytics": ["checkout_completed"],
                                       "customerPrivacy": ["visitorConsentCollected"]}
    fields = tomllib.loads((EXTENSION / "shopify.extension.toml").read_text())["settings"]["fields"]
    assert result["settingsRead"] == sorted(fields)


# -- what Shopify reads -----------------------------------------------------------------------------------
def test_the_extension_configuration() -> None:
    config = tomllib.loads((EXTENSION / "shopify.extension.toml").read_text())
    assert config["type"] == "web_pixel_extension"
    assert config["runtime_context"] == "strict"
    # Shopify loads an app pixel only with the consent it declares as required: no consent category, so that
    # a refusal still reaches Pinbridge; its click id reaches Pinterest, a sale of data, declared as one that
    # honours the opt-out with limited data use (the values the Shopify CLI's schema allows: booleans,
    # enabled|disabled|ldu).
    assert config["customer_privacy"] == {"analytics": False, "marketing": False, "preferences": False,
                                          "sale_of_data": "ldu"}
    assert config["settings"]["type"] == "object"
    assert sorted(config["settings"]["fields"]) == ["appUrl", "eventIdSource"]
    for field in config["settings"]["fields"].values():
        assert field["type"] == "single_line_text_field"
        assert {"name": "min", "value": "1"} in field["validations"]


def test_both_pixels_take_the_event_id_from_one_file() -> None:
    shared = EVENT_ID_SOURCE.read_text()
    assert 'from "../../../app/merchant/pixel_event_id.js"' in SOURCE.read_text()
    assert (EXTENSION / "src" / "../../../app/merchant/pixel_event_id.js").resolve() == EVENT_ID_SOURCE
    custom = snippet()
    assert "export " not in custom  # a custom pixel is a script, not a module
    assert shared.replace("export function", "function").strip() in custom
    for name in SHARED_FUNCTIONS:
        assert f"function {name}(" in shared and f"function {name}(" not in SOURCE.read_text(), name
    # The constants they read are the server's.
    extension = SOURCE.read_text()
    chain = re.search(r"const EVENT_ID_CHAIN = (\[[^\]]*\]);", extension)
    limit = re.search(r"const MAX_EVENT_ID_LENGTH = (\d+);", extension)
    assert chain and json.loads(chain.group(1)) == list(EVENT_ID_CHAIN) == list(EVENT_ID_SOURCES)
    assert limit and int(limit.group(1)) == MAX_EVENT_ID_LENGTH


def test_the_bundle_the_cli_would_ship_behaves_the_same() -> None:
    probe = subprocess.run([NODE or "node", "-e", "require.resolve('esbuild', {paths: [process.argv[1]]})",
                            str(EXTENSION)], capture_output=True, timeout=30)
    require_or_skip(probe.returncode == 0, "esbuild (installed with @shopify/cli) is needed to bundle the extension")
    init, event = pixel_event(orders.web_order())
    refused = with_consent(init, marketingAllowed=False, saleOfDataAllowed=True)
    cases = [case(init, event, cookies={"_epik": orders.EPIK}), case(refused, event, cookies={"_epik": orders.EPIK}),
             case(*pixel_event(orders.multi_currency_order()), source="checkout_token")]
    bundled = run_extension(cases, mode="bundle")
    assert 0 < bundled["bundleBytes"] <= CLI_SIZE_LIMIT
    assert [result["beacons"] for result in bundled["results"]] == app_beacons(cases)
    assert bundled["results"][0]["beacons"] == custom_beacons(init, event, cookies={"_epik": orders.EPIK})
