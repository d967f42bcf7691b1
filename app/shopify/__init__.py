"""Talking to Shopify: session tokens and token exchange, Admin GraphQL reads, and reconciliation.

Owns the Admin API access token's use (auth.py), the order pages read back from Shopify (orders.py,
translate.py), Shopify's own day counts (daily.py) and the run that finds orders webhooks missed
(reconcile.py).
"""
