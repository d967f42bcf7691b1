"""The database's clock: every stored deadline and age is measured by it, never by a worker's own clock.

Workers and web processes may run on hosts whose clocks disagree. A lease written by one worker and read
by another, an expiry cut-off, a backoff, a retention cut-off and a heartbeat are therefore all written
and compared in one time: the database's. On PostgreSQL that is the server's `clock_timestamp()`. SQLite
has no server: its file lives on one host, every process that opens it runs there, and SQLite's `now` is
that host's clock, read by SQLite itself.

The worker asks once per use (a claim, a batch's outcome, a periodic job); the round trip costs far
less than the Pinterest request it surrounds.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, func, select, text

from app.models import WorkerHeartbeat, db

# A heartbeat newer than the database's "now" by more than this was stamped by a clock that was wrong
# (a worker from before heartbeats used the database's clock, or a row written by hand): it proves
# nothing about a worker running now.
HEARTBEAT_FUTURE_TOLERANCE = timedelta(seconds=5)

_SQLITE_NOW = text("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')")
_POSTGRESQL_NOW = select(func.clock_timestamp())


def database_now() -> datetime:
    """The database's current time, timezone-aware UTC.

    Asks inside the session's transaction when one is open; otherwise on a connection of its own, so the
    session stays without a transaction (a caller may begin a write with BEGIN IMMEDIATE right after).
    """
    session = db.session()
    if session.in_transaction():
        return _read(session.connection())
    with db.engine.connect() as connection:
        return _read(connection)


def _read(connection: Connection) -> datetime:
    if connection.dialect.name == "sqlite":
        value = datetime.fromisoformat(connection.execute(_SQLITE_NOW).scalar_one())
    else:
        value = connection.execute(_POSTGRESQL_NOW).scalar_one()
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def heartbeat_age(now: datetime | None = None) -> float | None:
    """Seconds since the newest believable worker heartbeat by the database's clock; None without one.

    Heartbeats stamped in the future are left out: one written by a clock hours ahead would otherwise
    make a worker look alive for hours after it stopped.
    """
    now = now or database_now()
    newest = db.session.scalar(
        select(func.max(WorkerHeartbeat.last_seen_at))
        .where(WorkerHeartbeat.last_seen_at <= now + HEARTBEAT_FUTURE_TOLERANCE)
    )
    return None if newest is None else max(0.0, (now - newest).total_seconds())
