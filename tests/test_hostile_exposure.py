"""What an outsider could read: the metrics scrape, the SQLite file, SQL parameters in error logs."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app import create_app
from app.config import load_config
from app.models import db
from tests.conftest import ENCRYPTION_KEY, _test_config


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- metrics ------------------------------------------------------------------------------------------------
def test_production_metrics_are_refused_without_a_token(app: Flask, client: FlaskClient) -> None:
    app.config["APP_ENV"] = "production"
    app.config["METRICS_TOKEN"] = None
    response = client.get("/metrics")
    assert response.status_code == 403
    assert b".myshopify.com" not in response.data and b"# TYPE" not in response.data


def test_production_metrics_with_a_token(app: Flask, client: FlaskClient, configure_shop: Any) -> None:
    configure_shop()
    app.config["APP_ENV"] = "production"
    app.config["METRICS_TOKEN"] = "scrape-token-for-tests"
    assert client.get("/metrics", headers={"Authorization": "Bearer scrape-token-for-tests!"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer sćrape"}).status_code == 401  # not ASCII
    assert client.get("/metrics", headers={"Authorization": "Bearer scrape-token-for-tests"}).status_code == 200


# -- files -------------------------------------------------------------------------------------------------
def test_sqlite_file_and_instance_folder_are_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old_umask = os.umask(0o022)  # the usual default, which would leave both world-readable
    try:
        instance = tmp_path / "instance"
        config = load_config(environ={"ENCRYPTION_KEY": ENCRYPTION_KEY}, instance_dir=instance)
        assert config["DATABASE_URL"] == f"sqlite:///{instance / 'pinbridge.db'}"
        app = create_app({**config, "TESTING": True, "ENVIRON": {"ENCRYPTION_KEY": ENCRYPTION_KEY},
                          "INSTANCE_DIR": instance})
        with app.app_context():
            db.session.execute(text("CREATE TABLE t (x INTEGER)"))
            db.session.execute(text("INSERT INTO t VALUES (1)"))
            db.session.commit()
            db.engine.dispose()
    finally:
        os.umask(old_umask)
    assert _mode(instance) == 0o700
    assert _mode(instance / "pinbridge.db") == 0o600
    for extra in ("pinbridge.db-wal", "pinbridge.db-shm"):
        if (instance / extra).exists():
            assert _mode(instance / extra) == 0o600


def test_an_old_world_readable_database_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    path.write_bytes(b"")
    os.chmod(path, 0o644)
    create_app(_test_config(f"sqlite:///{path}", tmp_path, "http://127.0.0.1:9/v5"))
    assert _mode(path) == 0o600


# -- logs ----------------------------------------------------------------------------------------------------
def test_database_errors_do_not_carry_sql_parameters(app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    secret = "buyer-secret@example.com"
    with pytest.raises(SQLAlchemyError) as exc:
        db.session.execute(text("SELECT * FROM no_such_table WHERE email = :email"), {"email": secret})
    db.session.rollback()
    assert secret not in str(exc.value)
    caplog.set_level(logging.DEBUG)
    logging.getLogger("test").exception("failed", exc_info=exc.value)
    assert secret not in caplog.text
