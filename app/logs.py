"""Structured JSON-line logs with a request id; callers pass ids and codes, never personal data or secrets."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson

_RESERVED = set(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {"message", "asctime"}


# The request id of a request served outside Flask (the webhook acknowledgement path, app/ingest/wsgi.py).
# A context variable, so each thread or greenlet (gevent gives each its own context) sees its own.
_REQUEST_ID: ContextVar[str | None] = ContextVar("pinbridge_request_id", default=None)


def new_request_id() -> str:
    return os.urandom(8).hex()


@contextmanager
def request_id_scope() -> Iterator[str]:
    """A fresh request id for the log lines of a request Flask does not serve."""
    rid = new_request_id()
    token = _REQUEST_ID.set(rid)
    try:
        yield rid
    finally:
        _REQUEST_ID.reset(token)


def current_request_id() -> str | None:
    """The id of the request being served, if any."""
    rid = _REQUEST_ID.get()
    if rid is not None:
        return rid
    try:
        from flask import g, has_request_context

        if has_request_context():
            rid = g.get("request_id")
            if rid is None:
                rid = g.request_id = new_request_id()
            return str(rid)
    except RuntimeError:
        return None
    return None


class JSONFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id and the record's `extra`."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = current_request_id()
        if rid:
            entry["request_id"] = rid
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        try:
            return orjson.dumps(entry, default=str).decode()  # a few times faster: one line per webhook
        except TypeError:  # what orjson refuses (an integer beyond 64 bits, a non-string key)
            return json.dumps(entry, default=str)


class _ServerAction(logging.Filter):
    """Name what a line of gunicorn's own says, as every line of the app does."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "action"):
            message = record.msg if isinstance(record.msg, str) else ""
            # gunicorn's line for a request its parser refused: "Invalid request from ip=…: <reason>".
            record.action = "request_refused" if message.startswith("Invalid request") else "server"
        return True


def structure_server_lines() -> None:
    """gunicorn's lines in this process (a request its parser refused, a worker error) as JSON lines too.

    gunicorn logs through `gunicorn.error` with its own text format; in a web process the app is loaded
    after gunicorn set that up, so its handlers are given the app's formatter here.
    """
    server = logging.getLogger("gunicorn.error")
    for handler in server.handlers:
        if not isinstance(handler.formatter, JSONFormatter):
            handler.setFormatter(JSONFormatter())
    if not any(isinstance(f, _ServerAction) for f in server.filters):
        server.addFilter(_ServerAction())


def configure_logging(level: int = logging.INFO) -> None:
    """Install the JSON handler on the root logger once."""
    structure_server_lines()
    root = logging.getLogger()
    if any(isinstance(h.formatter, JSONFormatter) for h in root.handlers):
        return
    # A line carries neither the caller's file and line nor its thread (the logging HOWTO's "Optimization"):
    # a record skips the stack walk and lookups it would otherwise make for each line. The process id stays:
    # it costs one getpid(), and a format that names it (gunicorn's `[%(process)d]`) fails on a record
    # without it, printing a traceback in place of the line.
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter())
    root.addHandler(handler)
    root.setLevel(level)
