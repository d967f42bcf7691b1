"""The delivery worker's loop: claims, sender threads, signals and the periodic jobs.

Claims happen on the loop's thread, one transaction at a time (several shops' batches in one while
senders are free); up to SENDERS claimed batches are sent meanwhile on their own threads (send.py).
Quick periodic jobs (heartbeat, lease reaping, expiry) run between claims; slow ones (reconciliation,
retention: up to ~20 s each) run on a thread of their own, so they never hold up a claim. Each job still
runs on one worker at a time where it must, under its own lease in `locks`.
Webhooks waiting in the inbox are mapped into the outbox on a third thread, in batches (app/inbox/), each
shop in turn (app/inbox/fair.py); a large batch is mapped on the worker's mapping processes too
(app/inbox/mappers.py). Both the claim loop and the inbox thread wait for a wake-up (app/wake.py):
new work is looked for when it is committed, and the idle look every WORKER_IDLE_SECONDS is the fallback.
"""

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
from datetime import datetime
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from app import metrics, outbox, runtime, wake
from app.clock import database_now
from app.database import discard, reading, writing
from app.delivery.send import Sender
from app.inbox import fair, routing, unreadable
from app.inbox.mappers import MappingPool, processes_for
from app.models import Event, EventStatus, WorkerHeartbeat, db
from app.ops import retention
from app.pinterest import MAX_BATCH, PinterestClient
from app.shopify import reconcile, recovery

logger = logging.getLogger(__name__)

HEARTBEAT_EVERY = 5.0  # seconds
EXPIRE_EVERY = 60.0  # seconds
REOPEN_EVERY = 60.0  # seconds between looks for held bodies the worker's keys have not tried
PERIODIC_TICK = 1.0  # seconds between looks for due jobs on the periodic thread
# Batches a worker keeps in flight, each for a different shop. Pinterest takes ~150 ms per request whatever
# its size, so one batch at a time left a worker waiting on the network: with many small shops it fell
# seconds behind, and the claim of the next batch could not overlap the send of the current one. With six,
# a steady 50 orders a second from 50 shops (a batch of one each) was more than 6 / 0.15 s = 40 batches a
# second could carry, and orders queued for seconds: small batches need many senders. Big ones need memory
# (6.6 MB per 1000 claimed, ~4 MB more while sending), so the events in flight are bounded on their own.
SENDERS = 16  # 16 / 0.15 s: over 100 batches a second; each takes a pooled connection (WORKER_POOL) for a moment
# Batches claimed in one transaction, each of a different shop, while senders are free: fifty small shops
# ordering once a second each are fifty batches of one. A claim of its own for each cost 2 ms of CPU on
# PostgreSQL (in-process, its statements built once), eight a claim 0.6 ms each, and one commit instead of eight.
SHOPS_PER_CLAIM = 8
EVENTS_IN_FLIGHT = 6000  # claimed events held at once, whatever the number of batches
INBOX_BATCHES_PER_CLAIM = 5  # up to 1,000 (SQLite) or 2,500 (PostgreSQL) webhooks mapped per look at the inbox
INBOX_PAUSE = 0.1  # seconds between looks at the inbox when no wake-up came (the fallback)


@dataclass
class Periodic:
    """A job the worker runs every `every` seconds (lease reaping, expiry, ...).

    `slow` jobs run on the periodic thread while the loop runs, so they cannot stall claims.
    """

    name: str
    every: float
    run: Callable[[datetime], Any]
    slow: bool = False
    last: float = field(default=float("-inf"))


def _pinterest_client(cfg: Any) -> PinterestClient:
    return metrics.instrument(PinterestClient(
        cfg["PINTEREST_API_URL"], connect_timeout=cfg["PINTEREST_CONNECT_TIMEOUT"],
        read_timeout=cfg["PINTEREST_READ_TIMEOUT"]))


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
        self.clock, self.rand = clock, rand
        self.stopping = threading.Event()
        self.sleep = sleep or self.stopping.wait
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{random.randrange(16**6):06x}"
        self.lease_seconds = int(cfg["LEASE_SECONDS"])
        self.batch_size = min(int(cfg["BATCH_SIZE"]), MAX_BATCH)
        self.idle_seconds = float(cfg["WORKER_IDLE_SECONDS"])
        self.client = metrics.instrument(client) if client is not None else _pinterest_client(cfg)
        self.sender = Sender(self.client, None if client is not None else lambda: _pinterest_client(cfg),
                             worker_id=self.worker_id, clock=clock, rand=rand, lease_seconds=self.lease_seconds)
        self.periodic: list[Periodic] = [
            Periodic("heartbeat", HEARTBEAT_EVERY, self._heartbeat),
            Periodic("reclaim_leases", max(1.0, self.lease_seconds / 4), outbox.reclaim_expired_leases),
            Periodic("expire", EXPIRE_EVERY, lambda now: outbox.expire_stale(now, cfg["EVENT_MAX_AGE_SECONDS"])),
            Periodic("reconcile", reconcile.CHECK_EVERY, reconcile.Reconciler(cfg, self.worker_id), slow=True),
            Periodic("recover_days", recovery.CHECK_EVERY, recovery.Recoveries(), slow=True),
            Periodic("retention", retention.RUN_EVERY, retention.Retention(cfg, self.worker_id), slow=True),
            # Held bodies (app/inbox/unreadable.py) are tried once per key set: at start, then when another appears.
            Periodic("reopen_held", REOPEN_EVERY, lambda _now: unreadable.reopen()),
        ]
        self._slow_on_thread = False  # True while run() has the periodic thread running the slow jobs
        self._inbox_on_thread = False  # True while run() has the inbox thread mapping webhooks
        self.listener: wake.Listener | None = None  # while run() runs: wake-ups for the loop and inbox thread
        self.inbox = fair.FairInbox()
        # The processes that map large inbox batches beside the inbox thread (app/inbox/mappers.py).
        self.mappers = MappingPool(processes_for(cfg.get("ROUTING_PROCESSES"), str(cfg["SQLALCHEMY_DATABASE_URI"])),
                                   list(cfg["ENCRYPTION_KEYS"]))

    # -- loop -------------------------------------------------------------------------------------
    def install_signal_handlers(self) -> None:
        """SIGTERM/SIGINT: finish the batch in flight, then exit."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop())

    def stop(self) -> None:
        self.stopping.set()
        if self.listener is not None:
            self.listener.poke()

    def run(self, max_idle_loops: int | None = None) -> None:
        """Loop until stopped (or, for tests, until the queue stays empty `max_idle_loops` times).

        Stopping waits for the batches in flight, and for the periodic thread to finish the job it is
        running (every slow job runs at least once, so `worker --once` still reconciles and purges).
        """
        logger.info("worker started", extra={"action": "worker_started", "worker": self.worker_id})
        runtime.limit_malloc_arenas()  # before the threads start
        if max_idle_loops is None:  # a long-running worker; a single pass starts them only for a large batch
            self.mappers.start()
        done = threading.Event()
        periodic = threading.Thread(target=self._run_slow_jobs, args=(done,), name="periodic", daemon=True)
        router = threading.Thread(target=self._route_continuously, args=(done,), name="inbox", daemon=True)
        self._slow_on_thread = self._inbox_on_thread = True
        self.listener = self._listen()
        periodic.start()
        router.start()
        try:
            self._loop(max_idle_loops)
        finally:
            done.set()
            listener, self.listener = self.listener, None
            if listener is not None:
                listener.poke()
            periodic.join()
            router.join()
            self.mappers.close()
            self._slow_on_thread = self._inbox_on_thread = False
            if listener is not None:
                listener.close()
        logger.info("worker stopped", extra={"action": "worker_stopped", "worker": self.worker_id})

    def _loop(self, max_idle_loops: int | None) -> None:
        idle = 0
        inflight: dict[Future[None], int] = {}  # batch → its shop; a shop has one batch in flight at most
        sizes: dict[Future[None], int] = {}  # batch → its number of events
        with self.app.app_context(), ThreadPoolExecutor(SENDERS, thread_name_prefix="sender") as pool:
            while not self.stopping.is_set():
                if len(inflight) >= SENDERS or sum(sizes.values()) >= EVENTS_IN_FLIGHT:
                    wait(inflight, return_when=FIRST_COMPLETED)
                inflight = {f: shop for f, shop in inflight.items() if not f.done()}
                sizes = {f: size for f, size in sizes.items() if f in inflight}
                # At most a full batch's events a claim, however many shops share them: a claim's rows
                # come back all at once, and a claim's transaction stays as short as one shop's was.
                room = max(1, min(self.batch_size, EVENTS_IN_FLIGHT - sum(sizes.values())))
                batches = self._claim_batches(busy_shops=set(inflight.values()), total=room,
                                              batches=min(SHOPS_PER_CLAIM, SENDERS - len(inflight)))
                if batches:
                    idle = 0
                    for claimed in batches:
                        future = pool.submit(self._deliver_in_thread, claimed)
                        future.add_done_callback(self._batch_done)
                        inflight[future], sizes[future] = claimed[0].shop_id, len(claimed)
                    continue
                idle += 1
                if max_idle_loops is not None and idle >= max_idle_loops and not inflight:
                    break
                self._wait_for_work(inflight)
            wait(inflight)

    def _listen(self) -> wake.Listener | None:
        """Start listening for wake-ups; None (the idle look alone) when that is not possible here."""
        try:
            with self.app.app_context():
                return wake.Listener(db.engine).start()
        except OSError:
            logger.warning("wake-ups unavailable; looking for work every WORKER_IDLE_SECONDS",
                           extra={"action": "wake_unavailable"}, exc_info=True)
            return None

    def _batch_done(self, _future: Future[None]) -> None:
        if self.listener is not None:
            self.listener.poke(wake.OUTBOX)  # its shop may have more to send, and a sender is free

    def _wait_for_work(self, inflight: dict[Future[None], int]) -> None:
        """Nothing to claim: wait for new work, a batch in flight to finish, or the next event to come due.

        Without a listener (run() not running) this is the plain idle wait.
        """
        if self.listener is None:
            if inflight:
                wait(inflight, timeout=self.idle_seconds, return_when=FIRST_COMPLETED)
            else:
                self.sleep(self.idle_seconds)
            return
        self.listener.wait(wake.OUTBOX, self._until_next_due())

    def _until_next_due(self) -> float:
        """Seconds until the next waiting event comes due (a settling checkout, an order waiting for its
        beacon), at most the idle look's."""
        try:
            now = self.clock()
            with reading():
                due = db.session.scalar(select(func.min(Event.available_at))
                                        .where(Event.status == EventStatus.PENDING, Event.available_at > now))
        except Exception:
            discard()
            logger.exception("next due time unknown", extra={"action": "claim_failed"})
            return self.idle_seconds
        if due is None:
            return self.idle_seconds
        if due.tzinfo is None:
            due = due.replace(tzinfo=now.tzinfo)
        return min(self.idle_seconds, max(0.001, (due - now).total_seconds()))

    def _run_slow_jobs(self, done: threading.Event) -> None:
        """The periodic thread: run the slow jobs when due until the loop ends (always one round)."""
        slow = [job for job in self.periodic if job.slow]
        with self.app.app_context():
            while True:
                self._run_due(slow)
                if done.wait(PERIODIC_TICK):
                    break

    def _deliver_in_thread(self, claimed: list[outbox.Claimed]) -> None:
        self.sender.use_own_client()
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

    def deliver(self, claimed: list[outbox.Claimed]) -> None:
        """Send one shop's claimed events and record every outcome (send.py)."""
        self.sender.deliver(claimed)

    def _claim_next(self, busy_shops: set[int] | None = None) -> list[outbox.Claimed]:
        """Run due periodic jobs, then claim one batch (empty when nothing is ready or the claim failed)."""
        batches = self._claim_batches(total=self.batch_size, batches=1, busy_shops=busy_shops)
        return batches[0] if batches else []

    def _claim_batches(self, *, total: int, batches: int,
                       busy_shops: set[int] | None = None) -> list[list[outbox.Claimed]]:
        """Run due periodic jobs, then claim up to `batches` batches of different shops, `total` events in
        all (none when nothing is ready or the claim failed)."""
        self._run_due([job for job in self.periodic if not (job.slow and self._slow_on_thread)])
        if not self._inbox_on_thread:
            self._route_inbox()
        now = self.clock()
        try:
            return outbox.claim_batches(self.worker_id, now, lease_seconds=self.lease_seconds, limit=self.batch_size,
                                        total=total, batches=batches, busy_shops=busy_shops or ())
        except Exception:
            logger.exception("claim failed", extra={"action": "claim_failed"})
            discard()
            return []

    def _route_inbox(self) -> int:
        """Map what webhooks left in the inbox into the outbox (a few batches); how many were routed."""
        total = 0
        for _ in range(INBOX_BATCHES_PER_CLAIM):
            try:
                routed = routing.process_pending(plan=self.inbox, mappers=self.mappers)
            except Exception:
                discard()
                logger.exception("inbox routing failed", extra={"action": "inbox_failed"})
                return total
            total += routed
            if not routed or not self.inbox:  # nothing left that this worker knows of
                return total
        return total

    def _route_continuously(self, done: threading.Event) -> None:
        """The inbox thread: route waiting webhooks in batches, off the claim loop.

        Mapped one by one on the claim loop, each webhook cost a commit (a WAL flush on PostgreSQL) that
        the next claim waited for. Here a webhook's commit wakes the thread (app/wake.py), so an order is
        routed as soon as it is acknowledged; what arrives while a batch is routed gathers for the next,
        and a full batch is followed at once by the next. Without a wake-up it looks every INBOX_PAUSE
        (or the idle look's, if longer).
        """
        with self.app.app_context():
            while not done.is_set():
                if self._route_inbox() and self.inbox:  # more waits: a batch shared by shops is short, go on
                    continue
                if self.listener is not None:  # a webhook's commit wakes it; the timeout is the fallback look
                    self.listener.wait(wake.INBOX, max(INBOX_PAUSE, self.idle_seconds))
                else:
                    done.wait(INBOX_PAUSE)
            self._route_inbox()  # what arrived while stopping

    def _run_due(self, jobs: list[Periodic]) -> None:
        for job in jobs:
            mono = time.monotonic()
            if mono - job.last < job.every:
                continue
            job.last = mono
            try:
                job.run(self.clock())
            except Exception:
                discard()
                logger.exception("periodic job failed", extra={"action": "periodic_failed", "job": job.name})

    def _heartbeat(self, now: datetime) -> None:
        with writing():
            beat = db.session.get(WorkerHeartbeat, self.worker_id)
            if beat is None:
                db.session.add(WorkerHeartbeat(worker_id=self.worker_id, last_seen_at=now, started_at=now))
            else:
                beat.last_seen_at = now
