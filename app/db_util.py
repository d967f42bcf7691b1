"""Small helpers over the session that both SQLite and PostgreSQL need."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from .models import db


def begin_write(session: Session | None = None) -> None:
    """Start the session's transaction holding SQLite's write lock from the first statement.

    SQLite has no `SELECT ... FOR UPDATE`; `BEGIN IMMEDIATE` gives a read-then-write transaction
    the same safety across processes. On PostgreSQL this is a plain transaction start.
    """
    session = session or db.session()
    if session.in_transaction():
        raise RuntimeError("begin_write() must open the transaction; commit or roll back first")
    session.connection(execution_options={"sqlite_immediate": True})


@contextmanager
def writing(session: Session | None = None) -> Iterator[None]:
    """One write transaction: take the write lock first, commit at the end, roll back on error."""
    session = session or db.session()
    if session.in_transaction():
        session.rollback()  # a read left open by the caller; its snapshot must not be written from
    begin_write(session)
    try:
        yield
        session.commit()
    except BaseException:
        session.rollback()
        raise
