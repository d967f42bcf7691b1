"""Production gunicorn settings (Procfile `web`, and `make run`); every value can be overridden by the environment.

Web processes run gevent workers: each connection is a greenlet, so a client that sends its body one
byte every few seconds costs a little memory, not a thread. With threads (gthread) a dozen such clients
held every thread and webhooks and /healthz waited behind them. psycopg 3 cooperates with gevent on
its own; SQLite waits for its write lock cooperatively too (see app/__init__.py).
"""

from __future__ import annotations

import os

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"
# One gevent process per core: a process already serves every connection it holds at once, so a second
# one per core only adds context switches, and splits the concurrent webhooks that share a commit
# (`inbox.receipts.GroupCommit`) into smaller batches. Two at least, so one busy process never holds them all.
workers = int(os.environ.get("WEB_CONCURRENCY", str(max(2, os.cpu_count() or 1))))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gevent")
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", "1000"))  # open connections per process
threads = int(os.environ.get("GUNICORN_THREADS", "4"))  # only for GUNICORN_WORKER_CLASS=gthread
timeout = 30
graceful_timeout = 20
keepalive = 5
accesslog = None  # the app logs its own structured lines; access logs would carry shop domains only
errorlog = "-"
preload_app = False  # the app is imported after gevent has patched the standard library
# gunicorn's control socket defaults to one path per user, shared by every instance on the host (one
# instance could then be told to stop another). Off unless a path of this instance's own is given.
_control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET")
if _control_socket:
    control_socket = _control_socket
control_socket_disable = not _control_socket


def post_fork(_server: object, _worker: object) -> None:
    """A web process serves requests only: the app it loads leaves out the database commands (Alembic)."""
    os.environ["PINBRIDGE_SERVES_REQUESTS_ONLY"] = "1"


def post_worker_init(_worker: object) -> None:
    """The web process has loaded the app: keep the cycle collector off what it loaded (app/runtime.py)."""
    from app.runtime import settle_collector

    settle_collector()


def child_exit(_server: object, worker: object) -> None:
    """Drop a dead web worker's live gauges from the shared Prometheus files."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]
