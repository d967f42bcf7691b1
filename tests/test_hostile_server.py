"""Real servers on 127.0.0.1, started the way the Procfile and `make run` start them, on a bad day.

100 clients that announce a large webhook body and send one byte every two seconds must not hold up
real webhooks or /healthz; a crashed delivery worker must not stop the web server; a write lock held by
another process must leave /healthz answering. Marked slow (each starts real processes) but bounded to a
few seconds each and run everywhere, CI included.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from app.config import normalise_database_url
from app.ops.localrun import START_GRACE
from tests.slow_clients import (
    BIN,
    SlowClients,
    free_port,
    get,
    post_webhook,
    procfile_command,
    running,
    server_env,
    wait_accepted,
)

pytestmark = pytest.mark.slow

HOLD_SECONDS = 120  # how long a slow client may take to send its body: longer than the whole test


def _procfile(database_url: str, tmp_path: Path) -> tuple[list[str], dict[str, str]]:
    port = free_port()
    return procfile_command("web"), server_env(normalise_database_url(database_url), port, tmp_path,
                                               WEBHOOK_READ_SECONDS=HOLD_SECONDS)


def _make_run(database_url: str, tmp_path: Path) -> tuple[list[str], dict[str, str]]:
    port = free_port()
    return [str(BIN / "python"), "-m", "app.ops.localrun"], server_env(normalise_database_url(database_url), port,
                                                                    tmp_path, WEBHOOK_READ_SECONDS=HOLD_SECONDS)


def _assert_unaffected(port: int) -> None:
    """Webhooks and /healthz are answered while all 100 slow clients still hold their connections.

    No stopwatch: a server whose workers the slow clients occupy answers nothing until it cuts them, after
    HOLD_SECONDS, so an answer that comes while every slow connection is still held came past them.
    """
    with SlowClients(port, count=100, interval=2.0) as slow:
        assert slow.connected == 100
        for _ in range(5):
            assert post_webhook(port, timeout=HOLD_SECONDS) == 200
            assert get(port, "/healthz", timeout=HOLD_SECONDS)[0] == 200
        assert slow.held() == 100


def test_slow_clients_do_not_delay_webhooks_under_the_procfile(database_url: str, tmp_path: Path) -> None:
    command, env = _procfile(database_url, tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    env.update({"HOME": str(home), "XDG_RUNTIME_DIR": str(home)})  # where gunicorn's default socket would go
    with running(command, env, tmp_path / "web.log"):
        _assert_unaffected(int(env["PORT"]))
        # No control socket at gunicorn's per-user default, which every instance on a host would share.
        assert not list(home.rglob("*.ctl"))


def test_a_trickling_body_is_cut_off_after_webhook_read_seconds(tmp_path: Path, sqlite_template: Path) -> None:
    database = tmp_path / "cut.db"
    database.write_bytes(sqlite_template.read_bytes())
    command, env = _procfile(f"sqlite:///{database}", tmp_path)
    env["WEBHOOK_READ_SECONDS"] = "1"
    # The clients keep dripping until the block ends: a 408 is the server cutting them, not their end.
    with running(command, env, tmp_path / "web.log"), SlowClients(int(env["PORT"]), count=3, interval=0.3) as slow:
        answers = []
        for sock in slow.sockets:
            sock.settimeout(30)
            answers.append(sock.recv(200))
        assert all(answer.startswith(b"HTTP/1.1 408") for answer in answers), answers


def test_make_run_survives_slow_clients_and_a_worker_crash(tmp_path: Path, sqlite_template: Path) -> None:
    database = tmp_path / "run.db"
    database.write_bytes(sqlite_template.read_bytes())
    command, env = _make_run(f"sqlite:///{database}", tmp_path)
    port = int(env["PORT"])
    with running(command, env, tmp_path / "run.log") as localrun:
        _assert_unaffected(port)
        worker = _child(localrun.pid, "worker")
        assert worker is not None
        # A crash, not a failed start: the worker has run longer than the start-up grace period.
        deadline = time.monotonic() + START_GRACE + 30
        while _age(worker) < START_GRACE + 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        os.kill(worker, signal.SIGKILL)
        assert post_webhook(port) == 200  # the web server keeps taking orders meanwhile
        deadline = time.monotonic() + 20
        restarted = None
        while time.monotonic() < deadline and restarted in (None, worker):
            time.sleep(0.3)
            restarted = _child(localrun.pid, "worker", required=False)
        assert restarted not in (None, worker), (tmp_path / "run.log").read_text()[-2000:]
        assert get(port, "/healthz")[0] == 200


def test_healthz_answers_while_another_process_holds_the_sqlite_write_lock(tmp_path: Path,
                                                                           sqlite_template: Path) -> None:
    database = tmp_path / "locked.db"
    database.write_bytes(sqlite_template.read_bytes())
    command, env = _procfile(f"sqlite:///{database}", tmp_path)
    port = int(env["PORT"])
    with running(command, env, tmp_path / "web.log"):
        blocker = sqlite3.connect(database, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        waiting: dict[str, Any] = {}
        # A webhook now waits for the lock; it must not stop its web process from answering others.
        threads = [threading.Thread(target=lambda i=i: waiting.__setitem__(i, post_webhook(port, timeout=30)))
                   for i in range(4)]
        try:
            for thread in threads:
                thread.start()
            wait_accepted(port, len(threads))  # each webhook is in, waiting for the lock
            status, body = get(port, "/healthz", timeout=30)
            assert (status, body["status"], body["database_writes"]) == (200, "degraded", "blocked")
            assert waiting == {}  # answered while every webhook still waited for the lock
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        for thread in threads:
            thread.join(timeout=30)
        assert waiting == {i: 200 for i in range(4)}  # nothing lost: each was stored once the lock was free
        assert get(port, "/healthz")[1]["database_writes"] == "ok"


def _age(pid: int) -> float:
    """Seconds since process `pid` started, from /proc (clock ticks since boot)."""
    started_ticks = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    uptime = float(Path("/proc/uptime").read_text().split()[0])
    return uptime - started_ticks / os.sysconf("SC_CLK_TCK")


def _child(parent: int, name: str, *, required: bool = True) -> int | None:
    """The pid of `parent`'s child whose command line mentions `name`."""
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    for pid in children:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except FileNotFoundError:
            continue
        if name in cmdline:
            return int(pid)
    if required:
        raise LookupError(f"no {name} process under {parent}")
    return None



REFUSED_BY_THE_SERVER = [
    # two different lengths: gunicorn's parser refuses the request before the app sees it
    (b"POST /webhooks HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello", b"400"),
    # a method with characters no method has
    (b"P@ST /webhooks HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", b"400"),
    # a header name with a space in it
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n", b"400"),
]


def _send_raw(port: int, request: bytes) -> bytes:
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        return sock.recv(200)


def test_requests_the_server_refuses_leave_a_json_line_never_a_logging_traceback(
        tmp_path: Path, sqlite_template: Path) -> None:
    import json

    database = tmp_path / "refused.db"
    database.write_bytes(sqlite_template.read_bytes())
    command, env = _procfile(f"sqlite:///{database}", tmp_path)  # app/gunicorn_conf.py, as the Procfile runs it
    log = tmp_path / "web.log"
    port = int(env["PORT"])
    with running(command, env, log):
        for request, status in REFUSED_BY_THE_SERVER:
            assert _send_raw(port, request).startswith(b"HTTP/1.1 " + status)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and log.read_text().count("request_refused") < len(REFUSED_BY_THE_SERVER):
            time.sleep(0.1)
    text = log.read_text()
    assert "Logging error" not in text and "Traceback" not in text, text[-3000:]
    refused = [json.loads(line) for line in text.splitlines()
               if line.startswith("{") and '"request_refused"' in line]
    assert len(refused) == len(REFUSED_BY_THE_SERVER), text[-3000:]
    assert all(entry["level"] == "WARNING" and entry["logger"] == "gunicorn.error"
               and entry["message"].startswith("Invalid request from ip=") for entry in refused)
