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


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite keeps the VALUES list
def test_insert_arrays_stores_a_row_as_the_orm_insert_would(app: Any, configure_shop: Any) -> None:
    """PostgreSQL's batch INSERT over arrays: defaults, JSON `null`, enums, cut text and times as the ORM's."""
    from sqlalchemy import insert, select, text

    from app.models import Event, EventSource, EventStatus, db, now_utc
    from app.statements import insert_arrays

    shop = configure_shop()
    now = now_utc()
    base = {"shop_id": shop.id, "source": EventSource.ORDER, "order_id": "5912345678900001", "payload": None,
            "status": EventStatus.SKIPPED, "skip_reason": "Not sent.", "available_at": now, "occurred_at": None,
            "checkout_token": "t" * 80, "test": True, "match_keys": None}
    db.session.execute(insert(Event).values(**base, event_id="by-orm"))
    rows = [{**base, "event_id": "by-arrays"},
            {**base, "event_id": "by-arrays-2", "payload": {"event_name": "checkout"}, "status": EventStatus.PENDING}]
    stored = insert_arrays(Event.__table__, rows, conflict=("shop_id", "event_id"), returning=("id", "event_id"))
    again = insert_arrays(Event.__table__, rows[:1], conflict=("shop_id", "event_id"), returning=("id",))
    assert [row.event_id for row in stored] == ["by-arrays", "by-arrays-2"] and again == []
    columns = [c.name for c in Event.__table__.columns if c.name not in ("id", "event_id", "received_at", "updated_at")]
    table = Event.__table__
    read = {row.event_id: row for row in db.session.execute(select(Event.event_id, *[table.c[c] for c in columns]))}
    assert [getattr(read["by-arrays"], c) for c in columns] == [getattr(read["by-orm"], c) for c in columns]
    assert read["by-arrays-2"].payload == {"event_name": "checkout"}
    nulls = dict(db.session.execute(text("SELECT event_id, payload IS NULL FROM events")).all())
    assert nulls == {"by-orm": False, "by-arrays": False, "by-arrays-2": False}  # JSON null, as the ORM stores None
    times = db.session.execute(text("SELECT count(*) FROM events WHERE received_at IS NULL OR updated_at IS NULL"))
    assert times.scalar_one() == 0
    db.session.rollback()
