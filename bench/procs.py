"""Real processes for the benchmarks: gunicorn, the delivery worker, the Pinterest stand-in; peak RSS from /proc."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
START_TIMEOUT = 30.0  # seconds a process gets to start listening
STOP_TIMEOUT = 30.0  # seconds a process gets to exit after SIGTERM
SAMPLE_EVERY = 0.25  # seconds between RSS samples


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process {proc.args!r} exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listened on port {port} within {timeout} s")


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                found.extend(int(p) for p in fh.read().split())
    except OSError:
        pass
    return found


def peak_rss_mb(pid: int) -> float | None:
    """The kernel's high-water mark of resident memory (VmHWM) for one process, in MB."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def wait_until_booted(pid: int, timeout: float = START_TIMEOUT) -> None:
    """gunicorn listens before its workers have imported the app: wait until the workers go quiet."""
    deadline = time.monotonic() + timeout
    quiet = 0
    last = -1.0
    while time.monotonic() < deadline and quiet < 3:
        kids = _children(pid)
        used = sum(cpu_seconds(k) for k in kids)
        quiet = quiet + 1 if kids and last >= 0 and used - last < 0.02 else 0
        last = used
        time.sleep(0.3)



def wait_until_quiet(pid: int, timeout: float = START_TIMEOUT) -> None:
    """Wait until a started process and its children (a worker's mapping processes) stop using the CPU."""
    deadline = time.monotonic() + timeout
    quiet = 0
    last = -1.0
    while time.monotonic() < deadline and quiet < 3:
        used = cpu_seconds(pid) + sum(cpu_seconds(k) for k in _children(pid))
        quiet = quiet + 1 if last >= 0 and used - last < 0.02 else 0
        last = used
        time.sleep(0.3)


def terminate(proc: subprocess.Popen[Any]) -> None:
    """SIGTERM (a clean stop: the worker finishes its batch), then SIGKILL if it hangs."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)

class RssSampler:
    """Track the peak RSS of a process and, optionally, of its children (gunicorn's web workers).

    Without `children`, the process's own children (the worker's mapping processes) are tracked apart
    (`peak_children`).
    """

    def __init__(self, pid: int, *, children: bool) -> None:
        self.pid, self.children = pid, children
        self.peak: dict[int, float] = {}
        self.peak_children: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(SAMPLE_EVERY)

    def sample(self) -> None:
        pids = _children(self.pid) if self.children else [self.pid]
        for pid in pids:
            value = peak_rss_mb(pid)
            if value is not None:
                self.peak[pid] = max(self.peak.get(pid, 0.0), value)
        if not self.children:
            for pid in _children(self.pid):
                value = peak_rss_mb(pid)
                if value is not None:
                    self.peak_children[pid] = max(self.peak_children.get(pid, 0.0), value)

    def stop(self) -> float | None:
        self.sample()
        self._stop.set()
        self._thread.join(timeout=2)
        return max(self.peak.values()) if self.peak else None


class Managed:
    """A started process with a log file; `stop()` sends SIGTERM and waits, then kills if it must."""

    def __init__(self, proc: subprocess.Popen[bytes], log: IO[bytes] | None, *, rss_children: bool) -> None:
        self.proc, self.log = proc, log
        self.rss = RssSampler(proc.pid, children=rss_children)
        self.peak_rss_mb: float | None = None
        self.peak_child_rss_mb: float | None = None  # the largest child's (a worker's mapping process)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> int | None:
        self.peak_rss_mb = self.rss.stop()
        self.peak_child_rss_mb = max(self.rss.peak_children.values(), default=None)
        terminate(self.proc)
        if self.log is not None:
            self.log.close()
        return self.proc.returncode


def _log(logdir: Path, name: str) -> IO[bytes]:
    logdir.mkdir(parents=True, exist_ok=True)
    return open(logdir / f"{name}.log", "ab")


def start_gunicorn(app_spec: str, env: dict[str, str], logdir: Path, name: str = "gunicorn") -> tuple[Managed, int]:
    """The production gunicorn configuration (app/ops/gunicorn_conf.py) serving `app_spec` on a free port."""
    port = free_port()
    log = _log(logdir, name)
    proc = subprocess.Popen(
        [str(BIN / "gunicorn"), "--config", "app/ops/gunicorn_conf.py", app_spec],
        cwd=ROOT, env={**env, "HOST": "127.0.0.1", "PORT": str(port)}, stdout=log, stderr=subprocess.STDOUT,
    )
    managed = Managed(proc, log, rss_children=True)
    try:
        wait_for_port(port, proc)
        wait_until_booted(proc.pid)
    except Exception:
        managed.stop()
        raise
    return managed, port


def start_worker(env: dict[str, str], logdir: Path, name: str = "worker") -> Managed:
    """`flask --app app worker`, as the Procfile runs it."""
    log = _log(logdir, name)
    proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "worker"], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    return Managed(proc, log, rss_children=False)


def start_python(module: str, args: list[str], env: dict[str, str], logdir: Path, name: str) -> Managed:
    log = _log(logdir, name)
    proc = subprocess.Popen([sys.executable, "-m", module, *args], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    return Managed(proc, log, rss_children=False)


class Standin:
    """bench.standin as its own process; `stop()` returns its summary with per-event arrival times."""

    def __init__(self, latency: float, logdir: Path) -> None:
        self.arrivals = logdir / f"arrivals-{os.getpid()}-{time.monotonic_ns()}.json"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.standin", "--latency", str(latency), "--arrivals", str(self.arrivals)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=_log(logdir, "standin"),
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode().strip()
        if not line.isdigit():
            self.proc.kill()
            raise RuntimeError(f"the Pinterest stand-in did not start: {line!r}")
        self.port = int(line)
        self.url = f"http://127.0.0.1:{self.port}/v5"

    def stop(self) -> dict[str, Any]:
        terminate(self.proc)
        summary: dict[str, Any] = {}
        if self.arrivals.exists():
            summary = json.loads(self.arrivals.read_text())
            self.arrivals.unlink()
        return summary
