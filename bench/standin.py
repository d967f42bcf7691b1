"""The Pinterest stand-in as a benchmark process: fixed latency, no schema check, arrival time per event.

    python -m bench.standin --latency 0.15 --arrivals /tmp/arrivals.json

prints its port on the first line; on SIGTERM writes the stand-in's summary plus, per event_id, the Unix
time its first request arrived (for freshness) and the click id it carried, if any, then exits. Events
are dropped from the recording once answered, so a 100,000-event drain does not grow the stand-in's
memory or its garbage collector's work.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from typing import Any

from tests.standins.pinterest import Answer, PinterestStandin, RecordedRequest


class BenchStandin(PinterestStandin):
    def reset(self) -> None:
        super().reset()
        self.arrivals: dict[str, float] = {}
        self.clicks: dict[str, str] = {}
        self.events_received = 0

    def _answer(self, record: RecordedRequest) -> Answer:
        answer = super()._answer(record)
        arrived = record.received_at.timestamp()
        with self._cond:
            self.events_received += len(record.events)
            for event in record.events:
                event_id = event.get("event_id")
                if isinstance(event_id, str):
                    self.arrivals.setdefault(event_id, arrived)
                    click_id = (event.get("user_data") or {}).get("click_id")
                    if isinstance(click_id, str):
                        self.clicks.setdefault(event_id, click_id)
        record.events = []
        return answer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.standin")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.15, help="seconds before each answer")
    parser.add_argument("--arrivals", required=True, help="JSON file written on SIGTERM")
    args = parser.parse_args(argv)
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    standin = BenchStandin(latency=args.latency, validate=False, port=args.port)
    with standin:
        print(standin.port, flush=True)
        while not stopping.wait(0.2):
            pass
    out: dict[str, Any] = {**standin.summary(), "events_received": standin.events_received,
                           "arrivals": standin.arrivals, "clicks": standin.clicks}
    with open(args.arrivals, "w") as fh:
        json.dump(out, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
