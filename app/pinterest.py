"""HTTP client for Pinterest's Conversions API: one batch request in, one result per event out.

Callers branch on the error type, never on message text: `CredentialsRejected` pauses the shop,
`BatchRejected` splits the batch to isolate bad events, `Unavailable` retries later. The access token never
appears in an exception, a log line or a repr: exceptions carry only Pinterest's words, and a failure of the
connection itself is reported by its kind, not by the text of the underlying error.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import orjson

from app.retry import MAX_RETRY_AFTER

if TYPE_CHECKING:  # imported when a client is made: the web process makes one only for a test event
    import requests

logger = logging.getLogger(__name__)

MAX_BATCH = 1000  # events per request, Pinterest's limit
MAX_MESSAGE_CHARS = 500  # an error message from Pinterest is cut here before it reaches logs and the database
POOL_SIZE = 4  # connections kept per host: a worker sends one request at a time, a few spare are plenty

_AD_ACCOUNT_ID = re.compile(r"[0-9]{1,18}")
# Printable ASCII, no spaces: the HTTP layer would refuse anything else with the value in its message.
_TOKEN = re.compile(r"[\x21-\x7e]+")
_DELTA_SECONDS = re.compile(r"[0-9]+(\.[0-9]+)?")  # RFC 9110 says integers; fractions cost nothing to accept
_BATCH_REJECTED = frozenset({400, 413, 422})  # 413: the body was too large, so a smaller batch may pass
_CREDENTIALS_REJECTED = frozenset({401, 403})
_EVENT_STATUSES = frozenset({"processed", "failed"})


class PinterestError(Exception):
    """Pinterest did not accept a request; the root of the family."""

    def __init__(self, message: str, *, status: int | None = None, code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, message={self.message!r})"


class CredentialsRejected(PinterestError):
    """Pinterest refused the access token or the ad account (401/403): pause the shop until it is fixed."""


class TokenRejected(CredentialsRejected):
    """401: the access token is wrong, revoked or expired; the merchant must paste a new one."""


class AdAccountRefused(CredentialsRejected):
    """403: the token works but may not send for this ad account (usually the wrong ad account id)."""


class BatchRejected(PinterestError):
    """Pinterest refused the whole request (400/413/422): split the batch to find the bad events."""


class Unavailable(PinterestError):
    """Pinterest could not take the request now (429, 5xx, timeout, connection failure, bad answer): retry."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status=status, code=code)
        self.retry_after = retry_after


@dataclass(frozen=True)
class EventResult:
    """Pinterest's verdict on one event of a batch, in request order."""

    processed: bool
    error_message: str | None
    warning_message: str | None


class PinterestClient:
    """Send batches of conversion events over one reused HTTP session; one client per worker thread."""

    def __init__(
        self,
        base_url: str,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        session: requests.Session | None = None,
        user_agent: str = "Pinbridge/0.1",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = (connect_timeout, read_timeout)
        self.user_agent = user_agent
        self._owns_session = session is None
        self._session = session if session is not None else _new_session()

    def __repr__(self) -> str:
        return f"PinterestClient(base_url={self.base_url!r})"

    def send_events(
        self, ad_account_id: str, access_token: str, events: list[Any], *, test: bool
    ) -> list[EventResult]:
        """POST one batch and return one result per event, or raise a `PinterestError`.

        An event is a dict, or the JSON text of one as stored (`orjson.Fragment`), written as it is.
        """
        _check_arguments(ad_account_id, access_token, events)
        body = orjson.dumps({"data": events})  # a 1,000-event batch in 0.6 ms; the standard library took 16
        url = f"{self.base_url}/ad_accounts/{ad_account_id}/events"
        headers = {
            "Authorization": f"Bearer {access_token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": self.user_agent,
        }
        context = {"ad_account_id": ad_account_id, "events": len(events), "test": test}
        response = self._post(url, body, headers, test=test, context=context)
        try:
            if response.status_code == 200:
                results = _parse_results(response, expected=len(events))
                processed = sum(r.processed for r in results)
                logger.debug(
                    "Pinterest answered a batch",
                    extra={"action": "pinterest_sent", "processed": processed, **context},
                )
                return results
            raise _error_for(response, access_token)
        except Unavailable as exc:
            logger.info(
                "Pinterest unavailable: %s",
                exc.message,
                extra={"action": "pinterest_unavailable", "http_status": exc.status,
                       "retry_after": exc.retry_after, **context},
            )
            raise
        finally:
            response.close()

    def close(self) -> None:
        """Close pooled connections, unless the session was lent by the caller."""
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> PinterestClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _post(
        self, url: str, body: bytes, headers: dict[str, str], *, test: bool, context: dict[str, Any]
    ) -> requests.Response:
        """Send the request; a transport failure becomes `Unavailable` naming only its kind."""
        import requests

        params = {"test": "true"} if test else None
        try:
            return self._session.post(
                url, data=body, headers=headers, params=params, timeout=self.timeout, allow_redirects=False
            )
        except requests.Timeout as exc:
            kind = f"Pinterest did not answer in time ({type(exc).__name__})"
        except requests.ConnectionError as exc:
            kind = f"could not connect to Pinterest ({type(exc).__name__})"
        except requests.RequestException as exc:
            kind = f"the request to Pinterest failed ({type(exc).__name__})"
        logger.info(
            "Pinterest unavailable: %s", kind, extra={"action": "pinterest_unavailable", **context}
        )
        # `from None`: the underlying error's text names URLs and may one day echo headers; keep it out of
        # tracebacks that end up in logs.
        raise Unavailable(kind) from None


def _new_session() -> requests.Session:
    """Build a session whose pool fits one worker; retries are the delivery loop's job, not urllib3's."""
    import requests
    from requests.adapters import HTTPAdapter

    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=POOL_SIZE, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def _check_arguments(ad_account_id: str, access_token: str, events: list[Any]) -> None:
    """Refuse a request Pinterest could never accept, before any I/O; messages never echo the token."""
    if not isinstance(ad_account_id, str) or not _AD_ACCOUNT_ID.fullmatch(ad_account_id):
        raise ValueError("ad_account_id must be 1 to 18 digits")
    if not isinstance(access_token, str) or not _TOKEN.fullmatch(access_token):
        raise ValueError("access_token must be non-empty printable ASCII without spaces")
    if not isinstance(events, list) or not 1 <= len(events) <= MAX_BATCH:
        raise ValueError(f"a batch holds 1 to {MAX_BATCH} events")


def _parse_results(response: requests.Response, *, expected: int) -> list[EventResult]:
    """Turn a 200 body into results in request order; anything we cannot trust is `Unavailable`."""
    try:
        payload = response.json()
    except ValueError:
        raise Unavailable("Pinterest answered 200 with a body that is not JSON", status=200) from None
    items = payload.get("events") if isinstance(payload, dict) else None
    if not isinstance(items, list):
        raise Unavailable("Pinterest answered 200 without an events list", status=200)
    if len(items) != expected:
        raise Unavailable(f"Pinterest answered for {len(items)} events but {expected} were sent", status=200)
    results = [_event_result(item) for item in items]
    if None in results:
        raise Unavailable("Pinterest answered 200 with an event result we cannot read", status=200)
    return [r for r in results if r is not None]


def _event_result(item: Any) -> EventResult | None:
    """Read one entry of the `events` list, or None when it is not the documented shape."""
    if not isinstance(item, dict) or item.get("status") not in _EVENT_STATUSES:
        return None
    error, warning = item.get("error_message"), item.get("warning_message")
    if not all(value is None or isinstance(value, str) for value in (error, warning)):
        return None
    return EventResult(
        processed=item["status"] == "processed",
        error_message=_truncate(error) if error else None,
        warning_message=_truncate(warning) if warning else None,
    )


def _error_for(response: requests.Response, access_token: str) -> PinterestError:
    """Map a non-200 answer to the error family, with Pinterest's own message and code."""
    status = response.status_code
    code, message = _read_error_body(response)
    message = message.replace(access_token, "[token]")
    if status in _CREDENTIALS_REJECTED:
        kind = TokenRejected if status == 401 else AdAccountRefused
        error: PinterestError = kind(message, status=status, code=code)
    elif status in _BATCH_REJECTED:
        error = BatchRejected(message, status=status, code=code)
    else:
        # 429, 5xx, and statuses Pinterest does not document for this endpoint (3xx, 404, ...): retrying
        # keeps the events; pausing the shop or splitting the batch would act on a guess.
        retry_after = parse_retry_after(response.headers.get("Retry-After"), datetime.now(UTC))
        return Unavailable(message, status=status, code=code, retry_after=retry_after)
    logger.warning(
        "Pinterest rejected a request: %s",
        message,
        extra={"action": "pinterest_rejected", "http_status": status, "code": code},
    )
    return error


def _read_error_body(response: requests.Response) -> tuple[int | None, str]:
    """Return Pinterest's error code and message, tolerating bodies that are not its JSON shape."""
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if isinstance(payload, dict) and isinstance(payload.get("message"), str) and payload["message"].strip():
        code = payload.get("code")
        if not isinstance(code, int) or isinstance(code, bool):
            code = None
        return code, _truncate(payload["message"])
    text = " ".join(response.text.split())
    detail = f": {text}" if text else " without a message"
    return None, _truncate(f"Pinterest answered HTTP {response.status_code}{detail}")


def _truncate(text: str) -> str:
    """Keep a message short enough for a log line and a database column."""
    text = text.strip()
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 1] + "…"


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Read a Retry-After header (delta-seconds or HTTP-date) as seconds from `now`; None if absent or bad.

    The answer is capped at the retry policy's MAX_RETRY_AFTER: a header asking for days (or an
    overflowing number) must not park a shop's events until they expire.
    """
    if value is None or not value.strip():
        return None
    value = value.strip()
    if _DELTA_SECONDS.fullmatch(value):
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # HTTP-dates are GMT by definition
    return min(max(0.0, (when - now).total_seconds()), MAX_RETRY_AFTER)
