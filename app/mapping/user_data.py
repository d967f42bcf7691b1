"""Who bought: normalise and SHA-256 every buyer identifier into Pinterest `user_data`.

Normalisation choices (Pinterest asks for "lowercase", nothing more, so we stay close to it):
- Text is NFC-normalised and lower-cased with `str.lower()`, not `casefold()`: casefold turns "ß" into
  "ss" and would hash differently from what the Pinterest Tag and other senders compute from the same
  name. "É" -> "é", "Ø" -> "ø", "東京" unchanged.
- Cities keep Unicode letters and their combining marks (categories L*, M*); spaces, digits and
  punctuation are removed ("St. John's" -> "stjohns", "Saint-Étienne" -> "saintétienne").
- Phones become E.164 digits without "+" (`phonenumbers`, with the address country as region for national
  numbers); a number phonenumbers cannot make sense of is sent as its digits without leading zeros.
- A value that already looks like a SHA-256 hex digest is passed through (lower-cased), never re-hashed.
Values come from the order/checkout, its customer (including the customer's default address), and the
billing and shipping addresses; every distinct normalised value is sent, in first-seen order.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import unicodedata
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import phonenumbers

from .fields import as_dict, as_list, ident, text, unique
from .types import MATCH_KEYS

SHA256_HEX = re.compile(r"^[0-9a-fA-F]{64}$")
MAX_CLICK_ID_BYTES = 512
MAX_USER_AGENT_LENGTH = 16384
# ZIP codes of the US and the territories that use the US ZIP system.
US_ZIP_COUNTRIES = frozenset({"us", "pr", "gu", "vi", "as", "mp", "um"})
_COUNTRY = re.compile(r"^[a-z]{2}$")
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
    return unicodedata.normalize("NFC", raw)


def _lower(value: str) -> str:
    return unicodedata.normalize("NFC", value.lower())


def normalise_email(value: Any) -> str | None:
    """Trim and lowercase; something without exactly one "@" is not an email."""
    raw = _clean(value)
    return _lower(raw) if raw and _EMAIL.match(raw) else None


def normalise_name(value: Any) -> str | None:
    """Trim, NFC, lowercase (first or last name)."""
    raw = _clean(value)
    return _lower(raw) if raw else None


def normalise_city(value: Any) -> str | None:
    """Lowercase, Unicode letters (and their combining marks) only."""
    raw = _clean(value)
    if raw is None:
        return None
    kept = "".join(ch for ch in _lower(raw) if unicodedata.category(ch)[0] in "LM")
    return kept or None


def normalise_state(value: Any) -> str | None:
    """Province code, lowercase, without spaces."""
    raw = _clean(value)
    code = _lower(raw).replace(" ", "") if raw else ""
    return code if code and len(code) <= 16 else None


def normalise_country(value: Any) -> str | None:
    """ISO-3166 alpha-2, lowercase."""
    raw = text(value)
    code = raw.lower() if raw else ""
    return code if _COUNTRY.match(code) else None


def normalise_zip(value: Any, country: str | None) -> str | None:
    """US: the first five digits; elsewhere lowercase without spaces or dashes."""
    raw = _clean(value)
    if raw is None:
        return None
    if country in US_ZIP_COUNTRIES:
        digits = "".join(ch for ch in raw if ch in "0123456789")
        return digits[:5] or None
    compact = "".join(ch for ch in _lower(raw) if not ch.isspace() and ch not in "-‐‑–—")
    return compact or None


def normalise_phone(value: Any, region: str | None = None) -> str | None:
    """E.164 digits without "+"; national numbers read with the address country as region."""
    raw = _clean(value)
    if raw is None or len(raw) > 64:
        return None
    try:
        number = phonenumbers.parse(raw, region.upper() if region else None)
        if phonenumbers.is_possible_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164).lstrip("+")
    except Exception:  # noqa: BLE001 - phonenumbers raises its own and odd errors; we fall back
        pass
    digits = "".join(ch for ch in raw if ch in "0123456789").lstrip("0")
    return digits or None


def hashed(values: Iterable[str | None]) -> list[str]:
    """Distinct SHA-256 hex values; an existing SHA-256 hex is kept (lower-cased)."""
    return unique(value.lower() if SHA256_HEX.match(value) else sha256_hex(value)
                  for value in values if value)


def _prehashed(value: Any) -> str | None:
    raw = text(value)
    return raw if raw and SHA256_HEX.match(raw) else None


def _each(values: Iterable[Any], normaliser: Normaliser) -> list[str]:
    return hashed(_prehashed(value) or normaliser(value) for value in values)


def _addresses(body: dict[str, Any]) -> list[dict[str, Any]]:
    customer = as_dict(body.get("customer"))
    candidates = (body.get("billing_address"), body.get("shipping_address"), customer.get("default_address"))
    return [address for address in candidates if isinstance(address, dict)]


def _phones(body: dict[str, Any], addresses: list[dict[str, Any]]) -> list[str]:
    """Order/customer phones use the first address country as region; address phones their own."""
    countries = [normalise_country(address.get("country_code")) for address in addresses]
    default_region = next((country for country in countries if country), None)
    customer = as_dict(body.get("customer"))
    pairs: list[tuple[Any, str | None]] = [(body.get("phone"), default_region),
                                           (customer.get("phone"), default_region)]
    pairs += [(address.get("phone"), country or default_region)
              for address, country in zip(addresses, countries, strict=True)]
    return hashed(_prehashed(raw) or normalise_phone(raw, region) for raw, region in pairs)


def _zips(addresses: list[dict[str, Any]]) -> list[str]:
    return hashed(_prehashed(address.get("zip"))
                  or normalise_zip(address.get("zip"), normalise_country(address.get("country_code")))
                  for address in addresses)


def _hashed_fields(body: dict[str, Any]) -> dict[str, list[str]]:
    customer = as_dict(body.get("customer"))
    addresses = _addresses(body)
    people = [customer, *addresses]
    customer_id = ident(customer.get("id"))
    return {
        "em": _each((body.get("email"), body.get("contact_email"), customer.get("email")), normalise_email),
        "ph": _phones(body, addresses),
        "fn": _each((person.get("first_name") for person in people), normalise_name),
        "ln": _each((person.get("last_name") for person in people), normalise_name),
        "ct": _each((address.get("city") for address in addresses), normalise_city),
        "st": _each((address.get("province_code") for address in addresses), normalise_state),
        "zp": _zips(addresses),
        "country": _each((address.get("country_code") for address in addresses), normalise_country),
        "external_id": hashed([customer_id]),
    }


def browser(body: dict[str, Any]) -> tuple[str | None, str | None]:
    """(IP, user agent) of the buyer's browser; only meaningful for online-store orders."""
    details = as_dict(body.get("client_details"))
    raw_ip = text(details.get("browser_ip")) or text(body.get("browser_ip"))
    try:
        ip = str(ipaddress.ip_address(raw_ip)) if raw_ip else None
    except ValueError:
        ip = None
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


def build_user_data(body: dict[str, Any], *, web: bool) -> dict[str, Any]:
    """Pinterest `user_data`; empty arrays and missing values are left out."""
    data: dict[str, Any] = {key: values for key, values in _hashed_fields(body).items() if values}
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
