"""Cost growth: acknowledgement and drain rate with 1k, 10k and 100k events (and receipts) already stored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import ack, drain
from .db import BenchDatabases, seed

PENDING = 10_000  # events to drain at every size
SHOPS = 10  # so each claim is a full 1000-event batch


def run(dbs: BenchDatabases, kinds: list[str], sizes: list[int], files: ack.RequestFiles, ack_seconds: float,
        latency: float, logdir: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind in kinds:
        for size in sizes:
            template = dbs.template(kind, f"history-{size}",
                                    lambda u, n=size: seed(u, history=n, pending=PENDING, shops=SHOPS))
            url = dbs.copy(template)
            try:
                acked = ack.measure_app(url, files, ack_seconds, logdir, f"growth-web-{kind}")
            finally:
                dbs.drop(url)
            url = dbs.copy(template)
            try:
                drained = drain.drain(url, 1, latency, logdir, f"growth-drain-{kind}")
            finally:
                dbs.drop(url)
            out[f"{kind}/{size}"] = {
                "rps": acked["rps"], "p50_ms": acked["p50_ms"], "p99_ms": acked["p99_ms"],
                "events_per_s": drained["events_per_s"], "delivered": drained["delivered"],
            }
    return out
