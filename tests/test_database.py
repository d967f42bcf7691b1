"""SQLite writers in one process queue on a lock instead of polling SQLite's busy handler."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from app import database as app_module
from app.database import begin_write, install


def engine_for(tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = create_engine(f"sqlite:///{tmp_path / 'w.db'}", connect_args={"timeout": 30})
    install(engine)  # what the app factory does for the app's engine
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
    return engine


class WatchedLock:
    """The process's writer lock, telling when a thread had to wait for it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.waiting = threading.Event()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if self._lock.acquire(blocking=False):
            return True
        self.waiting.set()
        return self._lock.acquire(blocking, timeout)

    def release(self) -> None:
        self._lock.release()

    def locked(self) -> bool:
        return self._lock.locked()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *_: object) -> None:
        self.release()


def test_second_writer_waits_for_the_first_and_then_proceeds(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    lock = WatchedLock()
    monkeypatch.setattr(app_module, "_SQLITE_WRITER", lock)
    engine = engine_for(tmp_path)
    order: list[str] = []
    first = Session(engine)
    begin_write(first)
    first.execute(text("INSERT INTO t VALUES (1)"))

    def second_writer() -> None:
        with Session(engine) as second:
            begin_write(second)
            order.append("second wrote")
            second.execute(text("INSERT INTO t VALUES (2)"))
            second.commit()

    thread = threading.Thread(target=second_writer)
    thread.start()
    assert lock.waiting.wait(10)  # the second writer queues on the process's lock, not in SQLite's busy handler
    order.append("first committed")
    first.commit()
    thread.join(timeout=10)
    assert order == ["first committed", "second wrote"]
    assert not lock.locked()
    first.close()
    engine.dispose()


def test_lock_is_released_when_a_write_is_abandoned(tmp_path: Path) -> None:
    engine = engine_for(tmp_path)
    session = Session(engine)
    begin_write(session)
    assert app_module._SQLITE_WRITER.locked()
    session.close()  # neither commit nor rollback by the caller
    assert not app_module._SQLITE_WRITER.locked()
    again = Session(engine)
    begin_write(again)
    again.rollback()
    again.close()
    assert not app_module._SQLITE_WRITER.locked()
    engine.dispose()


def test_reads_never_take_the_lock(tmp_path: Path) -> None:
    engine = engine_for(tmp_path)
    with Session(engine) as session:
        session.execute(text("SELECT count(*) FROM t")).scalar_one()
        assert not app_module._SQLITE_WRITER.locked()
    engine.dispose()


def test_every_sqlite_connection_gets_the_apps_pragmas(tmp_path: Path) -> None:
    """WAL shared by processes, NORMAL sync, foreign keys, a 30 s wait for the lock and a 1 MiB page cache."""
    engine = engine_for(tmp_path)
    with engine.connect() as conn:
        got = {name: conn.execute(text(f"PRAGMA {name}")).scalar_one()
               for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout", "cache_size")}
    engine.dispose()
    assert got == {"journal_mode": "wal", "synchronous": 1, "foreign_keys": 1, "busy_timeout": 30000,
                   "cache_size": -1024}


def test_json_columns_keep_what_orjson_cannot_write(app: Any, configure_shop: Any) -> None:
    """Stored events go through orjson; an integer past 64 bits falls back to the standard library."""
    from sqlalchemy import select as select_rows

    from app.models import Event, db
    from tests.event_rows import add_event

    shop = configure_shop()
    payloads = [{"event_name": "checkout", "custom_data": {"value": "12.50", "currency": "EUR"}, "name": "Zoë ✓"},
                {"event_name": "checkout", "big": 2 ** 70}]
    ids = [add_event(shop.id, payload=payload).id for payload in payloads]
    db.session.commit()
    db.session.expunge_all()
    stored = {row.id: row.payload for row in db.session.scalars(select_rows(Event).where(Event.id.in_(ids)))}
    db.session.rollback()
    assert [stored[i] for i in ids] == payloads


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_postgresql_connections_send_lists_in_binary(app: Any) -> None:
    """A batch's ids and the join notes' columns go as binary arrays (psycopg's text form is built element by
    element in Python: 6 ms of client CPU for four columns of 1,000 rows, 1.3 ms in binary), and read back
    the same whatever their integers' size."""
    from psycopg.adapt import PyFormat
    from psycopg.types.array import ListBinaryDumper
    from sqlalchemy import text

    from app.models import db

    dbapi = db.session.connection().connection.dbapi_connection
    assert dbapi is not None and dbapi.adapters.get_dumper(list, PyFormat.AUTO) is ListBinaryDumper
    values = [1, 70_000, 2**40, None]
    assert db.session.execute(text("SELECT CAST(:v AS bigint[])"), {"v": values}).scalar_one() == values
    assert db.session.execute(text("SELECT CAST(:v AS text[])"), {"v": ["é", None]}).scalar_one() == ["é", None]
    db.session.rollback()


@pytest.mark.parametrize("serves_requests", [True, False])
def test_a_web_process_pools_ten_connections_and_the_worker_one_for_each_of_its_threads(
        database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, serves_requests: bool) -> None:
    """The worker's senders, claim loop, inbox and periodic threads each find a pooled connection open;
    a web process keeps its ten (gunicorn marks it with SERVES_REQUESTS_ONLY)."""
    from app import SERVES_REQUESTS_ONLY, WORKER_POOL, create_app
    from app.delivery.worker import SENDERS
    from app.models import db
    from tests.conftest import _test_config

    if serves_requests:
        monkeypatch.setenv(SERVES_REQUESTS_ONLY, "1")
    else:
        monkeypatch.delenv(SERVES_REQUESTS_ONLY, raising=False)
    flask_app = create_app(_test_config(database_url, tmp_path, "http://127.0.0.1:9/v5"))
    with flask_app.app_context():
        pool = db.engine.pool
        kept = pool.size()  # type: ignore[attr-defined]
        db.engine.dispose()
    assert kept == (5 if serves_requests else WORKER_POOL)
    assert WORKER_POOL >= SENDERS + 3
