"""Shared test helpers: hashing oracle and the strict Pinterest request schema."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "schemas" / "conversion_events_request.strict.schema.json"


def h(plain: str) -> str:
    """SHA-256 hex of already-normalised plaintext: the oracle the tables are written with."""
    return hashlib.sha256(plain.encode("utf-8")).hexdigest()


@cache
def validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def schema_errors(event: dict[str, Any]) -> list[str]:
    """Messages for every way a one-event request body breaks Pinterest's strict schema."""
    return [error.message for error in validator().iter_errors({"data": [event]})]
