"""`make run`'s supervisor: a process that dies is started again; one that cannot start at all stops the run."""

from __future__ import annotations

import sys
import time

import pytest

from app.ops import localrun


def _wait(child: localrun.Child, env: dict[str, str], until: float) -> int | None:
    while time.monotonic() < until:
        result = child.check(env, time.monotonic())
        if result is not None or child.restarts:
            return result
        time.sleep(0.05)
    return None


def test_a_process_that_dies_later_is_started_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(localrun, "START_GRACE", 0.2)
    monkeypatch.setattr(localrun, "RESTART_DELAY", 0.1)
    child = localrun.Child("worker", [sys.executable, "-c", "import time; time.sleep(0.5); raise SystemExit(9)"],
                           delay=0.05)
    env: dict[str, str] = {}
    child.start(env)
    try:
        assert _wait(child, env, time.monotonic() + 10) is None
        assert child.restarts == 1 and child.proc is not None and child.proc.poll() is None
    finally:
        if child.proc is not None:
            child.proc.kill()
            child.proc.wait()


def test_a_process_that_cannot_start_stops_the_run() -> None:
    child = localrun.Child("web", [sys.executable, "-c", "raise SystemExit(3)"])
    env: dict[str, str] = {}
    child.start(env)
    assert _wait(child, env, time.monotonic() + 10) == 3
    assert child.restarts == 0
