"""SQL a batch sends: the same statement text for any batch, and the hint that keeps SQLite off an index.

A batch of ids or rows spelled out as one placeholder a value is new text for every size: the driver
parses it again (psycopg caches short statements only) and the server plans it again. On PostgreSQL
these helpers send a batch as arrays (one parameter a column) instead; SQLite keeps its lists, which its
driver binds in C. Every value still goes through its column's bind processor.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Collection, Sequence
from typing import Any, cast

from sqlalchemy import ARRAY, any_, bindparam
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from app.models import db


def among(column: Any, values: Sequence[Any]) -> ColumnElement[bool]:
    """`column IN (values)`; on PostgreSQL `column = ANY(:array)`, one parameter whatever the count.

    A claimed batch names up to 1,000 rows. Expanded into 1,000 placeholders, its statement is new text
    for every count, so the driver parses it each time (psycopg caches short statements only) and the
    server never reuses its plan; as one array it is the same statement for every batch.
    """
    if db.engine.dialect.name == "postgresql":
        return cast(ColumnElement[bool], column == any_(bindparam(None, list(values), type_=ARRAY(column.type))))
    return cast(ColumnElement[bool], column.in_(values))


def among_param(column: Any, name: str, dialect: Any) -> ColumnElement[bool]:
    """`among` for a statement built once: the values come at execution, as the parameter `name` (a list)."""
    if dialect.name == "postgresql":
        return cast(ColumnElement[bool], column == any_(bindparam(name, type_=ARRAY(column.type))))
    return cast(ColumnElement[bool], column.in_(bindparam(name, expanding=True)))


def upsert_insert(table: Any, dialect: Any) -> Any:
    """An INSERT on `table` that takes ON CONFLICT (`on_conflict_do_nothing` / `_do_update`) on this database."""
    return (postgresql_insert if dialect.name == "postgresql" else sqlite_insert)(table)


_BUILT: dict[tuple[Callable[[Any], Any], str], Any] = {}


def built(build: Callable[[Any], Executable]) -> Executable:
    """The statement `build(dialect)` makes for the app's database, made once and kept.

    A statement built for every batch costs more than its execution on a small batch: a shop whose orders
    come one at a time sends a batch of one, and building its handful of statements (the expressions, the
    cache key SQLAlchemy derives from them) was most of the worker's CPU for it. Executed on the
    connection (`db.session.connection().execute`), with plain tables, it also skips the ORM's handling
    of a bulk UPDATE. Values come as bound parameters at execution.
    """
    dialect = db.engine.dialect
    key = (build, dialect.name)
    statement = _BUILT.get(key)
    if statement is None:
        statement = _BUILT[key] = build(dialect)
    return cast(Executable, statement)


class unindexed(FunctionElement[Any]):  # noqa: N801 - used like a column function
    """A column's value that SQLite must not look up through an index (`+column`); the plain column elsewhere.

    SQLite plans without statistics. For one shop's ready events ordered by `available_at` it picks the
    claim index (status, available_at), which is in that order, and reads every pending event of every
    shop to keep this shop's: 8.6 ms for a shop's 400 among 20,000 pending, growing with the queue.
    Through the (shop, status) index and a sort of the shop's own rows it takes 0.24 ms.
    """

    inherit_cache = True

    def __init__(self, column: Any) -> None:
        super().__init__(column)
        self.type = column.type


@compiles(unindexed)
def _unindexed_plain(element: unindexed, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


@compiles(unindexed, "sqlite")
def _unindexed_sqlite(element: unindexed, compiler: Any, **kw: Any) -> str:
    return "+" + str(compiler.process(element.clauses, **kw))


def processor(column: Any, dialect: Any) -> Callable[[Any], Any] | None:
    """What SQLAlchemy does to a value of `column` before this database's driver gets it: the column type's
    own step (UTC, cleaned text) and then the dialect's (SQLite's text form of a time, always with its
    microseconds). `column.type.bind_processor` alone is the generic type's, without the dialect's step:
    a time on a whole second would be stored as "12:00:00", not "12:00:00.000000" as the ORM stores it."""
    return cast(Callable[[Any], Any] | None, column.type.dialect_impl(dialect).bind_processor(dialect))


def bound_columns(rows: list[dict[str, Any]], names: Sequence[str],
                  processors: Sequence[Callable[[Any], Any] | None],
                  keep_none: Collection[str] = ()) -> list[list[Any]]:
    """The rows as one list a column, each value through its column's bind processor (the driver-level
    writers send them as they are: PostgreSQL as arrays, SQLite row by row). A None is NULL, except in the
    `keep_none` columns, whose processor turns it into a value (a JSON column's `null`)."""
    columns: list[list[Any]] = []
    for name, process in zip(names, processors, strict=True):
        values = [row[name] for row in rows]
        if process is not None:
            evaluate_none = name in keep_none
            values = [process(value) if value is not None or evaluate_none else None for value in values]
        columns.append(values)
    return columns


def sqlite_rows(width: int, count: int) -> str:
    """SQLite's placeholders for `count` rows of `width` values: "(?, ?), (?, ?)" (a VALUES list's body)."""
    row = "(" + ", ".join(["?"] * width) + ")"
    return ", ".join([row] * count)


# SQLite's limit on one statement's parameters (SQLITE_MAX_VARIABLE_NUMBER): 32,766 since 3.32, 999 before.
SQLITE_MAX_PARAMETERS = 32_766 if sqlite3.sqlite_version_info >= (3, 32) else 999


def insert_batch(table: Any, rows: list[dict[str, Any]], *, conflict: Sequence[str],
                 returning: Sequence[str]) -> list[Any]:
    """A batch of rows as `INSERT … ON CONFLICT (…) DO NOTHING RETURNING …`, in the session's transaction; the
    rows it stored.

    PostgreSQL: `INSERT … SELECT * FROM unnest(one array a column)`. The multi-row VALUES list SQLAlchemy
    sends otherwise has a placeholder per value (thirty a row), which psycopg parses in Python for every
    batch, since a statement that long is never cached: a fifth of routing's time. Here the statement names
    one parameter a column, the same text for any batch. SQLite: one VALUES list (as many rows as its
    parameter limit allows), bound by the driver in C, without SQLAlchemy's statement building per batch.
    Columns a row leaves out get their Python-side default (evaluated once for the batch), as the ORM
    would give them; every value goes through its column's bind processor.
    """
    conn = db.session.connection()
    dialect = conn.dialect
    names = list(dict.fromkeys(name for row in rows for name in row))
    defaults: dict[str, Any] = {}
    for column in table.columns:
        if column.name not in names and column.default is not None and not column.primary_key:
            default = column.default
            defaults[column.name] = default.arg(None) if default.is_callable else default.arg
    names += list(defaults)
    columns = [table.c[name] for name in names]
    filled = [{name: row.get(name, defaults.get(name)) for name in names} for row in rows]
    # A None the rows give a JSON column is JSON `null`, as SQLAlchemy stores it; a column left out is NULL.
    keep_none = {column.name for column in columns
                 if column.type.should_evaluate_none and column.name not in defaults}
    bound = bound_columns(filled, names, [processor(column, dialect) for column in columns], keep_none)
    tail = f"ON CONFLICT ({', '.join(conflict)}) DO NOTHING RETURNING {', '.join(returning)}"
    if dialect.name == "postgresql":
        casts = ", ".join(f"%b::{column.type.compile(dialect=dialect)}[]" for column in columns)
        sql = f"INSERT INTO {table.name} ({', '.join(names)}) SELECT * FROM unnest({casts}) {tail}"
        return list(conn.exec_driver_sql(sql, tuple(bound)).all())
    by_row = list(zip(*bound, strict=True))
    per_statement = max(1, SQLITE_MAX_PARAMETERS // len(names))
    stored: list[Any] = []
    for start in range(0, len(by_row), per_statement):
        chunk = by_row[start:start + per_statement]
        sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES {sqlite_rows(len(names), len(chunk))} {tail}"
        stored += conn.exec_driver_sql(sql, tuple(value for row in chunk for value in row)).all()
    return stored
