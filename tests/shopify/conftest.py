"""Shopify's Admin API stood in at the HTTP-client level, for every test of Shopify's side."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from tests.conftest import API_KEY, API_SECRET, SHOP
from tests.standins.shopify_graphql import ShopifyAdminStandin

TOKEN = "shpat_fake_valid_0001"


@pytest.fixture
def admin(app: Flask) -> Iterator[ShopifyAdminStandin]:
    """The shop's Admin API and token endpoint, answering through `SHOPIFY_HTTP_CLIENT`."""
    standin = ShopifyAdminStandin(SHOP, client_id=API_KEY, client_secret=API_SECRET, access_token=TOKEN)
    client = standin.client()
    app.config["SHOPIFY_HTTP_CLIENT"] = client
    yield standin
    client.close()
