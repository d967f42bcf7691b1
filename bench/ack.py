"""Webhook acknowledgement: wrk at 16 connections against production gunicorn, beside a bare Flask floor."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

from . import procs
from .bodies import signed_webhooks, write_wrk_requests
from .db import BenchDatabases, app_env, scalar, seed

CONNECTIONS = 16
WRK_THREADS = 1  # one wrk thread leaves the second core to the server under test
LUA = Path(__file__).resolve().parent / "ack.lua"
WARMUP_SECONDS = 2


class RequestFiles:
    """Pre-built request files: a warm-up set and the measured set, each used by one wrk thread."""

    def __init__(self, workdir: Path, count: int) -> None:
        self.warm = workdir / "warm.req"
        self.main = workdir / "main.req"
        write_wrk_requests(signed_webhooks(1500, seed=1), Path(f"{self.warm}.0"))
        write_wrk_requests(signed_webhooks(count, seed=2), Path(f"{self.main}.0"))
        self.count = count


def wrk(port: int, requests_file: Path | None, seconds: float, *, lua: Path = LUA, path: str = "/webhooks",
        script_args: list[str] | None = None) -> dict[str, Any]:
    """wrk against 127.0.0.1:`port`; `lua` replays `requests_file` (or builds requests from `script_args`)."""
    given = [str(requests_file)] if requests_file is not None else list(script_args or [])
    args = ["wrk", f"-t{WRK_THREADS}", f"-c{CONNECTIONS}", f"-d{int(seconds)}s", "--timeout", "5s",
            "-s", str(lua), f"http://127.0.0.1:{port}{path}", "--", *given]
    out = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("WRK_JSON "))
    result: dict[str, Any] = json.loads(line.removeprefix("WRK_JSON "))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    result["non_2xx"] = result["status_errors"]
    result["p99_ms"] = result["p99_us"] / 1000
    result["p50_ms"] = result["p50_us"] / 1000
    return result


def _count(url: str) -> tuple[int, int]:
    """Receipts stored, and of those the ones holding their order: an encrypted body waiting for the worker
    (no worker runs here) or an event it was already mapped into."""
    receipts = scalar(url, "SELECT count(*) FROM webhook_receipts")
    held = scalar(url, "SELECT count(*) FROM webhook_receipts WHERE body IS NOT NULL OR event_row_id IS NOT NULL")
    return int(receipts), int(held)


def measure_app(url: str, files: RequestFiles, seconds: float, logdir: Path, name: str) -> dict[str, Any]:
    """Pinbridge itself: warm up, run wrk, then count what was stored."""
    web, port = procs.start_gunicorn("app:create_app()", app_env(url), logdir, name)
    try:
        wrk(port, files.warm, WARMUP_SECONDS)
        time.sleep(0.5)
        receipts_before, events_before = _count(url)
        result = wrk(port, files.main, seconds)
        time.sleep(1.0)  # requests wrk abandoned at the deadline finish and commit
    finally:
        web.stop()
    receipts_after, events_after = _count(url)
    result.update(
        acknowledged=result["requests"] - result["non_2xx"],
        receipts_stored=receipts_after - receipts_before,
        events_stored=events_after - events_before,
        peak_rss_web_mb=web.peak_rss_mb,
    )
    # wrk drops in-flight requests at its deadline; the server may still commit them, so stored >= acked.
    result["all_acked_stored"] = (result["receipts_stored"] >= result["acknowledged"]
                                  and result["events_stored"] == result["receipts_stored"]
                                  and result["wrapped"] == 0)
    return result


def measure_bare(files: RequestFiles, seconds: float, logdir: Path) -> dict[str, Any]:
    web, port = procs.start_gunicorn("bench.bare_app:create_app()", app_env("sqlite:///:memory:"), logdir, "bare")
    try:
        wrk(port, files.warm, WARMUP_SECONDS)
        result = wrk(port, files.main, seconds)
    finally:
        web.stop()
    result["peak_rss_web_mb"] = web.peak_rss_mb
    return result


def run(dbs: BenchDatabases, kinds: list[str], files: RequestFiles, seconds: float, logdir: Path) -> dict[str, Any]:
    """One side-by-side round: the bare floor, then Pinbridge on each database; ratios within the round."""
    out: dict[str, Any] = {"bare": measure_bare(files, seconds, logdir)}
    for kind in kinds:
        url = dbs.copy(dbs.template(kind, "shops", lambda u: seed(u)))
        try:
            result = measure_app(url, files, seconds, logdir, f"web-{kind}")
        finally:
            dbs.drop(url)
        result["ratio_to_bare"] = result["rps"] / out["bare"]["rps"]
        out[kind] = result
    return out
