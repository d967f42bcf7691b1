"""Configuration: production refuses to start without its secrets; development generates its own once."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from app import crypto
from app.config import ConfigError, load_config, normalise_database_url

PRODUCTION = {
    "APP_ENV": "production",
    "SHOPIFY_API_KEY": "prod-key",
    "SHOPIFY_API_SECRET": "prod-secret-not-real",
    "ENCRYPTION_KEY": Fernet.generate_key().decode(),
    "DATABASE_URL": "postgres://app@db.internal:5432/pinbridge",
}


@pytest.mark.parametrize("missing", ["SHOPIFY_API_KEY", "SHOPIFY_API_SECRET", "ENCRYPTION_KEY", "DATABASE_URL"])
def test_production_names_the_missing_variable(missing: str, tmp_path: Path) -> None:
    environ = {k: v for k, v in PRODUCTION.items() if k != missing}
    with pytest.raises(ConfigError, match=missing):
        load_config(environ, instance_dir=tmp_path)
    assert not (tmp_path / "dev-secrets.env").exists()  # production never generates secrets


def test_production_with_everything_starts(tmp_path: Path) -> None:
    config = load_config(PRODUCTION, instance_dir=tmp_path)
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://app@db.internal:5432/pinbridge"
    assert config["SHOPIFY_API_VERSION"] == "2026-10"
    assert config["CHECKOUT_SETTLE_SECONDS"] == 120


def test_development_generates_secrets_once_with_mode_600(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    first = load_config({}, instance_dir=tmp_path)
    secrets_file = tmp_path / "dev-secrets.env"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    assert "Generated development secrets" in caplog.text
    assert first["SHOPIFY_API_SECRET"] not in caplog.text
    second = load_config({}, instance_dir=tmp_path)
    for key in ("SHOPIFY_API_KEY", "SHOPIFY_API_SECRET", "ENCRYPTION_KEY"):
        assert first[key] == second[key]
    assert first["DATABASE_URL"] == f"sqlite:///{tmp_path / 'pinbridge.db'}"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),            # Heroku-style scheme
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),          # plain scheme gets psycopg 3
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),  # already explicit
        ("sqlite:///instance/x.db", "sqlite:///instance/x.db"),          # SQLite untouched
    ],
)
def test_database_urls_are_normalised(given: str, expected: str) -> None:
    assert normalise_database_url(given) == expected


@pytest.mark.parametrize("bad", ["not-a-key", "short,", "x" * 44])
def test_invalid_encryption_key_is_refused(bad: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ENCRYPTION_KEY"):
        load_config({**PRODUCTION, "ENCRYPTION_KEY": bad}, instance_dir=tmp_path)


def test_numbers_must_be_numbers(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="CHECKOUT_SETTLE_SECONDS"):
        load_config({**PRODUCTION, "CHECKOUT_SETTLE_SECONDS": "two minutes"}, instance_dir=tmp_path)


def test_key_rotation_keeps_old_secrets_readable() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    stored = crypto.encrypt("pina_test_token_0001", [old])
    assert crypto.decrypt(stored, [new, old]) == "pina_test_token_0001"
    assert crypto.decrypt(crypto.encrypt("pina_test_token_0001", [new, old]), [new]) == "pina_test_token_0001"
    with pytest.raises(crypto.SecretUnreadable):
        crypto.decrypt(stored, [new])


@pytest.mark.parametrize("keyless", [",", " , ", ",,,", "\t,\n"])
@pytest.mark.parametrize("app_env", ["production", "development"])
def test_a_key_list_without_a_key_stops_start_up(keyless: str, app_env: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ENCRYPTION_KEY holds no key"):
        load_config({**PRODUCTION, "APP_ENV": app_env, "ENCRYPTION_KEY": keyless}, instance_dir=tmp_path)
    assert not (tmp_path / "dev-secrets.env").exists()  # a key that was set badly is not silently replaced


def test_a_bad_key_in_the_list_is_named_by_position_not_echoed(tmp_path: Path) -> None:
    good = Fernet.generate_key().decode()
    with pytest.raises(ConfigError, match="key 2 of 2 is not a Fernet key") as caught:
        load_config({**PRODUCTION, "ENCRYPTION_KEY": f"{good},not-a-fernet-key"}, instance_dir=tmp_path)
    assert "not-a-fernet-key" not in str(caught.value)
    config = load_config({**PRODUCTION, "ENCRYPTION_KEY": f" {good} , "}, instance_dir=tmp_path)
    assert config["ENCRYPTION_KEYS"] == [good]  # spaces and a trailing comma are harmless
