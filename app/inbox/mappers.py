"""Opening and mapping the inbox's bodies on more than one core: the routing thread and the mapping processes.

Opening a body (AES-GCM, LZ4), parsing its 15 KB of JSON and mapping it (normalising and hashing the buyer's
data) is pure CPU work, and most of what routing a webhook costs. On the worker's routing thread alone it
shared one interpreter lock with the sixteen senders, so one worker routed about half as many webhooks a
second as two web processes acknowledge. A large batch is now cut in equal shares that the mapping
processes (ROUTING_PROCESSES, `processes_for`) and the routing thread map side by side, and the results come
back in the receipts' order. A batch smaller than POOL_FROM is mapped on the
routing thread alone: a few orders cost less than the trip to another process and back.

The processes are started with `spawn` (not forked from a process whose threads may hold locks) when the
worker starts, and a batch is shared with them once they are up (until then the routing thread maps it alone);
each holds the inbox's keys and nothing else (no database, no app), and maps what it is sent. Should one die,
the batch is mapped on the routing thread and a new pool starts with the next large batch. `close()` stops
them (the worker calls it when it stops).
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import signal
import threading
import time
import zlib
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import wait as wait_for
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

import orjson

from app import runtime
from app.crypto import SealedBodies, SecretUnreadable
from app.mapping import MappedPurchase, map_checkout, map_order
from app.settings import MappingOptions

logger = logging.getLogger(__name__)

POOL_FROM = 32  # receipts in a batch from which it is shared with the mapping processes
SEALED_SHUT = "sealed_shut"  # no configured key opens the body: it is held, not routed (app/inbox/unreadable.py)

# What mapping one body gives: the purchase, None for a body that is not a JSON object, or SEALED_SHUT.
Result = MappedPurchase | None | str


@dataclass(frozen=True)
class Body:
    """One waiting receipt's sealed body with what mapping it needs; plain data, sent as it is to a process."""

    sealed: bytes
    shop_domain: str
    order: bool  # an order topic (else a completed checkout)
    options: MappingOptions
    received_at: int  # Unix seconds: an order dated long before this was imported or back-dated


def loads(raw: bytes) -> Any:
    """The whole body; the standard library's parser for what orjson refuses though it is JSON (a number too
    long for 64 bits, nesting past 1,024 levels), which the acknowledgement accepted."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)


def map_body(sealed: SealedBodies, body: Body) -> Result:
    """Open and map one body (pure): its purchase, None for a corrupted body, SEALED_SHUT when no key opens it."""
    try:
        payload = loads(sealed.open(body.sealed, body.shop_domain.encode()))
    except SecretUnreadable:
        return SEALED_SHUT
    except (ValueError, RecursionError, RuntimeError, zlib.error):  # verified JSON going in: a corrupted row
        return None
    if not isinstance(payload, dict):
        return None
    mapper = map_order if body.order else map_checkout
    return mapper(payload, body.options, received_at=body.received_at)


def map_all(sealed: SealedBodies, bodies: list[Body]) -> list[Result]:
    """Each body mapped in turn; a whole order as Python objects is ten times its sealed size, so only one
    is held at once."""
    return [map_body(sealed, body) for body in bodies]


def processes_for(configured: int | None, database_url: str) -> int:
    """How many mapping processes a worker starts: ROUTING_PROCESSES, else one on PostgreSQL and none on SQLite.

    Measured in-process on 2 cores (docs/performance-notes.md): one process routed a PostgreSQL burst 20-55 %
    faster, and a SQLite one no faster (its routing waits on its one writer and its own file), so a small
    SQLite instance is not asked for the ~70 MB a process holds.
    """
    if configured is not None:
        return max(0, int(configured))
    return 1 if database_url.startswith("postgresql") else 0


class MappingPool:
    """The worker's mapping processes (`start`, or when first needed); shares a batch between them and the caller."""

    def __init__(self, processes: int, keys: list[str]) -> None:
        self.processes = max(0, processes)
        self._keys = list(keys)
        self._pool: ProcessPoolExecutor | None = None
        self._warm: list[Future[int]] = []  # each process's first answer: it has started

    def map(self, sealed: SealedBodies, bodies: list[Body]) -> list[Result]:
        """Every body mapped, in order: shared with the processes when the batch is large enough.

        The batch is cut in equal shares, one for each process and one, the last, for the calling thread.
        """
        if self.processes == 0 or len(bodies) < POOL_FROM:
            return map_all(sealed, bodies)
        self.start()
        if self._pool is None or not self.ready():  # still starting (or could not): this batch is mapped here
            return map_all(sealed, bodies)
        shares = _shares(bodies, self.processes + 1)
        try:
            futures: list[Future[list[Result]]] = [self._pool.submit(_map_share, share) for share in shares[:-1]]
        except Exception:  # the processes cannot be reached: map here
            logger.exception("mapping processes unavailable", extra={"action": "mapping_pool_failed"})
            self.close()
            return map_all(sealed, bodies)
        own = map_all(sealed, shares[-1])
        results: list[Result] = []
        for share, future in zip(shares, futures, strict=False):
            try:
                results += future.result()
            except BrokenProcessPool:  # a process died: its share is mapped here (a mapping error is raised)
                if self._pool is not None:
                    logger.error("a mapping process died; mapping its share on the inbox thread",
                                 extra={"action": "mapping_pool_failed"})
                    self.close(wait=False)
                results += map_all(sealed, share)
        return results + own

    def start(self) -> None:
        """Start the processes, in the background (the worker does as it starts); `ready` says when they are."""
        if self.processes == 0 or self._pool is not None:
            return
        try:
            self._pool = ProcessPoolExecutor(self.processes, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_start, initargs=(self._keys, os.getpid()))
            # Each submission starts a process while none is idle; its answer says the process is up.
            self._warm = [self._pool.submit(_ready) for _ in range(self.processes)]
        except Exception:
            logger.exception("mapping processes unavailable", extra={"action": "mapping_pool_failed"})
            self.close()

    def ready(self, timeout: float = 0) -> bool:
        """Whether every process has started (waiting up to `timeout` seconds); a batch waits for none."""
        if self._pool is None:
            return False
        started, starting = wait_for(self._warm, timeout=timeout)
        if starting:
            return False
        if any(future.exception() is not None for future in started):
            logger.error("mapping processes did not start", extra={"action": "mapping_pool_failed"})
            self.close(wait=False)
            return False
        return True

    def close(self, *, wait: bool = True) -> None:
        pool, self._pool, self._warm = self._pool, None, []
        if pool is not None:
            pool.shutdown(wait=wait)


def _shares(bodies: list[Body], count: int) -> list[list[Body]]:
    """`bodies` in `count` consecutive shares of nearly equal size."""
    size, extra = divmod(len(bodies), count)
    shares, start = [], 0
    for n in range(count):
        end = start + size + (1 if n < extra else 0)
        shares.append(bodies[start:end])
        start = end
    return shares


# -- in a mapping process ----------------------------------------------------------------------------
_SEALED: SealedBodies | None = None


def _start(keys: list[str], worker_pid: int) -> None:
    """A mapping process's start: the keys, and the worker's settings for the collector and the allocator.

    Interrupts and terminations are the worker's to handle: it stops the processes when it stops. A worker
    killed outright (SIGKILL, the kernel's OOM killer) cannot: the process then leaves on its own.
    """
    global _SEALED
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # The worker's pid as the worker gave it: one killed while this process was still starting has gone already.
    threading.Thread(target=_leave_when_orphaned, args=(worker_pid,), name="orphaned", daemon=True).start()
    _SEALED = SealedBodies(keys)
    runtime.limit_malloc_arenas()
    runtime.settle_collector()


ORPHAN_CHECK_EVERY = 1.0  # seconds between a mapping process's looks at whether its worker is still there


def _leave_when_orphaned(worker_pid: int) -> None:
    """Exit once the worker that started this process is gone (the process is then its init's child).

    Left alone, a process whose worker was killed would wait for work for ever, holding its memory.
    """
    while os.getppid() == worker_pid:
        time.sleep(ORPHAN_CHECK_EVERY)
    os._exit(0)


def _ready() -> int:
    return os.getpid()


def _map_share(bodies: list[Body]) -> list[Result]:
    assert _SEALED is not None, "mapping process not started"
    return map_all(_SEALED, bodies)
