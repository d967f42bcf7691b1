"""The results table: the median of every run, the spread beside it, each target marked met or missed."""

from __future__ import annotations

import math
import os
import platform
import statistics
from collections.abc import Callable
from typing import Any

NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def machine() -> str:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), cpu)
        with open("/proc/meminfo") as fh:
            mem_kb = int(next(ln.split()[1] for ln in fh if ln.startswith("MemTotal")))
    except (OSError, StopIteration, ValueError):
        mem_kb = 0
    return (f"{os.cpu_count()} cores ({cpu}), {mem_kb / 1024 / 1024:.0f} GB RAM, "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()}")


def _values(runs: list[dict[str, Any]], get: Callable[[dict[str, Any]], Any]) -> list[float]:
    out = []
    for run in runs:
        try:
            value = get(run)
        except (KeyError, TypeError):
            continue
        if isinstance(value, (int, float)) and not math.isnan(value):
            out.append(float(value))
    return out


def _peak(*values: float | None) -> float | None:
    """The highest of the peaks a run measured (None when it measured none)."""
    return max((v for v in values if v is not None), default=None)


def _fmt(value: float, digits: int) -> str:
    return f"{value:,.{digits}f}"


class Cell:
    """Median over runs with the spread, or '—' when nothing was measured."""

    def __init__(self, runs: list[dict[str, Any]], get: Callable[[dict[str, Any]], Any], digits: int = 0,
                 agg: Callable[[list[float]], float] = statistics.median) -> None:
        self.values = _values(runs, get)
        self.value = agg(self.values) if self.values else None
        self.digits = digits

    def __str__(self) -> str:
        if self.value is None:
            return "—"
        text = _fmt(self.value, self.digits)
        if len(self.values) > 1 and min(self.values) != max(self.values):
            text += f" ({_fmt(min(self.values), self.digits)}–{_fmt(max(self.values), self.digits)})"
        return text

    def meets(self, ok: Callable[[float], bool]) -> str:
        return "—" if self.value is None else ("met" if ok(self.value) else "**missed**")


def render(runs: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    kinds = meta["databases"]
    lines = [f"Measured {meta['date']} on {meta['machine']}; `{meta['command']}`; {meta['runs']} runs "
             f"({meta['minutes']} min), median shown with (min–max). Stand-in latency "
             f"{meta['latency_s'] * 1000:.0f} ms per request.", ""]
    head = "| measure | " + " | ".join(NAMES[k] for k in kinds) + " | target |"
    rule = "|---|" + "---|" * len(kinds) + "---|"

    def row(label: str, cells: list[Cell], target: str = "", ok: Callable[[float], bool] | None = None) -> str:
        shown = []
        for cell in cells:
            text = str(cell)
            if ok is not None and cell.value is not None:
                text += " " + ("✓" if ok(cell.value) else "✗")
            shown.append(text)
        return f"| {label} | " + " | ".join(shown) + f" | {target} |"

    def per(get: Callable[[str], Callable[[dict[str, Any]], Any]], digits: int = 0,
            agg: Callable[[list[float]], float] = statistics.median) -> list[Cell]:
        return [Cell(runs, get(k), digits, agg) for k in kinds]

    if any("ack" in r for r in runs):
        lines += ["**1. Webhook acknowledgement** — wrk, 16 connections, signed `orders/create` bodies of 10–20 KB "
                  "with unique webhook ids, production gunicorn config", "", head, rule]
        lines.append(row("bare Flask floor, req/s", [Cell(runs, lambda r: r["ack"]["bare"]["rps"])] * len(kinds)))
        lines.append(row("Pinbridge, req/s", per(lambda k: lambda r: r["ack"][k]["rps"])))
        lines.append(row("Pinbridge ÷ floor (same run)", per(lambda k: lambda r: r["ack"][k]["ratio_to_bare"], 3),
                         "≥ 0.5×", lambda v: v >= 0.5))
        lines.append(row("p50 latency, ms", per(lambda k: lambda r: r["ack"][k]["p50_ms"], 1)))
        floor_p99 = Cell(runs, lambda r: r["ack"]["bare"]["p99_ms"], 1)
        lines.append(row("bare Flask floor p99, ms", [floor_p99] * len(kinds)))
        # ≤ 20 ms, or ≤ 2× the floor's own p99 in the same run when this noisy machine puts that above 10 ms.
        p99_limit = 20.0 if floor_p99.value is None or floor_p99.value <= 10 else max(20.0, 2 * floor_p99.value)
        lines.append(row("p99 latency, ms", per(lambda k: lambda r: r["ack"][k]["p99_ms"], 1),
                         f"≤ {p99_limit:.0f} ms (20, or 2× the floor's p99 above 10)", lambda v: v <= p99_limit))
        lines.append(row("non-2xx answers (sum of runs)", per(lambda k: lambda r: r["ack"][k]["non_2xx"], 0, sum),
                         "0", lambda v: v == 0))
        lines.append(row("acknowledged (sum)", per(lambda k: lambda r: r["ack"][k]["acknowledged"], 0, sum)))
        lines.append(row("of those, stored with their order (encrypted body or event)", per(
            lambda k: lambda r: min(r["ack"][k]["receipts_stored"], r["ack"][k]["acknowledged"])
            if r["ack"][k]["all_acked_stored"] else 0, 0, sum), "all"))
        lines.append(row("runs that used up the unique bodies (the rest were duplicates, not counted as stored)",
                         per(lambda k: lambda r: min(1, r["ack"][k]["wrapped"]), 0, sum), "0", lambda v: v == 0))
        lines.append("")
    if any("beacon" in r for r in runs):
        lines += ["**1b. Pixel beacons** — wrk, 16 connections, valid `POST /pixel` beacons (~170 bytes, a new "
                  "checkout token each, 50 shops), production gunicorn config, rate limits raised for the run",
                  "", head, rule]
        lines.append(row("bare Flask floor (webhook bodies, as in 1), req/s",
                         [Cell(runs, lambda r: r["beacon"]["bare"]["rps"])] * len(kinds)))
        lines.append(row("bare Flask floor (beacon bodies), req/s",
                         [Cell(runs, lambda r: r["beacon"]["bare_pixel"]["rps"])] * len(kinds)))
        lines.append(row("Pinbridge `POST /pixel`, req/s", per(lambda k: lambda r: r["beacon"][k]["rps"])))
        lines.append(row("beacons ÷ webhook floor (same run)",
                         per(lambda k: lambda r: r["beacon"][k]["ratio_to_bare"], 3)))
        lines.append(row("beacons ÷ beacon-body floor (same run)",
                         per(lambda k: lambda r: r["beacon"][k]["ratio_to_bare_pixel"], 3)))
        lines.append(row("p50 latency, ms", per(lambda k: lambda r: r["beacon"][k]["p50_ms"], 1)))
        lines.append(row("p99 latency, ms", per(lambda k: lambda r: r["beacon"][k]["p99_ms"], 1)))
        lines.append(row("non-2xx answers (sum of runs)",
                         per(lambda k: lambda r: r["beacon"][k]["non_2xx"], 0, sum), "0", lambda v: v == 0))
        lines.append(row("of the 2xx, beacons in the database (sum)", per(
            lambda k: lambda r: r["beacon"][k]["status_2xx"] if r["beacon"][k]["all_2xx_stored"] else 0, 0, sum),
            "all"))
        lines.append(row("default limits, 3 s flood from one address: 2xx (sum)",
                         per(lambda k: lambda r: r["beacon"][k]["flood"]["status_2xx"], 0, sum)))
        lines.append(row("… answered 429 (sum)",
                         per(lambda k: lambda r: r["beacon"][k]["flood"]["status_429"], 0, sum)))
        lines.append(row("… answered 5xx (sum)", per(lambda k: lambda r: r["beacon"][k]["flood"]["status_5xx"], 0,
                                                      sum), "0", lambda v: v == 0))
        lines.append("")
    if any("drain" in r for r in runs):
        lines += [f"**2. Delivery drain** — {meta['settings']['drain_events']:,} pending events over 50 shops",
                  "", head, rule]
        lines.append(row("1 worker, events/s", per(lambda k: lambda r: r["drain"][k]["workers_1"]["events_per_s"]),
                         "≥ 10,000", lambda v: v >= 10_000))
        lines.append(row("1 worker's CPU per 1,000 events delivered, s (start-up left out)",
                         per(lambda k: lambda r: r["drain"][k]["workers_1"].get("cpu_s_per_1000"), 3)))
        lines.append(row("… the Pinterest stand-in's CPU beside it, per 1,000 events, s",
                         per(lambda k: lambda r: r["drain"][k]["workers_1"].get("standin_cpu_s_per_1000"), 3)))
        lines.append(row("1 worker, every event a web order joined to its stored beacon, events/s",
                         per(lambda k: lambda r: r["drain"][k]["joined"]["events_per_s"])))
        lines.append(row("joined ÷ plain (same run; mean of a plain drain before and after)",
                         per(lambda k: lambda r: r["drain"][k]["join_ratio"], 2), "≥ 0.90×", lambda v: v >= 0.9))
        lines.append(row("joined events that reached the stand-in with the beacon's click id, %", per(
            lambda k: lambda r: 100 * r["drain"][k]["joined"]["beacon_click_ids"]
            / r["drain"][k]["joined"]["events"], 1, min), "100", lambda v: v == 100))
        if "postgresql" in kinds:
            cells = [Cell(runs, lambda r: r["drain"]["postgresql"]["workers_4"]["events_per_s"])
                     if k == "postgresql" else Cell([], lambda r: None) for k in kinds]
            lines.append(row("4 workers, events/s", cells))
            cells = [Cell(runs, lambda r: r["drain"]["postgresql"]["scale_out"], 2)
                     if k == "postgresql" else Cell([], lambda r: None) for k in kinds]
            lines.append(row("4 workers ÷ 1 worker (same run)", cells, "≥ 3×", lambda v: v >= 3))
        lines.append(row("one-event-per-request sender, events/s",
                         per(lambda k: lambda r: r["drain"][k]["naive"]["events_per_s"], 1)))
        lines.append(row("1 worker ÷ one-event-per-request (same run)",
                         per(lambda k: lambda r: r["drain"][k]["ratio_to_naive"])))
        lines.append(row("events sent twice (sum)", per(
            lambda k: lambda r: sum(v.get("duplicate_event_ids") or 0 for v in r["drain"][k].values()
                                    if isinstance(v, dict)), 0, sum), "0", lambda v: v == 0))
        lines.append("")
    if any("freshness" in r for r in runs):
        lines += [f"**3. Freshness** — 50 webhooks/s for {meta['settings']['fresh_seconds']} s, web + 1 worker; "
                  "acknowledgement → stand-in receives the event", "", head, rule]
        lines.append(row("achieved webhooks/s", per(lambda k: lambda r: r["freshness"][k]["achieved_rate"], 1)))
        lines.append(row("p50, s", per(lambda k: lambda r: r["freshness"][k]["p50_s"], 2)))
        lines.append(row("p95, s", per(lambda k: lambda r: r["freshness"][k]["p95_s"], 2), "≤ 1 s",
                         lambda v: v <= 1))
        lines.append(row("p99, s", per(lambda k: lambda r: r["freshness"][k]["p99_s"], 2)))
        lines.append(row("events not delivered (sum)", per(
            lambda k: lambda r: r["freshness"][k]["acknowledged"] - r["freshness"][k]["delivered"], 0, sum)))
        if any(f"{k}/beacons" in r.get("freshness", {}) for r in runs for k in kinds):
            def fb(key: str) -> Callable[[str], Callable[[dict[str, Any]], Any]]:
                return lambda k: lambda r: r["freshness"][f"{k}/beacons"][key]
            lines.append(row("with beacons — the pixel has reported, each order's beacon posted 0–2 s after its "
                             "acknowledgement: achieved webhooks/s", per(fb("achieved_rate"), 1)))
            lines.append(row("… p50, s", per(fb("p50_s"), 2)))
            lines.append(row("… p95, s", per(fb("p95_s"), 2)))
            lines.append(row("… p99, s", per(fb("p99_s"), 2)))
            lines.append(row("… beacon posted → stand-in receives the event, p50, s", per(fb("beacon_p50_s"), 2)))
            lines.append(row("… beacon posted → stand-in receives the event, p95, s", per(fb("beacon_p95_s"), 2),
                             "≤ 1 s", lambda v: v <= 1))
            lines.append(row("… delivered events carrying the beacon's click id, %", per(
                lambda k: lambda r: 100 * r["freshness"][f"{k}/beacons"]["with_beacon_click"]
                / max(r["freshness"][f"{k}/beacons"]["delivered"], 1), 1, min), "100", lambda v: v == 100))
            lines.append(row("… beacon posted later than planned (client backlog), p95, s",
                             per(fb("beacon_late_p95_s"), 2)))
            lines.append(row("… sent before their beacon arrived (sum)", per(fb("before_beacon"), 0, sum)))
            lines.append(row("… beacons not answered 2xx (sum)", per(fb("beacons_failed"), 0, sum), "0",
                             lambda v: v == 0))
            lines.append(row("… events not delivered (sum)", per(
                lambda k: lambda r: r["freshness"][f"{k}/beacons"]["acknowledged"]
                - r["freshness"][f"{k}/beacons"]["delivered"], 0, sum)))
        lines.append("")
    if any("inbox" in r for r in runs):
        burst = meta["settings"]["inbox_burst"]
        lines += [f"**3b. Inbox** — one shop's burst of {burst:,} webhooks waiting, 1 worker; "
                  "meanwhile another shop's order every 0.5 s", "", head, rule]

        def ib(label: str, key: str) -> Callable[[str], Callable[[dict[str, Any]], Any]]:
            return lambda k: lambda r: r["inbox"][k][label][key]
        lines.append(row("routed (decrypt, map, join, enqueue), webhooks/s",
                         per(lambda k: lambda r: r["inbox"][k]["burst"]["routed_per_s"])))
        if any("ack" in r for r in runs):
            lines.append(row("routed ÷ acknowledged (same run)", per(
                lambda k: lambda r: r["inbox"][k]["burst"]["routed_per_s"] / r["ack"][k]["rps"], 2),
                "≥ 1", lambda v: v >= 1))
        if "postgresql" in kinds:
            cells = [Cell(runs, lambda r: r["inbox"]["postgresql"]["burst_2_workers"]["routed_per_s"])
                     if k == "postgresql" else Cell([], lambda r: None) for k in kinds]
            lines.append(row("routed by 2 workers side by side, webhooks/s", cells))
            if any("ack" in r for r in runs):
                cells = [Cell(runs, lambda r: r["inbox"]["postgresql"]["burst_2_workers"]["routed_per_s"]
                              / r["ack"]["postgresql"]["rps"], 2)
                         if k == "postgresql" else Cell([], lambda r: None) for k in kinds]
                lines.append(row("2 workers' routing ÷ acknowledged (same run)", cells, "≥ 1", lambda v: v >= 1))
        lines.append(row("other shops' orders, idle instance: receipt → stand-in, p95, s",
                         per(lambda k: lambda r: r["inbox"][k]["idle"]["quiet_p95_s"], 2)))
        lines.append(row("… behind the burst, p50, s", per(ib("burst", "quiet_p50_s"), 2)))
        lines.append(row("… behind the burst, p95, s", per(ib("burst", "quiet_p95_s"), 2)))
        lines.append(row("… behind the burst, p95 − idle p95, s", per(
            lambda k: lambda r: r["inbox"][k]["burst"]["quiet_p95_s"] - r["inbox"][k]["idle"]["quiet_p95_s"], 2),
            "≤ 1 s", lambda v: v <= 1))
        lines.append(row("… behind the burst, max, s", per(ib("burst", "quiet_max_s"), 2)))
        backlog = meta["settings"].get("inbox_backlog")
        if backlog and any("backlog" in r.get("inbox", {}).get(k, {}) for r in runs for k in kinds):
            lines.append(row(f"… behind one shop's {backlog:,} events waiting in the outbox, p95, s",
                             per(ib("backlog", "quiet_p95_s"), 2)))
            lines.append(row("… behind that backlog, p95 − idle p95, s", per(
                lambda k: lambda r: r["inbox"][k]["backlog"]["quiet_p95_s"] - r["inbox"][k]["idle"]["quiet_p95_s"],
                2), "≤ 1 s", lambda v: v <= 1))
            lines.append(row("… the backlog meanwhile delivered, events/s", per(ib("backlog",
                                                                                  "backlog_delivered_per_s"))))
        lines.append("")
    mem_web = per(lambda k: lambda r: _peak(
        r.get("ack", {}).get(k, {}).get("peak_rss_web_mb"), r.get("freshness", {}).get(k, {}).get("peak_rss_web_mb")),
        0, max)
    mem_worker = per(lambda k: lambda r: _peak(
        *(d.get("peak_rss_worker_mb") for d in r.get("drain", {}).get(k, {}).values() if isinstance(d, dict)),
        *(d.get("peak_rss_worker_mb") for d in r.get("inbox", {}).get(k, {}).values() if isinstance(d, dict)),
        r.get("freshness", {}).get(k, {}).get("peak_rss_worker_mb")), 0, max)
    mem_mapping = per(lambda k: lambda r: _peak(
        *(d.get("peak_rss_mapping_mb") for d in r.get("drain", {}).get(k, {}).values() if isinstance(d, dict)),
        *(d.get("peak_rss_mapping_mb") for d in r.get("inbox", {}).get(k, {}).values() if isinstance(d, dict)),
        r.get("freshness", {}).get(k, {}).get("peak_rss_mapping_mb")), 0, max)
    if any(c.value is not None for c in mem_web + mem_worker):
        lines += ["**4. Memory** — peak RSS (VmHWM) of each process during the runs (the worker's: drain, "
                  "freshness and inbox), highest of all runs", "", head, rule]
        lines.append(row("web worker (gunicorn), MB", mem_web, "≤ 100 MB", lambda v: v <= 100))
        lines.append(row("delivery worker, MB", mem_worker, "≤ 150 MB", lambda v: v <= 150))
        if any(c.value for c in mem_mapping):
            lines.append(row("… its mapping process (ROUTING_PROCESSES; none by default on SQLite), MB",
                             mem_mapping))
        lines.append("")
    if any("growth" in r for r in runs):
        lines += ["**5. Cost growth** — the same measurements with events and receipts already stored "
                  f"(ack: wrk {meta['settings']['growth_ack_seconds']} s; drain: {10_000:,} pending, 1 worker)",
                  "", head, rule]
        for size in meta["settings"]["growth_sizes"]:
            lines.append(row(f"{size:,} stored: ack req/s",
                             per(lambda k, s=size: lambda r: r["growth"][f"{k}/{s}"]["rps"])))
            lines.append(row(f"{size:,} stored: ack p99, ms",
                             per(lambda k, s=size: lambda r: r["growth"][f"{k}/{s}"]["p99_ms"], 1)))
            lines.append(row(f"{size:,} stored: drain events/s",
                             per(lambda k, s=size: lambda r: r["growth"][f"{k}/{s}"]["events_per_s"])))
        lines.append("")
    return "\n".join(lines)
