"""Delivery drain: 100,000 pending events over 50 shops, the stand-in answering after 150 ms per request.

Beside the plain drain, the same drain with every event a web order whose pixel beacon is stored, so the
worker joins each batch to its beacons (one look-up per batch, the click id added, one update recording
what the beacon told); measured between two plain drains, and compared with their mean.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from . import procs
from .db import BenchDatabases, app_env, beacon_click_id, rows, scalar, seed

POLL_EVERY = 0.5  # seconds
DRAIN_TIMEOUT = 600.0  # seconds; a drain slower than this is reported as incomplete
NAIVE_MAX_WINDOW = 20.0  # seconds; one event per request is steady, a longer window adds nothing
# The seeded events to send, not the delivered history; a joined event whose beacon reported the checkout
# token goes with that id (app/beacons.py adopts it).
PENDING_SEED = "(event_id LIKE 'seed-pending-%' OR event_id LIKE 'seed-co-%')"
BEACON_CLICK = beacon_click_id("")  # every click id a seeded beacon carries starts so


def drain(url: str, workers: int, latency: float, logdir: Path, name: str, timeout: float = DRAIN_TIMEOUT
          ) -> dict[str, Any]:
    """Start the stand-in and `workers` worker processes; wait until nothing is pending; report the rate."""
    total = int(scalar(url, "SELECT count(*) FROM events WHERE status = 'pending'"))
    standin = procs.Standin(latency, logdir)
    started: list[procs.Managed] = []
    try:
        env = app_env(url, standin.url)
        started = [procs.start_worker(env, logdir, f"{name}-{i}") for i in range(workers)]
        deadline = time.monotonic() + timeout
        delivered = 0
        cpu_from: tuple[int, float] | None = None  # delivered so far, the workers' CPU seconds: once sending began
        cpu_to: tuple[int, float] | None = None
        standin_from = standin_to = 0.0  # the stand-in's CPU at the same two moments
        while time.monotonic() < deadline:
            delivered = int(scalar(url, f"SELECT count(*) FROM events WHERE status = 'delivered' AND {PENDING_SEED}"))
            cpu = sum(procs.cpu_seconds(w.pid) for w in started)
            standin_cpu = procs.cpu_seconds(standin.proc.pid)
            if delivered and cpu_from is None:  # start-up (imports, app) left out
                cpu_from, standin_from = (delivered, cpu), standin_cpu
            if cpu_from is not None and delivered > cpu_from[0]:
                cpu_to, standin_to = (delivered, cpu), standin_cpu
            if delivered >= total or any(w.proc.poll() is not None for w in started):
                break
            time.sleep(POLL_EVERY)
    finally:
        for worker in started:
            worker.stop()
        summary = standin.stop()
    first_claim, last_delivery, done = rows(
        url, f"SELECT min(last_attempt_at), max(delivered_at), count(*) FROM events "
             f"WHERE status = 'delivered' AND {PENDING_SEED}")[0]
    first_claim, last_delivery = _as_datetime(first_claim), _as_datetime(last_delivery)
    seconds = (last_delivery - first_claim).total_seconds() if done else float("nan")
    return {
        "workers": workers, "events": total, "delivered": int(done), "seconds": seconds,
        "events_per_s": done / seconds if done else 0.0,
        "requests": summary.get("requests"), "duplicate_event_ids": summary.get("duplicate_event_ids"),
        "beacon_click_ids": sum(1 for c in summary.get("clicks", {}).values() if c.startswith(BEACON_CLICK)),
        "peak_rss_worker_mb": max((w.peak_rss_mb or 0.0) for w in started) if started else None,
        "peak_rss_mapping_mb": max((w.peak_child_rss_mb for w in started if w.peak_child_rss_mb), default=None),
        # The workers' own CPU (not the database's or the stand-in's) per 1,000 events delivered.
        "cpu_s_per_1000": (1000 * (cpu_to[1] - cpu_from[1]) / (cpu_to[0] - cpu_from[0])
                           if cpu_from and cpu_to else float("nan")),
        # The stand-in shares the machine: what its JSON Schema checks cost beside the worker.
        "standin_cpu_s_per_1000": (1000 * (standin_to - standin_from) / (cpu_to[0] - cpu_from[0])
                                   if cpu_from and cpu_to else float("nan")),
    }


def _as_datetime(value: Any) -> Any:
    from datetime import UTC, datetime

    if isinstance(value, str):  # SQLite returns text through a plain text() query
        value = datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def naive(url: str, latency: float, seconds: float, logdir: Path) -> dict[str, Any]:
    """The one-event-per-request sender against the same stand-in for a fixed window."""
    standin = procs.Standin(latency, logdir)
    try:
        out = subprocess.run(
            [sys.executable, "-m", "bench.naive", "--database-url", url, "--pinterest-url", standin.url,
             "--seconds", str(seconds)],
            cwd=procs.ROOT, env=app_env(url), capture_output=True, text=True, timeout=seconds + 60, check=True,
        ).stdout
    finally:
        standin.stop()
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def run(dbs: BenchDatabases, kinds: list[str], events: int, latency: float, logdir: Path,
        pg_workers: int = 4) -> dict[str, Any]:
    """One round: one worker on each database, several on PostgreSQL, and the naive sender beside them."""
    out: dict[str, Any] = {}
    shops = 50
    for kind in kinds:
        template = dbs.template(kind, f"pending-{events}", lambda u: seed(u, pending=events, shops=shops))
        joined = dbs.template(kind, f"pending-{events}-beacons",
                              lambda u: seed(u, pending=events, shops=shops, beacons=True))
        res: dict[str, Any] = {}
        # plain, joined, plain again: the ratio to the mean of the plain drains cancels a steady drift.
        order = [("workers_1", template), ("joined", joined), ("plain_again", template)]
        variants = [1] + ([pg_workers] if kind == "postgresql" else [])
        order += [(f"workers_{w}", template) for w in variants[1:]]
        for key, source in order:
            workers = int(key.split("_")[1]) if key.startswith("workers_") else 1
            url = dbs.copy(source)
            try:
                res[key] = drain(url, workers, latency, logdir, f"drain-{kind}-{key}")
            finally:
                dbs.drop(url)
        plain = (res["workers_1"]["events_per_s"] + res["plain_again"]["events_per_s"]) / 2
        res["join_ratio"] = res["joined"]["events_per_s"] / max(plain, 1e-9)
        window = min(NAIVE_MAX_WINDOW, res["workers_1"]["seconds"])
        url = dbs.copy(template)
        try:
            res["naive"] = naive(url, latency, window, logdir)
        finally:
            dbs.drop(url)
        res["ratio_to_naive"] = res["workers_1"]["events_per_s"] / max(res["naive"]["events_per_s"], 1e-9)
        if pg_workers in variants:
            res["scale_out"] = res[f"workers_{pg_workers}"]["events_per_s"] / res["workers_1"]["events_per_s"]
        out[kind] = res
    return out
