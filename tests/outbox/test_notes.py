"""The beacons' join notes on claimed events (app/outbox/notes.py): one UPDATE a batch, this worker's events only."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from app import outbox
from app.database import writing
from app.models import Event, Shop, db, now_utc
from app.outbox import JoinNotes, note_joined, notes
from tests.event_rows import add_event

WORKER = "worker-a"


def _sending(shop: Shop, count: int, *, held_by: str = WORKER, status: str = "sending") -> list[int]:
    rows = [add_event(shop.id, status=status, claimed_by=held_by if status == "sending" else None,
                      match_keys=None) for _ in range(count)]
    row_ids = [int(row.id) for row in rows]
    db.session.commit()
    return row_ids


def _noted(row_ids: list[int]) -> list[tuple[Any, ...]]:
    db.session.rollback()
    found = {row.id: (row.tag_event_id, row.tag_matched, row.match_keys)
             for row in db.session.scalars(select(Event).where(Event.id.in_(row_ids)))}
    db.session.rollback()
    return [found[row_id] for row_id in row_ids]


def _notes_for(row_ids: list[int]) -> JoinNotes:
    out = JoinNotes()
    for n, row_id in enumerate(row_ids):
        out.add(row_id, f"tag-event-{n}", n % 2 == 0, "em ip_ua" if n % 2 == 0 else None)
    return out


def _expected(row_ids: list[int]) -> list[tuple[Any, ...]]:
    return [(f"tag-event-{n}", n % 2 == 0, "em ip_ua" if n % 2 == 0 else None) for n in range(len(row_ids))]


def test_join_notes_are_kept_column_by_column_and_filtered_by_event() -> None:
    kept = JoinNotes()
    assert not kept and len(kept) == 0
    kept.add(1, "tag-1", True, "em")
    kept.add(2, None, None, None)
    kept.add(3, "tag-3", False, "ip_ua")
    assert len(kept) == 3
    assert kept.only([1, 2, 3, 4]) is kept  # every event noted: no copy
    some = kept.only([3, 1])
    assert (some.row_ids, some.tag_event_ids, some.tag_matched, some.match_keys) == (
        [1, 3], ["tag-1", "tag-3"], [True, False], ["em", "ip_ua"])
    assert len(kept.only([9])) == 0


def test_a_batchs_notes_are_written_to_this_workers_events(configure_shop: Any) -> None:
    shop = configure_shop()
    mine = _sending(shop, 3)
    before = now_utc()
    with writing():
        note_joined(_notes_for(mine), WORKER)
    assert _noted(mine) == _expected(mine)
    updated = list(db.session.scalars(select(Event.updated_at).where(Event.id.in_(mine))))
    db.session.rollback()
    assert all(moment is not None and moment >= before.replace(microsecond=0) for moment in updated)


def test_notes_leave_events_another_worker_holds_or_no_longer_sending(configure_shop: Any) -> None:
    shop = configure_shop()
    theirs = _sending(shop, 1, held_by="worker-b")
    settled = _sending(shop, 1, status="delivered")
    waiting = _sending(shop, 1, status="pending")
    others = theirs + settled + waiting
    with writing():
        note_joined(_notes_for(others), WORKER)
    assert _noted(others) == [(None, None, None)] * 3


def test_no_notes_write_nothing(configure_shop: Any) -> None:
    configure_shop()
    with writing():
        assert note_joined(JoinNotes(), WORKER) == 0


@pytest.mark.parametrize("per_statement", [2, notes.NOTES_PER_STATEMENT])
def test_many_notes_are_all_written_whatever_the_statements_size(
    configure_shop: Any, monkeypatch: pytest.MonkeyPatch, per_statement: int
) -> None:
    """SQLite writes 1,000 notes a statement (4 parameters each); PostgreSQL one statement for any batch."""
    monkeypatch.setattr(notes, "NOTES_PER_STATEMENT", per_statement)
    shop = configure_shop()
    mine = _sending(shop, 5)
    with writing():
        note_joined(_notes_for(mine), WORKER)
    assert _noted(mine) == _expected(mine)


def test_a_database_without_update_from_notes_each_event(configure_shop: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite before 3.33 has no UPDATE ... FROM: one UPDATE per event, the same guard, the same result."""
    monkeypatch.setattr(notes, "_supports_update_from", lambda dialect: False)
    shop = configure_shop()
    mine = _sending(shop, 3)
    theirs = _sending(shop, 1, held_by="worker-b")
    with writing():
        assert note_joined(_notes_for(mine + theirs), WORKER) == 3
    assert _noted(mine) == _expected(mine)
    assert _noted(theirs) == [(None, None, None)]


def test_the_answer_is_how_many_events_were_noted(configure_shop: Any) -> None:
    shop = configure_shop()
    mine = _sending(shop, 3)
    theirs = _sending(shop, 1, held_by="worker-b")
    with writing():
        assert note_joined(_notes_for(mine + theirs), WORKER) == 3


def test_a_delivered_batch_with_notes_counts_every_event_delivered(configure_shop: Any) -> None:
    shop = configure_shop()
    noted, plain = _sending(shop, 3), _sending(shop, 2)
    theirs = _sending(shop, 1, held_by="worker-b")
    with writing():
        delivered = outbox.mark_delivered(noted + plain + theirs, WORKER, now_utc(), {},
                                          notes=_notes_for(noted + theirs))
    assert delivered == 5
    assert _noted(noted) == _expected(noted)
