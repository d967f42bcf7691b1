"""The database layer: engine listeners, the transaction boundaries (`writing()`, `reading()`), the driver connection.

Every transaction of the app begins and ends here: `with writing():` commits, `with reading():` ends a
read, `discard()` abandons failed work, and the request path's driver connection commits its own writes.

SQLite needs its pragmas on every connection and one writer at a time per process (see `_SQLITE_WRITER`);
both are registered on the app's own engine in `init_app`, never on SQLAlchemy's global classes, so a
PostgreSQL engine runs none of it.
"""

from __future__ import annotations

import logging
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, cast

from flask import Flask
from sqlalchemy import CursorResult, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.models import db


def rowcount(result: Any) -> int:
    """Rows an UPDATE or DELETE touched (0 when the status guard in its WHERE did not match)."""
    return int(cast(CursorResult[Any], result).rowcount or 0)


def init_app(app: Flask) -> None:
    """Register the listeners on the app's engine (Flask-SQLAlchemy creates it in `db.init_app`)."""
    with app.app_context():
        install(db.engine)


def install(engine: Engine) -> None:
    """SQLite: WAL pragmas on connect, BEGIN IMMEDIATE under the process's writer lock, and its release.
    PostgreSQL: lists sent in binary."""
    if engine.dialect.name == "postgresql" and not event.contains(engine, "connect", _binary_lists):
        event.listen(engine, "connect", _binary_lists)
    if engine.dialect.name != "sqlite" or event.contains(engine, "connect", _sqlite_pragmas):
        return
    event.listen(engine, "connect", _sqlite_pragmas)
    event.listen(engine, "begin", _sqlite_begin)
    event.listen(engine, "commit", _release_sqlite_writer)
    event.listen(engine, "rollback", _release_sqlite_writer)
    event.listen(engine, "checkin", _release_on_return)  # pool events, kept across engine.dispose()
    event.listen(engine, "invalidate", _release_on_return)


def _binary_lists(dbapi_connection: Any, _record: Any) -> None:
    """A Python list goes to PostgreSQL as a binary array: a batch's ids (`statements.among`) and the join notes'
    columns. psycopg's default for a list is its text form, built element by element in Python: a tenth
    of the worker's time in a joined drain."""
    from psycopg.types.array import ListBinaryDumper

    dbapi_connection.adapters.register_dumper(list, ListBinaryDumper)


def begin_write(session: Session | None = None) -> None:
    """Start the session's transaction holding SQLite's write lock from the first statement.

    SQLite has no `SELECT ... FOR UPDATE`; `BEGIN IMMEDIATE` gives a read-then-write transaction
    the same safety across processes. On PostgreSQL this is a plain transaction start.
    """
    session = session or db.session()
    if session.in_transaction():
        raise RuntimeError("begin_write() must open the transaction; commit or roll back first")
    session.connection(execution_options={"sqlite_immediate": True})


_BLOCK = "pinbridge_transaction_block"  # session.info key: the `with` block that owns the open transaction


class TransactionLeftOpen(RuntimeError):
    """A write was asked for inside another block, or while writes no block owns were still uncommitted."""


_WROTE = "pinbridge_unowned_writes"  # session.info key: the open transaction has written something


@event.listens_for(Session, "after_flush")
def _note_flush(session: Session, _flush_context: Any) -> None:
    session.info[_WROTE] = True


@event.listens_for(Session, "do_orm_execute")
def _note_dml(state: Any) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info[_WROTE] = True


@event.listens_for(Session, "after_transaction_end")
def _forget_writes(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(_WROTE, None)


@contextmanager
def writing(session: Session | None = None) -> Iterator[None]:
    """One write transaction: take the write lock first, commit at the end, roll back on error.

    A read the caller left open is ended first (its objects load again inside the write, so nothing is
    written from an old snapshot). Writes the caller left uncommitted are never thrown away in silence:
    they, or a `writing()` inside another block, raise TransactionLeftOpen.
    """
    session = session or db.session()
    if session.info.get(_BLOCK):
        raise TransactionLeftOpen(f"writing() inside {session.info[_BLOCK]}(): one block per transaction")
    if session.in_transaction():
        if session.info.get(_WROTE) or session.new or session.dirty or session.deleted:
            raise TransactionLeftOpen("writing() with uncommitted writes still open: write inside `with writing():`")
        session.rollback()  # a read left open: end it, so the write starts from what is committed now
    begin_write(session)
    session.info[_BLOCK] = "writing"
    try:
        yield
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.info.pop(_BLOCK, None)


@contextmanager
def reading(session: Session | None = None) -> Iterator[None]:
    """One read: whatever was read ends with the block, so no transaction (or SQLite snapshot) stays open.

    Inside `writing()` or another `reading()` it is part of that block's transaction. Objects loaded in
    it expire at its end: keep plain values, or read them again in the next block.
    """
    session = session or db.session()
    if session.info.get(_BLOCK):
        yield
        return
    session.info[_BLOCK] = "reading"
    try:
        yield
    finally:
        session.info.pop(_BLOCK, None)
        session.rollback()


def discard(session: Session | None = None) -> None:
    """Abandon whatever failed work left in the session (an error handler's or a worker loop's last word)."""
    session = session or db.session()
    session.info.pop(_BLOCK, None)
    session.rollback()


class DriverConnection:
    """One driver connection of the engine's, kept out of its pool for the hottest write (the webhook receipt).

    A statement too hot for the ORM or Core goes to the driver on a connection of its own: no pool
    checkout and return, no reset, no switching of modes around it. PostgreSQL: in autocommit, so one
    statement is one round trip and one commit. SQLite: BEGIN IMMEDIATE under the process's writer
    lock, waiting for other processes the way every other writer does. One writer at a time uses it (the
    receipts' group commit has one leader per process). A connection the server dropped is closed with
    the pooled ones of its time: that write fails (503, Shopify delivers again) and the next opens a fresh
    one. `engine.dispose()` closes it.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._proxy: Any = None
        self._driver: Any = None
        event.listen(engine, "engine_disposed", lambda _engine: self.close())

    @contextmanager
    def write(self) -> Iterator[Any]:
        """A cursor whose statements are committed at the end (rolled back on error)."""
        errors = self.engine.dialect.loaded_dbapi.Error
        try:
            dbapi = self._connection()
        except errors as exc:  # the server refused or is down: 503, as elsewhere
            raise _driver_error(self.engine, exc, disconnected=False) from exc
        try:
            if self.engine.dialect.name == "sqlite":
                with _sqlite_write_lock(dbapi):
                    cursor = dbapi.cursor()
                    try:
                        yield cursor
                        dbapi.execute("COMMIT")
                    except BaseException:
                        dbapi.execute("ROLLBACK")
                        raise
                    finally:
                        cursor.close()
                return
            with dbapi.cursor() as cursor:
                yield cursor
        except errors as exc:
            disconnected = bool(self.engine.dialect.is_disconnect(cast(Any, exc), dbapi, None))
            if disconnected:  # the server dropped it, and likely the pooled ones too (a restart, a failover)
                self.engine.pool._invalidate(self._forget(), exc)  # SQLAlchemy's pool-wide invalidation; closes it
            raise _driver_error(self.engine, exc, disconnected=disconnected) from exc

    def _connection(self) -> Any:
        if self._proxy is None:
            proxy = self.engine.raw_connection()  # made by the engine: its connect arguments and listeners
            driver: Any = proxy.driver_connection
            proxy.detach()
            if self.engine.dialect.name == "postgresql":
                driver.autocommit = True
            self._proxy, self._driver = proxy, driver
        return self._driver

    def _forget(self) -> Any:
        """The connection held so far, no longer held: the next write opens a fresh one."""
        proxy, self._proxy, self._driver = self._proxy, None, None
        return proxy

    def close(self) -> None:
        proxy = self._forget()
        if proxy is not None:
            try:
                proxy.close()
            except Exception:  # already broken: nothing left to release
                logging.getLogger(__name__).debug("dropped a broken driver connection", exc_info=True)


def _driver_error(engine: Engine, exc: Exception, *, disconnected: bool) -> Exception:
    """A driver error as SQLAlchemy reports it (OperationalError for a lost server: the webhook answers 503)."""
    from sqlalchemy.exc import DBAPIError

    dialect = engine.dialect
    return DBAPIError.instance(None, None, exc, dialect.loaded_dbapi.Error, hide_parameters=True,
                               connection_invalidated=disconnected, dialect=dialect)


@contextmanager
def _sqlite_write_lock(dbapi: Any) -> Iterator[None]:
    """BEGIN IMMEDIATE on a raw SQLite connection under the process's writer lock, released at the end."""
    with _SQLITE_WRITER:
        _begin_immediate(dbapi, dbapi.execute)
        yield


def _begin_immediate(raw: Any, execute: Callable[[str], Any]) -> None:
    """BEGIN IMMEDIATE; under gevent, waiting for another process's lock without freezing the process.

    `execute` runs the statement whose error is reported (SQLAlchemy's, on its own connections).
    """
    if not cooperative():
        execute("BEGIN IMMEDIATE")
        return
    try:
        if not _wait_for_write_lock(raw):
            execute("BEGIN IMMEDIATE")  # fails at once, reported the usual way
    finally:
        raw.execute(f"PRAGMA busy_timeout={int(SQLITE_LOCK_WAIT * 1000)}")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets web and worker processes share one SQLite file; autocommit-off is driven by SQLAlchemy."""
    module = type(dbapi_connection).__module__
    if not module.startswith("sqlite3"):
        return
    dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (see _sqlite_begin)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    cursor.close()


# One SQLite writer at a time per process. Threads that queue on this lock wake the moment it is free;
# left to SQLite, they would poll in its busy handler with sleeps of up to 100 ms, which under concurrent
# webhooks made the slowest acknowledgements wait more than a second. Other processes still meet SQLite's
# own lock (and its busy timeout).
_SQLITE_WRITER = threading.Lock()


def _sqlite_begin(conn: Any) -> None:
    """Open SQLite transactions explicitly; IMMEDIATE when the session asked for a write lock."""
    if conn.dialect.name != "sqlite":
        return
    immediate = conn.get_execution_options().get("sqlite_immediate", False)
    if not immediate:
        conn.exec_driver_sql("BEGIN")
        return
    _SQLITE_WRITER.acquire()
    conn.info["holds_sqlite_writer"] = True
    try:
        _begin_immediate(conn.connection.dbapi_connection, conn.exec_driver_sql)
    except BaseException:
        _release_sqlite_writer(conn)
        raise


SQLITE_LOCK_WAIT = 30.0  # seconds a writer waits for another process's write lock (SQLite's busy timeout)
# Page cache a connection keeps, in KiB (SQLite's default is 2,000). The worker holds a connection for
# each sender thread, and in WAL mode a connection's cache is dropped whenever another connection writes,
# so a larger one holds memory more than it saves reads: at 1 MiB the worker's peak during a drain is
# 134 MB instead of 140-146, at the same speed.
SQLITE_CACHE_KIB = 1024


def cooperative() -> bool:
    """True in a gevent web worker, where a blocking C call would stop every connection of the process."""
    gevent_monkey = sys.modules.get("gevent.monkey")
    return bool(gevent_monkey and gevent_monkey.is_module_patched("threading"))


def _wait_for_write_lock(raw: Any) -> bool:
    """BEGIN IMMEDIATE, waiting for another process's write lock with sleeps other greenlets can use.

    SQLite's own busy handler sleeps inside C, which under gevent freezes the whole web process (and
    its /healthz) for as long as the worker holds the lock. False when the wait ran out (or failed
    otherwise): the caller's own BEGIN IMMEDIATE then raises the error the usual way.
    """
    deadline = time.monotonic() + SQLITE_LOCK_WAIT
    delay = 0.001
    raw.execute("PRAGMA busy_timeout=0")  # the caller restores it
    while True:
        try:
            raw.execute("BEGIN IMMEDIATE")
            return True
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                return False
        time.sleep(delay)  # patched by gevent: other greenlets run meanwhile
        delay = min(delay * 2, 0.02)


def _release_sqlite_writer(conn: Any) -> None:
    # Only SQLite connections take the lock. An invalidated connection (killed by the server) has no
    # info to read: touching it raises, and the pool's invalidate hook below lets go instead.
    if conn.dialect.name != "sqlite" or conn.invalidated:
        return
    if conn.info.pop("holds_sqlite_writer", False):
        _SQLITE_WRITER.release()


def _release_on_return(_dbapi_connection: Any, record: Any, *_: Any) -> None:
    """A connection that goes back to the pool (or dies) without COMMIT/ROLLBACK still lets go."""
    if record is not None and record.info.pop("holds_sqlite_writer", False):
        _SQLITE_WRITER.release()
