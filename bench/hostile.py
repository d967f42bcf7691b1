"""`python -m bench.hostile`: what hostile requests cost, and what slow clients do to real servers.

    python -m bench.hostile [--cpu] [--slow] [--ack] [--rounds 10] [--clients 100] [--db sqlite,postgresql]

--cpu   CPU time per refused unsigned webhook, in process, for bodies built to be expensive, next to
        shopifyapp's verifier (which parses and re-serialises the body before comparing signatures).
--slow  webhook and /healthz latency on a real gunicorn (the Procfile's command) while `--clients`
        connections each send one byte every 2 s, with the gevent workers and with gthread.
--ack   signed webhooks from 16 connections for 5 s, per worker class and database.
Numbers are printed, never asserted (a PostgreSQL database made by --ack is left for inspection).
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from app import create_app
from app.ingest import verify, webhooks
from tests.conftest import API_KEY, API_SECRET, OLD_API_SECRET, SHOP, _test_config, sign

BODIES = {
    "5 MiB JSON object": json.dumps({f"k{i}": ["x" * 40] * 3 for i in range(37_000)}).encode()[: 5 * 1024 * 1024 - 1],
    "5000-digit integer": b'{"a": ' + b"9" * 5000 + b"}",
    "small order (2 KiB)": json.dumps({"id": 1, "note": "n" * 2000}).encode(),
}


def _environ(body: bytes, signature: str) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "POST", "PATH_INFO": "/webhooks", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80",
        "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "application/json", "HTTP_X_SHOPIFY_TOPIC": "orders/create",
        "HTTP_X_SHOPIFY_SHOP_DOMAIN": SHOP, "HTTP_X_SHOPIFY_HMAC_SHA256": signature,
    }


def _cpu_ms(call: Any, rounds: int) -> float:
    started = time.process_time()
    for _ in range(rounds):
        call()
    return (time.process_time() - started) * 1000 / rounds


def cpu(rounds: int) -> None:
    from shopify_app import ShopifyApp

    tmp = Path(tempfile.mkdtemp(prefix="pinbridge-hostile-"))
    app = create_app(_test_config(f"sqlite:///{tmp}/x.db", tmp, "http://127.0.0.1:9/v5"))
    legacy = ShopifyApp(API_KEY, API_SECRET, OLD_API_SECRET)
    secrets = [API_SECRET, OLD_API_SECRET]
    limit = app.config["MAX_WEBHOOK_BYTES"]
    print("| body | whole refused request (ms CPU) | reading the body (ms) | HMAC, both secrets (ms) | "
          "everything else: route, answer, log (ms) | shopifyapp's verifier alone (ms) |")
    print("|---|---|---|---|---|---|")
    for name, body in BODIES.items():
        statuses: list[str] = []
        forged = sign(body, "not-the-secret")

        def whole_request(body: bytes = body, forged: str = forged, statuses: list[str] = statuses) -> None:
            chunks = app.wsgi_app(_environ(body, forged), lambda status, _headers: statuses.append(status))
            b"".join(chunks)

        def hmac_only(body: bytes = body, forged: str = forged) -> None:
            try:
                verify.verify_signature(body, forged, secrets)
            except verify.WebhookRejected:
                pass

        def read_only(body: bytes = body, forged: str = forged) -> None:
            with app.request_context(_environ(body, forged)):
                webhooks.read_body(limit)

        def shopifyapp(body: bytes = body, forged: str = forged) -> None:
            headers = {"X-Shopify-Hmac-Sha256": forged, "X-Shopify-Shop-Domain": SHOP,
                       "X-Shopify-Topic": "orders/create"}
            try:
                legacy.verify_webhook_req({"method": "POST", "headers": headers, "url": "http://x/webhooks",
                                           "body": body.decode()})
            except (ValueError, RecursionError):
                pass  # the 500 it caused

        whole = _cpu_ms(whole_request, rounds)
        assert set(statuses) == {"401 UNAUTHORIZED"}, statuses
        legacy_ms = _cpu_ms(shopifyapp, max(1, rounds // 5))
        hashing, reading = _cpu_ms(hmac_only, rounds), _cpu_ms(read_only, rounds)
        print(f"| {name} ({len(body):,} B) | {whole:.3f} | {reading:.3f} | {hashing:.3f} | "
              f"{whole - hashing - reading:.3f} | {legacy_ms:.3f} |")


def slow(rounds: int, clients: int) -> None:
    from tests.slow_clients import BIN, ROOT, SlowClients, free_port, latencies, procfile_command, running, server_env

    print(f"| worker class | webhook p50 / max (s) | /healthz p50 / max (s) | with {clients} slow clients |")
    print("|---|---|---|---|")
    for worker_class in ("gthread", "gevent"):
        tmp = Path(tempfile.mkdtemp(prefix="pinbridge-slow-"))
        port = free_port()
        env = server_env(f"sqlite:///{tmp}/slow.db", port, tmp, GUNICORN_WORKER_CLASS=worker_class)
        subprocess.run([str(BIN / "flask"), "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
        with running(procfile_command("web"), env, tmp / "web.log"):
            for label, count in (("none", 0), ("on", clients)):
                if count:
                    with SlowClients(port, count=count, interval=2.0):
                        measured = latencies(port, rounds=rounds, timeout=10.0)
                else:
                    measured = latencies(port, rounds=rounds, timeout=10.0)
                cells = [f"{statistics.median(v):.3f} / {max(v):.3f}" for v in measured.values()]
                print(f"| {worker_class} | {cells[0]} | {cells[1]} | {label} |")


def ack(seconds: float, connections: int, kinds: list[str]) -> None:
    """Signed webhooks from `connections` threads for `seconds`: does the worker class change the answer time?"""
    import threading

    from app.config import normalise_database_url
    from tests.conftest import PG_ADMIN_URL
    from tests.slow_clients import BIN, ROOT, free_port, post_webhook, procfile_command, running, server_env

    print(f"| database | worker class | webhooks/s | p50 (ms) | p99 (ms) | {connections} connections, "
          f"{seconds:.0f} s |")
    print("|---|---|---|---|---|---|")
    for kind in kinds:
        if kind == "postgresql" and not PG_ADMIN_URL:
            continue
        for worker_class in ("gevent", "gthread"):
            tmp = Path(tempfile.mkdtemp(prefix="pinbridge-ack-"))
            url = f"sqlite:///{tmp}/ack.db" if kind == "sqlite" else _fresh_pg(str(PG_ADMIN_URL))
            port = free_port()
            env = server_env(normalise_database_url(url), port, tmp, GUNICORN_WORKER_CLASS=worker_class)
            subprocess.run([str(BIN / "flask"), "db", "upgrade"], cwd=ROOT, env=env, check=True,
                           capture_output=True)
            times: list[float] = []
            with running(procfile_command("web"), env, tmp / "web.log"):
                deadline = time.monotonic() + seconds

                def client(deadline: float = deadline, port: int = port, times: list[float] = times) -> None:
                    while time.monotonic() < deadline:
                        started = time.monotonic()
                        if post_webhook(port) == 200:
                            times.append(time.monotonic() - started)

                threads = [threading.Thread(target=client) for _ in range(connections)]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
            times.sort()
            print(f"| {kind} | {worker_class} | {len(times) / seconds:.0f} | {statistics.median(times) * 1000:.1f} | "
                  f"{times[int(len(times) * 0.99)] * 1000:.1f} | |")


def _fresh_pg(admin_url: str) -> str:
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from app.config import normalise_database_url

    admin = make_url(normalise_database_url(admin_url))
    name = f"pinbridge_hostile_{uuid.uuid4().hex[:8]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return admin.set(database=name).render_as_string(hide_password=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hostile", description=__doc__.splitlines()[0])
    parser.add_argument("--cpu", action="store_true")
    parser.add_argument("--slow", action="store_true")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--ack", action="store_true", help="webhook throughput with each worker class")
    parser.add_argument("--db", default="sqlite,postgresql")
    args = parser.parse_args(argv)
    everything = not (args.cpu or args.slow or args.ack)
    if args.cpu or everything:
        cpu(args.rounds)
    if args.slow or everything:
        slow(args.rounds, args.clients)
    if args.ack or everything:
        ack(5.0, 16, [k for k in args.db.split(",") if k])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
