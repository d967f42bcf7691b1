"""Read fields from untrusted webhook JSON without ever raising: wrong types become None or empty."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

# Shopify ids are unsigned 64-bit (up to 20 digits); anything longer is junk, and int() on
# thousands of digits would even raise.
_ID_DIGITS = re.compile(r"^[0-9]{1,20}$")
# A reconciler may hand us GraphQL ids ("gid://shopify/Order/123") in the webhook shape.
_GID = re.compile(r"^gid://shopify/[A-Za-z]+/([0-9]{1,20})(?:\?.*)?$")
_MAX_ID = 10**20


def as_dict(value: Any) -> dict[str, Any]:
    """Return `value` if it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """Return `value` if it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else []


def dig(value: Any, *path: str) -> Any:
    """Follow object keys; any missing or non-object step gives None."""
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def text(value: Any) -> str | None:
    """A stripped, non-empty, UTF-8-encodable string, or None for anything else (numbers are not text)."""
    if not isinstance(value, str):
        return None
    stripped = value.strip()
    if not stripped.isascii():
        try:
            stripped.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates from JSON "\ud800" cannot be sent or hashed
            return None
    return stripped or None


def ident(value: Any) -> str | None:
    """A Shopify numeric id as a decimal string, never through a float.

    Accepts an int, a string of digits, or a GraphQL gid; 0, negatives, floats and booleans are not ids.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value) if 0 < value < _MAX_ID else None
    raw = text(value)
    if raw is None:
        return None
    if _ID_DIGITS.match(raw):
        digits = raw.lstrip("0")
        return digits or None
    gid = _GID.match(raw)
    if gid:
        return ident(gid.group(1))
    return None


def first(values: Iterable[str | None]) -> str | None:
    """The first value that is not None."""
    for value in values:
        if value is not None:
            return value
    return None


def unique(values: Iterable[str | None]) -> list[str]:
    """Distinct non-None values in first-seen order."""
    seen: dict[str, None] = {}
    for value in values:
        if value is not None:
            seen.setdefault(value, None)
    return list(seen)
