"""/api/*: JSON for the embedded page, authenticated by the Shopify session token."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api")
