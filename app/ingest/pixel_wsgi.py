"""The beacon's fast path: `POST /pixel` answered by a plain WSGI handler in front of Flask.

A shop sends one beacon per purchase, as many as order webhooks, and the endpoint is public: it is as hot
as the webhook door, and like it needs none of Flask's request machinery. Here: the per-client and
per-shop limits (the same limits, counted in Flask-Limiter's own storage), the strict parse
(`beacon.parse`), the shop (its id remembered for a few seconds), and one write shared by the beacons of
concurrent requests (`receipts.GroupCommit`): a multi-row INSERT of the beacons, the shops' "pixel seen"
(app/shops.py's transition, in its SQL form), and the release of the orders waiting for them, in one
transaction; then 204.

Everything else goes to the Flask route unchanged (`beacon.receive`): the preflight, other methods and
bodies without a Content-Length or larger than the limit. Answers are the route's: the same statuses,
codes, CORS headers and log line.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

import orjson
from flask import Flask
from limits import RateLimitItem, parse
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from app import beacons, database, statements, wake
from app.inbox.receipts import GroupCommit
from app.ingest import answer, beacon
from app.ingest.wsgi import StartResponse, WSGIApp, read_exactly
from app.logs import request_id_scope
from app.models import Event, EventSource, PixelBeacon, Shop, db, now_utc
from app.shops import normalise_shop_domain, pixel_seen_after, pixel_seen_sqlite

SHOP_MEMORY = 5.0  # seconds a known shop's id is remembered: an uninstall is seen that much later at most
_CORS = [("Access-Control-Allow-Origin", "*"), ("Access-Control-Allow-Methods", "POST, OPTIONS"),
         ("Access-Control-Allow-Headers", "Content-Type"), ("Access-Control-Max-Age", "86400")]
_COLUMNS = ("shop_id", "checkout_token", "tag_event_id", "click_id", "consent_marketing", "consent_sale_of_data",
            "user_agent", "ip", "received_at")
_PG_TYPES = ("integer[]", "text[]", "text[]", "text[]", "boolean[]", "boolean[]", "text[]", "text[]",
             "timestamptz[]")
_PENDING, _CHECKOUT = "pending", EventSource.CHECKOUT.value


class PixelIngest:
    """WSGI middleware: beacons POSTed to /pixel with a body of a known size are answered here."""

    def __init__(self, app: Flask, downstream: WSGIApp) -> None:
        self.app = app
        self.downstream = downstream
        self._store: BeaconStore | None = None
        self._limits: dict[str, RateLimitItem] = {}

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/pixel" or environ.get("REQUEST_METHOD") != "POST":
            return self.downstream(environ, start_response)
        try:
            length = int(environ.get("CONTENT_LENGTH") or "")
        except ValueError:
            return self.downstream(environ, start_response)
        if length < 0 or length > beacon.MAX_BEACON_BYTES:
            return self.downstream(environ, start_response)  # the route answers 413 without reading it
        with request_id_scope():
            return self._receive(environ, start_response, length)

    def _receive(self, environ: dict[str, Any], start_response: StartResponse, length: int) -> Iterable[bytes]:
        config = self.app.config
        shop_arg = next((value for key, value in parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
                         if key == "shop"), "")
        domain = normalise_shop_domain(shop_arg)
        ip = _client_ip(environ, int(config.get("TRUSTED_PROXY_HOPS", 0)))
        limits = ((config["PIXEL_RATE_LIMIT_CLIENT"], ("client", ip)),
                  (config["PIXEL_RATE_LIMIT_SHOP"], ("shop", domain or "-")))
        for limit, key in limits if beacon.limiter.enabled else ():  # RATELIMIT_ENABLED, as for the route
            item = self._limit(limit)
            if not beacon.limiter.limiter.hit(item, "pixel", *key):
                return _answer(start_response, 429, {"error": "too_many_requests", "message": str(item)}, cors=False)
        if domain is None:
            return _answer(start_response, 400, {"error": "invalid_shop"})
        try:
            with answer.read_deadline(float(config["WEBHOOK_READ_SECONDS"])):
                raw = read_exactly(environ["wsgi.input"], length)
        except answer.SlowBody:
            return _answer(start_response, 408, {"error": "body_timeout"}, close=True)
        try:
            parsed = beacon.parse(raw)
        except beacon.BeaconRejected as exc:
            return _answer(start_response, exc.status, {"error": exc.code})
        store = self._beacons()
        try:
            shop_id = store.shop_id(domain)
            if shop_id is None:
                return _answer(start_response, 404, {"error": "unknown_shop"})
            if parsed.pixel_version and parsed.pixel_version != store.pixel_version(domain):
                # The pasted pixel's version changed (rare): the full store notes it on the shop's row.
                with self.app.app_context():
                    stored = beacons.store(shop_id, parsed, user_agent=environ.get("HTTP_USER_AGENT"), ip=ip,
                                           now=now_utc())
                store.forget(domain)
            else:
                stored = store.commits.store(beacons.row_values(
                    shop_id, parsed, user_agent=environ.get("HTTP_USER_AGENT"), ip=ip, now=now_utc()))
        except OperationalError:
            beacon.logger.error("database unavailable", extra={"action": "db_unavailable"})
            return _answer(start_response, 503, {"error": "unavailable",
                                                 "message": "Database unavailable, retry later."},
                           extra=[("Retry-After", "5")])
        beacon.logger.info("pixel beacon", extra={"action": "pixel_beacon", "shop": domain, "stored": stored})
        return _answer(start_response, 204, None)

    def _limit(self, text: str) -> RateLimitItem:
        item = self._limits.get(text)
        if item is None:
            item = self._limits[text] = parse(text)
        return item

    def _beacons(self) -> BeaconStore:
        if self._store is None:
            self._store = BeaconStore(self.app)
        return self._store


class BeaconStore:
    """Where one app's beacons go: its shops' ids, and the group commit of concurrent beacons."""

    def __init__(self, app: Flask) -> None:
        with app.app_context():
            self.engine = db.engine
        dialect = self.engine.dialect
        self.postgresql = dialect.name == "postgresql"
        self.writer = database.DriverConnection(self.engine)
        self.commits = GroupCommit(None, write=self._write,
                                   key=lambda values: (values["shop_id"], values["checkout_token"]))
        table = PixelBeacon.__table__
        self._processors = [statements.processor(table.c[name], dialect) for name in _COLUMNS]
        self._stamp = statements.processor(Event.__table__.c.available_at, dialect)
        self._shops: dict[str, tuple[int, str | None, float]] = {}  # domain → (id, pasted pixel's version, when)
        self._shops_lock = threading.Lock()

    def shop_id(self, domain: str) -> int | None:
        """The installed shop's id; remembered for SHOP_MEMORY seconds (an unknown one is asked again)."""
        mono = time.monotonic()
        known = self._shops.get(domain)
        if known is not None and mono - known[2] < SHOP_MEMORY:
            return known[0]
        with self.engine.connect() as conn:
            row = conn.execute(select(Shop.id, Shop.pixel_version).filter_by(domain=domain, installed=True)).first()
        if row is None:
            return None
        with self._shops_lock:
            if len(self._shops) > 10_000:
                self._shops.clear()
            self._shops[domain] = (row.id, row.pixel_version, mono)
        return int(row.id)

    def pixel_version(self, domain: str) -> str | None:
        """The pasted custom pixel's version as last stored (with the id `shop_id` remembered)."""
        known = self._shops.get(domain)
        return known[1] if known is not None else None

    def forget(self, domain: str) -> None:
        with self._shops_lock:
            self._shops.pop(domain, None)

    def _write(self, rows: list[dict[str, Any]]) -> set[Any]:
        """Store a batch of beacons in one transaction; the (shop, checkout token) of those that were new."""
        columns = statements.bound_columns(rows, _COLUMNS, self._processors)
        now = max(row["received_at"] for row in rows)
        if self.postgresql:
            stored, released = self._write_postgresql(columns)
        else:
            stored, released = self._write_sqlite(columns, self._stamp(now) if self._stamp else now)
        if released:
            wake.send(self.engine, wake.OUTBOX)  # the orders that waited for these beacons go now
        return stored

    def _write_postgresql(self, columns: list[list[Any]]) -> tuple[set[Any], int]:
        # One statement, so one round trip and one commit (autocommit): the beacons, the shops' first
        # beacon, and the orders each beacon releases. The data-modifying CTEs all run, referenced or not.
        arrays = ", ".join(f"%b::{kind}" for kind in _PG_TYPES)
        sql = (f"WITH new AS (INSERT INTO pixel_beacons ({', '.join(_COLUMNS)}) SELECT * FROM unnest({arrays}) "
               "ON CONFLICT (shop_id, checkout_token) DO NOTHING RETURNING shop_id, checkout_token, received_at), "
               f"{pixel_seen_after('new')}, "
               "released AS (UPDATE events SET available_at = new.received_at FROM new "
               "WHERE events.shop_id = new.shop_id AND events.checkout_token = new.checkout_token "
               "AND events.status = %s AND events.source <> %s AND events.available_at > new.received_at "
               "RETURNING events.id) "
               "SELECT shop_id, checkout_token, (SELECT count(*) FROM released) FROM new")
        with self.writer.write() as cursor:
            cursor.execute(sql, (*columns, _PENDING, _CHECKOUT))
            found = cursor.fetchall()
        return {(row[0], row[1]) for row in found}, int(found[0][2]) if found else 0

    def _write_sqlite(self, columns: list[list[Any]], now: Any) -> tuple[set[Any], int]:
        count = len(columns[0])
        values = [value for beacon_row in zip(*columns, strict=True) for value in beacon_row]
        with self.writer.write() as cursor:
            cursor.execute(f"INSERT INTO pixel_beacons ({', '.join(_COLUMNS)}) "
                           f"VALUES {statements.sqlite_rows(len(_COLUMNS), count)} "
                           "ON CONFLICT (shop_id, checkout_token) DO NOTHING RETURNING shop_id, checkout_token",
                           values)
            stored = {(found[0], found[1]) for found in cursor.fetchall()}
            if not stored:
                return stored, 0
            shops = sorted({shop for shop, _ in stored})
            cursor.execute(pixel_seen_sqlite(len(shops)), (now, *shops))
            pairs = statements.sqlite_rows(2, len(stored))
            cursor.execute(f"UPDATE events SET available_at = ? WHERE status = ? AND source <> ? "
                           f"AND available_at > ? AND (shop_id, checkout_token) IN (VALUES {pairs})",
                           (now, _PENDING, _CHECKOUT, now, *[v for pair in stored for v in pair]))
            released = max(0, cursor.rowcount)
        return stored, released


def _client_ip(environ: dict[str, Any], hops: int) -> str:
    """`beacon.client_ip` from the WSGI environ: the socket peer, or `hops` trusted proxies back."""
    if hops > 0:
        forwarded = [part.strip() for part in (environ.get("HTTP_X_FORWARDED_FOR") or "").split(",")
                     if part.strip()]
        if len(forwarded) >= hops:
            return forwarded[-hops][:45]
    return (environ.get("REMOTE_ADDR") or "")[:45]


def _answer(start_response: StartResponse, status: int, payload: dict[str, str] | None, *, cors: bool = True,
            close: bool = False, extra: list[tuple[str, str]] | None = None) -> Iterable[bytes]:
    """The route's answers: 204 without a body, or short JSON; CORS headers as `beacon._cors` sets them."""
    body = b"" if payload is None else orjson.dumps(payload) + b"\n"
    headers = [] if payload is None else [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    if cors:
        headers.extend(_CORS)
    if close:
        headers.append(("Connection", "close"))
    headers.extend(extra or ())
    start_response(f"{status} {HTTPStatus(status).phrase}", headers)
    return [body] if body else []


def install(app: Flask) -> None:
    """Put the beacon's fast path in front of the app's WSGI callable (the test client goes through it too)."""
    app.wsgi_app = PixelIngest(app, app.wsgi_app)  # type: ignore[method-assign]

