"""A real HTTP server on 127.0.0.1 standing in for Pinterest's `POST /v5/ad_accounts/{id}/events`.

Every request is checked against the strict request schema and recorded; a request Pinterest would refuse
is answered 400 (code 4196) and listed in `violations`, so a test can assert `standin.violations == []`.
Behaviour is scriptable per test: one-shot answers, a default mode, token rules, per-event failures, batch
rejections, latency and a hold gate. Run as a process for benchmarks:

    python -m tests.standins.pinterest --port 0 --latency 0.15 [--no-validate]

prints the port on stdout's first line and a JSON summary when stopped with SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import signal
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"
REQUEST_SCHEMA = SCHEMA_DIR / "conversion_events_request.strict.schema.json"
MAX_EVENTS = 1000  # per request, Pinterest's limit
MAX_BODY = 16 * 1024 * 1024  # bytes; larger bodies are refused without being read
IDLE_TIMEOUT = 10.0  # seconds an idle keep-alive connection holds a server thread
ENDPOINT = re.compile(r"/v5/ad_accounts/([^/]*)/events")
AD_ACCOUNT_ID = re.compile(r"[0-9]{1,18}")
BEARER = re.compile(r"Bearer ([\x21-\x7e]+)")
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
HASHED_FIELDS = (
    "em", "hashed_maids", "ph", "fn", "ln", "ge", "db", "ct", "st", "zp", "country", "external_id",
)

# Pinterest's documented error codes and wording, by HTTP status.
ERRORS: dict[int, tuple[int, str]] = {
    400: (4196, "Invalid request."),
    401: (2, "Authentication failed."),
    403: (29, "You are not permitted to access that resource."),
    422: (4196, "Not all events were processed."),
    429: (8, "You have exceeded your rate limit. Try again later."),
    500: (1, "Internal server error."),
    503: (4197, "The endpoint has been ramped down and is currently not accepting any traffic."),
}

Event = dict[str, Any]
Predicate = Callable[[Event], bool]
Mode = Literal["ok", "unavailable", "rate_limited"]


@dataclass
class RecordedRequest:
    """One request as received; `status` is filled in once it has been answered."""

    index: int
    method: str
    path: str
    ad_account_id: str | None
    test: bool
    token: str | None
    events: list[Event]
    received_at: datetime
    client_port: int
    status: int | None = None


@dataclass(frozen=True)
class Violation:
    """A request Pinterest would have refused: the app sent something it must not."""

    request_index: int
    reason: str


@dataclass(frozen=True)
class Reply:
    """A scripted answer; `body` (bytes or JSON-able) replaces the usual body, even for a 200."""

    status: int
    message: str | None = None
    code: int | None = None
    retry_after: float | str | None = None
    body: bytes | dict[str, Any] | list[Any] | None = None
    delay: float = 0.0  # seconds, on top of the stand-in's latency


@dataclass(frozen=True)
class Answer:
    """What goes back on the wire."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@cache
def user_data_keys() -> frozenset[str]:
    """The keys Pinterest knows inside user_data."""
    schema = json.loads(REQUEST_SCHEMA.read_text(encoding="utf-8"))
    return frozenset(schema["$defs"]["ConversionEventsUserDataProperties"]["properties"])


@cache
def request_validator() -> Draft202012Validator:
    """Compile the strict request schema once per process."""
    schema = json.loads(REQUEST_SCHEMA.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def error_answer(status: int, message: str | None = None, code: int | None = None,
                 retry_after: float | str | None = None) -> Answer:
    """Build Pinterest's `{"code", "message"}` error answer (422 also carries `details`)."""
    default_code, default_message = ERRORS.get(status, (status, f"HTTP {status}"))
    payload: dict[str, Any] = {"code": default_code if code is None else code,
                               "message": message or default_message}
    if status == 422:
        payload["details"] = {}
    headers = {} if retry_after is None else {"Retry-After": _header_seconds(retry_after)}
    return Answer(status, json.dumps(payload).encode(), headers)


def _header_seconds(value: float | str) -> str:
    """Render Retry-After: whole seconds as an integer, anything else (an HTTP-date) verbatim."""
    if isinstance(value, str):
        return value
    return str(int(value)) if float(value).is_integer() else str(value)


def check_body(raw: bytes, *, validate: bool) -> tuple[list[Event], str | None]:
    """Parse a request body; return its events and the first reason Pinterest would refuse it, if any."""
    try:
        body = json.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError):
        return [], "body is not JSON"
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        return [], 'body has no "data" list'
    events = [ev for ev in data if isinstance(ev, dict)]
    if not 1 <= len(data) <= MAX_EVENTS:
        return events, f"data holds {len(data)} events; 1 to {MAX_EVENTS} are allowed"
    if not validate:
        return events, None
    return events, _check_user_data(data) or _check_schema(body, data) or _check_hashes(data)


def _refuse_constant(name: str) -> Any:
    """Refuse NaN and Infinity, which are not JSON."""
    raise ValueError(f"{name} is not JSON")


def _check_schema(body: dict[str, Any], data: list[Any]) -> str | None:
    """Validate against the strict schema, once per distinct event shape rather than once per event.

    Events in a batch differ mostly in values the schema checks only by type (ids, hashes, prices), so each
    event is reduced to its shape and only distinct shapes are validated; a failing shape is then re-checked
    with its first real event, so the message names real values and the real index.
    """
    shapes: dict[str, int] = {}
    for i, event in enumerate(data):
        shapes.setdefault(_key(_event_shape(event) if isinstance(event, dict) else event), i)
    reduced = [_event_shape(data[i]) if isinstance(data[i], dict) else data[i] for i in shapes.values()]
    error = best_match(request_validator().iter_errors({**body, "data": reduced}))
    if error is None:
        return None
    path = list(error.absolute_path)
    if len(path) >= 2 and path[0] == "data":
        index = list(shapes.values())[path[1]]
        error = best_match(request_validator().iter_errors({**body, "data": [data[index]]})) or error
        path = ["data", index, *list(error.absolute_path)[2:]]
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path) or "body"
    return f"schema: {error.message} at {where.lstrip('.')}"


def _key(value: Any) -> str:
    """A hashable identity for a JSON value."""
    return json.dumps(value, sort_keys=True)


def _event_shape(event: Event) -> Event:
    """Replace values the schema checks only by type with a same-typed stand-in; keep everything else."""
    free = type_only_keys()
    shape = _abstract(event, free["event"])
    if isinstance(event.get("user_data"), dict):
        shape["user_data"] = _abstract(event["user_data"], free["user_data"])
    if isinstance(event.get("custom_data"), dict):
        custom = shape["custom_data"] = _abstract(event["custom_data"], free["custom_data"])
        if isinstance(custom.get("contents"), list):
            items = [_abstract(c, free["contents"]) if isinstance(c, dict) else c for c in custom["contents"]]
            custom["contents"] = _distinct(items)
    return shape


def _abstract(obj: dict[str, Any], free: frozenset[str]) -> dict[str, Any]:
    """Copy `obj`, replacing the values of `free` keys by their type's stand-in."""
    return {key: _typed(value) if key in free else value for key, value in obj.items()}


def _typed(value: Any) -> Any:
    """A stand-in of the same JSON type; integral floats stay integral, as "integer" accepts 1.0."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return 0
    if isinstance(value, float):
        return 0.0 if value.is_integer() else 0.5
    if isinstance(value, str):
        return ""
    if isinstance(value, list):
        return _distinct([_typed(item) for item in value])
    return value


def _distinct(items: list[Any]) -> list[Any]:
    """Drop repeated values, keeping first occurrences in order."""
    return list({_key(item): item for item in reversed(items)}.values())[::-1]


@cache
def type_only_keys() -> dict[str, frozenset[str]]:
    """Per object, the keys whose schema constrains only the JSON type (their values can be abstracted)."""
    schema = json.loads(REQUEST_SCHEMA.read_text(encoding="utf-8"))
    event = schema["$defs"]["ConversionEvents"]["properties"]["data"]["items"]
    custom = event["properties"]["custom_data"]
    objects = {
        "event": event,
        "user_data": schema["$defs"]["ConversionEventsUserDataProperties"],
        "custom_data": custom,
        "contents": custom["properties"]["contents"]["items"],
    }
    return {name: frozenset(k for k, sub in obj["properties"].items() if _type_only(sub))
            for name, obj in objects.items()}


def _type_only(sub: dict[str, Any]) -> bool:
    """True if `sub` asserts nothing but a scalar type, or an array of such."""
    plain = {"type", "description", "format", "title"}  # format is not asserted by Draft202012Validator
    if sub.get("type") == "array" and set(sub) <= plain | {"items"}:
        return _type_only(sub.get("items", {})) and sub.get("items", {}).get("type") != "array"
    scalar_types = {"string", "integer", "number", "boolean", "null"}
    types = sub.get("type")
    types = set(types) if isinstance(types, list) else {types}
    return set(sub) <= plain and "type" in sub and types <= scalar_types


def _check_user_data(data: list[Any]) -> str | None:
    """Require em, hashed_maids, or client IP and user agent together (a phone alone is refused)."""
    known = user_data_keys()
    for i, event in enumerate(data):
        user = event.get("user_data") if isinstance(event, dict) else None
        if not isinstance(user, dict):
            continue  # the schema reports the missing or mistyped object
        if unknown := sorted(set(user) - known):
            # The schema leaves user_data open, but Pinterest refuses unknown keys at every level.
            return f"data[{i}].user_data has unknown keys {unknown}"
        if not (user.get("em") or user.get("hashed_maids")
                or (user.get("client_ip_address") and user.get("client_user_agent"))):
            return f"data[{i}].user_data needs em, hashed_maids, or client_ip_address with client_user_agent"
    return None


def _check_hashes(data: list[Event]) -> str | None:
    """Require every hashed identifier to be a lowercase SHA-256 hex digest, as Pinterest documents."""
    for i, event in enumerate(data):
        for key in HASHED_FIELDS:
            for value in event["user_data"].get(key) or ():
                if not SHA256_HEX.fullmatch(value):
                    return f"data[{i}].user_data.{key} holds a value that is not lowercase SHA-256 hex"
    return None


class PinterestStandin:
    """Pinterest's events endpoint on 127.0.0.1: validating, recording and scriptable; thread-safe."""

    def __init__(self, *, latency: float = 0.0, validate: bool = True, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self.latency = latency  # seconds before each answer
        self.validate = validate
        self._address = (host, port)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._cond = threading.Condition()
        self._gate = threading.Event()
        self._gate.set()
        self.reset()

    # -- lifecycle ------------------------------------------------------------------------------------------

    def start(self) -> PinterestStandin:
        """Bind a port and serve on a daemon thread."""
        self._server = _Server(self._address, _Handler, self)
        self._thread = threading.Thread(target=self._server.serve_forever, name="pinterest-standin",
                                        kwargs={"poll_interval": 0.02}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release held requests, stop serving and close the listening socket."""
        self._gate.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> PinterestStandin:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound TCP port."""
        if self._server is None:
            raise RuntimeError("the stand-in is not running")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """The value for PINTEREST_API_URL, e.g. http://127.0.0.1:PORT/v5."""
        return f"http://127.0.0.1:{self.port}/v5"

    # -- what happened --------------------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in arrival order."""
        with self._cond:
            return list(self._requests)

    @property
    def violations(self) -> list[Violation]:
        """Requests Pinterest would have refused as invalid."""
        with self._cond:
            return list(self._violations)

    @property
    def event_id_counts(self) -> Counter[str]:
        """How often each event_id was processed in a request answered 200 (more than 1 = duplicate)."""
        with self._cond:
            return Counter(self._accepted)

    @property
    def sent_event_id_counts(self) -> Counter[str]:
        """How often each event_id arrived at all, whatever the answer."""
        with self._cond:
            return Counter(self._sent)

    @property
    def duplicate_event_ids(self) -> list[str]:
        """Event ids processed more than once."""
        return sorted(key for key, n in self.event_id_counts.items() if n > 1)

    def summary(self) -> dict[str, int]:
        """Totals for benchmarks: requests, events accepted, duplicate event ids, violations."""
        counts = self.event_id_counts
        with self._cond:
            requests, violations = len(self._requests), len(self._violations)
        return {"requests": requests, "events_accepted": sum(counts.values()),
                "duplicate_event_ids": sum(1 for n in counts.values() if n > 1), "violations": violations}

    def wait_for_requests(self, n: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Block until at least `n` requests have arrived (held ones included); TimeoutError otherwise."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._requests) >= n, timeout):
                raise TimeoutError(f"{len(self._requests)} of {n} requests arrived within {timeout} s")
            return list(self._requests)

    def wait_for_accepted(self, n: int, timeout: float = 5.0) -> Counter[str]:
        """Block until at least `n` events have been processed in 200 answers; TimeoutError otherwise."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._accepted.total() >= n, timeout):
                raise TimeoutError(f"{self._accepted.total()} of {n} events accepted within {timeout} s")
            return Counter(self._accepted)

    # -- scripting ------------------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget every recording and scripted behaviour; back to mode "ok", gate open."""
        with self._cond:
            self._requests: list[RecordedRequest] = []
            self._violations: list[Violation] = []
            self._accepted: Counter[str] = Counter()
            self._sent: Counter[str] = Counter()
            self._queue: deque[Reply] = deque()
            self._mode: Mode = "ok"
            self._mode_retry_after: float | str | None = None
            self._token_rules: dict[str, Reply] = {}
            self._failures: list[tuple[Predicate, str]] = []
            self._warnings: list[tuple[Predicate, str]] = []
            self._batch_rules: list[tuple[Predicate, str, int]] = []
        self._gate.set()

    def respond_next(self, status: int, *, times: int = 1, retry_after: float | str | None = None,
                     message: str | None = None, code: int | None = None,
                     body: bytes | dict[str, Any] | list[Any] | None = None, delay: float = 0.0) -> None:
        """Answer the next `times` valid requests with this, ahead of every other rule."""
        reply = Reply(status, message, code, retry_after, body, delay)
        with self._cond:
            self._queue.extend([reply] * times)

    def set_mode(self, mode: Mode, *, retry_after: float | str | None = 1) -> None:
        """Answer from now on: "ok" normally, "unavailable" 503, "rate_limited" 429 with `retry_after`."""
        if mode not in ("ok", "unavailable", "rate_limited"):
            raise ValueError(f"unknown mode {mode!r}")
        with self._cond:
            self._mode, self._mode_retry_after = mode, retry_after

    def reject_token(self, token: str, *, status: int = 401, message: str | None = None,
                     code: int | None = None) -> None:
        """Answer every request carrying `token` with 401 or 403 until `accept_token`."""
        if status not in (401, 403):
            raise ValueError("token rules answer 401 or 403")
        with self._cond:
            self._token_rules[token] = Reply(status, message, code)

    def accept_token(self, token: str) -> None:
        """Drop the rule for `token`."""
        with self._cond:
            self._token_rules.pop(token, None)

    def fail_events(self, predicate: Predicate, *, message: str = "Event failed validation.") -> None:
        """Inside a 200, mark each event matching `predicate` as failed with `message`."""
        with self._cond:
            self._failures.append((predicate, message))

    def warn_events(self, predicate: Predicate, *, message: str = "Unrecognised field value.") -> None:
        """Inside a 200, attach `message` as warning_message to each matching event."""
        with self._cond:
            self._warnings.append((predicate, message))

    def reject_batches_containing(self, predicate: Predicate, *, message: str = "Invalid event in batch.",
                                  status: int = 400) -> None:
        """Answer 400 (or 422) to a whole request if any event in it matches `predicate`."""
        if status not in (400, 422):
            raise ValueError("batch rules answer 400 or 422")
        with self._cond:
            self._batch_rules.append((predicate, message, status))

    def hold(self) -> None:
        """Make requests block after arriving (and being recorded) until `release`."""
        self._gate.clear()

    def release(self) -> None:
        """Let held and later requests through."""
        self._gate.set()

    # -- serving --------------------------------------------------------------------------------------------

    def serve(self, method: str, target: str, headers: Mapping[str, str], raw: bytes | None,
              client_port: int) -> Answer:
        """Record one request (header names lowercase), wait at the gate, then answer it."""
        record, problem = self._parse(method, target, headers, raw, client_port)
        with self._cond:
            record.index = len(self._requests)
            self._requests.append(record)
            self._sent.update(_event_ids(record.events))
            if problem:
                self._violations.append(Violation(record.index, problem))
            self._cond.notify_all()
        self._gate.wait()
        if self.latency:
            time.sleep(self.latency)
        answer = error_answer(404 if problem == "unknown path" else 400, problem) if problem else (
            self._answer(record))
        with self._cond:
            record.status = answer.status
            self._cond.notify_all()
        return answer

    def _parse(self, method: str, target: str, headers: Mapping[str, str], raw: bytes | None,
               client_port: int) -> tuple[RecordedRequest, str | None]:
        """Read the request line, headers and body; return the record and the first problem found."""
        url = urlsplit(target)
        path = ENDPOINT.fullmatch(url.path)
        query = parse_qs(url.query, keep_blank_values=True)
        bearer = BEARER.fullmatch(headers.get("authorization") or "")
        events, body_problem = check_body(raw, validate=self.validate) if raw is not None else (
            [], "body missing or larger than allowed")
        record = RecordedRequest(
            index=-1, method=method, path=url.path, ad_account_id=path.group(1) if path else None,
            test=query.get("test") == ["true"], token=bearer.group(1) if bearer else None, events=events,
            received_at=datetime.now(UTC), client_port=client_port,
        )
        problems = [
            (path is None, "unknown path"),
            (method != "POST", f"method {method} is not POST"),
            (path is not None and not AD_ACCOUNT_ID.fullmatch(path.group(1)),
             "ad account id is not 1 to 18 digits"),
            (set(query) - {"test"} or query.get("test", ["true"])[0] not in ("true", "false"),
             f"unexpected query {url.query!r}"),
            (bearer is None, "Authorization is not 'Bearer <token>'"),
            ((headers.get("content-type") or "").split(";")[0].strip() != "application/json",
             "Content-Type is not application/json"),
            (body_problem is not None, body_problem or ""),
        ]
        return record, next((reason for failed, reason in problems if failed), None)

    def _answer(self, record: RecordedRequest) -> Answer:
        """Apply the scripted behaviour to a valid request, in order of precedence."""
        with self._cond:
            scripted = self._queue.popleft() if self._queue else None
            token_rule = self._token_rules.get(record.token or "")
            mode, mode_retry_after = self._mode, self._mode_retry_after
            batch_rules = list(self._batch_rules)
            failures, warnings = list(self._failures), list(self._warnings)
        if scripted is not None:
            return self._scripted(scripted, record, failures, warnings)
        if token_rule is not None:
            return error_answer(token_rule.status, token_rule.message, token_rule.code)
        if mode == "unavailable":
            return error_answer(503, retry_after=mode_retry_after)
        if mode == "rate_limited":
            return error_answer(429, retry_after=mode_retry_after)
        for predicate, message, status in batch_rules:
            if any(predicate(event) for event in record.events):
                return error_answer(status, message)
        return self._accept(record, failures, warnings)

    def _scripted(self, reply: Reply, record: RecordedRequest, failures: list[tuple[Predicate, str]],
                  warnings: list[tuple[Predicate, str]]) -> Answer:
        """Answer with a one-shot reply from `respond_next`."""
        if reply.delay:
            time.sleep(reply.delay)
        headers = {} if reply.retry_after is None else {"Retry-After": _header_seconds(reply.retry_after)}
        if reply.body is not None:
            raw = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
            return Answer(reply.status, raw, headers)
        if reply.status == 200:
            return self._accept(record, failures, warnings)
        return error_answer(reply.status, reply.message, reply.code, reply.retry_after)

    def _accept(self, record: RecordedRequest, failures: list[tuple[Predicate, str]],
                warnings: list[tuple[Predicate, str]]) -> Answer:
        """Answer 200 with one result per event, counting the processed ones as accepted."""
        results = []
        for event in record.events:
            error = next((message for predicate, message in failures if predicate(event)), None)
            warning = next((message for predicate, message in warnings if predicate(event)), None)
            results.append({"status": "failed" if error else "processed", "error_message": error,
                            "warning_message": warning})
        processed = [ev for ev, result in zip(record.events, results, strict=True)
                     if result["status"] == "processed"]
        with self._cond:
            # Counted before the answer is written: like Pinterest's, they count even if the client has gone.
            self._accepted.update(_event_ids(processed))
            self._cond.notify_all()
        payload = {"num_events_received": len(record.events), "num_events_processed": len(processed),
                   "events": results}
        return Answer(200, json.dumps(payload).encode())


def _event_ids(events: list[Event]) -> list[str]:
    """The string event ids among `events`."""
    return [ev["event_id"] for ev in events if isinstance(ev.get("event_id"), str)]


class _Server(ThreadingHTTPServer):
    """A threading server that knows its stand-in and keeps quiet about clients that hang up."""

    daemon_threads = True
    # Connections waiting to be accepted: four workers open 64 at once, and with socketserver's 5 the kernel
    # dropped the rest while the accepting thread waited for the interpreter lock (a ConnectTimeout, a retry).
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler],
                 standin: PinterestStandin) -> None:
        self.standin = standin
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore clients that disconnect mid-answer (timeouts, killed workers); report anything else."""
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """Hand every request to the stand-in; HTTP/1.1 so clients can keep connections alive."""

    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT
    disable_nagle_algorithm = True  # headers and body go out in two writes; Nagle would delay the second
    server: _Server

    def do_POST(self) -> None:
        self._handle()

    do_GET = do_PUT = do_PATCH = do_DELETE = do_POST

    def _handle(self) -> None:
        """Read the body, let the stand-in answer, write the answer."""
        raw = self._read_body()
        headers = {name.lower(): value for name, value in self.headers.items()}
        answer = self.server.standin.serve(self.command, self.path, headers, raw, self.client_address[1])
        self.send_response(answer.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer.body)))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(answer.body)

    def _read_body(self) -> bytes | None:
        """Read exactly Content-Length bytes; None (and close the connection) if absent or too large."""
        try:
            length = int(self.headers.get("Content-Length") or "")
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY or "chunked" in (self.headers.get("Transfer-Encoding") or ""):
            self.close_connection = True
            return None
        return self.rfile.read(length)

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet; the stand-in records what matters."""


def sample_event(event_id: str = "evt-0001", **overrides: Any) -> Event:
    """Return a checkout event Pinterest accepts; keyword arguments replace top-level fields."""
    event: Event = {
        "event_name": "checkout",
        "action_source": "web",
        "event_time": 1_790_000_000,
        "event_id": event_id,
        "user_data": {"em": [hashlib.sha256(b"shopper@example.com").hexdigest()]},
        "custom_data": {"currency": "USD", "value": "42.50", "order_id": event_id},
    }
    event.update(overrides)
    return event


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM or SIGINT; print the port first and a JSON summary last."""
    parser = argparse.ArgumentParser(prog="python -m tests.standins.pinterest",
                                     description="Stand in for Pinterest's Conversions API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--no-validate", dest="validate", action="store_false",
                        help="skip the schema check so a benchmark measures the app, not jsonschema")
    parser.add_argument("--mode", choices=["ok", "unavailable", "rate_limited"], default="ok")
    args = parser.parse_args(argv)
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    standin = PinterestStandin(latency=args.latency, validate=args.validate, host=args.host, port=args.port)
    if args.validate:
        request_validator()  # compile before announcing the port, so the first request is not slow
    with standin:
        standin.set_mode(args.mode)
        print(standin.port, flush=True)
        while not stopping.wait(0.2):
            pass
    print(json.dumps(standin.summary()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
