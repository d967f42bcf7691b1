"""`python -m bench`: start real processes, measure, print a results table (median of every run).

    python -m bench [--quick] [--only ack,beacon,drain,freshness,inbox,growth] [--db sqlite,postgresql] [--runs 3]

Every benchmark of a run executes side by side with its baselines, so ratios compare numbers taken
minutes apart on the same (shared, noisy) machine. Results go to bench/results/ as JSON and Markdown;
bench/results/latest.md is the table docs/performance.md publishes (pasted there by hand after a full run).
Benchmarks measure; a missed target is reported in the table, never raised as a failure.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import ack, beacon, drain, freshness, growth, inbox
from .db import BenchDatabases, pg_available
from .report import machine, render

RESULTS = Path(__file__).resolve().parent / "results"
ALL = ("ack", "beacon", "drain", "freshness", "inbox", "growth")


def settings(quick: bool) -> dict[str, Any]:
    if quick:
        return {"ack_seconds": 4, "ack_requests": 40_000, "drain_events": 20_000, "fresh_seconds": 15,
                "inbox_burst": 5_000, "inbox_backlog": 30_000, "growth_sizes": [1_000, 10_000],
                "growth_ack_seconds": 3}
    return {"ack_seconds": 10, "ack_requests": 100_000, "drain_events": 100_000, "fresh_seconds": 60,
            "inbox_burst": 20_000, "inbox_backlog": 100_000, "growth_sizes": [1_000, 10_000, 100_000],
            "growth_ack_seconds": 4}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs and smaller data, for iterating")
    parser.add_argument("--only", default=",".join(ALL), help="comma-separated: " + ",".join(ALL))
    parser.add_argument("--db", default="sqlite,postgresql", help="comma-separated: sqlite,postgresql")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.15, help="stand-in seconds per request")
    args = parser.parse_args(argv)
    only = [b for b in args.only.split(",") if b]
    kinds = [k for k in args.db.split(",") if k]
    if "postgresql" in kinds and not pg_available():
        print("PostgreSQL is not reachable; measuring SQLite only.")
        kinds = [k for k in kinds if k != "postgresql"]
    cfg = settings(args.quick)
    workdir = Path(tempfile.mkdtemp(prefix="pinbridge-bench-"))
    logdir = workdir / "logs"
    dbs = BenchDatabases(workdir)
    runs: list[dict[str, Any]] = []
    started = time.monotonic()
    try:
        files = ack.RequestFiles(workdir, cfg["ack_requests"]) if {"ack", "beacon", "growth"} & set(only) else None
        for n in range(args.runs):
            result: dict[str, Any] = {}
            print(f"run {n + 1}/{args.runs}", flush=True)
            if "ack" in only and files:
                result["ack"] = ack.run(dbs, kinds, files, cfg["ack_seconds"], logdir)
                print("  ack done", flush=True)
            if "beacon" in only and files:
                floor = result["ack"]["bare"] if "ack" in result else None  # the same floor, not a second one
                result["beacon"] = beacon.run(dbs, kinds, files, cfg["ack_seconds"], logdir, floor)
                print("  beacon done", flush=True)
            if "drain" in only:
                result["drain"] = drain.run(dbs, kinds, cfg["drain_events"], args.latency, logdir)
                print("  drain done", flush=True)
            if "freshness" in only:
                result["freshness"] = freshness.run(dbs, kinds, 50.0, cfg["fresh_seconds"], args.latency, logdir, n)
                print("  freshness done", flush=True)
            if "inbox" in only:
                result["inbox"] = inbox.run(dbs, kinds, cfg["inbox_burst"], args.latency, logdir, n,
                                           backlog=cfg["inbox_backlog"])
                print("  inbox done", flush=True)
            if "growth" in only and files:
                result["growth"] = growth.run(dbs, kinds, cfg["growth_sizes"], files, cfg["growth_ack_seconds"],
                                              args.latency, logdir)
                print("  growth done", flush=True)
            runs.append(result)
    finally:
        dbs.drop_all()
    given = sys.argv[1:] if argv is None else argv
    command = "make bench" if not given else "python -m bench " + " ".join(given)
    meta = {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine(), "runs": args.runs,
            "quick": args.quick, "databases": kinds, "latency_s": args.latency, "settings": cfg,
            "minutes": round((time.monotonic() - started) / 60, 1), "command": command}
    table = render(runs, meta)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"{stamp}.json").write_text(json.dumps({"meta": meta, "runs": runs}, indent=1, default=str))
    (RESULTS / f"{stamp}.md").write_text(table)
    (RESULTS / "latest.md").write_text(table)
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
