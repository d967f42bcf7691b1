"""Freshness: a steady 50 webhooks/s; time from each acknowledgement to the stand-in receiving its event."""

from __future__ import annotations

import http.client
import queue
import statistics
import threading
import time
from pathlib import Path
from typing import Any

from . import procs
from .bodies import SignedWebhook, signed_webhooks
from .db import BenchDatabases, app_env, seed

SENDERS = 8  # client threads; enough to hold 50/s even when an answer is slow
SETTLE_SECONDS = 30.0  # after the last webhook, how long events get to reach the stand-in


def _sender(port: int, jobs: queue.Queue[tuple[float, SignedWebhook] | None], acks: dict[str, float],
            failures: list[int]) -> None:
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


def measure(url: str, rate: float, seconds: float, latency: float, logdir: Path, seed_n: int) -> dict[str, Any]:
    hooks = signed_webhooks(int(rate * seconds), seed=seed_n)
    standin = procs.Standin(latency, logdir)
    web, port = procs.start_gunicorn("app:create_app()", app_env(url, standin.url), logdir, "fresh-web")
    worker = procs.start_worker(app_env(url, standin.url), logdir, "fresh-worker")
    acks: dict[str, float] = {}
    failures: list[int] = []
    try:
        jobs: queue.Queue[tuple[float, SignedWebhook] | None] = queue.Queue()
        start = time.monotonic() + 0.5
        for i, hook in enumerate(hooks):
            jobs.put((start + i / rate, hook))
        for _ in range(SENDERS):
            jobs.put(None)
        threads = [threading.Thread(target=_sender, args=(port, jobs, acks, failures)) for _ in range(SENDERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=seconds + 60)
        sent_seconds = time.monotonic() - start
        time.sleep(min(SETTLE_SECONDS, 5.0 + latency * 10))
    finally:
        web.stop()
        worker.stop()
        summary = standin.stop()
    arrivals: dict[str, float] = summary.get("arrivals", {})
    waits = [arrivals[e] - t for e, t in acks.items() if e in arrivals]
    return {
        "webhooks": len(hooks), "acknowledged": len(acks), "failed": len(failures),
        "achieved_rate": len(acks) / sent_seconds if sent_seconds else 0.0,
        "delivered": len(waits), "p50_s": percentile(waits, 50), "p95_s": percentile(waits, 95),
        "p99_s": percentile(waits, 99), "max_s": max(waits) if waits else float("nan"),
        "mean_s": statistics.fmean(waits) if waits else float("nan"),
        "peak_rss_web_mb": web.peak_rss_mb, "peak_rss_worker_mb": worker.peak_rss_mb,
    }


def run(dbs: BenchDatabases, kinds: list[str], rate: float, seconds: float, latency: float, logdir: Path,
        round_no: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind in kinds:
        url = dbs.copy(dbs.template(kind, "shops", lambda u: seed(u)))
        try:
            out[kind] = measure(url, rate, seconds, latency, logdir, seed_n=1000 + round_no)
        finally:
            dbs.drop(url)
    return out
