"""The merchant's side: App Home, the /api/* endpoints and what they show.

Owns no delivery state: the pages read it (stats.py, status.py, dedup.py, explain.py), and the few
writes a merchant makes go through the modules that own that state (settings, shop_state, outbox).
"""
