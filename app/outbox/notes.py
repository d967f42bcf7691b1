"""The beacons' join notes on claimed events (the Tag's event id, whether it was ours, the match keys).

Owns the only dialect SQL of the outbox: the notes of a whole batch are written by one UPDATE joined to
a list of values (PostgreSQL `unnest` over arrays, SQLite a VALUES list), not one UPDATE per event.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, update

from app.database import rowcount
from app.models import Event, EventStatus, db, now_utc
from app.statements import processor

SENDING = EventStatus.SENDING.value


@dataclass
class JoinNotes:
    """What beacons told about a batch's claimed events: the Tag's event id, whether it was ours, the match keys.

    Kept column by column, four lists, so noting 1,000 events makes no object per event.
    """

    row_ids: list[int] = field(default_factory=list)
    tag_event_ids: list[str | None] = field(default_factory=list)
    tag_matched: list[bool | None] = field(default_factory=list)
    match_keys: list[str | None] = field(default_factory=list)

    def add(self, row_id: int, tag_event_id: str | None, tag_matched: bool | None, match_keys: str | None) -> None:
        self.row_ids.append(row_id)
        self.tag_event_ids.append(tag_event_id)
        self.tag_matched.append(tag_matched)
        self.match_keys.append(match_keys)

    def __len__(self) -> int:
        return len(self.row_ids)

    def only(self, row_ids: Collection[int]) -> JoinNotes:
        """The notes about these events."""
        keep = set(row_ids)
        if keep.issuperset(self.row_ids):
            return self
        out = JoinNotes()
        for i, row_id in enumerate(self.row_ids):
            if row_id in keep:
                out.add(row_id, self.tag_event_ids[i], self.tag_matched[i], self.match_keys[i])
        return out


NOTES_PER_STATEMENT = 1000  # SQLite: 4 parameters a note, far below its limit of 32,766 a statement
_NOTE_SET = ("UPDATE events SET tag_event_id = v.tag_event_id, tag_matched = v.tag_matched, "
             "match_keys = v.match_keys, ")
_NOTE_WHERE = " WHERE events.id = v.row_id AND events.status = {p} AND events.claimed_by = {p}"
# PostgreSQL: the notes as four arrays, so the statement and its plan are the same for any batch.
_PG_NOTES = (" FROM unnest(%s::integer[], %s::text[], %s::boolean[], %s::text[]) "
             "AS v (row_id, tag_event_id, tag_matched, match_keys)")


def _sqlite_notes(rows: int) -> str:
    """SQLite: the notes as a VALUES list, named by a CTE (SQLite takes no column names after `AS v`)."""
    values = ", ".join(["(?, ?, ?, ?)"] * rows)
    return f"WITH v (row_id, tag_event_id, tag_matched, match_keys) AS (VALUES {values}) "


def stamp(dialect: Any, when: datetime) -> Any:
    """`when` as a timestamp column takes it on this database (what update() would bind)."""
    process = processor(Event.__table__.c.updated_at, dialect)
    return process(when) if process else when


def _supports_update_from(dialect: Any) -> bool:
    return dialect.name == "postgresql" or (dialect.name == "sqlite" and sqlite3.sqlite_version_info >= (3, 33))


def note_joined(notes: JoinNotes, worker_id: str) -> int:
    """Record what beacons told about claimed events in one UPDATE (not one per event); in the caller's transaction.

    For events that stay claimed or go back to the queue; a delivered batch's notes go with
    `mark_delivered` instead, in its own UPDATE.
    """
    if not notes:
        return 0
    conn = db.session.connection()
    if not _supports_update_from(conn.dialect):
        return _note_each(notes, worker_id)
    return update_from_notes(notes, worker_id, "updated_at = {p}", (stamp(conn.dialect, now_utc()),))


def update_from_notes(notes: JoinNotes, worker_id: str, assignments: str, values: tuple[Any, ...]) -> int:
    """UPDATE the noted events (the Tag's id, whether it was ours, match keys) and set `assignments` too.

    The events are updated from a list joined by id: PostgreSQL reads it from four arrays (`unnest`), one
    statement whatever the batch's size; SQLite from a VALUES list, one statement per 1,000 notes. The
    same guard as every status change: only this worker's events still sending are touched. `assignments`
    uses `{p}` for each of `values`.
    """
    conn = db.session.connection()
    if not _supports_update_from(conn.dialect):  # no UPDATE ... FROM: note, then set the rest by id
        changed = _note_each(notes, worker_id)
        conn.exec_driver_sql(
            f"UPDATE events SET {assignments.format(p='?')} WHERE id IN ({', '.join('?' * len(notes))}) "
            "AND status = ? AND claimed_by = ?", (*values, *notes.row_ids, SENDING, worker_id))
        return changed
    if conn.dialect.name == "postgresql":  # parameters in the order they appear in the statement
        sql = _NOTE_SET + assignments.format(p="%s") + _PG_NOTES + _NOTE_WHERE.format(p="%s")
        return rowcount(conn.exec_driver_sql(sql, (
            *values, notes.row_ids, notes.tag_event_ids, notes.tag_matched, notes.match_keys, SENDING,
            worker_id)))
    changed = 0
    for start in range(0, len(notes), NOTES_PER_STATEMENT):
        end = min(start + NOTES_PER_STATEMENT, len(notes))
        rows: list[Any] = [None] * (4 * (end - start))  # row by row: id, tag event id, matched, keys
        rows[0::4], rows[1::4] = notes.row_ids[start:end], notes.tag_event_ids[start:end]
        rows[2::4], rows[3::4] = notes.tag_matched[start:end], notes.match_keys[start:end]
        sql = (_sqlite_notes(end - start) + _NOTE_SET + assignments.format(p="?") + " FROM v"
               + _NOTE_WHERE.format(p="?"))
        conn.exec_driver_sql(sql, (*rows, *values, SENDING, worker_id))
        # Python's sqlite3 gives no row count (-1) for a statement that starts with WITH; SQLite itself does.
        changed += int(conn.exec_driver_sql("SELECT changes()").scalar() or 0)
    return changed


def _note_each(notes: JoinNotes, worker_id: str) -> int:
    """`note_joined` for a database without UPDATE ... FROM: an executemany, one UPDATE per event."""
    table = Event.__table__
    return rowcount(db.session.execute(
        update(table)
        .where(table.c.id == bindparam("row_id"), table.c.status == SENDING, table.c.claimed_by == worker_id)
        .values(tag_event_id=bindparam("tag_event_id"), tag_matched=bindparam("tag_matched"),
                match_keys=bindparam("match_keys")),
        [{"row_id": row_id, "tag_event_id": tag, "tag_matched": matched, "match_keys": keys}
         for row_id, tag, matched, keys in zip(notes.row_ids, notes.tag_event_ids, notes.tag_matched,
                                               notes.match_keys, strict=True)],
    ))
