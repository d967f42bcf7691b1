"""The door: what Shopify and the storefront send is verified on its raw bytes, recorded, and answered.

Owns the request path of every inbound call: the WSGI fast path for order webhooks (wsgi.py), signature
checks (verify.py), the webhook route (webhooks.py), the pixel's beacons (beacon.py) and the shop
lifecycle and privacy topics (lifecycle.py). Nothing here maps an order or calls Pinterest.
"""
