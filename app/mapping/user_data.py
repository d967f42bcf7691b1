"""Who bought: normalise and SHA-256 every buyer identifier into Pinterest `user_data`.

Normalisation choices (Pinterest asks for "lowercase", nothing more, so we stay close to it):
- Text is NFC-normalised and lower-cased with `str.lower()`, not `casefold()`: casefold turns "ß" into
  "ss" and would hash differently from what the Pinterest Tag and other senders compute from the same
  name. "É" -> "é", "Ø" -> "ø", "東京" unchanged.
- Cities keep Unicode letters, their combining marks and digits (categories L*, M*, N*); Pinterest asks to
  remove spaces and punctuation only, so "Paris 15e" -> "paris15e", "St. John's" -> "stjohns".
- Phones become E.164 digits without "+" (`phonenumbers`). A national number is read with the address
  country as region, else the shop's country when it is known; only a number `phonenumbers` holds valid
  for its country is sent. An impossible number ("555 0100" in the US, a US number on a GB address read as
  British) or a national number with no country to read it in is dropped: a wrong hash can only match
  the wrong person or nobody.
- Countries: `country_code`, else the country's name in any language phonenumbers knows ("Nederland" -> nl).
- Provinces: Shopify's code, without an ISO "XX-" country prefix ("JP-13" -> "13"): Pinterest asks for the
  state code alone. A province given only by name is not sent (its hash could not match a code).
- ZIP codes: in the US (and territories using US ZIPs) only a real ZIP (5 digits, optionally +4) gives its
  five digits; anything else is not sent. Elsewhere the postcode is lower-cased without spaces or dashes,
  letters kept ("SW1A 1AA" -> "sw1a1aa"): Pinterest's "zip digits" describes US ZIPs, and dropping the
  letters of a UK or Canadian postcode would merge thousands of postcodes into one value.
- IPs: only addresses that can belong to a buyer on the internet; unspecified, loopback, private,
  link-local, carrier-grade NAT, multicast and reserved ranges are dropped, and IPv4-mapped IPv6
  ("::ffff:203.0.113.5") is sent as the IPv4 address the Pinterest Tag sees.
- A value that already looks like a SHA-256 hex digest is passed through (lower-cased), never re-hashed.
Values come from the order/checkout, its customer (including the customer's default address), and the
billing and shipping addresses; every distinct normalised value is sent, in first-seen order.
"""

from __future__ import annotations

import hashlib
import importlib.util
import ipaddress
import re
import sys
import unicodedata
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import phonenumbers

from app.mapping.fields import as_dict, as_list, ident, text, unique
from app.mapping.types import MATCH_KEYS

SHA256_HEX = re.compile(r"^[0-9a-fA-F]{64}$")
MAX_CLICK_ID_BYTES = 512
MAX_USER_AGENT_LENGTH = 16384
# ZIP codes of the US and the territories that use the US ZIP system.
US_ZIP_COUNTRIES = frozenset({"us", "pr", "gu", "vi", "as", "mp", "um"})
_COUNTRY = re.compile(r"^[a-z]{2}$")
_US_ZIP = re.compile(r"^([0-9]{5})(?:[ -]?[0-9]{4})?$")
_STATE_PREFIX = re.compile(r"^[a-z]{2}-(?=.)")
_LANGUAGE = re.compile(r"^([a-zA-Z]{2})(?:[-_][0-9A-Za-z-]*)?$")
# Networks whose addresses cannot identify a buyer's browser (RFC 6890 special-purpose registries).
# Documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32) are deliberately
# not listed: they never reach a real shop, and test data must use them instead of real addresses.
_NOT_A_BUYER = tuple(ipaddress.ip_network(net) for net in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/4", "240.0.0.0/4",
    "::/128", "::1/128", "64:ff9b:1::/48", "100::/64", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
))
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_MAX_INPUT = 1024  # longer "names" or "emails" are junk, not identifiers

Normaliser = Callable[[Any], str | None]


def sha256_hex(value: str) -> str:
    """Lowercase SHA-256 hex of the UTF-8 bytes."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _clean(value: Any) -> str | None:
    raw = text(value)
    if raw is None or len(raw) > _MAX_INPUT:
        return None
    return raw if raw.isascii() else unicodedata.normalize("NFC", raw)  # ASCII is its own NFC


def _lower(value: str) -> str:
    return value.lower() if value.isascii() else unicodedata.normalize("NFC", value.lower())


def normalise_email(value: Any) -> str | None:
    """Trim and lowercase; something without exactly one "@" is not an email."""
    raw = _clean(value)
    return _lower(raw) if raw and _EMAIL.match(raw) else None


def normalise_name(value: Any) -> str | None:
    """Trim, NFC, lowercase (first or last name)."""
    raw = _clean(value)
    return _lower(raw) if raw else None


def normalise_city(value: Any) -> str | None:
    """Lowercase; Unicode letters, their combining marks and digits kept, spaces and punctuation removed."""
    raw = _clean(value)
    if raw is None:
        return None
    kept = "".join(ch for ch in _lower(raw) if unicodedata.category(ch)[0] in "LMN")
    return kept or None


def normalise_state(value: Any) -> str | None:
    """Province code, lowercase, without spaces or an ISO country prefix ("JP-13" -> "13")."""
    raw = _clean(value)
    code = _STATE_PREFIX.sub("", _lower(raw).replace(" ", "")) if raw else ""
    return code if code and len(code) <= 16 else None


def normalise_country(value: Any) -> str | None:
    """ISO-3166 alpha-2, lowercase."""
    raw = text(value)
    code = raw.lower() if raw else ""
    return code if _COUNTRY.match(code) else None


def _locale_data() -> dict[str, dict[str, str]]:
    """phonenumbers' country names by language (`phonenumbers/geodata/locale.py`, ~1 MB in memory).

    Read from its file, not imported as `phonenumbers.geodata.locale`: importing it runs the package's
    `geodata/__init__.py` first, which loads the place name of every phone number prefix (GEOCODE_DATA,
    ~100 MB per process, measured) that Pinbridge never uses. Same data, same module code.
    """
    loaded = sys.modules.get("phonenumbers.geodata.locale")
    if loaded is not None:
        return dict(loaded.LOCALE_DATA)
    path = Path(phonenumbers.__file__).parent / "geodata" / "locale.py"
    spec = importlib.util.spec_from_file_location("phonenumbers.geodata.locale", path)
    if spec is None or spec.loader is None or not path.is_file():  # another phonenumbers layout
        from phonenumbers.geodata.locale import LOCALE_DATA

        return dict(LOCALE_DATA)
    module = importlib.util.module_from_spec(spec)  # not put in sys.modules: its package was never imported
    spec.loader.exec_module(module)
    return dict(module.LOCALE_DATA)


@cache
def _country_names() -> dict[str, str]:
    """Every country name phonenumbers knows, in every language it has, lowercased -> alpha-2 code."""
    found: dict[str, set[str]] = {}
    for region, names in _locale_data().items():
        for name in names.values():
            for _hop in range(4):  # "*aa": the same text as another language's entry (one entry loops)
                if not name.startswith("*"):
                    break
                name = names.get(name[1:], "")
            if name.startswith("*"):
                continue
            if name:
                found.setdefault(_lower(name.strip()), set()).add(region.lower())
    # A name two regions share (none today) would be a guess: leave it out.
    return {name: next(iter(codes)) for name, codes in found.items()
            if len(codes) == 1 and _COUNTRY.match(next(iter(codes)))}


def country_from_name(value: Any) -> str | None:
    """The alpha-2 code (lowercase) of a country written out ("Nederland", "United States"), or None."""
    raw = _clean(value)
    return _country_names().get(_lower(raw)) if raw else None


def address_country(address: dict[str, Any]) -> str | None:
    """`country_code`, else the country's name ("Nederland" with a null code -> "nl")."""
    return normalise_country(address.get("country_code")) or country_from_name(address.get("country"))


def normalise_zip(value: Any, country: str | None) -> str | None:
    """US: the five digits of a real ZIP, else nothing; elsewhere lowercase without spaces or dashes."""
    raw = _clean(value)
    if raw is None:
        return None
    if country in US_ZIP_COUNTRIES:
        zip_code = _US_ZIP.match(raw)
        return zip_code.group(1) if zip_code else None
    compact = "".join(ch for ch in _lower(raw) if not ch.isspace() and ch not in "-‐‑–—")
    return compact or None


def normalise_phone(value: Any, region: str | None = None) -> str | None:
    """E.164 digits without "+" of a valid number; national numbers are read in `region` (alpha-2)."""
    raw = _clean(value)
    if raw is None or len(raw) > 64:
        return None
    try:
        number = phonenumbers.parse(raw, region.upper() if region else None)
    except phonenumbers.NumberParseException:
        return None  # no country code and no region to read it in, or not a number at all
    if not _is_valid(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164).lstrip("+")


def _is_valid(number: phonenumbers.PhoneNumber) -> bool:
    """`phonenumbers.is_valid_number`, asking the calling code's main region first.

    A number is valid when it is valid in the region it belongs to; the library finds that region by
    trying every region sharing the calling code (25 for +1), so a valid number of the main region (US for
    +1, GB for +44) is known at the first try here, and anything else gets the library's full search.
    """
    if number.country_code is not None and phonenumbers.is_valid_number_for_region(
            number, phonenumbers.region_code_for_country_code(number.country_code)):
        return True
    return bool(phonenumbers.is_valid_number(number))


def normalise_ip(value: Any) -> str | None:
    """An IP address that can be a buyer's on the internet, IPv4-mapped IPv6 unwrapped; else None."""
    raw = text(value)
    if raw is None or len(raw) > 64:
        return None
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(raw)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in network for network in _NOT_A_BUYER):
        return None
    return str(address)


def normalise_language(value: Any) -> str | None:
    """The two-letter ISO-639-1 code of a locale ("en-GB" -> "en", "zh-TW" -> "zh"), or None."""
    raw = text(value)
    found = _LANGUAGE.match(raw) if raw and len(raw) <= 35 else None
    return found.group(1).lower() if found else None


def hashed(values: Iterable[str | None]) -> list[str]:
    """Distinct SHA-256 hex values; an existing SHA-256 hex is kept (lower-cased)."""
    return unique(value.lower() if SHA256_HEX.match(value) else sha256_hex(value)
                  for value in values if value)


def _prehashed(value: Any) -> str | None:
    raw = text(value)
    return raw if raw and SHA256_HEX.match(raw) else None


def _each(values: Iterable[Any], normaliser: Normaliser) -> list[str]:
    """Each distinct text normalised and hashed once (the buyer's name is usually the customer's, the
    billing and the shipping name alike); anything that is not text has nothing to send."""
    return hashed(_prehashed(value) or normaliser(value) for value in unique(
        value for value in values if isinstance(value, str)))


def _addresses(body: dict[str, Any]) -> list[dict[str, Any]]:
    customer = as_dict(body.get("customer"))
    candidates = (body.get("billing_address"), body.get("shipping_address"), customer.get("default_address"))
    return [address for address in candidates if isinstance(address, dict)]


# Where a body keeps phones of its own (not an address's): completed checkouts also carry the number
# the buyer gave for SMS marketing.
PHONE_FIELDS = ("phone", "sms_marketing_phone")


def _phones(body: dict[str, Any], addresses: list[dict[str, Any]], shop_country: str | None) -> list[str]:
    """Address phones are read in their address's country; the others in the first address country, else
    the shop's."""
    countries = [address_country(address) for address in addresses]
    default_region = next((country for country in countries if country), None) or shop_country
    customer = as_dict(body.get("customer"))
    pairs: list[tuple[Any, str | None]] = [(body.get(key), default_region) for key in PHONE_FIELDS]
    pairs += [(customer.get("phone"), default_region)]
    pairs += [(address.get("phone"), country or default_region)
              for address, country in zip(addresses, countries, strict=True)]
    # The same number is often the buyer's, the billing and the shipping phone: each is read once.
    return hashed(_prehashed(raw) or normalise_phone(raw, region) for raw, region in _distinct(pairs))


def _distinct(pairs: list[tuple[Any, str | None]]) -> list[tuple[Any, str | None]]:
    """The pairs without repeats, in order (a value that is not text is kept as it is)."""
    seen: set[tuple[str, str | None]] = set()
    kept = []
    for raw, region in pairs:
        if raw is None:
            continue
        if isinstance(raw, str):
            if (raw, region) in seen:
                continue
            seen.add((raw, region))
        kept.append((raw, region))
    return kept


def _zips(addresses: list[dict[str, Any]]) -> list[str]:
    return hashed(_prehashed(address.get("zip")) or normalise_zip(address.get("zip"), address_country(address))
                  for address in _places(addresses, "zip"))


def _places(addresses: list[dict[str, Any]], *fields: str) -> list[dict[str, Any]]:
    """The addresses that differ in `fields` or the country (billing and shipping are often one place)."""
    seen: set[tuple[str | None, ...]] = set()
    kept = []
    for address in addresses:
        key = tuple(value if isinstance(value, str) else None  # anything else is read as nothing
                    for value in (address.get(name) for name in (*fields, "country_code", "country")))
        if key not in seen:
            seen.add(key)
            kept.append(address)
    return kept


def emails(body: dict[str, Any]) -> list[Any]:
    """The raw emails of a body, in the order they are sent."""
    customer = as_dict(body.get("customer"))
    return [body.get("email"), body.get("contact_email"), customer.get("email")]


def _hashed_fields(body: dict[str, Any], shop_country: str | None) -> dict[str, list[str]]:
    customer = as_dict(body.get("customer"))
    addresses = _addresses(body)
    people = [customer, *addresses]
    customer_id = ident(customer.get("id"))
    return {
        "em": _each(emails(body), normalise_email),
        "ph": _phones(body, addresses, shop_country),
        "fn": _each((person.get("first_name") for person in people), normalise_name),
        "ln": _each((person.get("last_name") for person in people), normalise_name),
        "ct": _each((address.get("city") for address in addresses), normalise_city),
        "st": _each((address.get("province_code") for address in addresses), normalise_state),
        "zp": _zips(addresses),
        "country": hashed(_prehashed(address.get("country_code")) or address_country(address)
                          for address in _places(addresses)),
        "external_id": hashed([customer_id]),
    }


def browser(body: dict[str, Any]) -> tuple[str | None, str | None]:
    """(IP, user agent) of the buyer's browser; only meaningful for online-store orders."""
    details = as_dict(body.get("client_details"))
    ip = normalise_ip(details.get("browser_ip")) or normalise_ip(body.get("browser_ip"))
    agent = text(details.get("user_agent"))
    if agent is not None and len(agent) > MAX_USER_AGENT_LENGTH:
        agent = None
    return ip, agent


def _fits(value: Any) -> str | None:
    raw = text(value)
    return raw if raw and len(raw.encode("utf-8")) <= MAX_CLICK_ID_BYTES else None


def click_id(body: dict[str, Any]) -> str | None:
    """The Pinterest click id: an `epik`/`_epik` note attribute, else `epik` in landing_site (≤512 bytes)."""
    for attribute in as_list(body.get("note_attributes")):
        attribute = as_dict(attribute)
        name = text(attribute.get("name")) or text(attribute.get("key"))  # "key": GraphQL customAttributes
        if name and name.lower() in ("epik", "_epik") and _fits(attribute.get("value")):
            return _fits(attribute.get("value"))
    landing = text(body.get("landing_site"))
    if landing is None:
        return None
    try:
        query = parse_qs(urlsplit(landing).query)
    except ValueError:
        return None
    return next((found for value in query.get("epik", []) if (found := _fits(value))), None)


def build_user_data(body: dict[str, Any], *, web: bool, shop_country: str | None = None) -> dict[str, Any]:
    """Pinterest `user_data`; empty arrays and missing values are left out.

    `shop_country` (alpha-2) reads national phone numbers of a body with no address country.
    """
    data: dict[str, Any] = {key: values for key, values in _hashed_fields(body, shop_country).items() if values}
    if web:
        ip, agent = browser(body)
        if ip:
            data["client_ip_address"] = ip
        if agent:
            data["client_user_agent"] = agent
    click = click_id(body)
    if click:
        data["click_id"] = click
    return data


def match_keys(data: dict[str, Any]) -> tuple[str, ...]:
    """Identifier kinds present, in MATCH_KEYS order (no values)."""
    present = {
        "em": bool(data.get("em")),
        "ph": bool(data.get("ph")),
        "ip_ua": bool(data.get("client_ip_address") and data.get("client_user_agent")),
        "click_id": bool(data.get("click_id")),
        "address": any(data.get(key) for key in ("ct", "st", "zp", "country")),
        "name": bool(data.get("fn") or data.get("ln")),
        "external_id": bool(data.get("external_id")),
    }
    return tuple(key for key in MATCH_KEYS if present[key])


def can_match(data: dict[str, Any]) -> bool:
    """Pinterest needs em, hashed_maids, or client IP + user agent."""
    return bool(data.get("em") or data.get("hashed_maids")
                or (data.get("client_ip_address") and data.get("client_user_agent")))
