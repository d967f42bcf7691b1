"""Pure mapping from Shopify orders and checkouts to Pinterest `checkout` events.

No Flask, no database, no clock: everything the mapping needs is in its arguments.
"""

from __future__ import annotations

from app.mapping.types import MATCH_KEYS, MappedPurchase, MappingOptions

__all__ = ["MATCH_KEYS", "MappedPurchase", "MappingOptions", "map_checkout", "map_order"]

from app.mapping.purchase import map_checkout, map_order  # noqa: E402
