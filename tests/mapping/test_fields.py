"""Reading untrusted webhook JSON: wrong types become None or empty, ids never go through a float."""

from __future__ import annotations

from typing import Any

import pytest

from app.mapping.fields import as_dict, as_list, dig, first, ident, text, unique


@pytest.mark.parametrize(("value", "expected"), [
    (5_912_345_678_901_234_567, "5912345678901234567"),   # above 2**53: exact, never through a float
    ("5912345678901234567", "5912345678901234567"),
    (" 0042 ", "42"),                                      # leading zeros and spaces are not part of an id
    ("gid://shopify/Order/820982911946154508", "820982911946154508"),  # a reconciled order's GraphQL id
    ("gid://shopify/Order/820982911946154508?x=1", "820982911946154508"),
    (0, None),                                             # not an id
    (-3, None),
    (10**20, None),                                        # longer than an unsigned 64-bit id can be
    ("1" * 21, None),
    (12.0, None),                                          # a float is never an id
    (True, None),                                          # bool is an int in Python, never an id here
    ("12a", None),
    ("gid://shopify/Order/", None),
    (None, None),
    ([], None),
])
def test_ident(value: Any, expected: str | None) -> None:
    assert ident(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("  buyer@example.com ", "buyer@example.com"),
    ("", None),
    ("   ", None),
    (42, None),                 # numbers are not text
    (None, None),
    ("caf\u00e9", "caf\u00e9"),  # any UTF-8 text
    ("a\ud800b", None),         # a lone surrogate from JSON "\ud800" can be neither sent nor hashed
])
def test_text(value: Any, expected: str | None) -> None:
    assert text(value) == expected


def test_containers_and_paths_never_raise() -> None:
    body = {"customer": {"default_address": {"zip": "3941 LG"}}, "lines": [1], "note": "x"}
    assert dig(body, "customer", "default_address", "zip") == "3941 LG"
    assert dig(body, "note", "zip") is None          # a string on the way: None, not an error
    assert dig(body, "missing", "zip") is None
    assert (as_dict(body["lines"]), as_dict(body["customer"])["default_address"]) == ({}, {"zip": "3941 LG"})
    assert (as_list(body["note"]), as_list(body["lines"])) == ([], [1])


def test_first_and_unique_keep_order_and_skip_none() -> None:
    assert first([None, "b", "a"]) == "b"
    assert first([None, None]) is None
    assert unique(["b", None, "a", "b", "a"]) == ["b", "a"]
