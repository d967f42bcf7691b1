"""Shopify session tokens for tests: build a valid one, then break exactly one thing per test.

Real app secrets are long; the tests use secrets of realistic length so PyJWT's key-length check (a
warning, which this suite turns into an error) never fires. `use_session_secrets(app)` installs them.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
from flask import Flask

from tests.conftest import API_KEY, SHOP

SESSION_SECRET = "shpss_" + "5e55105ec7e7" * 4        # fake, 54 characters like a real client secret
OLD_SESSION_SECRET = "shpss_" + "01d5ec7e7000" * 4
OTHER_SHOP = "other-store.myshopify.com"

def use_session_secrets(app: Flask) -> None:
    app.config["SHOPIFY_API_SECRET"] = SESSION_SECRET
    app.config["SHOPIFY_API_SECRET_OLD"] = OLD_SESSION_SECRET

def session_token(shop: str = SHOP, *, secret: str = SESSION_SECRET, aud: str = API_KEY,
                  exp_in: int = 60, nbf_in: int = 0, drop: tuple[str, ...] = (), **claims: Any) -> str:
    """A session token as App Bridge issues it; keyword arguments replace or add claims."""
    now = int(time.time())
    payload: dict[str, Any] = {
        "iss": f"https://{shop}/admin", "dest": f"https://{shop}", "aud": aud, "sub": "71488323617",
        "exp": now + exp_in, "nbf": now + nbf_in, "iat": now, "jti": str(uuid.uuid4()),
        "sid": uuid.uuid4().hex,
    }
    payload.update(claims)
    for key in drop:
        payload.pop(key, None)
    return jwt.encode(payload, secret, algorithm="HS256")

def bearer(token: str | None = None, **kwargs: Any) -> dict[str, str]:
    return {"Authorization": "Bearer " + (token or session_token(**kwargs))}

class ShopifyTokenEndpoint:
    """Shopify's `/admin/oauth/access_token`, stood in at the httpx level; records what it was sent."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.answers: list[httpx.Response] = []
        self.counter = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.requests.append({"url": str(request.url), "body": body})
        if self.answers:
            return self.answers.pop(0)
        self.counter += 1
        return httpx.Response(200, json={
            "access_token": f"shpat_fake_{self.counter:04d}", "scope": "read_orders", "expires_in": 3600,
            "refresh_token": f"shprt_fake_{self.counter:04d}", "refresh_token_expires_in": 7_776_000,
        })

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self.handler))

def token_endpoint(app: Flask) -> Iterator[ShopifyTokenEndpoint]:
    """Install a token endpoint stand-in as the app's Shopify HTTP client (use from a fixture)."""
    endpoint = ShopifyTokenEndpoint()
    client = endpoint.client()
    app.config["SHOPIFY_HTTP_CLIENT"] = client
    yield endpoint
    client.close()


def initial_data(response: Any) -> dict[str, Any]:
    """The JSON the page embeds for its first render."""
    html = response.get_data(as_text=True)
    start = html.index('<script type="application/json" id="initial-data">')
    data: dict[str, Any] = json.loads(html[html.index(">", start) + 1:html.index("</script>", start)])
    return data
