"""gunicorn's production settings: what each environment variable changes, and the dead worker's gauges."""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

import pytest

CONF = Path(__file__).resolve().parents[2] / "app" / "ops" / "gunicorn_conf.py"
VARIABLES = ("HOST", "PORT", "WEB_CONCURRENCY", "GUNICORN_WORKER_CLASS", "GUNICORN_WORKER_CONNECTIONS",
             "GUNICORN_THREADS", "GUNICORN_CONTROL_SOCKET", "PROMETHEUS_MULTIPROC_DIR")


def settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(CONF))


def test_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    conf = settings(monkeypatch)
    assert conf["bind"] == "0.0.0.0:8000"
    assert conf["worker_class"] == "gevent" and conf["worker_connections"] == 1000
    assert conf["workers"] >= 2                       # one per core, never fewer than two
    assert conf["control_socket_disable"] is True     # no socket shared with other instances on the host
    assert conf["preload_app"] is False and conf["accesslog"] is None


def test_each_value_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    conf = settings(monkeypatch, HOST="127.0.0.1", PORT="9100", WEB_CONCURRENCY="3", GUNICORN_WORKER_CLASS="gthread",
                    GUNICORN_THREADS="8", GUNICORN_CONTROL_SOCKET=str(tmp_path / "gunicorn.ctl"))
    assert (conf["bind"], conf["workers"], conf["worker_class"], conf["threads"]) == ("127.0.0.1:9100", 3,
                                                                                      "gthread", 8)
    assert (conf["control_socket"], conf["control_socket_disable"]) == (str(tmp_path / "gunicorn.ctl"), False)


def test_a_dead_workers_gauges_are_dropped_only_in_multiprocess_mode(monkeypatch: pytest.MonkeyPatch,
                                                                     tmp_path: Path) -> None:
    from prometheus_client import multiprocess

    dead: list[int] = []
    monkeypatch.setattr(multiprocess, "mark_process_dead", dead.append)

    class Worker:
        pid = 4242

    settings(monkeypatch)["child_exit"](None, Worker())
    assert dead == []
    settings(monkeypatch, PROMETHEUS_MULTIPROC_DIR=str(tmp_path))["child_exit"](None, Worker())
    assert dead == [4242]


def test_a_web_process_settles_its_collector_once_the_app_is_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    from app import runtime

    calls: list[str] = []
    monkeypatch.setattr(runtime, "settle_collector", lambda: calls.append("settled"))
    settings(monkeypatch)["post_worker_init"](object())
    assert calls == ["settled"]


def test_a_web_process_leaves_out_the_database_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import subprocess
    import sys

    # Recorded as unset by monkeypatch, so the hook's value is gone after this test (it runs in this process).
    monkeypatch.setenv("PINBRIDGE_SERVES_REQUESTS_ONLY", "not yet")
    settings(monkeypatch)["post_fork"](object(), object())
    assert os.environ["PINBRIDGE_SERVES_REQUESTS_ONLY"] == "1"
    monkeypatch.delenv("PINBRIDGE_SERVES_REQUESTS_ONLY")
    # What such a process loads, beside one that may run `flask db`: in processes of their own.
    code = ("import sys; from app import create_app; app = create_app({'ENVIRON': {'APP_ENV': 'development'}}); "
            "print('migrate' in app.extensions, 'alembic' in sys.modules, 'requests' in sys.modules)")
    web = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PINBRIDGE_SERVES_REQUESTS_ONLY": "1"}).stdout.split("\n")[-2]
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert web == "False False False"
    assert other.split("\n")[-2] == "True True False"
