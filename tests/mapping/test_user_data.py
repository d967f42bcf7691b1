"""Normalisers, hashing, click id and browser details of `user_data`, as tables."""

from __future__ import annotations

from typing import Any

import pytest

from app.mapping import MappingOptions, map_checkout, map_order
from app.mapping.user_data import (
    address_country,
    build_user_data,
    click_id,
    match_keys,
    normalise_city,
    normalise_country,
    normalise_email,
    normalise_ip,
    normalise_name,
    normalise_phone,
    normalise_state,
    normalise_zip,
)

from . import orders
from .helpers import h

HASHED = h("buyer@example.com")
NO_MATCH_KEY = "no email or browser IP/user agent to match the buyer"  # as stored with the skipped event


@pytest.mark.parametrize(("raw", "expected"), [
    (" Buyer@Example.COM ", "buyer@example.com"),    # trim + lowercase
    ("buyer@example.com", "buyer@example.com"),      # already normal
    ("ÉLODIE@EXAMPLE.COM", "élodie@example.com"),    # Unicode local part lowercased, not mangled
    ("", None),                                      # draft orders send ""
    ("   ", None),                                   # whitespace only
    ("not-an-email", None),                          # no "@": not an identifier
    ("a@b@example.com", None),                       # two "@"
    ("buyer @example.com", None),                    # inner space
    (None, None),                                    # null
    (42, None),                                      # wrong type
    (["buyer@example.com"], None),                   # array instead of string
])
def test_normalise_email(raw: Any, expected: str | None) -> None:
    assert normalise_email(raw) == expected


@pytest.mark.parametrize(("raw", "region", "expected"), [
    ("+1 (201) 555-0123", None, "12015550123"),      # international, symbols stripped
    ("(201) 555-0123", "US", "12015550123"),         # national number, region from the address
    ("201-555-0123", "us", "12015550123"),           # region code in lower case still works
    ("020 7946 0000", "GB", "442079460000"),         # UK national: trunk 0 dropped, +44 added
    ("+44 (0)20 7946 0000", None, "442079460000"),   # "(0)" trunk prefix inside an international number
    ("0044 20 7946 0000", "GB", "442079460000"),     # 00 international prefix
    ("+44 20 7946 0000", "US", "442079460000"),      # explicit country code beats the region
    ("02 5550 1234", "AU", "61255501234"),           # Australian national number
    ("030 1234567", "DE", "49301234567"),            # German national number
    ("06 12345678", "NL", "31612345678"),            # Dutch mobile
    ("+1 201 555 0123 ext. 5", None, "12015550123"), # extension dropped
    ("5550100", "US", None),                         # possible but not valid in the US: was "15550100"
    ("415 555 0100", "GB", None),                    # a US number on a GB address: was "444155550100"
    ("020 7946 0958", None, None),                   # national, no country known: was "2079460958"
    ("020 7946 0958", "GB", "442079460958"),         # ...read in the shop's or address's country
    ("+1 555 0190 3870", None, None),                # too long to be a real number: dropped, not digits
    ("+1 555 0115 6855", None, None),                # 555 is no US area code: dropped
    ("00 12 34", None, None),                        # unparseable: dropped
    ("n/a", None, None),                             # no digits at all
    ("", "US", None),                                # empty
    (5550101234, "US", None),                        # a JSON number is not a phone string
])
def test_normalise_phone(raw: Any, region: str | None, expected: str | None) -> None:
    assert normalise_phone(raw, region) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("  Zoë ", "zoë"),                               # trim + lowercase
    ("ZOË", "zoë"),                                  # uppercase accented letter
    ("Zoe\u0308", "zoë"),                            # decomposed e + diaeresis -> NFC "ë"
    ("Maße", "maße"),                                # ß kept (casefold would give "masse")
    ("東京", "東京"),                                 # no case: unchanged
    ("Øystein", "øystein"),                          # Ø lowercases to ø
    ("O'Brien", "o'brien"),                          # punctuation is part of a name
    ("İlkay", "i\u0307lkay"),                        # dotted capital I: as JavaScript lowercases it
    ("", None),                                      # empty last name on drafts
    ("   ", None),                                   # whitespace only
    (None, None),                                    # null
    ({"first": "Zoë"}, None),                        # object instead of string
])
def test_normalise_name(raw: Any, expected: str | None) -> None:
    assert normalise_name(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("St. John's", "stjohns"),                       # dot, apostrophe and space removed
    ("Saint-Étienne", "saintétienne"),               # dash removed, accent kept
    ("New York City", "newyorkcity"),                # spaces removed
    ("Zürich 8001", "zürich8001"),                   # digits kept: Pinterest removes spaces/punctuation only
    ("Paris 15e", "paris15e"),                       # was "parise"
    ("Paris 15ᵉ", "paris15ᵉ"),                       # superscript e is a letter (Lm)
    ("São Paulo", "sãopaulo"),                       # precomposed ã
    ("Sa\u0303o Paulo", "sãopaulo"),                 # decomposed ã -> NFC
    ("東京都", "東京都"),                              # CJK letters kept
    ("नई दिल्ली", "नईदिल्ली"),                          # Devanagari vowel signs (marks) kept
    ("---", None),                                   # nothing left
    ("", None),                                      # empty
])
def test_normalise_city(raw: Any, expected: str | None) -> None:
    assert normalise_city(raw) == expected


@pytest.mark.parametrize(("raw", "country", "expected"), [
    ("85365-1234", "us", "85365"),                   # US ZIP+4: five digits
    ("853651234", "us", "85365"),                    # US 9 digits without dash
    ("02134", "us", "02134"),                        # leading zero kept
    ("00901", "pr", "00901"),                        # Puerto Rico uses US ZIPs
    ("SW1A 1AA", "gb", "sw1a1aa"),                   # UK postcode: lowercase, no space
    ("K2H 7A8", "ca", "k2h7a8"),                     # Canadian postcode
    ("K2H-7A8", "ca", "k2h7a8"),                     # dash removed
    ("3941 LG", None, "3941lg"),                     # unknown country: generic rule
    ("101", "is", "101"),                            # short numeric code
    ("ABCDE", "us", None),                           # no digits for a US ZIP
    ("K2P0B0", "us", None),                          # a Canadian postcode on a US address: was "200"
    ("8536", "us", None),                            # four digits: no ZIP
    ("85365 1234", "us", "85365"),                   # ZIP+4 with a space
    ("3941", "nl", "3941"),                          # digits-only postcode outside the US: as written
    ("", "us", None),                                # empty
    (None, "gb", None),                              # null
])
def test_normalise_zip(raw: Any, country: str | None, expected: str | None) -> None:
    assert normalise_zip(raw, country) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("AZ", "az"),                                    # US state code
    (" on ", "on"),                                  # trimmed
    ("JP-13", "13"),                                 # Shopify's Japanese prefecture code without "JP-"
    ("nl-ut", "ut"),                                 # any ISO country prefix
    ("ENG", "eng"),                                  # UK nation code as Shopify gives it
    ("", None),                                      # empty
    (None, None),                                    # null
])
def test_normalise_state(raw: Any, expected: str | None) -> None:
    assert normalise_state(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("US", "us"),                                    # ISO alpha-2
    (" gb ", "gb"),                                  # trimmed, already lowercase
    ("USA", None),                                   # alpha-3 is not accepted
    ("U1", None),                                    # not letters
    ("", None),                                      # empty
    (None, None),                                    # null
])
def test_normalise_country(raw: Any, expected: str | None) -> None:
    assert normalise_country(raw) == expected


@pytest.mark.parametrize(("address", "expected"), [
    ({"country_code": "NL", "country": "Netherlands"}, "nl"),        # the code wins
    ({"country_code": None, "country": "Nederland"}, "nl"),          # Dutch name, null code
    ({"country_code": None, "country": "United States"}, "us"),      # English name
    ({"country_code": "", "country": " deutschland "}, "de"),        # trimmed, any case
    ({"country_code": None, "country": "Niederlande"}, "nl"),        # German name
    ({"country_code": None, "country": "Atlantis"}, None),           # not a country
    ({"country_code": None, "country": None}, None),
])
def test_address_country(address: dict[str, Any], expected: str | None) -> None:
    assert address_country(address) == expected


def test_nederland_without_codes_gives_country_and_zip() -> None:
    body = {"billing_address": {"country": "Nederland", "country_code": None, "zip": "3941 LG", "city": "Doorn"}}
    data = build_user_data(body, web=False)
    assert (data["country"], data["zp"], data["ct"]) == ([h("nl")], [h("3941lg")], [h("doorn")])


@pytest.mark.parametrize(("raw", "expected"), [
    ("203.0.113.9", "203.0.113.9"),                  # documentation range: kept (test data)
    ("::ffff:203.0.113.5", "203.0.113.5"),           # IPv4-mapped IPv6: the IPv4 form, not ::ffff:cb00:7105
    ("2001:db8::1", "2001:db8::1"),                  # IPv6
    ("0.0.0.0", None),                               # unspecified (Shopify's own order example)
    ("::", None),                                    # unspecified IPv6
    ("127.0.0.1", None),                             # loopback
    ("::1", None),                                   # loopback IPv6
    ("10.1.2.3", None), ("172.16.5.4", None), ("192.168.1.10", None),  # private
    ("::ffff:192.168.1.10", None),                   # private behind an IPv4 mapping
    ("100.64.1.1", None),                            # carrier-grade NAT
    ("169.254.0.1", None), ("fe80::1", None),        # link-local
    ("fd00::1", None),                               # unique local IPv6
    ("224.0.0.1", None), ("255.255.255.255", None),  # multicast, broadcast
    ("not-an-ip", None), ("", None), (None, None),
])
def test_normalise_ip(raw: Any, expected: str | None) -> None:
    assert normalise_ip(raw) == expected


def test_phone_uses_shop_country_when_no_address_has_one() -> None:
    body = {"phone": "020 7946 0958", "billing_address": {"country": None, "country_code": None}}
    assert "ph" not in build_user_data(body, web=False)
    assert build_user_data(body, web=False, shop_country="GB")["ph"] == [h("442079460958")]


def test_completed_checkout_sends_its_sms_marketing_phone() -> None:
    body = orders.completed_checkout(sms_marketing_phone="+44 20 7946 0000")
    mapped = map_checkout(body, MappingOptions())
    assert mapped.event is not None
    assert h("442079460000") in mapped.event["user_data"]["ph"]
    assert h("442079460000") in mapped.phone_hashes


def test_already_hashed_values_pass_through_lowercased() -> None:
    phone_hash = h("12015550123")
    body = {
        "email": HASHED.upper(),                     # already SHA-256: not hashed again
        "phone": phone_hash,
        "customer": {"id": 42, "first_name": h("zoë").upper(), "email": "Buyer@Example.com"},
        "billing_address": {"zip": h("85365"), "country_code": "US"},
    }
    data = build_user_data(body, web=True)
    assert data["em"] == [HASHED]                    # the hash and the plaintext are the same value
    assert data["ph"] == [phone_hash]
    assert data["fn"] == [h("zoë")]
    assert data["zp"] == [h("85365")]
    assert data["external_id"] == [h("42")]


def test_every_distinct_value_is_sent_in_first_seen_order() -> None:
    body = {
        "email": "first@example.com", "contact_email": "SECOND@example.com",
        "customer": {"email": "first@example.com", "phone": "+1 201-555-0199"},
        "billing_address": {"phone": "(201) 555-0123", "country_code": "US", "city": "Yuma"},
        "shipping_address": {"phone": "201.555.0123", "country_code": "US", "city": "YUMA"},
    }
    data = build_user_data(body, web=False)
    assert data["em"] == [h("first@example.com"), h("second@example.com")]
    assert data["ph"] == [h("12015550199"), h("12015550123")]
    assert data["ct"] == [h("yuma")]


def test_empty_values_leave_no_keys() -> None:
    body = {"email": "", "customer": {"first_name": " "}, "billing_address": []}
    assert build_user_data(body, web=True) == {}


@pytest.mark.parametrize(("body", "expected"), [
    ({"note_attributes": [{"name": "epik", "value": "abc"}]}, "abc"),          # cart attribute "epik"
    ({"note_attributes": [{"name": "_epik", "value": "abc"}]}, "abc"),         # hidden cart attribute
    ({"note_attributes": [{"name": "_EPIK", "value": " abc "}]}, "abc"),       # name case, value trimmed
    ({"note_attributes": [{"key": "_epik", "value": "abc"}]}, "abc"),          # GraphQL customAttributes
    ({"landing_site": "/?epik=xyz&utm_source=pinterest"}, "xyz"),               # landing path
    ({"landing_site": "https://shop.example.com/p?utm_source=pin&epik=xyz"}, "xyz"),  # absolute URL
    ({"landing_site": "/?epik=xyz", "note_attributes": [{"name": "_epik", "value": "abc"}]}, "abc"),
    ({"note_attributes": [{"name": "_epik", "value": "a" * 512}]}, "a" * 512),  # exactly 512 bytes
    ({"note_attributes": [{"name": "_epik", "value": "a" * 513}]}, None),       # over 512 bytes: dropped
    ({"note_attributes": [{"name": "_epik", "value": "é" * 256}]}, "é" * 256),  # 512 UTF-8 bytes
    ({"note_attributes": [{"name": "_epik", "value": "é" * 257}]}, None),       # 514 UTF-8 bytes
    ({"note_attributes": [{"name": "_epik", "value": "a" * 600}], "landing_site": "/?epik=xyz"}, "xyz"),
    ({"landing_site": "/?epik="}, None),                                        # empty parameter
    ({"landing_site": "http://[::1/?epik=xyz"}, None),                          # malformed URL
    ({"landing_site": "/?_bt=eyJfcmFpbHMi--7ddc"}, None),                       # no epik
    ({"note_attributes": {"_epik": "abc"}}, None),                              # object, not array
    ({"note_attributes": [{"name": "_epik", "value": 123}]}, None),             # non-string value
    ({"note_attributes": [None, "x", {"name": "cartId", "value": "9c62"}]}, None),  # junk entries
])
def test_click_id(body: dict[str, Any], expected: str | None) -> None:
    assert click_id(body) == expected


@pytest.mark.parametrize(("details", "browser_ip", "expected_ip", "expected_agent"), [
    ({"browser_ip": "203.0.113.9", "user_agent": "UA"}, None, "203.0.113.9", "UA"),
    ({"browser_ip": "2001:db8::1", "user_agent": "UA"}, None, "2001:db8::1", "UA"),   # IPv6
    ({"browser_ip": "not-an-ip", "user_agent": "UA"}, None, None, "UA"),              # invalid: dropped
    ({"browser_ip": "0.0.0.0", "user_agent": "UA"}, "203.0.113.7", "203.0.113.7", "UA"),  # unspecified: next
    ({"browser_ip": "::ffff:203.0.113.5", "user_agent": "UA"}, None, "203.0.113.5", "UA"),
    (None, "203.0.113.7", "203.0.113.7", None),                                      # order.browser_ip
    ({"browser_ip": None, "user_agent": ""}, None, None, None),                       # empty
])
def test_browser_details(details: Any, browser_ip: Any, expected_ip: str | None,
                         expected_agent: str | None) -> None:
    data = build_user_data({"client_details": details, "browser_ip": browser_ip}, web=True)
    assert data.get("client_ip_address") == expected_ip
    assert data.get("client_user_agent") == expected_agent


def test_browser_details_never_sent_for_offline_orders() -> None:
    data = build_user_data(orders.draft_order(), web=False)
    assert "client_ip_address" not in data
    assert "client_user_agent" not in data


@pytest.mark.parametrize(("data", "expected"), [
    ({}, ()),
    ({"em": ["x"], "client_ip_address": "203.0.113.1"}, ("em",)),            # IP without UA is not ip_ua
    ({"client_ip_address": "203.0.113.1", "client_user_agent": "UA", "click_id": "c"}, ("ip_ua", "click_id")),
    ({"zp": ["x"], "ln": ["y"], "external_id": ["z"], "ph": ["p"]}, ("ph", "address", "name", "external_id")),
])
def test_match_keys(data: dict[str, Any], expected: tuple[str, ...]) -> None:
    assert match_keys(data) == expected


def test_phone_alone_cannot_match_the_buyer() -> None:
    body = orders.web_order(email=None, contact_email=None, customer=None, client_details=None,
                            browser_ip=None)
    mapped = map_order(body, MappingOptions())
    assert mapped.event is None
    assert mapped.skip_reason == NO_MATCH_KEY
    assert "ph" in mapped.match_keys


def test_browser_alone_is_enough_for_a_web_order() -> None:
    body = orders.web_order(email=None, contact_email=None, customer=None)
    mapped = map_order(body, MappingOptions())
    assert mapped.event is not None
    assert "em" not in mapped.event["user_data"]
    assert mapped.email_hashes == ()


@pytest.mark.parametrize("raw", [
    "+1 212 555 2368",   # New York: valid in the +1 code's main region
    "+1 416 555 0123",   # Toronto: valid, in another region of +1
    "+1 876 555 0123",   # Jamaica
    "+1 555-0100",       # too short anywhere
    "+44 20 7946 0958",  # London
    "+44 1481 123456",   # Guernsey: +44, not the main region's
    "+44 20 7946",       # too short
    "+49 30 123456",     # Berlin
    "+7 700 123 4567",   # Kazakhstan, under Russia's +7
])
def test_a_number_is_valid_exactly_when_the_phone_library_says_so(raw: str) -> None:
    import phonenumbers

    from app.mapping import user_data

    number = phonenumbers.parse(raw, None)
    assert user_data._is_valid(number) is bool(phonenumbers.is_valid_number(number))


def test_a_phone_repeated_across_an_orders_fields_is_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import phonenumbers

    from app.mapping import user_data
    from tests.factories import web_order

    parsed: list[str] = []
    real = phonenumbers.parse
    monkeypatch.setattr(user_data.phonenumbers, "parse", lambda raw, region: parsed.append(raw) or real(raw, region))
    phone = "+1 212 555 2368"
    body = web_order(phone=phone, customer={"id": 1, "phone": phone},
                     billing_address={"phone": phone, "country_code": "US"},
                     shipping_address={"phone": " +1 (646) 555-0199 ", "country_code": "US"})
    event = map_order(body, MappingOptions()).event
    assert event is not None
    assert event["user_data"]["ph"] == [h("12125552368"), h("16465550199")]
    assert sorted(parsed) == sorted([phone, "+1 (646) 555-0199"])
