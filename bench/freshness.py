"""Freshness: a steady 50 webhooks/s; time from each acknowledgement to the stand-in receiving its event.

In the `beacons` variant the shops' pixel has reported, so every web order waits for its beacon (at most
PIXEL_JOIN_SECONDS), and each order's beacon is posted 0–2 s after its webhook was acknowledged, as a
thank-you page would; the wait ends when the beacon arrives.
"""

from __future__ import annotations

import heapq
import http.client
import json
import queue
import random
import statistics
import threading
import time
from pathlib import Path
from typing import Any

from . import procs
from .beacon import RAISED_LIMITS
from .bodies import SignedWebhook, signed_webhooks
from .db import BenchDatabases, app_env, beacon_click_id, scalar, seed

SENDERS = 8  # client threads; enough to hold 50/s even when an answer is slow
BEACON_SENDERS = 16  # a slow answer must not hold the next beacons back
BEACON_DELAY = (0.0, 2.0)  # seconds after the acknowledgement, uniformly
SETTLE_SECONDS = 30.0  # after the last webhook, how long events get to reach the stand-in


class BeaconPoster:
    """Posts each order's beacon at its due time: a scheduler thread hands due beacons to sender threads."""

    def __init__(self, port: int, seed_n: int) -> None:
        self.port, self.rng = port, random.Random(seed_n)
        self.heap: list[tuple[float, int, SignedWebhook]] = []
        self.cond = threading.Condition()
        self.ready: queue.Queue[tuple[float, SignedWebhook] | None] = queue.Queue()
        self.posted: dict[str, float] = {}
        self.late: list[float] = []  # seconds each beacon left after its planned time
        self.failures: list[int] = []
        self.closing = False
        self.seq = 0
        self.threads = [threading.Thread(target=self._schedule)] + [
            threading.Thread(target=self._send) for _ in range(BEACON_SENDERS)]
        for thread in self.threads:
            thread.start()

    def after_ack(self, hook: SignedWebhook) -> None:
        with self.cond:
            self.seq += 1
            heapq.heappush(self.heap, (time.monotonic() + self.rng.uniform(*BEACON_DELAY), self.seq, hook))
            self.cond.notify()

    def close(self) -> None:
        with self.cond:
            self.closing = True
            self.cond.notify()
        for thread in self.threads:
            thread.join(timeout=60)

    def _schedule(self) -> None:
        while True:
            with self.cond:
                while True:
                    if self.heap and self.heap[0][0] <= time.monotonic():
                        due, _, hook = heapq.heappop(self.heap)
                        break
                    if self.closing and not self.heap:
                        for _ in range(BEACON_SENDERS):
                            self.ready.put(None)
                        return
                    self.cond.wait(timeout=(self.heap[0][0] - time.monotonic()) if self.heap else 0.2)
            self.ready.put((due, hook))

    def _send(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        while (job := self.ready.get()) is not None:
            due, hook = job
            self.late.append(time.monotonic() - due)
            assert hook.checkout_token is not None
            body = json.dumps({"checkout_token": hook.checkout_token, "event_id": hook.event_id,
                               "click_id": beacon_click_id(hook.checkout_token),
                               "consent": {"marketing": True, "sale_of_data": True}}).encode()
            headers = {"Content-Type": "text/plain", "Origin": "https://shop.example",
                       "User-Agent": "Mozilla/5.0 (iPhone) BenchAgent", "X-Forwarded-For": "203.0.113.7"}
            sent = time.time()
            try:
                conn.request("POST", f"/pixel?shop={hook.shop}", body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                if 200 <= response.status < 300:
                    self.posted[hook.event_id] = sent
                else:
                    self.failures.append(response.status)
            except (OSError, http.client.HTTPException):
                self.failures.append(0)
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.close()


def _sender(port: int, jobs: queue.Queue[tuple[float, SignedWebhook] | None], acks: dict[str, float],
            failures: list[int], beacons: BeaconPoster | None = None) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    while (job := jobs.get()) is not None:
        due, hook = job
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        try:
            conn.request("POST", "/webhooks", body=hook.body, headers=hook.headers)
            response = conn.getresponse()
            response.read()
            if 200 <= response.status < 300:
                acks[hook.event_id] = time.time()
                if beacons is not None:
                    beacons.after_ack(hook)
            else:
                failures.append(response.status)
        except (OSError, http.client.HTTPException):
            failures.append(0)
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.close()


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def measure(url: str, rate: float, seconds: float, latency: float, logdir: Path, seed_n: int,
            with_beacons: bool = False) -> dict[str, Any]:
    hooks = signed_webhooks(int(rate * seconds), seed=seed_n, pixel=with_beacons)
    standin = procs.Standin(latency, logdir)
    env = app_env(url, standin.url, **(RAISED_LIMITS if with_beacons else {}))
    web, port = procs.start_gunicorn("app:create_app()", env, logdir, "fresh-web")
    worker = procs.start_worker(env, logdir, "fresh-worker")
    acks: dict[str, float] = {}
    failures: list[int] = []
    beacons = BeaconPoster(port, seed_n) if with_beacons else None
    try:
        # Orders start once the worker is up (its heartbeat, then its start-up work and mapping process
        # done), as in the inbox benchmark: a worker's start-up (imports, app, ~1.5 s) is not how long an
        # order waits in a running instance.
        ready_by = time.monotonic() + 60
        while int(scalar(url, "SELECT count(*) FROM worker_heartbeats")) < 1 and time.monotonic() < ready_by:
            time.sleep(0.05)
        procs.wait_until_quiet(worker.pid)
        jobs: queue.Queue[tuple[float, SignedWebhook] | None] = queue.Queue()
        start = time.monotonic() + 0.5
        for i, hook in enumerate(hooks):
            jobs.put((start + i / rate, hook))
        for _ in range(SENDERS):
            jobs.put(None)
        threads = [threading.Thread(target=_sender, args=(port, jobs, acks, failures, beacons))
                   for _ in range(SENDERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=seconds + 60)
        sent_seconds = time.monotonic() - start
        if beacons is not None:
            beacons.close()
        time.sleep(min(SETTLE_SECONDS, 5.0 + latency * 10))
    finally:
        if beacons is not None:
            beacons.close()
        web.stop()
        worker.stop()
        summary = standin.stop()
    arrivals: dict[str, float] = summary.get("arrivals", {})
    clicks: dict[str, str] = summary.get("clicks", {})
    waits = [arrivals[e] - t for e, t in acks.items() if e in arrivals]
    extra: dict[str, Any] = {}
    if beacons is not None:
        tokens = {h.event_id: h.checkout_token or "" for h in hooks}
        after_beacon = [arrivals[e] - t for e, t in beacons.posted.items() if e in arrivals]
        extra = {
            "beacons_posted": len(beacons.posted), "beacons_failed": len(beacons.failures),
            "beacon_p50_s": percentile(after_beacon, 50), "beacon_p95_s": percentile(after_beacon, 95),
            "beacon_late_p95_s": percentile(beacons.late, 95),
            "with_beacon_click": sum(1 for e in arrivals if e in tokens
                                     and clicks.get(e) == beacon_click_id(tokens[e])),
            # sent before their beacon came: the join window ran out (or the order did not wait)
            "before_beacon": sum(1 for e, t in beacons.posted.items() if e in arrivals and arrivals[e] < t),
        }
    return {
        "webhooks": len(hooks), "acknowledged": len(acks), "failed": len(failures),
        "achieved_rate": len(acks) / sent_seconds if sent_seconds else 0.0,
        "delivered": len(waits), "p50_s": percentile(waits, 50), "p95_s": percentile(waits, 95),
        "p99_s": percentile(waits, 99), "max_s": max(waits) if waits else float("nan"),
        "mean_s": statistics.fmean(waits) if waits else float("nan"),
        "peak_rss_web_mb": web.peak_rss_mb, "peak_rss_worker_mb": worker.peak_rss_mb,
        "peak_rss_mapping_mb": worker.peak_child_rss_mb, **extra,
    }


def run(dbs: BenchDatabases, kinds: list[str], rate: float, seconds: float, latency: float, logdir: Path,
        round_no: int) -> dict[str, Any]:
    """One round: on each database the plain run, then the run whose orders wait for their beacons."""
    out: dict[str, Any] = {}
    for kind in kinds:
        url = dbs.copy(dbs.template(kind, "shops", lambda u: seed(u)))
        try:
            out[kind] = measure(url, rate, seconds, latency, logdir, seed_n=1000 + round_no)
        finally:
            dbs.drop(url)
        url = dbs.copy(dbs.template(kind, "shops-pixel", lambda u: seed(u, pixel_seen=True)))
        try:
            out[f"{kind}/beacons"] = measure(url, rate, seconds, latency, logdir, seed_n=2000 + round_no,
                                             with_beacons=True)
        finally:
            dbs.drop(url)
    return out
