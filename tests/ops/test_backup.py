"""`flask --app app backup PATH`: SQLite's online backup while writes go on; PostgreSQL is pointed at pg_dump."""

from __future__ import annotations

import shutil
import sqlite3
import stat
import threading
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app import create_app
from app.models import Shop, db
from app.ops.backup import BackupError, backup, sqlite_path
from tests.conftest import ENCRYPTION_KEY, SHOP


@pytest.fixture
def database_url(sqlite_template: Path, tmp_path: Path) -> str:
    """SQLite only: this is SQLite's online backup (PostgreSQL is refused, below, without a server)."""
    target = tmp_path / "pinbridge.db"
    shutil.copy(sqlite_template, target)
    return f"sqlite:///{target}"


def live_file(app: Flask) -> Path:
    return sqlite_path(str(db.engine.url))


def test_the_command_copies_a_running_database(app: Flask, runner: Any, configure_shop: Any, tmp_path: Path) -> None:
    live_file(app)
    configure_shop()
    destination = tmp_path / "backups" / "pinbridge-2026-12-01.db"
    destination.parent.mkdir()
    result = runner.invoke(args=["backup", str(destination)])
    assert result.exit_code == 0, result.output
    assert f"to {destination}" in result.output and "1 shops; integrity ok" in result.output
    assert stat.S_IMODE(destination.stat().st_mode) == 0o600
    assert not list(destination.parent.glob(".*partial"))

    # The copy is a working Pinbridge database: migrated, with the shop in it.
    url = f"sqlite:///{destination}"
    restored = create_app({"TESTING": True, "INSTANCE_DIR": tmp_path, "DATABASE_URL": url,
                           "SQLALCHEMY_DATABASE_URI": url, "ENCRYPTION_KEYS": [ENCRYPTION_KEY]})
    with restored.app_context():
        assert db.session.scalars(select(Shop.domain)).all() == [SHOP]
        db.session.remove()
        db.engine.dispose()


def test_an_existing_backup_is_replaced_only_with_force(app: Flask, runner: Any, tmp_path: Path) -> None:
    live_file(app)
    destination = tmp_path / "pinbridge.db.bak"
    destination.write_bytes(b"an older backup")
    refused = runner.invoke(args=["backup", str(destination)])
    assert refused.exit_code == 1 and "exists" in refused.output
    assert destination.read_bytes() == b"an older backup"
    assert runner.invoke(args=["backup", str(destination), "--force"]).exit_code == 0
    assert destination.read_bytes().startswith(b"SQLite format 3")


def test_writes_go_on_during_the_backup_and_the_copy_is_one_instant(app: Flask, tmp_path: Path) -> None:
    source = live_file(app)
    with sqlite3.connect(source) as setup:
        setup.execute("CREATE TABLE backup_probe (n INTEGER PRIMARY KEY, filler BLOB)")
        setup.executemany("INSERT INTO backup_probe (filler) VALUES (?)", [(b"x" * 1024,)] * 5000)
    errors: list[BaseException] = []
    stop = threading.Event()

    def writer() -> None:
        conn = sqlite3.connect(source, timeout=5)
        try:
            while not stop.is_set():
                with conn:
                    conn.execute("INSERT INTO backup_probe (filler) VALUES (?)", (b"y" * 1024,))
        except BaseException as exc:  # a blocked writer shows up here
            errors.append(exc)
        finally:
            conn.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        counts = [backup(source, tmp_path / f"copy-{i}.db")["backup_probe"] for i in range(3)]
    finally:
        stop.set()
        thread.join(10)
    assert errors == []
    with sqlite3.connect(source) as conn:
        final = conn.execute("SELECT count(*) FROM backup_probe").fetchone()[0]
    assert 5000 <= counts[0] <= counts[1] <= counts[2] <= final
    for i, count in enumerate(counts):
        with sqlite3.connect(tmp_path / f"copy-{i}.db") as copy:
            assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert copy.execute("SELECT max(n) FROM backup_probe").fetchone()[0] == count  # no gap, no torn row


def test_postgresql_is_pointed_at_its_own_tools(tmp_path: Path) -> None:
    url = "postgresql+psycopg://pinbridge@127.0.0.1:9/pinbridge"  # never connected to
    with pytest.raises(BackupError, match="pg_dump"):
        sqlite_path(url)
    postgres = create_app({"TESTING": True, "INSTANCE_DIR": tmp_path, "DATABASE_URL": url,
                           "SQLALCHEMY_DATABASE_URI": url, "ENCRYPTION_KEYS": [ENCRYPTION_KEY]})
    with postgres.app_context():  # as `flask` gives every command
        result = postgres.test_cli_runner().invoke(args=["backup", str(tmp_path / "nothing.db")])
    assert result.exit_code == 1 and "pg_dump" in result.output
    assert not (tmp_path / "nothing.db").exists()


def test_the_database_cannot_be_backed_up_onto_itself(app: Flask) -> None:
    source = live_file(app)
    with pytest.raises(BackupError, match="replace the database itself"):
        backup(source, source, overwrite=True)
