"""The Pinterest client against the real local stand-in, and the stand-in's own contract."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from jsonschema import Draft202012Validator

from app.pinterest import (
    MAX_BATCH,
    MAX_MESSAGE_CHARS,
    AdAccountRefused,
    BatchRejected,
    CredentialsRejected,
    EventResult,
    PinterestClient,
    PinterestError,
    TokenRejected,
    Unavailable,
    parse_retry_after,
)
from app.retry import MAX_RETRY_AFTER
from tests.standins.pinterest import PinterestStandin, check_body, request_validator, sample_event

TOKEN = "pina_test_token_0001"
ACCOUNT = "549755885175"
ROOT = Path(__file__).resolve().parent.parent
RESPONSE_SCHEMA = json.loads((ROOT / "tests/schemas/conversion_api_response.schema.json").read_text())


@pytest.fixture
def standin() -> Iterator[PinterestStandin]:
    with PinterestStandin() as server:
        yield server


@pytest.fixture
def client(standin: PinterestStandin) -> Iterator[PinterestClient]:
    with PinterestClient(standin.base_url, connect_timeout=2.0, read_timeout=5.0) as pinterest:
        yield pinterest


def events(n: int, prefix: str = "evt") -> list[dict[str, Any]]:
    return [sample_event(f"{prefix}-{i:04d}") for i in range(n)]


def closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def response_validator(definition: str) -> Draft202012Validator:
    return Draft202012Validator({**RESPONSE_SCHEMA, "$ref": f"#/$defs/{definition}"})


# -- success ------------------------------------------------------------------------------------------------


def test_send_events_returns_one_result_per_event_in_order(
    standin: PinterestStandin, client: PinterestClient
) -> None:
    standin.fail_events(lambda ev: ev["event_id"].startswith("bad"), message="Invalid email hash.")
    standin.warn_events(lambda ev: ev["event_id"] == "evt-0001", message="Unknown currency.")
    batch = [sample_event("evt-0000"), sample_event("bad-0001"), sample_event("evt-0001")]

    results = client.send_events(ACCOUNT, TOKEN, batch, test=False)

    assert results == [
        EventResult(processed=True, error_message=None, warning_message=None),
        EventResult(processed=False, error_message="Invalid email hash.", warning_message=None),
        EventResult(processed=True, error_message=None, warning_message="Unknown currency."),
    ]
    [received] = standin.requests
    assert (received.ad_account_id, received.token, received.test) == (ACCOUNT, TOKEN, False)
    assert received.status == 200
    assert received.events == batch
    assert standin.event_id_counts == {"evt-0000": 1, "evt-0001": 1}
    assert standin.violations == []


def test_test_flag_is_sent_as_query(standin: PinterestStandin, client: PinterestClient) -> None:
    client.send_events(ACCOUNT, TOKEN, events(2), test=True)
    client.send_events(ACCOUNT, TOKEN, events(2), test=False)

    assert [r.test for r in standin.requests] == [True, False]
    assert standin.violations == []


def test_full_batch_is_accepted(standin: PinterestStandin, client: PinterestClient) -> None:
    results = client.send_events(ACCOUNT, TOKEN, events(MAX_BATCH), test=False)

    assert len(results) == MAX_BATCH and all(r.processed for r in results)
    assert standin.summary() == {"requests": 1, "events_accepted": MAX_BATCH, "duplicate_event_ids": 0,
                                 "violations": 0}


def test_connection_is_reused_across_calls(standin: PinterestStandin, client: PinterestClient) -> None:
    for i in range(5):
        client.send_events(ACCOUNT, TOKEN, events(3, prefix=f"b{i}"), test=False)

    assert len(standin.requests) == 5
    assert len({r.client_port for r in standin.requests}) == 1


def test_lent_session_is_left_open(standin: PinterestStandin) -> None:
    # A closed session still answers (requests opens a new connection), so what shows it was left open is
    # its pooled connection: the caller's next request goes out on the same one.
    with requests.Session() as session:
        lent = PinterestClient(standin.base_url, session=session)
        lent.send_events(ACCOUNT, TOKEN, events(1, prefix="before"), test=False)
        lent.close()
        PinterestClient(standin.base_url, session=session).send_events(
            ACCOUNT, TOKEN, events(1, prefix="after"), test=False)
    assert len(standin.requests) == 2
    assert standin.requests[0].client_port == standin.requests[1].client_port


def test_own_session_is_closed(standin: PinterestStandin) -> None:
    with requests.Session() as session:
        own = PinterestClient(standin.base_url)
        own.send_events(ACCOUNT, TOKEN, events(1, prefix="before"), test=False)
        own.close()
        PinterestClient(standin.base_url, session=session).send_events(
            ACCOUNT, TOKEN, events(1, prefix="after"), test=False)
    assert standin.requests[0].client_port != standin.requests[1].client_port


# -- refusals -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
def test_credentials_rejected(standin: PinterestStandin, client: PinterestClient, status: int) -> None:
    standin.reject_token(TOKEN, status=status, message="Authentication failed.")

    with pytest.raises(CredentialsRejected) as caught:
        client.send_events(ACCOUNT, TOKEN, events(1), test=False)

    assert (caught.value.status, caught.value.message, str(caught.value)) == (
        status, "Authentication failed.", "Authentication failed.")
    assert caught.value.code == {401: 2, 403: 29}[status]
    # 401 is the token, 403 the ad account: the merchant fixes a different field for each.
    assert type(caught.value) is {401: TokenRejected, 403: AdAccountRefused}[status]


def test_batch_rejected_carries_pinterest_message(standin: PinterestStandin, client: PinterestClient) -> None:
    standin.reject_batches_containing(lambda ev: ev["event_id"] == "evt-0002", message="Event 2 is invalid.")

    with pytest.raises(BatchRejected) as caught:
        client.send_events(ACCOUNT, TOKEN, events(4), test=False)
    assert client.send_events(ACCOUNT, TOKEN, events(2), test=False)  # the batch without it passes

    assert (caught.value.status, caught.value.code, str(caught.value)) == (400, 4196, "Event 2 is invalid.")
    assert standin.event_id_counts == {"evt-0000": 1, "evt-0001": 1}


def test_422_is_a_batch_rejection(standin: PinterestStandin, client: PinterestClient) -> None:
    standin.respond_next(status=422, message="Not all events were processed.")

    with pytest.raises(BatchRejected, match="Not all events were processed."):
        client.send_events(ACCOUNT, TOKEN, events(1), test=False)


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [
        (2, 2.0),  # delta-seconds
        (None, None),  # no header
        ("soon", None),  # unreadable header
    ],
)
def test_rate_limited_is_unavailable_with_retry_after(
    standin: PinterestStandin, client: PinterestClient, retry_after: int | str | None, expected: float | None
) -> None:
    standin.respond_next(status=429, retry_after=retry_after)

    with pytest.raises(Unavailable) as caught:
        client.send_events(ACCOUNT, TOKEN, events(1), test=False)

    assert (caught.value.status, caught.value.code, caught.value.retry_after) == (429, 8, expected)


def test_retry_after_as_http_date(standin: PinterestStandin, client: PinterestClient) -> None:
    standin.respond_next(status=503, retry_after=format_datetime(datetime.now(UTC) + timedelta(seconds=120),
                                                                 usegmt=True))
    with pytest.raises(Unavailable) as caught:
        client.send_events(ACCOUNT, TOKEN, events(1), test=False)

    assert caught.value.retry_after is not None and 100 < caught.value.retry_after <= 120


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_unavailable(
    standin: PinterestStandin, client: PinterestClient, status: int
) -> None:
    standin.respond_next(status=status, times=2)

    for _ in range(2):
        with pytest.raises(Unavailable) as caught:
            client.send_events(ACCOUNT, TOKEN, events(1), test=False)
        assert caught.value.status == status
    assert client.send_events(ACCOUNT, TOKEN, events(1), test=False)[0].processed  # the queue is spent


def test_mode_unavailable_until_ok(standin: PinterestStandin, client: PinterestClient) -> None:
    standin.set_mode("unavailable")
    with pytest.raises(Unavailable, match="ramped down"):
        client.send_events(ACCOUNT, TOKEN, events(1), test=False)
    standin.set_mode("ok")

    assert client.send_events(ACCOUNT, TOKEN, events(1), test=False)[0].processed


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (404, b"Not Found", Unavailable),  # undocumented status: retry rather than act on a guess
        (502, b"<html><body>\n  Bad   gateway\n</body></html>", Unavailable),  # a proxy's page, not JSON
        (400, b"", BatchRejected),  # empty body
        (400, b'{"code": "x", "message": 7}', BatchRejected),  # JSON of the wrong shape
        (503, b"[1, 2]", Unavailable),  # JSON that is not an object
    ],
)
def test_error_bodies_that_are_not_pinterests_shape(
    standin: PinterestStandin, client: PinterestClient, status: int, body: bytes, error: type[PinterestError]
) -> None:
    standin.respond_next(status=status, body=body)

    with pytest.raises(error) as caught:
        client.send_events(ACCOUNT, TOKEN, events(1), test=False)

    assert (caught.value.status, caught.value.code) == (status, None)
    assert str(caught.value).startswith(f"Pinterest answered HTTP {status}")
    assert "\n" not in str(caught.value)


def test_long_error_message_is_truncated(standin: PinterestStandin, client: PinterestClient) -> None:
    standin.respond_next(status=400, message="x" * 5000)

    with pytest.raises(BatchRejected) as caught:
        client.send_events(ACCOUNT, TOKEN, events(1), test=False)

    assert len(caught.value.message) == MAX_MESSAGE_CHARS


@pytest.mark.parametrize(
    "body",
    [
        b"not json",  # unparseable
        {"num_events_received": 2, "num_events_processed": 2},  # no events list
        {"num_events_received": 2, "num_events_processed": 1, "events": [{"status": "processed"}]},  # too few
        {"events": [{"status": "processed"}, {"status": "done"}]},  # unknown status
        {"events": [{"status": "processed"}, "processed"]},  # an entry that is not an object
        {"events": [{"status": "failed", "error_message": 3}, {"status": "processed"}]},  # mistyped message
    ],
)
def test_malformed_200_is_unavailable(
    standin: PinterestStandin, client: PinterestClient, body: bytes | dict[str, Any]
) -> None:
    standin.respond_next(status=200, body=body)

    with pytest.raises(Unavailable) as caught:
        client.send_events(ACCOUNT, TOKEN, events(2), test=False)

    assert caught.value.status == 200


# -- transport failures -------------------------------------------------------------------------------------


def test_connection_refused_is_unavailable() -> None:
    with PinterestClient(f"http://127.0.0.1:{closed_port()}/v5", connect_timeout=1.0) as client:
        with pytest.raises(Unavailable, match="could not connect") as caught:
            client.send_events(ACCOUNT, TOKEN, events(1), test=False)

    assert (caught.value.status, caught.value.retry_after) == (None, None)


def test_read_timeout_is_unavailable(standin: PinterestStandin) -> None:
    standin.hold()
    with PinterestClient(standin.base_url, read_timeout=0.3) as client:
        with pytest.raises(Unavailable, match="did not answer in time"):
            client.send_events(ACCOUNT, TOKEN, events(1), test=False)
    standin.release()

    standin.wait_for_accepted(1)  # the held request is still processed, as Pinterest would


# -- arguments ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("account", "batch", "token"),
    [
        ("", events(1), TOKEN),  # empty ad account
        ("act_123", events(1), TOKEN),  # not digits
        ("1" * 19, events(1), TOKEN),  # too long
        ("١٢٣", events(1), TOKEN),  # digits, but not ASCII
        ("12/34", events(1), TOKEN),  # would change the path
        (ACCOUNT, [], TOKEN),  # empty batch
        (ACCOUNT, events(MAX_BATCH + 1), TOKEN),  # over Pinterest's limit
        (ACCOUNT, events(1), ""),  # empty token
        (ACCOUNT, events(1), TOKEN + "\r\nX-Injected: 1"),  # header injection
    ],
)
def test_invalid_arguments_raise_before_any_request(
    standin: PinterestStandin, client: PinterestClient, account: str, batch: list[dict[str, Any]], token: str
) -> None:
    with pytest.raises(ValueError) as caught:
        client.send_events(account, token, batch, test=False)

    assert standin.requests == []
    assert TOKEN not in str(caught.value)


# -- the token stays secret ---------------------------------------------------------------------------------

def _rejects_token_echoing_it(standin: PinterestStandin) -> str:
    standin.reject_token(TOKEN, message=f"Bad token {TOKEN}")
    return standin.base_url


def _refuses_batch_echoing_token(standin: PinterestStandin) -> str:
    standin.respond_next(400, message=f"Bearer {TOKEN} is not valid here")
    return standin.base_url


def _fails_with_page_echoing_token(standin: PinterestStandin) -> str:
    standin.respond_next(503, body=f"upstream said Authorization: Bearer {TOKEN}".encode())
    return standin.base_url


def _answers_malformed_200(standin: PinterestStandin) -> str:
    standin.respond_next(200, body=b"{")
    return standin.base_url


def _holds_past_timeout(standin: PinterestStandin) -> str:
    standin.hold()
    return standin.base_url


# Each arranges a failure and returns the base URL to call.
SCENARIOS: dict[str, Callable[[PinterestStandin], str]] = {
    "401 echoing the token": _rejects_token_echoing_it,
    "400 echoing the token": _refuses_batch_echoing_token,
    "503 page echoing the token": _fails_with_page_echoing_token,
    "malformed 200": _answers_malformed_200,
    "read timeout": _holds_past_timeout,
    "connection refused": lambda standin: f"http://127.0.0.1:{closed_port()}/v5",
    "unresolvable host": lambda standin: "http://pinterest.invalid/v5",
}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_token_never_in_exceptions_or_logs(
    standin: PinterestStandin, caplog: pytest.LogCaptureFixture, scenario: str
) -> None:
    base_url = SCENARIOS[scenario](standin)
    caplog.set_level(logging.DEBUG)

    with PinterestClient(base_url, connect_timeout=1.0, read_timeout=0.3) as client:
        with pytest.raises(PinterestError) as caught:
            client.send_events(ACCOUNT, TOKEN, events(1), test=False)
        rendered = [str(caught.value), repr(caught.value), repr(client),
                    "".join(traceback.format_exception(caught.value)), caplog.text]
    standin.release()

    assert caught.value.message
    for text in rendered:
        assert TOKEN not in text
    assert all(TOKEN not in str(getattr(r, "__dict__", "")) for r in caplog.records)


def test_retryable_failures_log_at_info_with_an_action(
    standin: PinterestStandin, client: PinterestClient, caplog: pytest.LogCaptureFixture
) -> None:
    standin.respond_next(status=429, retry_after=3)
    caplog.set_level(logging.INFO, logger="app.pinterest")

    with pytest.raises(Unavailable):
        client.send_events(ACCOUNT, TOKEN, events(1), test=False)

    [record] = [r for r in caplog.records if r.name == "app.pinterest"]
    assert (record.levelno, record.action, record.http_status, record.retry_after) == (  # type: ignore[attr-defined]
        logging.INFO, "pinterest_unavailable", 429, 3.0)


NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("120", 120.0),  # delta-seconds
        (" 7 ", 7.0),  # surrounding spaces
        ("1.5", 1.5),  # fractional seconds, tolerated
        ("0", 0.0),  # retry now
        ("Mon, 02 Nov 2026 12:01:00 GMT", 60.0),  # HTTP-date a minute ahead
        ("Mon, 02 Nov 2026 11:00:00 GMT", 0.0),  # HTTP-date in the past: no wait
        (None, None),  # absent
        ("", None),  # empty
        ("-5", None),  # negative is not delta-seconds
        ("soon", None),  # nonsense
        ("٣", None),  # non-ASCII digit
        ("99999999", MAX_RETRY_AFTER),  # years: capped at the retry policy's ceiling
        ("9" * 400, MAX_RETRY_AFTER),  # overflows a float: still the cap, not infinity
        ("Fri, 01 Jan 2100 00:00:00 GMT", MAX_RETRY_AFTER),  # an HTTP-date decades ahead
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, NOW) == expected


# -- the stand-in itself ------------------------------------------------------------------------------------


def post(standin: PinterestStandin, body: Any, *, path: str | None = None, token: str | None = TOKEN,
         query: str = "") -> requests.Response:
    """Send a raw request, bypassing the client's own checks."""
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    url = f"http://127.0.0.1:{standin.port}{path or f'/v5/ad_accounts/{ACCOUNT}/events'}{query}"
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return requests.post(url, data=data, headers=headers, timeout=5)


def with_custom(**custom: Any) -> dict[str, Any]:
    return sample_event(custom_data={"currency": "USD", "value": "10.00", **custom})


def with_user(**user: Any) -> dict[str, Any]:
    return sample_event(user_data=user)


HASH = "a" * 64


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"data": [with_custom(category_name="mugs")]}, "Additional properties"),  # unknown custom_data key
        ({"data": [with_custom(value=10.0)]}, "10.0 is not of type"),  # value sent as a number
        ({"data": [with_custom(contents=[{"id": "1", "item_price": 5}])]}, "5 is not of type"),  # item_price
        ({"data": [sample_event(event_time="1790000000")]}, "is not of type 'integer'"),  # time as a string
        ({"data": [sample_event(event_name="purchase")]}, "is not one of"),  # not a Pinterest event name
        ({"data": [with_user(ph=[HASH])]}, "needs em, hashed_maids"),  # a phone alone
        ({"data": [with_user(client_ip_address="203.0.113.9")]}, "needs em, hashed_maids"),  # IP without UA
        ({"data": [with_user(em=HASH)]}, "not valid under any"),  # hash not wrapped in a list
        ({"data": [with_user(em=["Shopper@Example.com"])]}, "not lowercase SHA-256"),  # unhashed email
        ({"data": [with_user(em=[HASH.upper()])]}, "not lowercase SHA-256"),  # uppercase hex
        ({"data": [with_user(em=[HASH], email="x")]}, "unknown keys ['email']"),  # unknown user_data key
        ({"data": [], "extra": 1}, "data holds 0 events"),  # empty batch
        ({"data": events(MAX_BATCH + 1)}, "data holds 1001 events"),  # oversized batch
        ({"data": events(2), "test": True}, "Additional properties"),  # unknown top-level key
        ({"events": events(1)}, 'no "data" list'),  # wrong envelope
        (b"{not json", "not JSON"),  # unparseable
        (b'{"data": [NaN]}', "not JSON"),  # NaN is not JSON
    ],
)
def test_standin_refuses_invalid_bodies(standin: PinterestStandin, body: Any, reason: str) -> None:
    response = post(standin, body)

    assert response.status_code == 400
    assert response.json()["code"] == 4196
    response_validator("Error").validate(response.json())
    [violation] = standin.violations
    assert reason in violation.reason
    assert standin.event_id_counts == {}


def test_standin_reports_the_real_index_and_value(standin: PinterestStandin) -> None:
    batch = [*events(5), with_custom(value=12.5), *events(3, prefix="tail")]
    post(standin, {"data": batch})

    [violation] = standin.violations
    assert violation.reason == "schema: 12.5 is not of type 'string', 'null' at data[5].custom_data.value"


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"token": None}, "Authorization"),  # no bearer token
        ({"path": "/v5/ad_accounts/act_1/events"}, "1 to 18 digits"),  # bad ad account id
        ({"path": "/v5/ad_accounts/1234567890123456789/events"}, "1 to 18 digits"),  # 19 digits
        ({"query": "?test=yes"}, "unexpected query"),  # test flag not true/false
        ({"query": "?debug=1"}, "unexpected query"),  # unknown parameter
    ],
)
def test_standin_refuses_invalid_requests(
    standin: PinterestStandin, kwargs: dict[str, Any], reason: str
) -> None:
    response = post(standin, {"data": events(1)}, **kwargs)

    assert response.status_code == 400
    assert reason in standin.violations[0].reason


def test_standin_unknown_path_is_404_and_a_violation(standin: PinterestStandin) -> None:
    assert post(standin, {"data": events(1)}, path="/v5/events").status_code == 404
    assert standin.violations[0].reason == "unknown path"


def test_standin_fast_path_agrees_with_plain_validation() -> None:
    """The shape cache must never accept what the schema refuses, nor refuse what it accepts."""
    bodies = [
        {"data": [*events(3), with_custom(num_items=2.0)]},  # integral float: "integer" accepts it
        {"data": [*events(3), with_custom(num_items=2.5)]},  # fractional float: refused
        {"data": [*events(3), with_custom(contents=[{"id": "1", "quantity": 1}, {"quantity": "2"}])]},
        {"data": [*events(3), sample_event(opt_out="no")]},  # bool field as a string
        {"data": [*events(3), with_user(em=[HASH], hashed_maids=[HASH], ct=[HASH, HASH])]},
        {"data": [*events(3), sample_event(event_time=True)]},  # a boolean is not an integer
    ]
    for body in bodies:
        _, problem = check_body(json.dumps(body).encode(), validate=True)
        assert (problem is None) == request_validator().is_valid(body), body


def test_standin_answers_conform_to_pinterest_schema(standin: PinterestStandin) -> None:
    standin.fail_events(lambda ev: ev["event_id"] == "evt-0001")
    ok = post(standin, {"data": events(3)})
    standin.respond_next(status=422)
    unprocessable = post(standin, {"data": events(1)})

    response_validator("ConversionApiResponse").validate(ok.json())
    assert ok.json()["num_events_received"] == 3 and ok.json()["num_events_processed"] == 2
    response_validator("DetailedError").validate(unprocessable.json())
    assert standin.violations == []


def test_standin_script_precedence_and_counts(standin: PinterestStandin) -> None:
    standin.respond_next(status=503, times=2)
    standin.set_mode("rate_limited", retry_after=4)

    statuses = [post(standin, {"data": events(1)}) for _ in range(3)]
    standin.set_mode("ok")
    post(standin, {"data": events(2)})

    assert [r.status_code for r in statuses] == [503, 503, 429]
    assert statuses[2].headers["Retry-After"] == "4"
    assert [r.status for r in standin.requests] == [503, 503, 429, 200]
    assert standin.sent_event_id_counts["evt-0000"] == 4
    assert standin.event_id_counts == {"evt-0000": 1, "evt-0001": 1}


def test_standin_hold_and_release(standin: PinterestStandin, client: PinterestClient) -> None:
    standin.hold()
    answered: list[list[EventResult]] = []
    import threading

    sender = threading.Thread(target=lambda: answered.append(client.send_events(ACCOUNT, TOKEN, events(2),
                                                                                test=False)))
    sender.start()
    [held] = standin.wait_for_requests(1, timeout=5)
    assert held.status is None and answered == []
    standin.release()
    sender.join(timeout=5)

    assert len(answered[0]) == 2 and standin.requests[0].status == 200
    with pytest.raises(TimeoutError):
        standin.wait_for_requests(2, timeout=0.05)


def test_standin_duplicates_are_counted(standin: PinterestStandin, client: PinterestClient) -> None:
    client.send_events(ACCOUNT, TOKEN, events(3), test=False)
    client.send_events(ACCOUNT, TOKEN, events(2), test=False)

    assert standin.duplicate_event_ids == ["evt-0000", "evt-0001"]
    assert standin.summary()["duplicate_event_ids"] == 2


def test_standin_runs_as_a_process() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with subprocess.Popen(
        [sys.executable, "-m", "tests.standins.pinterest", "--port", "0", "--latency", "0.01"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True,
    ) as process:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        with PinterestClient(f"http://127.0.0.1:{port}/v5") as client:
            client.send_events(ACCOUNT, TOKEN, events(3), test=False)
            client.send_events(ACCOUNT, TOKEN, events(1), test=False)
        process.send_signal(signal.SIGTERM)
        summary = json.loads(process.stdout.read().strip().splitlines()[-1])

    assert process.returncode == 0
    assert summary == {"requests": 2, "events_accepted": 4, "duplicate_event_ids": 1, "violations": 0}
