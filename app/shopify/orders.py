"""Read a shop's orders from the Shopify Admin GraphQL API, page by page.

Requests go through `shopify_app.admin_graphql_request` (it retries HTTP 429 and 5xx answers). On top of
that this module handles what Shopify's GraphQL API does differently: a query over the cost budget is
answered 200 with a `THROTTLED` error (wait until the bucket refills, then ask again), and a 401 means the
offline token is no longer good (refresh it once through `shopify_auth`, then ask again).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
from shopify_app import admin_graphql_request
from sqlalchemy import inspect
from sqlalchemy.orm import InstanceState

from app import shops
from app.database import reading, writing
from app.models import Shop, now_utc
from app.shopify.auth import offline_token

logger = logging.getLogger(__name__)

# Requested query cost (objects x page sizes) must stay under Shopify's 1000-point cap per query:
# 8 orders x (5 lines x ~10 objects + ~35 for money, addresses, customer and shipping) is about 680.
PAGE_SIZE = 8  # orders per request
LINE_PAGE = 5  # line items fetched with each order; longer orders fetch the rest separately
MORE_LINES = 60  # line items per follow-up request (about 600 points)
SHIPPING_LINES = 5  # shipping lines per order (their tax is what a tax-inclusive subtotal does not hold)
MAX_THROTTLE_WAITS = 8
MAX_WAIT = 30.0  # seconds
MIN_WAIT = 0.5  # seconds

_LINE = """
fragment ReconcileLine on LineItem {
  sku title name vendor quantity isGiftCard requiresShipping
  product @include(if: $withProducts) { legacyResourceId }
  variant @include(if: $withProducts) { legacyResourceId }
  originalUnitPriceSet { shopMoney { amount currencyCode } presentmentMoney { amount currencyCode } }
  taxLines { priceSet { shopMoney { amount currencyCode } presentmentMoney { amount currencyCode } } }
}
"""
_ADDRESS = "firstName lastName city provinceCode zip country countryCodeV2 phone"
_MONEY = "shopMoney { amount currencyCode } presentmentMoney { amount currencyCode }"
ORDERS_QUERY = _LINE + f"""
query ReconcileOrders(
  $first: Int!, $after: String, $query: String!, $withProducts: Boolean!, $withCustomers: Boolean!
) {{
  shop {{ ianaTimezone shopAddress {{ countryCodeV2 }} }}
  orders(first: $first, after: $after, query: $query, sortKey: CREATED_AT) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{
      id legacyResourceId name email phone createdAt processedAt test sourceName
      currencyCode presentmentCurrencyCode statusPageUrl cartToken checkoutToken clientIp
      customerLocale taxesIncluded dutiesIncluded
      customAttributes {{ key value }}
      customerJourneySummary {{ firstVisit {{ landingPage }} lastVisit {{ landingPage }} }}
      subtotalPriceSet {{ {_MONEY} }}
      totalPriceSet {{ {_MONEY} }}
      totalTaxSet {{ {_MONEY} }}
      originalTotalDutiesSet {{ {_MONEY} }}
      totalTipReceivedSet {{ {_MONEY} }}
      shippingLines(first: {SHIPPING_LINES}) {{ nodes {{ taxLines {{ priceSet {{ {_MONEY} }} }} }} }}
      customer @include(if: $withCustomers) {{
        legacyResourceId firstName lastName
        defaultEmailAddress {{ emailAddress }} defaultPhoneNumber {{ phoneNumber }}
        defaultAddress {{ {_ADDRESS} }}
      }}
      billingAddress {{ {_ADDRESS} }}
      shippingAddress {{ {_ADDRESS} }}
      lineItems(first: {LINE_PAGE}) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ ...ReconcileLine }} }}
    }}
  }}
}}
"""
LINES_QUERY = _LINE + f"""
query ReconcileOrderLines($id: ID!, $after: String, $withProducts: Boolean!) {{
  order(id: $id) {{
    lineItems(first: {MORE_LINES}, after: $after) {{
      pageInfo {{ hasNextPage endCursor }} nodes {{ ...ReconcileLine }}
    }}
  }}
}}
"""
COUNT_QUERY = ("query ReconcileOrderCount($query: String!) "
               "{ ordersCount(query: $query) { count precision } }")


class AdminApiError(Exception):
    """Shopify's Admin API could not be used for this shop; `code` is short, `message` is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message


def search_query(since: datetime, until: datetime | None = None) -> str:
    """Shopify search syntax for orders created in [since, until)."""
    query = f"created_at:>='{_iso(since)}'"
    return query + (f" AND created_at:<'{_iso(until)}'" if until else "")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class OrderReader:
    """Pages through one shop's orders with its offline token (refreshed when needed)."""

    def __init__(self, shop: Shop, *, api_version: str, http_client: httpx.Client | None = None,
                 sleep: Callable[[float], Any] = time.sleep, page_size: int = PAGE_SIZE) -> None:
        self.shop, self.api_version, self.http_client = shop, api_version, http_client
        self.sleep, self.page_size = sleep, page_size
        self.handle, self.domain = shop.handle, shop.domain
        self._access_token: str | None = None
        self.requests = 0
        self.shop_country: str | None = None  # ISO alpha-2 of the shop's address, once a page said it
        self.shop_timezone: str | None = None  # the shop's IANA time zone, once a page said it
        # Ask only for what the token may read: fields of an ungranted scope come back ACCESS_DENIED, one
        # error per order, and a page full of them can make Shopify cut the answer short.
        granted = {scope.strip() for scope in (shop.shopify_scope or "").split(",")}
        self.with_products = bool(granted & {"read_products", "write_products"})
        self.with_customers = bool(granted & {"read_customers", "write_customers"})

    def count(self, since: datetime, until: datetime | None = None) -> int | None:
        """How many orders the window holds (Shopify may cap the count); None if it cannot say."""
        return self._count(since, until)[0]

    def exact_count(self, since: datetime, until: datetime) -> int | None:
        """How many orders were created in [since, until); None unless Shopify says the count is exact."""
        count, precision = self._count(since, until)
        return count if precision == "EXACT" else None

    def _count(self, since: datetime, until: datetime | None) -> tuple[int | None, str | None]:
        data = self._execute(COUNT_QUERY, {"query": search_query(since, until)})
        answer = data.get("ordersCount") or {}
        count, precision = answer.get("count"), answer.get("precision")
        return (count if isinstance(count, int) else None), (precision if isinstance(precision, str) else None)

    def pages(self, since: datetime, until: datetime | None = None) -> Iterator[list[dict[str, Any]]]:
        """Yield the orders created in the window, oldest first, one page at a time, lines complete."""
        after: str | None = None
        while True:
            variables = {"first": self.page_size, "after": after, "query": search_query(since, until),
                         "withProducts": self.with_products, "withCustomers": self.with_customers}
            data = self._execute(ORDERS_QUERY, variables)
            about = data.get("shop") or {}
            country = (about.get("shopAddress") or {}).get("countryCodeV2")
            zone = about.get("ianaTimezone")
            if isinstance(zone, str) and zone:
                self.shop_timezone = zone
            if isinstance(country, str) and len(country) == 2 and country.isalpha():
                self.shop_country = country.upper()
            orders = data.get("orders") or {}
            nodes = [node for node in orders.get("nodes") or [] if isinstance(node, dict)]
            for node in nodes:
                self._complete_lines(node)
            yield nodes
            info = orders.get("pageInfo") or {}
            after = info.get("endCursor")
            if not info.get("hasNextPage") or not after:
                return

    def _complete_lines(self, node: dict[str, Any]) -> None:
        lines = node.get("lineItems") or {}
        info = lines.get("pageInfo") or {}
        while info.get("hasNextPage") and info.get("endCursor") and node.get("id"):
            more = self._execute(LINES_QUERY, {"id": node["id"], "after": info["endCursor"],
                                               "withProducts": self.with_products})
            page = ((more.get("order") or {}).get("lineItems")) or {}
            lines.setdefault("nodes", []).extend(page.get("nodes") or [])
            info = page.get("pageInfo") or {}

    # -- one request ------------------------------------------------------------------------------
    def _execute(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        refreshed = False
        for _attempt in range(MAX_THROTTLE_WAITS + 1):
            self.requests += 1
            result = admin_graphql_request(
                query, shop=self.handle, access_token=self._token(), api_version=self.api_version,
                variables=variables, http_client=self.http_client,
            )
            body = _json(result.response.body)
            if result.ok:
                self._pace(body)
                return result.data or {}
            if result.log.code == "unauthorized" and not refreshed:
                refreshed = True
                self._token(force_refresh=True)
                continue
            if result.log.code == "graphql_errors" and _throttled(body):
                wait = _wait_seconds(body, throttled=True)
                logger.info("Shopify throttled the query", extra={"action": "reconcile_throttled",
                                                                  "shop": self.domain, "wait_s": wait})
                self.sleep(wait)
                continue
            if result.log.code == "graphql_errors" and _usable_partial(body):
                # Fields the token may not read (ACCESS_DENIED: a scope or protected customer data level
                # not granted) come back null, and after many such errors Shopify may stop listing them
                # with an error of its own. The orders that did come back are still worth sending.
                logger.warning("Shopify answered with partial data", extra={
                    "action": "reconcile_partial", "shop": self.domain,
                    "errors": len(body.get("errors") or []), "codes": sorted(set(_error_codes(body)))})
                return body.get("data") or {}
            raise AdminApiError(result.log.code, _describe(result.log.code, body))
        raise AdminApiError("throttled", "Shopify kept throttling the query; try again later.")

    def _pace(self, body: dict[str, Any]) -> None:
        """Wait before the next request when the cost bucket could not pay for another like this one."""
        wait = _wait_seconds(body, throttled=False)
        if wait > 0:
            self.sleep(wait)

    def _token(self, *, force_refresh: bool = False) -> str:
        if self._access_token is not None and not force_refresh:
            return self._access_token
        with reading():  # no transaction open while Shopify answers
            if force_refresh:
                if not self.shop.shopify_refresh_token_enc:
                    raise AdminApiError("unauthorized", "Shopify refused the access token and there is no "
                                                        "refresh token; open Pinbridge in the Shopify admin.")
                shops.expire_token(self.shop, now_utc())  # make offline_token() refresh it now
            token = offline_token(self.shop)
            unsaved = _unsaved_columns(self.shop)
            token_error = self.shop.token_exchange_error
        if unsaved:
            # A refresh rotates the refresh token: keep the new one whatever happens next. The read's end
            # dropped these unsaved values, so they are set again inside the write.
            with writing():
                shops.keep(self.shop, unsaved)
        if not token:
            raise AdminApiError("no_token", token_error
                                or "No Shopify access token yet; open Pinbridge in the Shopify admin once.")
        self._access_token = token
        return token


def _unsaved_columns(shop: Shop) -> dict[str, Any]:
    """The shop's columns changed in memory and not yet written (what a token refresh or its failure set)."""
    state: InstanceState[Shop] = inspect(shop)
    changed = (state.attrs[column.key] for column in state.mapper.column_attrs)
    return {attr.key: attr.value for attr in changed if attr.history.has_changes()}


def _json(raw: str | None) -> dict[str, Any]:
    try:
        value = json.loads(raw or "")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _error_codes(body: dict[str, Any]) -> list[str]:
    errors = body.get("errors")
    if not isinstance(errors, list):
        return []
    return [str((e.get("extensions") or {}).get("code", "")) for e in errors if isinstance(e, dict)]


def _throttled(body: dict[str, Any]) -> bool:
    return "THROTTLED" in _error_codes(body)


def _usable_partial(body: dict[str, Any]) -> bool:
    """Errors beside data that still holds the requested root field (orders, order or ordersCount)."""
    data = body.get("data")
    if not isinstance(data, dict) or "THROTTLED" in _error_codes(body):
        return False
    return any(isinstance(value, dict) for value in data.values())


def _wait_seconds(body: dict[str, Any], *, throttled: bool) -> float:
    """Seconds until the bucket holds the cost of this query again, from Shopify's cost report."""
    cost = (body.get("extensions") or {}).get("cost") or {}
    status = cost.get("throttleStatus") or {}
    try:
        needed = float(cost.get("requestedQueryCost") or 0) - float(status.get("currentlyAvailable") or 0)
        rate = float(status.get("restoreRate") or 50.0)
    except (TypeError, ValueError):
        return MIN_WAIT if throttled else 0.0
    if needed <= 0 and not throttled:
        return 0.0
    return min(MAX_WAIT, max(MIN_WAIT, needed / rate if rate > 0 else MAX_WAIT))


def _describe(code: str, body: dict[str, Any]) -> str:
    """A sentence for logs and the command line; GraphQL error messages name fields, never customers."""
    errors = body.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict) and errors[0].get("message"):
        return f"Shopify answered: {str(errors[0]['message'])[:300]}"
    messages = {
        "http_error_403": "The access token lacks the read_orders scope; open Pinbridge in the Shopify admin "
                          "to approve the scopes it asks for.",
        "rate_limited": "Shopify kept answering 429 Too Many Requests.",
        "network_error": "Shopify could not be reached.",
        "unauthorized": "Shopify refused the access token even after a refresh.",
    }
    return messages.get(code, f"Shopify's Admin API failed ({code}).")
