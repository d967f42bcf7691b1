"""Real web servers on 127.0.0.1 (as the Procfile or `make run` start them) and clients that send slowly.

Used by tests/test_hostile_server.py and `python -m bench.hostile`.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.conftest import API_KEY, API_SECRET, ENCRYPTION_KEY, SHOP, sign
from tests.factories import web_order

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def procfile_command(kind: str = "web") -> list[str]:
    """The Procfile's command for `kind`, with the programs from this virtualenv."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == kind:
            args = shlex.split(command)
            return [str(BIN / args[0]), *args[1:]]
    raise LookupError(kind)


def server_env(database_url: str, port: int, tmp: Path, **extra: Any) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "COV_"))}
    env.update({
        "APP_ENV": "development", "FLASK_APP": "app", "DATABASE_URL": database_url, "HOST": "127.0.0.1",
        "PORT": str(port), "WEB_CONCURRENCY": "2", "SHOPIFY_API_KEY": API_KEY, "SHOPIFY_API_SECRET": API_SECRET,
        "ENCRYPTION_KEY": ENCRYPTION_KEY, "PINTEREST_API_URL": "http://127.0.0.1:9/v5", "PYTHONUNBUFFERED": "1",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp / "prometheus"), "WORKER_IDLE_SECONDS": "0.2",
    })
    env.update({k: str(v) for k, v in extra.items()})
    Path(env["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)
    return env


@contextmanager
def running(command: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Start `command` in its own process group, wait for /healthz, stop the whole group afterwards."""
    with open(log, "ab") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        wait_healthy(int(env["PORT"]), proc, log)
        yield proc
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=10)


def wait_healthy(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            get(port, "/healthz", timeout=1.0)
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server did not answer /healthz:\n{log.read_text()[-3000:]}")


def get(port: int, path: str, timeout: float = 10.0) -> tuple[int, dict[str, Any]]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as response:
        return response.status, json.loads(response.read())


def post_webhook(port: int, timeout: float = 10.0) -> int:
    body = json.dumps(web_order()).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/webhooks", data=body, method="POST", headers={
        "Content-Type": "application/json", "X-Shopify-Topic": "orders/create", "X-Shopify-Hmac-Sha256": sign(body),
        "X-Shopify-Shop-Domain": SHOP, "X-Shopify-Webhook-Id": str(uuid.uuid4()), "X-Shopify-API-Version": "2026-10",
        "X-Shopify-Triggered-At": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f000Z"),
    })
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return int(response.status)


def _sockets() -> Iterator[list[str]]:
    """The fields of every socket the kernel lists in /proc/net/tcp and /proc/net/tcp6 (those that exist)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            yield line.split()


def _local_port(fields: list[str]) -> int:
    return int(fields[1].rsplit(":", 1)[1], 16)


def accept_backlog(port: int) -> int:
    """Connections to `port` the kernel holds that no server process has accepted yet (/proc/net/tcp*)."""
    # LISTEN ("0A"): its rx_queue is the backlog.
    return sum(int(fields[4].split(":")[1], 16) for fields in _sockets()
               if fields[3] == "0A" and _local_port(fields) == port)


def connections(port: int) -> int:
    """Established connections the server on `port` holds (its side of each, /proc/net/tcp*)."""
    return sum(1 for fields in _sockets() if fields[3] == "01" and _local_port(fields) == port)


def wait_accepted(port: int, at_least: int = 0, timeout: float = 30.0) -> None:
    """Poll until the server on `port` holds `at_least` connections and has accepted every one made so far."""
    deadline = time.monotonic() + timeout
    while accept_backlog(port) or connections(port) < at_least:
        if time.monotonic() > deadline:
            raise TimeoutError(f"connections to {port}: {connections(port)} held, {accept_backlog(port)} not accepted")
        time.sleep(0.05)


class SlowClients:
    """`count` connections that announce a large body, then send one byte every `interval` seconds."""

    def __init__(self, port: int, count: int = 100, interval: float = 2.0, announced: int = 4 * 1024 * 1024):
        self.port, self.count, self.interval, self.announced = port, count, interval, announced
        self.sockets: list[socket.socket] = []
        self.connected = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drip, daemon=True)

    def __enter__(self) -> SlowClients:
        head = (f"POST /webhooks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"X-Shopify-Topic: orders/create\r\nX-Shopify-Shop-Domain: {SHOP}\r\n"
                f"X-Shopify-Hmac-Sha256: {'A' * 43}=\r\nContent-Length: {self.announced}\r\n\r\n{{").encode()
        for _ in range(self.count):
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            sock.sendall(head)
            self.sockets.append(sock)
        self.connected = len(self.sockets)
        self._thread.start()
        wait_accepted(self.port, self.count)  # the server has taken every connection, so each holds a reader
        return self

    def held(self) -> int:
        """How many connections are still open and unanswered: the server neither cut nor answered them."""
        count = 0
        for sock in self.sockets:
            sock.setblocking(False)
            try:
                sock.recv(1, socket.MSG_PEEK)  # an answer, or b"" for a closed connection
            except BlockingIOError:
                count += 1
            except OSError:
                pass
            finally:
                sock.setblocking(True)
        return count

    def _drip(self) -> None:
        while not self._stop.wait(self.interval):
            for sock in self.sockets:
                try:
                    sock.sendall(b" ")
                except OSError:
                    continue

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        for sock in self.sockets:
            sock.close()


def timed(call: Any, *args: Any) -> tuple[float, Any]:
    started = time.monotonic()
    try:
        result = call(*args)
    except OSError as exc:  # a timeout: the answer never came
        result = exc
    return time.monotonic() - started, result


def latencies(port: int, rounds: int = 10, timeout: float = 10.0) -> dict[str, list[float]]:
    """Seconds each signed webhook and each /healthz took to answer (`timeout` when none came)."""
    out: dict[str, list[float]] = {"webhook": [], "healthz": []}
    for _ in range(rounds):
        seconds, status = timed(post_webhook, port, timeout)
        out["webhook"].append(seconds if status == 200 else timeout)
        seconds, answer = timed(get, port, "/healthz", timeout)
        out["healthz"].append(seconds if isinstance(answer, tuple) and answer[0] == 200 else timeout)
    return out
