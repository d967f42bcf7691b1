"""The delivery worker: claim → group → send → record, with backoff, pauses and batch splitting."""

from __future__ import annotations

import logging
import os
import random
import signal
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import update

from . import beacons, crypto, metrics, outbox, reconcile, retention, shop_state
from .clock import database_now
from .db_util import writing
from .models import ConnectionStatus, PinterestSettings, WorkerHeartbeat, db
from .pinterest import (
    MAX_BATCH,
    BatchRejected,
    CredentialsRejected,
    PinterestClient,
    Unavailable,
)
from .retry import backoff_delay

logger = logging.getLogger(__name__)

HEARTBEAT_EVERY = 5.0  # seconds
EXPIRE_EVERY = 60.0  # seconds
UNEXPECTED_ERROR_DELAY = 30.0  # seconds
# Batches a worker keeps in flight, each for a different shop. Pinterest takes ~150 ms per request whatever
# its size, so one batch at a time left a worker waiting on the network: with many small shops it fell
# seconds behind, and the claim of the next batch could not overlap the send of the current one. Each batch
# in flight holds its events in memory (~10 MB per 1000, measured by make bench), which bounds this number.
SENDERS = 6


@dataclass
class Periodic:
    """A job the worker runs every `every` seconds between batches (lease reaping, expiry, ...)."""

    name: str
    every: float
    run: Callable[[datetime], Any]
    last: float = field(default=float("-inf"))


class _TokenUnreadable(Exception):
    """The shop's saved token cannot be decrypted with the configured keys."""

    def __init__(self, seen_update: datetime | None) -> None:
        super().__init__("stored token unreadable")
        self.seen_update = seen_update


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


class Worker:
    """Sends pending events to Pinterest until asked to stop.

    `clock` tells the database's time (see app/clock.py): leases, backoffs, expiry, retention and
    heartbeats are all measured by it, so a worker whose own clock is wrong neither takes over another
    worker's events nor expires or purges anything early. Tests pass a fake to move time for everyone.
    """

    def __init__(
        self,
        app: Flask,
        *,
        client: PinterestClient | None = None,
        clock: Callable[[], datetime] = database_now,
        rand: Callable[[], float] = random.random,
        sleep: Callable[[float], Any] | None = None,
        worker_id: str | None = None,
    ) -> None:
        cfg = app.config
        self.app = app
        self.client = client or PinterestClient(
            cfg["PINTEREST_API_URL"],
            connect_timeout=cfg["PINTEREST_CONNECT_TIMEOUT"],
            read_timeout=cfg["PINTEREST_READ_TIMEOUT"],
        )
        self.client = metrics.instrument(self.client)
        self._new_client = None if client is not None else lambda: metrics.instrument(PinterestClient(
            cfg["PINTEREST_API_URL"], connect_timeout=cfg["PINTEREST_CONNECT_TIMEOUT"],
            read_timeout=cfg["PINTEREST_READ_TIMEOUT"]))
        self._local = threading.local()  # each sender thread has its own HTTP session
        self.clock, self.rand = clock, rand
        self.stopping = threading.Event()
        self.sleep = sleep or self.stopping.wait
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{random.randrange(16**6):06x}"
        self.lease_seconds = int(cfg["LEASE_SECONDS"])
        self.batch_size = min(int(cfg["BATCH_SIZE"]), MAX_BATCH)
        self.idle_seconds = float(cfg["WORKER_IDLE_SECONDS"])
        self.periodic: list[Periodic] = [
            Periodic("heartbeat", HEARTBEAT_EVERY, self._heartbeat),
            Periodic("reclaim_leases", max(1.0, self.lease_seconds / 4), outbox.reclaim_expired_leases),
            Periodic("expire", EXPIRE_EVERY, lambda now: outbox.expire_stale(now, cfg["EVENT_MAX_AGE_SECONDS"])),
            Periodic("reconcile", reconcile.CHECK_EVERY, reconcile.Reconciler(cfg, self.worker_id)),
            Periodic("retention", retention.RUN_EVERY, retention.Retention(cfg, self.worker_id)),
        ]

    # -- loop -------------------------------------------------------------------------------------
    def install_signal_handlers(self) -> None:
        """SIGTERM/SIGINT: finish the batch in flight, then exit."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop())

    def stop(self) -> None:
        self.stopping.set()

    def run(self, max_idle_loops: int | None = None) -> None:
        """Loop until stopped (or, for tests, until the queue stays empty `max_idle_loops` times).

        Claims happen here, one at a time; up to SENDERS claimed batches are sent and recorded on
        their own threads meanwhile. Stopping waits for the batches in flight.
        """
        logger.info("worker started", extra={"action": "worker_started", "worker": self.worker_id})
        idle = 0
        inflight: dict[Future[None], int] = {}  # batch → its shop; a shop has one batch in flight at most
        with self.app.app_context(), ThreadPoolExecutor(SENDERS, thread_name_prefix="sender") as pool:
            while not self.stopping.is_set():
                if len(inflight) >= SENDERS:
                    wait(inflight, return_when=FIRST_COMPLETED)
                inflight = {f: shop for f, shop in inflight.items() if not f.done()}
                claimed = self._claim_next(busy_shops=set(inflight.values()))
                if claimed:
                    idle = 0
                    inflight[pool.submit(self._deliver_in_thread, claimed)] = claimed[0].shop_id
                    continue
                idle += 1
                if max_idle_loops is not None and idle >= max_idle_loops and not inflight:
                    break
                if inflight:
                    wait(inflight, timeout=self.idle_seconds, return_when=FIRST_COMPLETED)
                else:
                    self.sleep(self.idle_seconds)
            wait(inflight)
        logger.info("worker stopped", extra={"action": "worker_stopped", "worker": self.worker_id})

    def _deliver_in_thread(self, claimed: list[outbox.Claimed]) -> None:
        if not hasattr(self._local, "client"):
            self._local.client = self._new_client() if self._new_client else self.client
        with self.app.app_context():
            try:
                self.deliver(claimed)
            except Exception:
                logger.exception("delivery failed unexpectedly", extra={"action": "delivery_error"})

    def run_once(self) -> int:
        """Run due periodic jobs, then claim and send one batch; return how many events were handled."""
        claimed = self._claim_next()
        if claimed:
            self.deliver(claimed)
        return len(claimed)

    def _claim_next(self, busy_shops: set[int] | None = None) -> list[outbox.Claimed]:
        """Run due periodic jobs, then claim one batch (empty when nothing is ready or the claim failed)."""
        self._run_periodic()
        now = self.clock()
        try:
            return outbox.claim(self.worker_id, now, lease_seconds=self.lease_seconds, limit=self.batch_size,
                                busy_shops=busy_shops or ())
        except Exception:
            logger.exception("claim failed", extra={"action": "claim_failed"})
            db.session.rollback()
            return []

    def _run_periodic(self) -> None:
        mono = time.monotonic()
        for job in self.periodic:
            if mono - job.last < job.every:
                continue
            job.last = mono
            try:
                job.run(self.clock())
            except Exception:
                db.session.rollback()
                logger.exception("periodic job failed", extra={"action": "periodic_failed", "job": job.name})

    def _heartbeat(self, now: datetime) -> None:
        with writing():
            beat = db.session.get(WorkerHeartbeat, self.worker_id)
            if beat is None:
                db.session.add(WorkerHeartbeat(worker_id=self.worker_id, last_seen_at=now, started_at=now))
            else:
                beat.last_seen_at = now

    # -- one claimed batch ----------------------------------------------------------------------
    def deliver(self, claimed: list[outbox.Claimed]) -> None:
        """Send one shop's claimed events, grouped by test flag, and record every outcome.

        No transaction is open while Pinterest is being called: on SQLite that would hold the
        write lock (and stall webhooks) for the length of an HTTP request.
        """
        # One batch per thread at a time, so the batch's lease lives in thread-local state.
        self._local.lease = _BatchLease([i.row_id for i in claimed], time.monotonic())
        try:
            creds = self._credentials(claimed[0].shop_id)
        except _TokenUnreadable as exc:
            self._pause_unreadable(claimed, exc.seen_update)
            return
        if creds is None:
            with writing():
                self._retry_later(claimed, "not_configured", "Pinterest settings are missing.", None)
            return
        groups: dict[bool, list[outbox.Claimed]] = {}
        for item in claimed:
            groups.setdefault(item.test or creds.test_mode, []).append(item)
        for test, group in groups.items():
            items = self._keep_lease(group)  # the second group waits for the first one's request
            if not items:
                continue
            items = self._join_beacons(items)
            if not items:
                continue
            try:
                self._send(creds, items, test)
            except Exception:
                db.session.rollback()
                logger.exception("delivery failed unexpectedly", extra={"action": "delivery_error"})
                with writing():
                    self._retry_later(items, "internal_error", "Unexpected error; will retry.", None,
                                      minimum=UNEXPECTED_ERROR_DELAY)

    def _join_beacons(self, items: list[outbox.Claimed]) -> list[outbox.Claimed]:
        """Add what the storefront pixel reported (click id, browser, consent) to the events about to go."""
        return beacons.join(items, self.worker_id, self.clock()).send

    def _credentials(self, shop_id: int) -> Credentials | None:
        settings = db.session.execute(
            db.select(PinterestSettings).filter_by(shop_id=shop_id)
        ).scalar_one_or_none()
        if settings is None or not settings.configured:
            db.session.rollback()
            return None
        stamp, ad_account, test_mode = settings.credentials_updated_at, settings.ad_account_id, settings.test_mode
        encrypted = settings.access_token_enc or ""
        db.session.rollback()  # end the read; nothing stays open across the HTTP call
        try:
            token = crypto.decrypt(encrypted)
        except crypto.SecretUnreadable:
            raise _TokenUnreadable(stamp) from None
        return Credentials(shop_id, ad_account or "", token, test_mode, stamp)

    def _pause_unreadable(self, claimed: list[outbox.Claimed], seen_update: datetime | None) -> None:
        """Our key cannot read the saved token: say so (Pinterest refused nothing), keep the events, send none."""
        message = crypto.UNREADABLE_TOKEN_MESSAGE
        with writing():
            self._reject_shop(claimed[0].shop_id, seen_update, message, status=ConnectionStatus.UNREADABLE)
            outbox.release_for_retry([i.row_id for i in claimed], self.worker_id, self.clock(),
                                     "token_unreadable", message)

    def _send(self, creds: Credentials, items: list[outbox.Claimed], test: bool) -> None:
        try:
            results = getattr(self._local, "client", self.client).send_events(
                creds.ad_account_id, creds.token, [item.payload for item in items], test=test
            )
        except CredentialsRejected as exc:
            with writing():
                shop_state.record_failure(creds.shop_id, shop_state.classify(exc), exc.message, self.clock())
                self._reject_shop(creds.shop_id, creds.credentials_updated_at, exc.message)
                outbox.release_for_retry([i.row_id for i in items], self.worker_id, self.clock(),
                                         "credentials_rejected", exc.message)
            return
        except Unavailable as exc:
            with writing():
                shop_state.record_failure(creds.shop_id, shop_state.classify(exc), exc.message, self.clock())
                self._retry_later(items, "unavailable", exc.message, exc.retry_after)
            return
        except BatchRejected as exc:
            self._isolate(creds, items, test, exc)
            return
        with writing():
            self._record(creds, items, results, self.clock())

    def _isolate(self, creds: Credentials, items: list[outbox.Claimed], test: bool, exc: BatchRejected) -> None:
        """A whole batch was refused: split it until the offending events stand alone."""
        if len(items) == 1:
            with writing():
                outbox.mark_failed({items[0].row_id: ("rejected", exc.message)}, self.worker_id, self.clock())
            logger.error("event rejected by Pinterest",
                         extra={"action": "event_rejected", "event_row": items[0].row_id})
            return
        middle = len(items) // 2
        logger.info("splitting rejected batch",
                    extra={"action": "batch_split", "size": len(items), "shop_id": creds.shop_id})
        for half in (items[:middle], items[middle:]):
            # Splitting 1000 events takes minutes, far longer than the lease: keep it, or the events
            # would go back to the queue mid-split and be claimed and sent all over again.
            half = self._keep_lease(half)
            if half:
                self._send(creds, half, test)

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

    def _record(self, creds: Credentials, items: list[outbox.Claimed], results: list[Any], now: datetime) -> None:
        delivered, warnings, failures = [], {}, {}
        for item, result in zip(items, results, strict=True):
            if result.processed:
                delivered.append(item.row_id)
                if result.warning_message:
                    warnings[item.row_id] = result.warning_message[:1000]
            else:
                failures[item.row_id] = ("failed", result.error_message or "Pinterest did not process it.")
        outbox.mark_delivered(delivered, self.worker_id, now, warnings)
        metrics.delivered(items, delivered, now)
        outbox.mark_failed(failures, self.worker_id, now)
        self._mark_connection_ok(creds)
        shop_state.record_success(creds.shop_id, now, delivered=bool(delivered))
        logger.info("batch delivered", extra={"action": "batch_delivered", "shop_id": creds.shop_id,
                                              "delivered": len(delivered), "failed": len(failures)})

    def _retry_later(self, items: list[outbox.Claimed], code: str, message: str, retry_after: float | None,
                     minimum: float = 0.0) -> None:
        """Put the events back and make their whole shop wait, so new orders don't each probe Pinterest."""
        shop_id = items[0].shop_id
        settings = db.session.execute(
            db.select(PinterestSettings).filter_by(shop_id=shop_id)
        ).scalar_one_or_none()
        streak = (settings.failure_streak if settings else 0) + 1
        delay = max(minimum, backoff_delay(streak, retry_after=retry_after, rand=self.rand()))
        when = self.clock() + timedelta(seconds=delay)
        if settings is not None:
            settings.failure_streak, settings.backoff_until = streak, when
        outbox.release_for_retry([i.row_id for i in items], self.worker_id, when, code, message)
        logger.info("delivery will retry", extra={"action": "delivery_retry", "code": code, "shop_id": shop_id,
                                                  "events": len(items), "delay_s": round(delay, 2)})

    def _reject_shop(self, shop_id: int, seen_update: datetime | None, message: str,
                     status: ConnectionStatus = ConnectionStatus.REJECTED) -> None:
        """Pause a shop, unless the merchant saved new credentials while we were sending."""
        stmt = update(PinterestSettings).where(PinterestSettings.shop_id == shop_id)
        if seen_update is None:
            stmt = stmt.where(PinterestSettings.credentials_updated_at.is_(None))
        else:
            stmt = stmt.where(PinterestSettings.credentials_updated_at == seen_update)
        db.session.execute(stmt.values(connection_status=status.value,
                                       connection_message=message[:1000],
                                       connection_checked_at=self.clock()))
        if status is ConnectionStatus.UNREADABLE:
            logger.error("stored Pinterest token cannot be decrypted with ENCRYPTION_KEY",
                         extra={"action": "token_unreadable", "shop_id": shop_id})
        else:
            logger.error("Pinterest rejected the credentials",
                         extra={"action": "credentials_rejected", "shop_id": shop_id})

    def _mark_connection_ok(self, creds: Credentials) -> None:
        db.session.execute(
            update(PinterestSettings)
            .where(PinterestSettings.shop_id == creds.shop_id,
                   PinterestSettings.connection_status == ConnectionStatus.UNKNOWN.value)
            .values(connection_status=ConnectionStatus.OK.value, connection_message=None,
                    connection_checked_at=self.clock())
        )
        db.session.execute(
            update(PinterestSettings)
            .where(PinterestSettings.shop_id == creds.shop_id, PinterestSettings.failure_streak > 0)
            .values(failure_streak=0, backoff_until=None)
        )
