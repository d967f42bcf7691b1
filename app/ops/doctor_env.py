"""Pure checks behind `flask --app app doctor`: the environment, shopify.app.toml and what a proxy sends.

Each check reads plain data (the environment as a mapping, the toml's text, the probe's answer) and returns
findings; nothing here touches the database, the network or the clock. A finding is `FAIL` when orders
would be lost, refused or never sent with it, `WARN` when the deployment works but costs matches, alerts
or safety, and `OK` otherwise. Messages name variables and shops, never a secret's value.
"""

from __future__ import annotations

import enum
import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from app.config import DEFAULTS, REQUIRED_IN_PRODUCTION, ConfigError, encryption_keys, normalise_database_url

PLACEHOLDER_CLIENT_ID = "REPLACE_WITH_YOUR_CLIENT_ID"
EXAMPLE_HOSTS = ("example.com", "example.net", "example.org")
OLDEST_API_VERSION = "2026-07"  # reconciliation reads Order.cartToken / checkoutToken, which start there
SHOPIFY_RETRY_SECONDS = 4 * 3600  # Shopify retries a webhook for 4 hours with its first X-Shopify-Triggered-At
MAX_BATCH = 1000  # events per Pinterest request
MIN_METRICS_TOKEN = 16
ENVIRONMENTS = ("development", "production")
SECRETS = ("SHOPIFY_API_KEY", "SHOPIFY_API_SECRET", "SHOPIFY_API_SECRET_OLD", "METRICS_TOKEN", "DATABASE_URL")
RATE_LIMIT_SCHEMES = ("memory", "redis", "rediss", "redis+sentinel", "redis+cluster", "memcached", "mongodb",
                      "mongodb+srv", "async+redis", "async+memory")


class Severity(enum.IntEnum):
    OK = 0
    WARN = 1
    FAIL = 2


@dataclass(frozen=True)
class Finding:
    severity: Severity
    check: str        # what was looked at: a variable's name, "shopify.app.toml", "database", ...
    message: str      # what is true
    fix: str = ""     # what to do about it (empty when nothing)


def ok(check: str, message: str) -> Finding:
    return Finding(Severity.OK, check, message)


def warn(check: str, message: str, fix: str) -> Finding:
    return Finding(Severity.WARN, check, message, fix)


def fail(check: str, message: str, fix: str) -> Finding:
    return Finding(Severity.FAIL, check, message, fix)


# -- numbers: (variable, kind, lowest that works, lowest that is sensible, why) -------------------------
Number = tuple[str, type, float | None, float | None, str]
NUMBERS: tuple[Number, ...] = (
    ("PORT", int, 1, None, "a TCP port"),
    ("BATCH_SIZE", int, 1, None, "events per Pinterest request"),
    ("LEASE_SECONDS", int, 1, None, "how long a claim lasts"),
    ("EVENT_MAX_AGE_SECONDS", int, 1, 3600, "how long an order may wait before it is marked expired"),
    ("CHECKOUT_SETTLE_SECONDS", int, 0, 30, "how long a completed checkout waits for its richer order"),
    ("WEBHOOK_MAX_AGE_SECONDS", int, 0, None, "the oldest X-Shopify-Triggered-At accepted"),
    ("WEBHOOK_READ_SECONDS", float, 0.001, 2, "how long a webhook body may take to arrive"),
    ("MAX_WEBHOOK_BYTES", int, 1, 1024 * 1024, "the largest webhook body accepted"),
    ("WORKER_IDLE_SECONDS", float, 0.001, None, "an idle worker's pause"),
    ("ROUTING_PROCESSES", int, 0, None, "processes that map large inbox batches beside the worker"),
    ("PINTEREST_CONNECT_TIMEOUT", float, 0.001, None, "seconds to connect to Pinterest"),
    ("PINTEREST_READ_TIMEOUT", float, 0.001, 5, "seconds to wait for Pinterest's answer"),
    ("RECONCILE_INTERVAL_SECONDS", int, 1, 300, "how often missed orders are looked for"),
    ("RECONCILE_LOOKBACK_HOURS", int, 1, None, "how far back each reconciliation reads"),
    ("RECONCILE_QUIET_SECONDS", int, 0, None, "the newest orders left to their webhooks"),
    ("EVENT_RETENTION_DAYS", int, 1, 4, "how long events are kept"),
    ("RECEIPT_RETENTION_DAYS", int, 1, 1, "how long webhook receipts are kept"),
    ("WORKER_STALE_SECONDS", int, 1, 10, "heartbeat age at which the worker counts as stale"),
    ("PIXEL_JOIN_SECONDS", int, 0, None, "how long a web order waits for its beacon"),
    ("TRUSTED_PROXY_HOPS", int, 0, None, "proxies that append to X-Forwarded-For"),
    ("WEB_CONCURRENCY", int, 1, None, "gunicorn web processes"),
    ("GUNICORN_WORKER_CONNECTIONS", int, 1, 100, "open connections per web process"),
    ("GUNICORN_THREADS", int, 1, None, "threads per web process (gthread)"),
)


def _value(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    return value if value not in (None, "") else None


def _number(env: Mapping[str, str], name: str, kind: type) -> float | None:
    raw = _value(env, name)
    default = DEFAULTS.get(name)
    if raw is None:
        return float(default) if isinstance(default, int | float) else None
    return float(kind(raw.strip()))


def check_numbers(env: Mapping[str, str]) -> list[Finding]:
    """Every numeric variable parses and lies where it works; odd but working values are warnings."""
    findings: list[Finding] = []
    for name, kind, lowest, sensible, what in NUMBERS:
        try:
            value = _number(env, name, kind)
        except ValueError:
            findings.append(fail(name, f"{name}={env[name]!r} is not {'a whole number' if kind is int else 'a number'}"
                                 f" ({what}): the app refuses to start.", f"Set {name} to a number or unset it."))
            continue
        if value is None:
            continue
        if lowest is not None and value < lowest:
            findings.append(fail(name, f"{name}={env.get(name)} is below {lowest:g} ({what}).",
                                 f"Set {name} to at least {lowest:g}, or unset it for the default."))
        elif sensible is not None and value < sensible:
            findings.append(warn(name, f"{name}={env.get(name)} is unusually low ({what}).",
                                 f"Unless you mean it, unset {name} for the default ({DEFAULTS.get(name)})."))
    findings.extend(_number_rules(env))
    return findings


def _number_rules(env: Mapping[str, str]) -> list[Finding]:
    """Limits that involve Shopify, Pinterest or another variable."""
    findings: list[Finding] = []

    def number(name: str, kind: type = int) -> float | None:
        try:
            return _number(env, name, kind)
        except ValueError:
            return None  # reported above

    port, batch = number("PORT"), number("BATCH_SIZE")
    if port is not None and port > 65535:
        findings.append(fail("PORT", f"PORT={env.get('PORT')} is not a TCP port.", "Set PORT to 1-65535."))
    if batch is not None and batch > MAX_BATCH:
        findings.append(fail("BATCH_SIZE", f"BATCH_SIZE={env.get('BATCH_SIZE')}: Pinterest refuses more than "
                             f"{MAX_BATCH} events per request, so every full batch would fail.",
                             f"Set BATCH_SIZE to {MAX_BATCH} or less, or unset it."))
    max_age = number("WEBHOOK_MAX_AGE_SECONDS")
    if max_age is not None and 0 < max_age < SHOPIFY_RETRY_SECONDS:
        findings.append(fail("WEBHOOK_MAX_AGE_SECONDS", f"WEBHOOK_MAX_AGE_SECONDS={env.get('WEBHOOK_MAX_AGE_SECONDS')}"
                             ": Shopify retries a failed webhook for 4 hours with its first X-Shopify-Triggered-At, "
                             "so its later retries would be refused as stale.",
                             "Set it to 14400 (4 h) or more, 0 to turn the check off, or unset it (12 h)."))
    lease = number("LEASE_SECONDS")
    request = (number("PINTEREST_CONNECT_TIMEOUT", float) or 0) + (number("PINTEREST_READ_TIMEOUT", float) or 0)
    if lease is not None and lease < request:
        findings.append(warn("LEASE_SECONDS", f"LEASE_SECONDS={lease:g} is shorter than one Pinterest request may "
                             f"take ({request:g} s): another worker may send a batch that is still in flight.",
                             "Set LEASE_SECONDS above PINTEREST_CONNECT_TIMEOUT + PINTEREST_READ_TIMEOUT."))
    join = number("PIXEL_JOIN_SECONDS")
    if join is not None and join > 30:
        findings.append(warn("PIXEL_JOIN_SECONDS", f"PIXEL_JOIN_SECONDS={join:g}: web orders wait that long for "
                             "their beacon before they are sent.", "Keep it at 30 or less (default 20)."))
    return findings


def check_environment(env: Mapping[str, str]) -> list[Finding]:
    """APP_ENV, the secrets, the database URL and every other variable Pinbridge or gunicorn reads."""
    findings = _app_env(env)
    findings += _secrets(env)
    findings += _shopify_version(env)
    findings += _encryption_key(env)
    findings += _database_url(env)
    findings += _pinterest_url(env)
    findings += _metrics(env)
    findings += _rate_limits(env)
    findings += check_numbers(env)
    findings += _processes(env)
    return findings


def production(env: Mapping[str, str]) -> bool:
    return (_value(env, "APP_ENV") or DEFAULTS["APP_ENV"]) == "production"


def _app_env(env: Mapping[str, str]) -> list[Finding]:
    value = _value(env, "APP_ENV") or DEFAULTS["APP_ENV"]
    if value not in ENVIRONMENTS:
        return [fail("APP_ENV", f"APP_ENV={value!r} is neither 'production' nor 'development': Pinbridge runs "
                     "as development, with secrets of its own in instance/ and /metrics open.",
                     "Set APP_ENV=production.")]
    if value == "development":
        return [warn("APP_ENV", "APP_ENV is development: secrets missing from the environment are generated "
                     "into instance/, which only suits `make run`.", "Set APP_ENV=production on a deployment.")]
    missing = [name for name in REQUIRED_IN_PRODUCTION if not _value(env, name)]
    if missing:
        return [fail(name, f"{name} is required when APP_ENV=production: the app refuses to start.",
                     _HOW_TO_SET[name]) for name in missing]
    return [ok("APP_ENV", "production, with " + ", ".join(REQUIRED_IN_PRODUCTION) + " set.")]


_HOW_TO_SET = {
    "SHOPIFY_API_KEY": "Set SHOPIFY_API_KEY to the app's client id (Partner or Dev Dashboard).",
    "SHOPIFY_API_SECRET": "Set SHOPIFY_API_SECRET to the app's client secret.",
    "ENCRYPTION_KEY": "Set ENCRYPTION_KEY to a Fernet key: python -c \"from cryptography.fernet import Fernet; "
                      "print(Fernet.generate_key().decode())\" (and keep a copy: stored tokens need it).",
    "DATABASE_URL": "Set DATABASE_URL to the PostgreSQL database (a platform's add-on sets it).",
}


def _secrets(env: Mapping[str, str]) -> list[Finding]:
    findings: list[Finding] = []
    for name in SECRETS:
        value = _value(env, name)
        if value is not None and value != value.strip():
            findings.append(fail(name, f"{name} begins or ends with white space (a pasted newline?): it is "
                                 "compared byte for byte, so nothing signed with the real value would match.",
                                 f"Set {name} again without the surrounding white space."))
    key, secret, old = (_value(env, n) for n in ("SHOPIFY_API_KEY", "SHOPIFY_API_SECRET", "SHOPIFY_API_SECRET_OLD"))
    if key and secret and key.strip() == secret.strip():
        findings.append(fail("SHOPIFY_API_SECRET", "SHOPIFY_API_SECRET equals SHOPIFY_API_KEY: every webhook's "
                             "signature would be refused.", "Copy the client secret, not the client id."))
    if secret and old and secret == old:
        findings.append(warn("SHOPIFY_API_SECRET_OLD", "SHOPIFY_API_SECRET_OLD equals the current secret.",
                             "Unset SHOPIFY_API_SECRET_OLD once an hour has passed since the rotation."))
    return findings


def _shopify_version(env: Mapping[str, str]) -> list[Finding]:
    version = _value(env, "SHOPIFY_API_VERSION") or str(DEFAULTS["SHOPIFY_API_VERSION"])
    if not re.fullmatch(r"\d{4}-(01|04|07|10)", version):
        return [fail("SHOPIFY_API_VERSION", f"SHOPIFY_API_VERSION={version!r} is not a Shopify API version "
                     "(YYYY-01, -04, -07 or -10): every Admin API call would be refused.",
                     "Unset SHOPIFY_API_VERSION for the default, or set one like 2026-10.")]
    if version < OLDEST_API_VERSION:
        return [fail("SHOPIFY_API_VERSION", f"SHOPIFY_API_VERSION={version}: reconciliation reads "
                     f"Order.cartToken and checkoutToken, which exist from {OLDEST_API_VERSION}, so missed "
                     "orders would never be recovered.", f"Set {OLDEST_API_VERSION} or newer, or unset it.")]
    return []


def _encryption_key(env: Mapping[str, str]) -> list[Finding]:
    value = _value(env, "ENCRYPTION_KEY")
    if value is None:
        return []  # required in production (above); generated in development
    try:
        keys = encryption_keys(value)
    except ConfigError as exc:
        return [fail("ENCRYPTION_KEY", f"{exc}: the app refuses to start.",
                     "Put the key(s) that encrypted the stored tokens back, newest first, comma-separated.")]
    return [ok("ENCRYPTION_KEY", f"{len(keys)} Fernet key(s).")]


def _database_url(env: Mapping[str, str]) -> list[Finding]:
    value = _value(env, "DATABASE_URL")
    if value is None:
        return []
    try:
        url = make_url(normalise_database_url(value.strip()))
    except (ArgumentError, ValueError):
        return [fail("DATABASE_URL", "DATABASE_URL is not a database URL.",
                     "Set it to postgresql://user:password@host:5432/name (postgres:// is accepted).")]
    backend = url.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        return [fail("DATABASE_URL", f"DATABASE_URL names {backend}: Pinbridge runs on PostgreSQL or SQLite.",
                     "Point DATABASE_URL at PostgreSQL.")]
    if backend == "sqlite":
        if not url.database or url.database == ":memory:":
            return [fail("DATABASE_URL", "DATABASE_URL is an in-memory SQLite database: each process would "
                         "have its own, and webhooks would never reach the worker.", "Use a file or PostgreSQL.")]
        findings = [warn("DATABASE_URL", "SQLite: the web and the worker must run on this one machine, sharing "
                         "its disk.", "Use PostgreSQL to run on a platform or on several machines; otherwise "
                         "back the file up while it runs (docs/operations.md, Backups).")]
        if not os.path.isabs(url.database):
            findings.append(warn("DATABASE_URL", f"the SQLite path {url.database!r} is relative: it depends on "
                                 "the directory each process starts in.", "Use an absolute path (sqlite:////…)."))
        return findings
    return [ok("DATABASE_URL", "PostgreSQL.")]


def _pinterest_url(env: Mapping[str, str]) -> list[Finding]:
    value = _value(env, "PINTEREST_API_URL")
    if value is None or value.rstrip("/") == DEFAULTS["PINTEREST_API_URL"]:
        return []
    parts = urlsplit(value)
    if parts.scheme == "http" and not _loopback(parts.hostname):
        return [fail("PINTEREST_API_URL", "PINTEREST_API_URL is plain http: merchants' Pinterest tokens would "
                     "cross the network unencrypted.", "Unset PINTEREST_API_URL (https://api.pinterest.com/v5).")]
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return [fail("PINTEREST_API_URL", f"PINTEREST_API_URL={value!r} is not a URL: nothing can be sent.",
                     "Unset PINTEREST_API_URL.")]
    return [warn("PINTEREST_API_URL", f"events go to {parts.hostname}, not Pinterest's API.",
                 "Unset PINTEREST_API_URL unless this is a test deployment.")]


def _loopback(host: str | None) -> bool:
    if not host or host == "localhost":
        return host == "localhost"
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _metrics(env: Mapping[str, str]) -> list[Finding]:
    token = _value(env, "METRICS_TOKEN")
    if token is None:
        if production(env):
            return [warn("METRICS_TOKEN", "METRICS_TOKEN is not set: /metrics answers 403 in production, so no "
                         "alert can see a paused shop or a stalled worker.",
                         "Set METRICS_TOKEN (e.g. `openssl rand -hex 32`) and give it to your Prometheus.")]
        return []
    if len(token.strip()) < MIN_METRICS_TOKEN:
        return [warn("METRICS_TOKEN", f"METRICS_TOKEN is shorter than {MIN_METRICS_TOKEN} characters, and "
                     "/metrics lists every shop.", "Use a long random token (`openssl rand -hex 32`).")]
    return [ok("METRICS_TOKEN", "set.")]


def _rate_limits(env: Mapping[str, str]) -> list[Finding]:
    from limits import parse_many

    findings: list[Finding] = []
    for name in ("PIXEL_RATE_LIMIT_CLIENT", "PIXEL_RATE_LIMIT_SHOP"):
        value = _value(env, name)
        if value is None:
            continue
        try:
            parse_many(value)
        except ValueError:
            findings.append(fail(name, f"{name}={value!r} is not a rate limit: every pixel beacon would fail.",
                                 "Use Flask-Limiter's syntax, e.g. '30 per minute', or unset it."))
    storage = _value(env, "RATELIMIT_STORAGE_URI")
    if storage is not None and urlsplit(storage).scheme not in RATE_LIMIT_SCHEMES:
        findings.append(fail("RATELIMIT_STORAGE_URI", f"RATELIMIT_STORAGE_URI has the scheme "
                             f"{urlsplit(storage).scheme!r}, which Flask-Limiter cannot store limits in.",
                             "Use memory:// or a redis:// URI, or unset it."))
    return findings


def _processes(env: Mapping[str, str]) -> list[Finding]:
    findings: list[Finding] = []
    worker_class = _value(env, "GUNICORN_WORKER_CLASS")
    if worker_class is not None and worker_class not in ("gevent", "gthread"):
        findings.append(warn("GUNICORN_WORKER_CLASS", f"GUNICORN_WORKER_CLASS={worker_class!r}: slow clients "
                             "can hold every web worker, and webhooks then wait past Shopify's 5 seconds.",
                             "Unset it (gevent), or use gthread."))
    folder = _value(env, "PROMETHEUS_MULTIPROC_DIR")
    if folder is not None and not (os.path.isdir(folder) and os.access(folder, os.W_OK)):
        findings.append(fail("PROMETHEUS_MULTIPROC_DIR", f"PROMETHEUS_MULTIPROC_DIR={folder!r} is not a folder "
                             "this user can write: the web and the worker fail to start.",
                             "Create the folder (empty, shared by the processes of this host) or unset it."))
    return findings


# -- shopify.app.toml ------------------------------------------------------------------------------
def check_shopify_toml(text: str | None, env: Mapping[str, str]) -> list[Finding]:
    """The configuration `npm run deploy` gives Shopify: whose app it is, and where Shopify sends webhooks."""
    name = "shopify.app.toml"
    if text is None:
        return [fail(name, "shopify.app.toml is missing.", "Restore it from the repository.")]
    try:
        config: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return [fail(name, f"shopify.app.toml is not valid TOML ({exc}).", "Fix the file, then `npm run deploy`.")]
    findings: list[Finding] = []
    client_id, key = str(config.get("client_id", "")), _value(env, "SHOPIFY_API_KEY")
    if client_id in ("", PLACEHOLDER_CLIENT_ID):
        findings.append(fail(f"{name} client_id", "client_id is still the example value: `npm run deploy` "
                             "cannot push this configuration to your app.",
                             "Put your app's client id in client_id, commit it and run `npm run deploy`."))
    elif key is not None and key.strip() != client_id:
        findings.append(fail(f"{name} client_id", "client_id is another app than SHOPIFY_API_KEY: Shopify signs "
                             "this app's webhooks and session tokens with a secret the server does not hold.",
                             "Make SHOPIFY_API_KEY and client_id the same app's client id."))
    findings += _application_url(str(config.get("application_url", "")), config)
    return findings or [ok(name, f"client id and application_url {config.get('application_url')}.")]


def _application_url(url: str, config: dict[str, Any]) -> list[Finding]:
    check = "shopify.app.toml application_url"
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or not host:
        return [fail(check, f"application_url {url!r} is not an https:// URL: Shopify sends webhooks only to "
                     "HTTPS, and the admin embeds only HTTPS pages.",
                     "Set application_url to the app's public HTTPS address and run `npm run deploy`.")]
    if any(host == example or host.endswith("." + example) for example in EXAMPLE_HOSTS):
        return [fail(check, f"application_url is the example address {url}: Shopify would send every order "
                     "there, not to this deployment.",
                     "Set application_url (and redirect_urls) to your public HTTPS address, then `npm run deploy`.")]
    redirects = (config.get("auth") or {}).get("redirect_urls") or []
    other = [r for r in redirects if (urlsplit(str(r)).hostname or "").lower() != host]
    if other:
        return [warn("shopify.app.toml redirect_urls", "redirect_urls name another host than application_url.",
                     "Give redirect_urls the same host (unused with managed installation, but Shopify keeps it).")]
    return []


def public_url(text: str | None) -> str | None:
    """The application_url of shopify.app.toml, when it is a real https:// address."""
    try:
        url = str(tomllib.loads(text or "").get("application_url", ""))
    except tomllib.TOMLDecodeError:
        return None
    return url if not _application_url(url, {}) else None


# -- what the proxies in front of the web send -------------------------------------------------------
def check_proxy(answer: Mapping[str, Any] | None, env: Mapping[str, str], url: str, error: str = "") -> list[Finding]:
    """Compare TRUSTED_PROXY_HOPS with the X-Forwarded-For entries a request from outside arrived with.

    The probe sends no X-Forwarded-For of its own, so every entry was appended by a proxy in front of the web.
    """
    check = "TRUSTED_PROXY_HOPS"
    if answer is None:
        return [warn("proxy", f"could not ask {url}/doctor/proxy ({error or 'no answer'}), so the proxy hops "
                     "were not checked.", "Run the doctor where the app's public URL is reachable, with "
                     "METRICS_TOKEN set as on the web; or pass --offline.")]
    try:
        hops = int(_value(env, check) or 0)
    except ValueError:
        return []  # reported with the numbers
    seen = int(answer.get("forwarded_for_entries", 0))
    findings: list[Finding] = []
    entries = f"{seen} X-Forwarded-For entr" + ("y" if seen == 1 else "ies")
    if hops < seen:
        findings.append(warn(check, f"TRUSTED_PROXY_HOPS={hops}, but a request from outside arrived with {entries}: "
                             "each beacon's address would be a proxy's, so all your shoppers' beacons would share one "
                             "per-shopper rate limit (PIXEL_RATE_LIMIT_CLIENT) and record no shopper's address.",
                             f"Set TRUSTED_PROXY_HOPS={seen}."))
    elif hops > seen:
        findings.append(warn(check, f"TRUSTED_PROXY_HOPS={hops}, but a request from outside arrived with {entries}: a "
                             "shopper who sends X-Forwarded-For would choose the address Pinbridge records and "
                             "rate-limits beacons by.", f"Set TRUSTED_PROXY_HOPS={seen}."))
    else:
        findings.append(ok(check, f"{hops}, as many proxies as appended to X-Forwarded-For."))
    proto, scheme = answer.get("forwarded_proto"), answer.get("scheme")
    if url.startswith("https:") and proto != "https" and scheme != "https":
        findings.append(warn("X-Forwarded-Proto", "requests reach the web as http with no X-Forwarded-Proto: "
                             "https, so the embedded page builds http:// addresses.",
                             "Make the proxy that terminates TLS send X-Forwarded-Proto."))
    return findings

