"""`make run`: migrate, then run gunicorn and the delivery worker side by side until Ctrl-C.

A process that exits on its own (a crash, an out-of-memory kill) is started again after a short pause
that grows while it keeps failing, so a broken worker never takes the web server (and webhooks) down.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

from app.config import PROJECT_ROOT, private_dir

RESTART_DELAY = 1.0       # seconds before the first restart
MAX_RESTART_DELAY = 30.0  # seconds: the longest pause between restarts of a process that keeps failing
STABLE_AFTER = 60.0       # seconds of running after which the pause starts again from RESTART_DELAY
START_GRACE = 5.0         # seconds: a first start that fails this fast is a set-up problem (port taken...)


@dataclass
class Child:
    name: str
    command: list[str]
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    delay: float = RESTART_DELAY
    restart_at: float | None = None
    restarts: int = field(default=0)

    def start(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(self.command, cwd=PROJECT_ROOT, env=env)
        self.started, self.restart_at = time.monotonic(), None

    def check(self, env: dict[str, str], now: float) -> int | None:
        """Schedule a restart when the process has exited; start it again when its pause is over.

        Returns the exit code when the very first start failed at once: restarting would not help.
        """
        if self.proc is not None and self.proc.poll() is not None:
            code = self.proc.returncode
            if self.restarts == 0 and now - self.started < START_GRACE:
                print(f"{self.name} could not start (exit code {code}); stopping", flush=True)
                return code or 1
            self.delay = RESTART_DELAY if now - self.started > STABLE_AFTER else min(self.delay * 2,
                                                                                     MAX_RESTART_DELAY)
            self.proc, self.restart_at = None, now + self.delay
            print(f"{self.name} exited with code {code}; starting it again in {self.delay:.0f} s", flush=True)
        if self.proc is None and self.restart_at is not None and now >= self.restart_at:
            self.restarts += 1
            self.start(env)
        return None


def main() -> int:
    env = {**os.environ, "FLASK_APP": "app", "HOST": os.environ.get("HOST", "127.0.0.1")}
    env.setdefault("WEB_CONCURRENCY", "2")
    # Web and worker processes share one folder of Prometheus counters, emptied at each start.
    private_dir(PROJECT_ROOT / "instance")
    metrics_dir = env.setdefault("PROMETHEUS_MULTIPROC_DIR", str(PROJECT_ROOT / "instance" / "prometheus"))
    shutil.rmtree(metrics_dir, ignore_errors=True)
    os.makedirs(metrics_dir, mode=0o700)
    bin_dir = os.path.dirname(sys.executable)
    subprocess.run([os.path.join(bin_dir, "flask"), "db", "upgrade"], check=True, cwd=PROJECT_ROOT, env=env)
    children = [
        Child("web", [os.path.join(bin_dir, "gunicorn"), "--config", "app/ops/gunicorn_conf.py", "app:create_app()"]),
        Child("worker", [os.path.join(bin_dir, "flask"), "worker"]),
    ]
    for child in children:
        child.start(env)
    print(f"Pinbridge is running at http://{env['HOST']}:{env.get('PORT', '8000')} (Ctrl-C stops it)", flush=True)
    stopping = False
    failed = 0

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            if child.proc is not None and child.proc.poll() is None:
                child.proc.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        while not stopping and not failed:
            now = time.monotonic()
            for child in children:
                failed = failed or (child.check(env, now) or 0)
            time.sleep(0.5)
    finally:
        stop()
        for child in children:
            if child.proc is not None:
                try:
                    child.proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    child.proc.kill()
    return failed


if __name__ == "__main__":
    raise SystemExit(main())
