"""Pixel beacons: wrk at 16 connections against `POST /pixel`, production gunicorn, beside the bare floor.

Every request is a valid beacon for an installed shop with a new checkout token, so each one is a stored
row (one write transaction), as at a real thank-you page. The rate limits are raised for the measurement
and the client address comes from X-Forwarded-For (`TRUSTED_PROXY_HOPS=1`, as behind the platform's
router); a short flood with the default limits checks that excess beacons get 429, never a 5xx.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

from . import ack, procs
from .db import SHOPS, BenchDatabases, app_env, scalar, seed

LUA = Path(__file__).resolve().parent / "pixel.lua"
WARMUP_SECONDS = 2
FLOOD_SECONDS = 3
RAISED_LIMITS = {"PIXEL_RATE_LIMIT_CLIENT": "10000000 per minute", "PIXEL_RATE_LIMIT_SHOP": "10000000 per minute",
                 "TRUSTED_PROXY_HOPS": "1"}


def beacon_wrk(port: int, seconds: float, prefix: str) -> dict[str, Any]:
    return ack.wrk(port, None, seconds, lua=LUA, path="/pixel", script_args=[prefix, str(SHOPS)])


def _prefix(kind: str) -> str:
    """A checkout-token prefix no earlier request of this run used."""
    return kind[0] + uuid.uuid4().hex[:7]


def _stored(url: str) -> int:
    return int(scalar(url, "SELECT count(*) FROM pixel_beacons"))


def measure_app(url: str, seconds: float, logdir: Path, name: str) -> dict[str, Any]:
    """Pinbridge with the limits raised: warm up, run wrk, then count the stored beacons."""
    web, port = procs.start_gunicorn("app:create_app()", app_env(url, **RAISED_LIMITS), logdir, name)
    try:
        beacon_wrk(port, WARMUP_SECONDS, _prefix("w"))
        time.sleep(0.5)
        before = _stored(url)
        result = beacon_wrk(port, seconds, _prefix("m"))
        time.sleep(1.0)  # requests wrk abandoned at the deadline finish and commit
    finally:
        web.stop()
    result["stored"] = _stored(url) - before
    result["peak_rss_web_mb"] = web.peak_rss_mb
    # wrk drops in-flight requests at its deadline; the server may still commit them, so stored >= answered.
    result["all_2xx_stored"] = result["stored"] >= result["status_2xx"]
    return result


def flood_default_limits(url: str, logdir: Path, name: str) -> dict[str, Any]:
    """The production limits (per client address, per shop) against one client: excess answered 429."""
    web, port = procs.start_gunicorn("app:create_app()", app_env(url), logdir, name)
    try:
        result = beacon_wrk(port, FLOOD_SECONDS, _prefix("f"))
    finally:
        web.stop()
    return {k: result[k] for k in ("requests", "rps", "status_2xx", "status_429", "status_5xx", "status_other",
                                   "p99_ms")}


def measure_bare(seconds: float, logdir: Path) -> dict[str, Any]:
    """The bare Flask floor answering the same small beacon bodies (reads the body, answers 204)."""
    web, port = procs.start_gunicorn("bench.bare_app:create_app()", app_env("sqlite:///:memory:"), logdir,
                                     "bare-pixel")
    try:
        beacon_wrk(port, WARMUP_SECONDS, _prefix("w"))
        result = beacon_wrk(port, seconds, _prefix("b"))
    finally:
        web.stop()
    result["peak_rss_web_mb"] = web.peak_rss_mb
    return result


def run(dbs: BenchDatabases, kinds: list[str], files: ack.RequestFiles, seconds: float, logdir: Path,
        floor: dict[str, Any] | None = None) -> dict[str, Any]:
    """One round: the webhook floor (ack's, when it ran in this round), a beacon-body floor, then each database."""
    out: dict[str, Any] = {"bare": floor if floor is not None else ack.measure_bare(files, seconds, logdir),
                           "bare_pixel": measure_bare(seconds, logdir)}
    for kind in kinds:
        template = dbs.template(kind, "shops", lambda u: seed(u))
        url = dbs.copy(template)
        try:
            result = measure_app(url, seconds, logdir, f"pixel-{kind}")
        finally:
            dbs.drop(url)
        url = dbs.copy(template)
        try:
            result["flood"] = flood_default_limits(url, logdir, f"pixel-flood-{kind}")
        finally:
            dbs.drop(url)
        result["ratio_to_bare"] = result["rps"] / out["bare"]["rps"]
        result["ratio_to_bare_pixel"] = result["rps"] / out["bare_pixel"]["rps"]
        out[kind] = result
    return out
