"""The transaction boundaries: `writing()` commits or rolls back, `reading()` ends a read, and a write refuses
to start inside a read someone left open."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, insert, select

from app.database import TransactionLeftOpen, discard, reading, writing
from app.models import Shop, db, now_utc


def shops() -> list[str]:
    with reading():
        return list(db.session.scalars(select(Shop.domain).order_by(Shop.domain)))


def add_shop(domain: str) -> None:
    db.session.add(Shop(domain=domain, installed=True, installed_at=now_utc()))


def test_a_write_commits_at_the_end_of_its_block(app: Flask) -> None:
    with writing():
        add_shop("a.myshopify.com")
        assert db.session().in_transaction()
    assert not db.session().in_transaction()
    assert shops() == ["a.myshopify.com"]


def test_a_write_that_raises_is_rolled_back(app: Flask) -> None:
    with pytest.raises(ValueError), writing():
        add_shop("a.myshopify.com")
        db.session.flush()
        raise ValueError("half-way")
    assert not db.session().in_transaction()
    assert shops() == []


def test_a_read_ends_with_its_block(app: Flask) -> None:
    with writing():
        add_shop("a.myshopify.com")
    with reading():
        shop = db.session.scalars(select(Shop)).one()
        assert db.session().in_transaction()
    assert not db.session().in_transaction()
    with writing():  # nothing left open: the write starts
        shop.pixel_seen_at = now_utc()  # the object expired with the read and loads again in the write
    with reading():
        assert db.session.scalars(select(Shop.pixel_seen_at)).one() is not None


def test_a_write_ends_a_read_left_open_and_starts_from_what_is_committed(app: Flask) -> None:
    db.session.scalar(select(func.count()).select_from(Shop))  # a read no block ends
    with writing():
        add_shop("a.myshopify.com")
    assert shops() == ["a.myshopify.com"]


@pytest.mark.parametrize("left_open", ["flushed", "pending", "core"])
def test_a_write_refuses_to_throw_away_writes_left_uncommitted(app: Flask, left_open: str) -> None:
    if left_open == "core":  # a statement run outside any block
        db.session.execute(insert(Shop).values(domain="stray.myshopify.com", installed=True))
    else:
        db.session.add(Shop(domain="stray.myshopify.com", installed=True))
        if left_open == "flushed":
            db.session.flush()
    with pytest.raises(TransactionLeftOpen, match="uncommitted writes"), writing():
        add_shop("a.myshopify.com")
    discard()
    assert shops() == []  # neither the stray write nor the refused one was kept


def test_a_read_ends_a_read_left_open_before_it(app: Flask) -> None:
    db.session.scalar(select(func.count()).select_from(Shop))
    with reading():
        db.session.scalar(select(func.count()).select_from(Shop))
    assert not db.session().in_transaction()
    with writing():
        add_shop("a.myshopify.com")
    assert shops() == ["a.myshopify.com"]


@pytest.mark.parametrize("outer", [reading, writing])
def test_a_write_inside_another_block_is_refused_and_the_outer_one_still_ends(app: Flask, outer: Any) -> None:
    with pytest.raises(TransactionLeftOpen, match="inside"), outer():
        db.session.scalar(select(func.count()).select_from(Shop))
        with writing():
            add_shop("a.myshopify.com")
    assert not db.session().in_transaction()
    assert shops() == []


def test_a_read_inside_a_write_is_part_of_the_write(app: Flask) -> None:
    with writing():
        add_shop("a.myshopify.com")
        db.session.flush()
        with reading():
            assert db.session.scalars(select(Shop.domain)).all() == ["a.myshopify.com"]
        assert db.session().in_transaction()  # the inner read did not end the write
        add_shop("b.myshopify.com")
    assert shops() == ["a.myshopify.com", "b.myshopify.com"]
