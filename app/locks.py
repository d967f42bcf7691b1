"""Named leases in the `locks` table: one holder at a time across every worker, on SQLite and PostgreSQL.

A lease is taken with one guarded UPDATE (free, expired, or already ours) and, when the row does not exist
yet, an INSERT that the primary key lets only one worker win. A holder that dies simply lets the lease run
out; nobody has to clean up after it. Every `now` given here is the database's time (app/clock.py), so holders
on hosts whose clocks disagree still agree on when a lease runs out.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError

from app.database import rowcount, writing
from app.models import Lock, db

logger = logging.getLogger(__name__)


def acquire(name: str, holder: str, now: datetime, ttl_seconds: float) -> bool:
    """Take (or extend) the lease `name` for `holder` until now + ttl; False while someone else holds it."""
    expires = now + timedelta(seconds=ttl_seconds)
    try:
        with writing():
            taken = rowcount(db.session.execute(
                update(Lock)
                .where(Lock.name == name,
                       or_(Lock.holder == holder, Lock.holder.is_(None), Lock.expires_at.is_(None),
                           Lock.expires_at < now))
                .values(holder=holder, expires_at=expires)
                .execution_options(synchronize_session=False)
            ))
            if not taken:
                db.session.add(Lock(name=name, holder=holder, expires_at=expires))
    except IntegrityError:
        return False  # another worker inserted the row first: theirs
    return True


def renew(name: str, holder: str, now: datetime, ttl_seconds: float) -> bool:
    """Extend a lease we still hold; False if it ran out and someone else took it."""
    with writing():
        count = rowcount(db.session.execute(
            update(Lock)
            .where(Lock.name == name, Lock.holder == holder)
            .values(expires_at=now + timedelta(seconds=ttl_seconds))
            .execution_options(synchronize_session=False)
        ))
    return bool(count)


def release(name: str, holder: str) -> None:
    """Give the lease back early (only if we still hold it)."""
    with writing():
        db.session.execute(
            update(Lock)
            .where(Lock.name == name, Lock.holder == holder)
            .values(holder=None, expires_at=None)
            .execution_options(synchronize_session=False)
        )
