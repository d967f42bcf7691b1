"""Run Pinbridge's command line in a process whose wall clock is off by PINBRIDGE_CLOCK_SKEW_SECONDS.

    PINBRIDGE_CLOCK_SKEW_SECONDS=30 python -m tests.skewed_clock worker --once

The app reads the wall clock through `app.models.now_utc`, its one source of timestamps. It is replaced
here before any module that uses it is imported (so names bound with `from .models import now_utc`, and
defaults such as a `clock=now_utc` parameter, see the skewed clock too), and `time.time` with it. The
database is not touched: PostgreSQL keeps the server's time, and SQLite reads the host's clock in C.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime, timedelta

SKEW = float(os.environ["PINBRIDGE_CLOCK_SKEW_SECONDS"])


def main() -> None:
    import app.models as models  # runs app/__init__.py, which imports no module that reads the clock

    assert not {"app.delivery", "app.outbox", "app.ops.health", "app.ops.retention"} & set(sys.modules)
    real_now, real_time = models.now_utc, time.time

    def skewed_now() -> datetime:
        return real_now() + timedelta(seconds=SKEW)

    models.now_utc = skewed_now
    time.time = lambda: real_time() + SKEW  # type: ignore[assignment]

    from flask.cli import main as flask_main

    sys.argv = ["flask", "--app", "app", *sys.argv[1:]]
    flask_main()


if __name__ == "__main__":
    main()
