"""Structured JSON-line logs with a request id; callers pass ids and codes, never personal data or secrets."""

from __future__ import annotations

import json
import logging
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

_RESERVED = set(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {"message", "asctime"}


def current_request_id() -> str | None:
    """The id of the request being served, if any."""
    try:
        from flask import g, has_request_context

        if has_request_context():
            rid = g.get("request_id")
            if rid is None:
                rid = g.request_id = uuid.uuid4().hex[:16]
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
        return json.dumps(entry, default=str)


def configure_logging(level: int = logging.INFO) -> None:
    """Install the JSON handler on the root logger once."""
    root = logging.getLogger()
    if any(isinstance(h.formatter, JSONFormatter) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter())
    root.addHandler(handler)
    root.setLevel(level)
