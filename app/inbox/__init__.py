"""The webhook inbox: the `webhook_receipts` table and every write to it.

receipts.py stores a verified webhook on the request path (one short write); routing.py is the worker's
side, mapping what waits there into the outbox and writing each receipt's outcome once.
"""
