"""`make run`: migrate, then run gunicorn and the delivery worker side by side until Ctrl-C."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

from .config import PROJECT_ROOT


def main() -> int:
    env = {**os.environ, "FLASK_APP": "app", "HOST": os.environ.get("HOST", "127.0.0.1")}
    env.setdefault("WEB_CONCURRENCY", "2")
    # Web and worker processes share one folder of Prometheus counters, emptied at each start.
    metrics_dir = PROJECT_ROOT / "instance" / "prometheus"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    env.setdefault("PROMETHEUS_MULTIPROC_DIR", str(metrics_dir))
    bin_dir = os.path.dirname(sys.executable)
    subprocess.run([os.path.join(bin_dir, "flask"), "db", "upgrade"], check=True, cwd=PROJECT_ROOT, env=env)
    commands = [
        [os.path.join(bin_dir, "gunicorn"), "--config", "app/gunicorn_conf.py", "app:create_app()"],
        [os.path.join(bin_dir, "flask"), "worker"],
    ]
    procs = [subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env) for cmd in commands]
    print(f"Pinbridge is running at http://{env['HOST']}:{env.get('PORT', '8000')} (Ctrl-C stops it)", flush=True)

    def stop(*_: object) -> None:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        while all(proc.poll() is None for proc in procs):
            time.sleep(0.5)
    finally:
        stop()
        for proc in procs:
            proc.wait(timeout=30)
    return max((proc.returncode or 0) for proc in procs)


if __name__ == "__main__":
    raise SystemExit(main())
