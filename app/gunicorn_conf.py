"""Production gunicorn settings (Procfile `web`); every value can be overridden by the environment."""

from __future__ import annotations

import os

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", str(max(2, (os.cpu_count() or 1) * 2))))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
timeout = 30
graceful_timeout = 20
keepalive = 5
accesslog = None  # the app logs its own structured lines; access logs would carry shop domains only
errorlog = "-"
preload_app = False


def child_exit(_server: object, worker: object) -> None:
    """Drop a dead web worker's live gauges from the shared Prometheus files."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]
