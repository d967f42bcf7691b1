"""The design every tutorial shows, as the baseline: read one pending event, POST it alone, mark it sent.

    python -m bench.naive --database-url URL --pinterest-url URL --seconds 30

Runs for the given window (bounded by time and by count) and prints how many events it delivered.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import requests
from sqlalchemy import create_engine, text

from app.config import normalise_database_url

MAX_EVENTS = 100_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.naive")
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--pinterest-url", required=True)
    parser.add_argument("--seconds", type=float, required=True)
    args = parser.parse_args(argv)
    url = normalise_database_url(args.database_url)
    engine = create_engine(url)
    lock = "" if url.startswith("sqlite") else " FOR UPDATE OF events SKIP LOCKED"
    session = requests.Session()  # keep-alive: kinder to the baseline than a new connection per event
    sent = 0
    started = time.monotonic()
    deadline = started + args.seconds
    while time.monotonic() < deadline and sent < MAX_EVENTS:
        with engine.begin() as conn:
            row = conn.execute(text(
                "SELECT events.id, events.payload, pinterest_settings.ad_account_id FROM events "
                "JOIN pinterest_settings ON pinterest_settings.shop_id = events.shop_id "
                "WHERE events.status = 'pending' ORDER BY events.id LIMIT 1" + lock)).first()
            if row is None:
                break
            payload = row.payload if isinstance(row.payload, dict) else json.loads(row.payload)
            response = session.post(f"{args.pinterest_url}/ad_accounts/{row.ad_account_id}/events",
                                    json={"data": [payload]}, headers={"Authorization": "Bearer naive-token"},
                                    timeout=10)
            if response.status_code == 200:
                conn.execute(text("UPDATE events SET status = 'delivered' WHERE id = :id"), {"id": row.id})
                sent += 1
    elapsed = time.monotonic() - started
    print(json.dumps({"sent": sent, "seconds": elapsed, "events_per_s": sent / elapsed}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
