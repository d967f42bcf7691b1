"""The long-running processes' cycle collector (app/runtime.py): what was loaded is frozen, looks come later;
and the worker's allocator arenas."""

from __future__ import annotations

import subprocess
import sys

import pytest
from flask import Flask

from app import runtime


def test_settling_freezes_what_is_loaded_and_raises_the_thresholds() -> None:
    # In a process of its own: the test runner's collector stays as it is.
    code = ("import gc; from app.runtime import settle_collector; assert gc.get_freeze_count() == 0; "
            "settle_collector(); print(gc.get_threshold(), gc.get_freeze_count() > 10_000)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == f"{runtime.THRESHOLDS} True"
    assert runtime.THRESHOLDS[0] >= 10_000  # a young look every few orders, not every few hundred objects


def test_the_worker_command_settles_its_collector_before_it_runs(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    import app.delivery as delivery

    calls: list[str] = []

    class Worker:
        def __init__(self, _app: Flask) -> None:
            calls.append("made")

        def install_signal_handlers(self) -> None:
            pass

        def run(self, max_idle_loops: int | None = None) -> None:
            calls.append(f"run {max_idle_loops}")

    monkeypatch.setattr(delivery, "Worker", Worker)
    monkeypatch.setattr(runtime, "settle_collector", lambda: calls.append("settled"))
    result = app.test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert calls == ["made", "settled", "run 1"]


def test_the_worker_limits_the_allocators_arenas_unless_the_operator_chose(monkeypatch: pytest.MonkeyPatch) -> None:
    """glibc takes the limit (mallopt answers 1); an operator's MALLOC_ARENA_MAX is left to govern."""
    import platform

    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert runtime.limit_malloc_arenas() is (platform.libc_ver()[0] == "glibc")
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert runtime.limit_malloc_arenas() is False
