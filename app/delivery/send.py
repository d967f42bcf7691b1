"""Send one claimed batch to Pinterest and carry out what its answer means (see decide.py).

No transaction is open while Pinterest is being called: on SQLite that would hold the write lock (and
stall webhooks) for the length of an HTTP request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select

from app import beacons, crypto, metrics, outbox, shop_state
from app.database import discard, reading, writing
from app.delivery.decide import (
    Answer,
    Decision,
    Delivered,
    Failed,
    NotConfigured,
    Pause,
    RetryAt,
    Split,
    TokenUnreadable,
    decide,
)
from app.models import ConnectionStatus, PinterestSettings, db
from app.pinterest import EventResult, PinterestClient, PinterestError
from app.settings import stored_credentials_problem
from app.statements import built
from app.vocabulary import ConsentRule

logger = logging.getLogger(__name__)


class _TokenUnreadable(TokenUnreadable):
    def __init__(self, message: str = crypto.UNREADABLE_TOKEN_MESSAGE) -> None:
        super().__init__(message)


@dataclass
class _BatchLease:
    """The lease on one claimed batch while its sender thread works on it."""

    ids: list[int]
    renewed: float  # time.monotonic() of the claim or the last renewal


@dataclass(frozen=True)
class Credentials:
    shop_id: int
    ad_account_id: str
    token: str
    test_mode: bool
    credentials_updated_at: datetime | None


@dataclass
class _Batch:
    """One claimed batch's shop, read once before sending (its PinterestSettings row), and what was joined.

    `failures` is the shop's failure streak, kept up to date with what this batch records (a backoff adds
    one, a delivery ends it), so the batch's halves after a split back off the way the stored streak does.
    """

    shop_id: int
    failures: int
    rules: beacons.ConsentRules
    seen_update: datetime | None  # credentials_updated_at of the credentials this batch is sent with
    credentials: Credentials | None = None
    unreadable: bool = False
    unreadable_message: str = crypto.UNREADABLE_TOKEN_MESSAGE  # or why the saved credentials no longer validate
    joined: beacons.Joined | None = None  # recorded with the answer, in the same transaction (`_settle`)


def _shop_settings(_dialect: Any) -> Any:
    """What a batch reads of its shop's settings (parameter `shop`); built once (`statements.built`)."""
    table = PinterestSettings.__table__
    return select(table.c.failure_streak, table.c.marketing_refused, table.c.sale_of_data_refused,
                  table.c.credentials_updated_at, table.c.ad_account_id, table.c.test_mode,
                  table.c.access_token_enc).where(table.c.shop_id == bindparam("shop"))


class Sender:
    """Sends one worker's claimed batches; safe to use from several threads, one batch per thread at a time."""

    def __init__(self, client: PinterestClient, new_client: Callable[[], PinterestClient] | None, *,
                 worker_id: str, clock: Callable[[], datetime], rand: Callable[[], float],
                 lease_seconds: int) -> None:
        self.client, self._new_client = client, new_client
        self.worker_id, self.clock, self.rand, self.lease_seconds = worker_id, clock, rand, lease_seconds
        self._local = threading.local()  # each sender thread: its own HTTP session and its batch's lease

    def use_own_client(self) -> None:
        """Give the calling thread its own HTTP session (the first time it sends)."""
        if not hasattr(self._local, "client"):
            self._local.client = self._new_client() if self._new_client else self.client

    def deliver(self, claimed: list[outbox.Claimed]) -> None:
        """Send one shop's claimed events, grouped by test flag, and record every outcome."""
        self._local.lease = _BatchLease([i.row_id for i in claimed], time.monotonic())
        batch = self._read_shop(claimed[0].shop_id)
        creds = batch.credentials
        if batch.unreadable or creds is None:
            self._settle(batch, claimed,
                         _TokenUnreadable(batch.unreadable_message) if batch.unreadable else NotConfigured())
            return
        groups: dict[bool, list[outbox.Claimed]] = {}
        for item in claimed:
            groups.setdefault(item.test or creds.test_mode, []).append(item)
        for test, group in groups.items():
            items = self._keep_lease(group)  # the second group waits for the first one's request
            if not items:
                continue
            joined = beacons.join(items, self.worker_id, self.clock(), rules=batch.rules)
            if not joined.send:
                with writing():
                    joined.record(self.worker_id, self.clock())
                continue
            batch.joined = joined
            try:
                self._send(batch, creds, joined.send, test)
            except Exception as exc:
                discard()
                logger.exception("delivery failed unexpectedly", extra={"action": "delivery_error"})
                self._settle(batch, joined.send, exc)
            finally:
                batch.joined = None

    def _read_shop(self, shop_id: int) -> _Batch:
        """The batch's one read of the shop's settings: credentials, consent rules and failure streak."""
        with reading():  # nothing stays open across the HTTP call
            settings = db.session.connection().execute(built(_shop_settings), {"shop": shop_id}).first()
        if settings is None:
            return _Batch(shop_id, 0, beacons.ConsentRules(ConsentRule.SKIP, ConsentRule.LIMITED), None)
        batch = _Batch(shop_id, settings.failure_streak,
                       beacons.ConsentRules(settings.marketing_refused, settings.sale_of_data_refused),
                       settings.credentials_updated_at)
        ad_account, test_mode, encrypted = settings.ad_account_id, settings.test_mode, settings.access_token_enc
        if not (ad_account and encrypted):  # not configured
            return batch
        try:
            token = crypto.decrypt(encrypted or "")
        except crypto.SecretUnreadable:
            batch.unreadable = True
            return batch
        problem = stored_credentials_problem(ad_account, token)
        if problem is not None:  # saved before today's checks: the client would refuse it, so pause the shop
            batch.unreadable, batch.unreadable_message = True, problem[1]
            return batch
        batch.credentials = Credentials(shop_id, ad_account or "", token, test_mode, batch.seen_update)
        return batch

    def _send(self, batch: _Batch, creds: Credentials, items: list[outbox.Claimed], test: bool) -> None:
        """One request to Pinterest; a refused batch is split and each half sent the same way."""
        answer: Answer
        try:
            answer = self._post(creds, items, test)
        except PinterestError as exc:
            answer = exc
        if isinstance(self._settle(batch, items, answer), Split):
            self._split(batch, creds, items, test)

    def _post(self, creds: Credentials, items: list[outbox.Claimed], test: bool) -> list[EventResult]:
        client: PinterestClient = getattr(self._local, "client", self.client)
        return client.send_events(creds.ad_account_id, creds.token, [item.for_request() for item in items],
                                  test=test)

    def _split(self, batch: _Batch, creds: Credentials, items: list[outbox.Claimed], test: bool) -> None:
        middle = len(items) // 2
        logger.info("splitting rejected batch",
                    extra={"action": "batch_split", "size": len(items), "shop_id": creds.shop_id})
        for half in (items[:middle], items[middle:]):
            # Splitting 1000 events takes minutes, far longer than the lease: keep it, or the events
            # would go back to the queue mid-split and be claimed and sent all over again.
            half = self._keep_lease(half)
            if half:
                self._send(batch, creds, half, test)

    def _keep_lease(self, items: list[outbox.Claimed]) -> list[outbox.Claimed]:
        """Renew the batch's lease once a third of it has passed; return the items still ours to send."""
        lease: _BatchLease | None = getattr(self._local, "lease", None)
        if lease is None or time.monotonic() - lease.renewed < self.lease_seconds / 3:
            return items
        with writing():
            owned = outbox.renew_lease(lease.ids, self.worker_id, self.clock(), self.lease_seconds)
        lease.ids, lease.renewed = [i for i in lease.ids if i in owned], time.monotonic()
        kept = [item for item in items if item.row_id in owned]
        if len(kept) < len(items):
            logger.warning("lease lost; another worker has these events",
                           extra={"action": "lease_lost", "events": len(items) - len(kept)})
        return kept

    # -- carrying out a decision ------------------------------------------------------------------------
    def _settle(self, batch: _Batch, items: list[outbox.Claimed], answer: Answer) -> Decision:
        """Decide what `answer` means for `items` and record it, in one write transaction (a split records nothing).

        The batch's join notes are written in the same transaction, each event row once.
        """
        shop_id = items[0].shop_id
        with writing():
            now = self.clock()
            decision = decide(answer, row_ids=[i.row_id for i in items], now=now, failures=batch.failures,
                              jitter=self.rand())
            ids = [i.row_id for i in items]
            notes = None
            if batch.joined is not None:
                delivered = decision.delivered if isinstance(decision, Delivered) else []
                notes = batch.joined.notes
                batch.joined.record(self.worker_id, now, delivered=delivered)
            if isinstance(decision, Delivered):
                self._delivered(items, decision, now, notes)
                batch.failures = 0
            elif isinstance(decision, Failed):
                outbox.mark_failed(decision.failures, self.worker_id, now)
                for row_id in decision.failures:
                    logger.error("event rejected by Pinterest", extra={"action": "event_rejected", "event_row": row_id})
            elif isinstance(decision, RetryAt):
                if decision.failure is not None:
                    shop_state.record_failure(shop_id, decision.failure, decision.message, now)
                shop_state.back_off(shop_id, decision.when)
                batch.failures += 1
                outbox.release_for_retry(ids, self.worker_id, decision.when, decision.code, decision.message)
                logger.info("delivery will retry", extra={
                    "action": "delivery_retry", "code": decision.code, "shop_id": shop_id, "events": len(items),
                    "delay_s": round(decision.delay, 2)})
            elif isinstance(decision, Pause):
                self._pause(shop_id, ids, decision, now, batch.seen_update)
        return decision

    def _delivered(self, items: list[outbox.Claimed], decision: Delivered, now: datetime,
                   notes: outbox.JoinNotes | None) -> None:
        shop_id = items[0].shop_id
        outbox.mark_delivered(decision.delivered, self.worker_id, now, decision.warnings, notes)
        metrics.delivered(items, decision.delivered, now)
        outbox.mark_failed(decision.failed, self.worker_id, now)
        shop_state.record_success(shop_id, now, delivered=bool(decision.delivered))
        logger.info("batch delivered", extra={"action": "batch_delivered", "shop_id": shop_id,
                                              "delivered": len(decision.delivered), "failed": len(decision.failed)})

    def _pause(self, shop_id: int, ids: list[int], decision: Pause, now: datetime,
               seen_update: datetime | None) -> None:
        """Pause the shop (unless the merchant saved new credentials while we were sending); keep the events."""
        if decision.failure is not None:
            shop_state.record_failure(shop_id, decision.failure, decision.message, now)
        shop_state.pause(shop_id, decision.status, decision.message, now, seen_update=seen_update)
        outbox.release_for_retry(ids, self.worker_id, now, decision.code, decision.message)
        if decision.status is ConnectionStatus.UNREADABLE:
            logger.error("stored Pinterest token cannot be decrypted with ENCRYPTION_KEY",
                         extra={"action": "token_unreadable", "shop_id": shop_id})
        else:
            logger.error("Pinterest rejected the credentials",
                         extra={"action": "credentials_rejected", "shop_id": shop_id})
