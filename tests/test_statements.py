"""Batch statements (app/statements.py): one array parameter on PostgreSQL, rows stored as the ORM stores them,
and SQLite kept off the claim index."""

from __future__ import annotations

from typing import Any

import pytest


def test_among_is_one_array_parameter_on_postgresql_and_finds_the_same_rows(app: Any, configure_shop: Any) -> None:
    """A batch's id list: `IN (…)` on SQLite; on PostgreSQL `= ANY(array)`, the same text for any count."""
    from sqlalchemy import select as select_rows

    from app.models import Event, db
    from app.statements import among
    from tests.event_rows import add_event

    shop = configure_shop()
    rows = [add_event(shop.id, event_id=f"among-{n}") for n in range(5)]
    db.session.commit()
    ids = [row.id for row in rows]

    def found(values: list[Any], column: Any = Event.id) -> list[int]:
        return sorted(db.session.scalars(select_rows(Event.id).where(among(column, values))))

    assert found(ids[1:4]) == ids[1:4]
    assert found([ids[0], 10 ** 6]) == [ids[0]]
    assert found([]) == []
    assert found(["among-0", "among-4", "among-9"], Event.event_id) == [ids[0], ids[4]]
    texts = {str(select_rows(Event.id).where(among(Event.id, ids[:n])).compile(db.engine)) for n in (1, 3, 5)}
    if db.engine.dialect.name == "postgresql":
        assert len(texts) == 1 and "ANY" in texts.pop()
    else:  # expanded into one placeholder per value when it runs
        assert len(texts) == 1 and "IN (__[POSTCOMPILE" in texts.pop()
    db.session.rollback()


def test_a_built_statement_is_made_once_and_takes_its_list_at_execution(app: Any, configure_shop: Any) -> None:
    """`built` keeps the statement its builder made for the database; `among_param` finds the same rows as
    `among`, with the list given at execution (an array on PostgreSQL, expanded on SQLite)."""
    from sqlalchemy import select as select_rows

    from app.models import Event, db
    from app.statements import among_param, built
    from tests.event_rows import add_event

    shop = configure_shop()
    ids = [add_event(shop.id, event_id=f"built-{n}").id for n in range(4)]
    db.session.commit()
    made: list[str] = []

    def by_ids(dialect: Any) -> Any:
        made.append(dialect.name)
        return select_rows(Event.id).where(among_param(Event.id, "ids", dialect)).order_by(Event.id)

    conn = db.session.connection()
    assert conn.execute(built(by_ids), {"ids": ids[1:3]}).scalars().all() == ids[1:3]
    assert conn.execute(built(by_ids), {"ids": [ids[0], 10 ** 6]}).scalars().all() == [ids[0]]
    assert conn.execute(built(by_ids), {"ids": []}).scalars().all() == []
    assert built(by_ids) is built(by_ids)
    assert made == [db.engine.dialect.name]
    db.session.rollback()


def test_insert_batch_stores_a_row_as_the_orm_insert_would(app: Any, configure_shop: Any) -> None:
    """The batch INSERT (arrays on PostgreSQL, a VALUES list on SQLite): defaults, JSON `null`, enums, cut
    text and times as the ORM's."""
    from sqlalchemy import insert, select, text

    from app.models import Event, EventSource, EventStatus, db, now_utc
    from app.statements import insert_batch

    shop = configure_shop()
    now = now_utc()
    whole_second = now.replace(microsecond=0)  # SQLite's text of a time: "….000000", as the ORM writes it
    base = {"shop_id": shop.id, "source": EventSource.ORDER, "order_id": "5912345678900001", "payload": None,
            "status": EventStatus.SKIPPED, "skip_reason": "Not sent.", "available_at": now, "occurred_at": whole_second,
            "checkout_token": "t" * 80, "test": True, "match_keys": None}
    db.session.execute(insert(Event).values(**base, event_id="by-orm"))
    rows = [{**base, "event_id": "by-arrays"},
            {**base, "event_id": "by-arrays-2", "payload": {"event_name": "checkout"}, "status": EventStatus.PENDING}]
    stored = insert_batch(Event.__table__, rows, conflict=("shop_id", "event_id"), returning=("id", "event_id"))
    again = insert_batch(Event.__table__, rows[:1], conflict=("shop_id", "event_id"), returning=("id",))
    assert [row.event_id for row in stored] == ["by-arrays", "by-arrays-2"] and again == []
    columns = [c.name for c in Event.__table__.columns if c.name not in ("id", "event_id", "received_at", "updated_at")]
    table = Event.__table__
    read = {row.event_id: row for row in db.session.execute(select(Event.event_id, *[table.c[c] for c in columns]))}
    assert [getattr(read["by-arrays"], c) for c in columns] == [getattr(read["by-orm"], c) for c in columns]
    raw = {row.event_id: row for row in db.session.execute(text(f"SELECT event_id, {', '.join(columns)} FROM events"))}
    assert [getattr(raw["by-arrays"], c) for c in columns] == [getattr(raw["by-orm"], c) for c in columns]
    assert read["by-arrays-2"].payload == {"event_name": "checkout"}
    nulls = dict(db.session.execute(text("SELECT event_id, payload IS NULL FROM events")).all())
    assert nulls == {"by-orm": False, "by-arrays": False, "by-arrays-2": False}  # JSON null, as the ORM stores None
    times = db.session.execute(text("SELECT count(*) FROM events WHERE received_at IS NULL OR updated_at IS NULL"))
    assert times.scalar_one() == 0
    db.session.rollback()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # PostgreSQL: one array a column, any rows
def test_insert_batch_on_sqlite_splits_a_batch_at_the_parameter_limit(app: Any, configure_shop: Any,
                                                                      monkeypatch: Any) -> None:
    """More rows than one statement may name go in several statements; every row stored, each returned once."""
    from sqlalchemy import event, func, select

    from app import statements
    from app.models import Event, EventSource, EventStatus, db, now_utc

    shop = configure_shop()
    now = now_utc()
    rows = [{"shop_id": shop.id, "event_id": f"split-{n}", "source": EventSource.ORDER, "payload": {"n": n},
             "status": EventStatus.PENDING, "available_at": now} for n in range(25)]
    limit = 40  # a few rows a statement: ten columns, six given and the rest the table's defaults
    monkeypatch.setattr(statements, "SQLITE_MAX_PARAMETERS", limit)
    inserts: list[int] = []

    def count(_conn: Any, _cursor: Any, sql: str, parameters: Any, *_: Any) -> None:
        if sql.startswith("INSERT INTO events"):
            inserts.append(len(parameters))

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        stored = statements.insert_batch(Event.__table__, rows + rows[:2], conflict=("shop_id", "event_id"),
                                         returning=("id", "event_id"))
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    columns = sum(inserts) // 27  # 27 rows (two of them repeats) in several statements, each under the limit
    assert len(inserts) == -(-27 // (limit // columns)) > 1 and max(inserts) <= limit
    assert all(size % columns == 0 for size in inserts)
    assert sorted(row.event_id for row in stored) == sorted(f"split-{n}" for n in range(25))
    assert db.session.scalar(select(func.count()).select_from(Event)) == 25
    assert db.session.scalar(select(Event.payload).where(Event.event_id == "split-24")) == {"n": 24}
    db.session.rollback()
