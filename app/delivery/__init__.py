"""Delivery to Pinterest: the worker's loop (worker.py), one batch sent (send.py), what an answer means (decide.py).

claim → group → send → decide → record, with backoff, pauses and batch splitting.
"""

from __future__ import annotations

from app.delivery.decide import Decision, Delivered, Failed, Pause, RetryAt, Split, decide
from app.delivery.send import Credentials, Sender
from app.delivery.worker import SENDERS, Periodic, Worker

__all__ = ["SENDERS", "Credentials", "Decision", "Delivered", "Failed", "Pause", "Periodic", "RetryAt", "Sender",
           "Split", "Worker", "decide"]
