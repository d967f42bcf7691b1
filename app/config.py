"""Every environment variable Pinbridge reads, read once and validated here."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = PROJECT_ROOT / "instance"
DEV_SECRETS_FILE = "dev-secrets.env"

REQUIRED_IN_PRODUCTION = ("SHOPIFY_API_KEY", "SHOPIFY_API_SECRET", "ENCRYPTION_KEY", "DATABASE_URL")

# Harmless defaults only; secrets never have a default outside development.
DEFAULTS: dict[str, Any] = {
    "APP_ENV": "development",
    "SHOPIFY_API_VERSION": "2026-10",
    "SHOPIFY_API_SECRET_OLD": None,
    "PINTEREST_API_URL": "https://api.pinterest.com/v5",
    "CHECKOUT_SETTLE_SECONDS": 120,
    "PORT": 8000,
    "MAX_WEBHOOK_BYTES": 5 * 1024 * 1024,
    "EVENT_MAX_AGE_SECONDS": 72 * 3600,
    "LEASE_SECONDS": 60,
    "BATCH_SIZE": 1000,
    "WORKER_IDLE_SECONDS": 0.5,
    "ROUTING_PROCESSES": None,  # the worker's mapping processes; unset: 1 on PostgreSQL, 0 on SQLite
    "PINTEREST_CONNECT_TIMEOUT": 5.0,
    "PINTEREST_READ_TIMEOUT": 30.0,
    "RECONCILE_INTERVAL_SECONDS": 3600,
    "RECONCILE_LOOKBACK_HOURS": 24,
    "EVENT_RETENTION_DAYS": 30,
    "RECEIPT_RETENTION_DAYS": 14,
    "RECONCILE_QUIET_SECONDS": 600,
    "WORKER_STALE_SECONDS": 120,
    "METRICS_TOKEN": None,
    "WEBHOOK_MAX_AGE_SECONDS": 12 * 3600,
    "WEBHOOK_READ_SECONDS": 10.0,
    "PIXEL_JOIN_SECONDS": 20,
    "TRUSTED_PROXY_HOPS": 0,
    "PIXEL_RATE_LIMIT_CLIENT": "30 per minute",
    "PIXEL_RATE_LIMIT_SHOP": "3000 per minute",
    "RATELIMIT_STORAGE_URI": "memory://",
}

_INT_KEYS = {
    "CHECKOUT_SETTLE_SECONDS", "PORT", "MAX_WEBHOOK_BYTES", "EVENT_MAX_AGE_SECONDS", "LEASE_SECONDS",
    "BATCH_SIZE", "RECONCILE_INTERVAL_SECONDS", "RECONCILE_LOOKBACK_HOURS", "EVENT_RETENTION_DAYS",
    "RECEIPT_RETENTION_DAYS", "RECONCILE_QUIET_SECONDS", "WORKER_STALE_SECONDS",
    "WEBHOOK_MAX_AGE_SECONDS", "PIXEL_JOIN_SECONDS", "TRUSTED_PROXY_HOPS", "ROUTING_PROCESSES",
}
_FLOAT_KEYS = {"WORKER_IDLE_SECONDS", "PINTEREST_CONNECT_TIMEOUT", "PINTEREST_READ_TIMEOUT",
               "WEBHOOK_READ_SECONDS"}


class ConfigError(RuntimeError):
    """Start-up configuration is missing or invalid; the message names the variable."""


def normalise_database_url(url: str) -> str:
    """Accept Heroku-style `postgres://` URLs and pick the psycopg 3 driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def encryption_keys(value: Any) -> list[str]:
    """Split ENCRYPTION_KEY into Fernet keys, newest first; refuse a list without a usable key.

    Messages name the position of a bad key, never the key itself.
    """
    keys = [k.strip() for k in str(value or "").split(",") if k.strip()]
    if not keys:
        raise ConfigError("ENCRYPTION_KEY holds no key: set one or more comma-separated Fernet keys, newest "
                          "first (generate one with `python -c \"from cryptography.fernet import Fernet; "
                          "print(Fernet.generate_key().decode())\"`)")
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key.encode())
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"ENCRYPTION_KEY key {position} of {len(keys)} is not a Fernet key (32 url-safe "
                              "base64-encoded bytes); ENCRYPTION_KEY must be one or more comma-separated Fernet "
                              "keys") from exc
    return keys


def _coerce(key: str, value: Any) -> Any:
    if value is None:
        return None
    try:
        if key in _INT_KEYS:
            return int(value)
        if key in _FLOAT_KEYS:
            return float(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{key} must be a number, got {value!r}") from exc
    return value


def private_dir(path: Path) -> None:
    """Create `path` for its owner only (0700), and tighten it if an older version left it open."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o700)


def _dev_secrets(instance_dir: Path) -> dict[str, str]:
    """Generate development secrets once into instance/ (mode 600) and reuse them afterwards."""
    path = instance_dir / DEV_SECRETS_FILE
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if "=" in line and not line.startswith("#"):
                key, _, value = line.partition("=")
                values[key.strip()] = value.strip()
    wanted = {
        "SHOPIFY_API_KEY": lambda: "dev-" + secrets.token_hex(8),
        "SHOPIFY_API_SECRET": lambda: secrets.token_hex(32),
        "ENCRYPTION_KEY": lambda: Fernet.generate_key().decode(),
    }
    missing = [k for k in wanted if not values.get(k)]
    if missing:
        private_dir(instance_dir)
        for key in missing:
            values[key] = wanted[key]()
        body = "# Development-only secrets generated by Pinbridge. Never use these in production.\n"
        body += "".join(f"{k}={values[k]}\n" for k in wanted)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(body)
        os.chmod(path, 0o600)
        logger.warning(
            "Generated development secrets in %s; set SHOPIFY_API_KEY, SHOPIFY_API_SECRET and "
            "ENCRYPTION_KEY for a real deployment.", path, extra={"action": "dev_secrets_generated"},
        )
    return values


def load_config(environ: dict[str, str] | None = None, instance_dir: Path | None = None) -> dict[str, Any]:
    """Build the configuration from defaults, then the environment; fail fast in production."""
    env = dict(os.environ if environ is None else environ)
    instance_dir = instance_dir or INSTANCE_DIR
    config: dict[str, Any] = dict(DEFAULTS)
    for key in DEFAULTS:
        if env.get(key) not in (None, ""):
            config[key] = env[key]
    for key in ("SHOPIFY_API_KEY", "SHOPIFY_API_SECRET", "ENCRYPTION_KEY", "DATABASE_URL"):
        config[key] = env.get(key) or None

    production = config["APP_ENV"] == "production"
    if production:
        for key in REQUIRED_IN_PRODUCTION:
            if not config.get(key):
                raise ConfigError(f"{key} is required when APP_ENV=production")
    else:
        if not all(config.get(k) for k in ("SHOPIFY_API_KEY", "SHOPIFY_API_SECRET", "ENCRYPTION_KEY")):
            generated = _dev_secrets(instance_dir)
            for key, value in generated.items():
                config[key] = config.get(key) or value
        if not config.get("DATABASE_URL"):
            private_dir(instance_dir)
            config["DATABASE_URL"] = f"sqlite:///{instance_dir / 'pinbridge.db'}"

    for key in list(config):
        config[key] = _coerce(key, config[key])
    config["ENCRYPTION_KEYS"] = encryption_keys(config["ENCRYPTION_KEY"])
    config["DATABASE_URL"] = normalise_database_url(config["DATABASE_URL"])
    config["SQLALCHEMY_DATABASE_URI"] = config["DATABASE_URL"]
    config["PINTEREST_API_URL"] = str(config["PINTEREST_API_URL"]).rstrip("/")
    return config
