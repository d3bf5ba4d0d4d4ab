"""SMS through Twilio Programmable Messaging. The only module that imports the Twilio REST SDK
(channels/webhook_security.py imports its request validator, for webhooks only).

    TwilioSmsChannel(account_sid, auth_token, *, messaging_service_sid=None, from_number=None,
                     status_callback_base=None, base_url=None, rate_per_second=10.0, burst=None,
                     max_concurrency=4, timeout=10.0, ...)
        .send_batch(messages) -> list[SendOutcome]
        .reconcile(message, *, since=None) -> SendOutcome | None

Errors (see channels/errors.py):

    HTTP 429, Twilio 20429                 wait (Retry-After, else `rate_limit_wait`) and try again,
                                           at most `rate_limit_retries` times; then Retryable
    HTTP 500, 502, 503                     Retryable
    HTTP 504                               Ambiguous (the gateway gave up; Twilio may have queued it)
    21211 invalid 'To'                     Permanent invalid_number, contact_invalid
    21614 not a mobile                     Permanent not_mobile, contact_invalid
    21610 recipient replied STOP           Permanent opted_out
    21408 region not enabled               Permanent region_not_enabled (account setting)
    401 / 20003                            Permanent unauthorized (account setting)
    any other 4xx                          Permanent rejected
    connection refused, connect timeout    Retryable (the request never left)
    read timeout, connection dropped       Ambiguous (the request left; no answer)
    anything unexpected                    Ambiguous

The adapter does not retry 5xx or timeouts itself: the dispatcher owns retries with backoff
(one policy for every channel, visible in the outbox). Only 429 is waited out here, since the
provider said exactly when to come back and every worker thread must slow down together.

Message creation has no idempotency key, so an ambiguous failure must never be re-sent blindly:
`reconcile` lists the recent messages to the recipient and looks for the same text.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone

import requests
from requests.adapters import HTTPAdapter
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

from channels.base import OutgoingMessage, SendOutcome, Sent, send_concurrently
from channels.errors import AmbiguousSendError, ChannelError, FailureCode, PermanentChannelError
from channels.errors import RetryableChannelError
from channels.ratelimit import RateLimiter
from channels.sms_encoding import to_gsm7
from models.enums import Channel

__all__ = ["TwilioSmsChannel", "map_twilio_error", "map_transport_error"]

log = logging.getLogger(__name__)

# The SDK logs every request at INFO, query string included: reconcile's query names the
# recipient's number. It gets a logger of its own that reaches no handler below WARNING.
_SDK_LOG = logging.Logger("relance.twilio_sdk", level=logging.WARNING)
_SDK_LOG.addHandler(logging.NullHandler())
# urllib3 (under requests) logs each request line, query string included, at DEBUG.
logging.getLogger("urllib3.connectionpool").setLevel(logging.INFO)

# Twilio error code -> (failure code, contact point invalid)
_PERMANENT_CODES: dict[int, tuple[str, bool]] = {
    21211: (FailureCode.INVALID_NUMBER, True),
    21614: (FailureCode.NOT_MOBILE, True),
    21610: (FailureCode.OPTED_OUT, False),
    21408: (FailureCode.REGION_NOT_ENABLED, False),
    20003: (FailureCode.UNAUTHORIZED, False),
}
RATE_LIMITED_CODE = 20429


def map_twilio_error(exc: TwilioRestException | TwilioServiceException) -> ChannelError:
    """Translate an error answer of the Twilio API. The SDK's message (which may quote the
    number) is not copied: only the status and the code."""
    status = int(getattr(exc, "status", 0) or 0)
    code = getattr(exc, "code", None)
    code = int(code) if isinstance(code, int) or (isinstance(code, str) and code.isdigit()) else None
    where = f"twilio HTTP {status}" + (f" code {code}" if code else "")
    info = {"provider_status": status, "provider_code": str(code) if code else None}
    if status == 429 or code == RATE_LIMITED_CODE:
        return RetryableChannelError(where, code=FailureCode.RATE_LIMITED, **info)
    if status == 504:
        return AmbiguousSendError(where, **info)
    if status >= 500:
        return RetryableChannelError(where, code=FailureCode.SERVER_ERROR, **info)
    if code in _PERMANENT_CODES:
        failure, contact_invalid = _PERMANENT_CODES[code]
        return PermanentChannelError(where, code=failure, contact_invalid=contact_invalid, **info)
    if status == 401:
        return PermanentChannelError(where, code=FailureCode.UNAUTHORIZED, **info)
    if status == 403:
        return PermanentChannelError(where, code=FailureCode.FORBIDDEN, **info)
    return PermanentChannelError(where, code=FailureCode.REJECTED, **info)


def map_transport_error(exc: requests.RequestException) -> ChannelError:
    """Did the request leave? Connect failures: no, safe to retry. Anything later: maybe."""
    name = type(exc).__name__
    if isinstance(exc, requests.ConnectTimeout):
        return RetryableChannelError(f"twilio {name}", code=FailureCode.TIMEOUT)
    if isinstance(exc, requests.ReadTimeout):
        return AmbiguousSendError(f"twilio {name}: no answer in time", code=FailureCode.TIMEOUT)
    if isinstance(exc, requests.ConnectionError) and not isinstance(exc, requests.exceptions.SSLError):
        reason = exc.args[0] if exc.args else None
        # Failed to connect: urllib3 wraps it in MaxRetryError (reason: NewConnectionError...);
        # a connection dropped after sending arrives as ProtocolError('Connection aborted.').
        inner = getattr(reason, "reason", None)
        if inner is not None and _is_connect_failure(inner):
            return RetryableChannelError(f"twilio {name}: could not connect", code=FailureCode.CONNECT_FAILED)
    return AmbiguousSendError(f"twilio {name} after the request was sent")


def _is_connect_failure(error: BaseException) -> bool:
    return isinstance(error, (NewConnectionError, ConnectTimeoutError, NameResolutionError))


class _HttpClient(TwilioHttpClient):
    """TwilioHttpClient with no hidden retries, a pool sized to our threads, and the response
    headers of the calling thread's last request kept (the SDK's exceptions drop Retry-After)."""

    def __init__(self, *, timeout: float, pool_size: int) -> None:
        super().__init__(timeout=timeout, logger=_SDK_LOG)
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self._local = threading.local()

    def request(self, *args, **kwargs):
        self._local.headers = {}
        response = super().request(*args, **kwargs)
        self._local.headers = response.headers or {}
        return response

    def last_headers(self):
        return getattr(self._local, "headers", {}) or {}


class TwilioSmsChannel:
    channel = Channel.SMS

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        messaging_service_sid: str | None = None,
        from_number: str | None = None,
        status_callback_base: str | None = None,
        base_url: str | None = None,
        validity_period: int | None = None,
        rate_per_second: float = 10.0,
        burst: int | None = None,
        max_concurrency: int = 4,
        timeout: float = 10.0,
        rate_limit_wait: float = 1.0,
        rate_limit_max_wait: float = 10.0,
        rate_limit_retries: int = 2,
        reconcile_lookback: timedelta = timedelta(days=1),
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ) -> None:
        if bool(messaging_service_sid) == bool(from_number):
            raise ValueError("give exactly one of messaging_service_sid and from_number")
        self.messaging_service_sid = messaging_service_sid
        self.from_number = from_number
        self.status_callback_base = status_callback_base
        self.validity_period = validity_period
        self.max_concurrency = max_concurrency
        self.rate_limit_wait = rate_limit_wait
        self.rate_limit_max_wait = rate_limit_max_wait
        self.rate_limit_retries = rate_limit_retries
        self.reconcile_lookback = reconcile_lookback
        self._sleep = sleep
        self._now = now
        self.limiter = RateLimiter(rate_per_second, burst or max(1, int(rate_per_second)), sleep=sleep)
        self._http = _HttpClient(timeout=timeout, pool_size=max(2, max_concurrency))
        # environment={} is falsy and the SDK then falls back to os.environ, so TWILIO_EDGE /
        # TWILIO_REGION would still reach the hostname: pin both explicitly instead.
        self._client = Client(account_sid, auth_token, http_client=self._http, environment={})
        self._client.edge = None
        self._client.region = None
        if base_url:
            self._client.api.base_url = base_url.rstrip("/")

    @property
    def _messages(self):
        return self._client.api.v2010.account.messages

    # -- sending -----------------------------------------------------------------------------

    def send_batch(self, messages: Sequence[OutgoingMessage]) -> list[SendOutcome]:
        return send_concurrently(messages, self._send_one, max_concurrency=self.max_concurrency)

    def _params(self, message: OutgoingMessage) -> dict:
        params: dict = {"to": message.to, "body": message.body_text}
        if self.messaging_service_sid:
            params["messaging_service_sid"] = self.messaging_service_sid
        else:
            params["from_"] = self.from_number
        if self.status_callback_base:
            joiner = "&" if "?" in self.status_callback_base else "?"
            params["status_callback"] = f"{self.status_callback_base}{joiner}action_id={message.action_id}"
        if self.validity_period:
            params["validity_period"] = self.validity_period
        return params

    def _send_one(self, message: OutgoingMessage) -> SendOutcome:
        params = self._params(message)
        attempt = 0
        while True:
            self.limiter.acquire()
            try:
                created = self._messages.create(**params)
            except (TwilioRestException, TwilioServiceException) as exc:
                error = map_twilio_error(exc)
                wait = self._rate_limit_wait(error, attempt)
                if wait is None:
                    log.warning("sms action %s failed: %s %s", message.action_id, type(error).__name__, error.code)
                    raise error from exc
                attempt += 1
                log.info("sms action %s: rate limited, waiting %.1fs", message.action_id, wait)
                self.limiter.pause(wait)
                continue
            except requests.RequestException as exc:
                error = map_transport_error(exc)
                log.warning("sms action %s failed: %s %s", message.action_id, type(error).__name__, error.code)
                raise error from exc
            return Sent(message.action_id, created.sid, _int_or_none(created.num_segments) or message.segments)

    def _rate_limit_wait(self, error: ChannelError, attempt: int) -> float | None:
        """Seconds to wait before trying a 429 again, or None to give up (error gets retry_after)."""
        if error.code != FailureCode.RATE_LIMITED:
            return None
        wait = _retry_after(self._http.last_headers()) or self.rate_limit_wait
        if attempt >= self.rate_limit_retries or wait > self.rate_limit_max_wait:
            error.retry_after = wait
            return None
        return wait

    # -- reconciliation ----------------------------------------------------------------------

    def reconcile(self, message: OutgoingMessage, *, since: datetime | None = None) -> SendOutcome | None:
        """Sent if Twilio holds an outbound message to the same number with the same text created
        since `since` (default: now - reconcile_lookback), else None (unknown).

        The lookup filters on To only and compares creation dates itself: `DateSent` stays empty
        while a message waits in Twilio's queue, and a queued message is precisely the kind an
        ambiguous failure leaves behind. Not finding it is not proof it was never accepted, so
        the answer is then None, never "send again".
        """
        since = since or (self._now() - self.reconcile_lookback)
        wanted = _comparable(message.body_text)
        try:
            self.limiter.acquire()
            found = self._messages.list(to=message.to, limit=50, page_size=50)
            for record in found:
                created = record.date_created
                if not str(record.direction or "").startswith("outbound"):
                    continue
                if created is not None and created < since:
                    continue
                if _comparable(record.body or "") == wanted:
                    log.info("sms action %s: reconciled as sent", message.action_id)
                    return Sent(message.action_id, record.sid, _int_or_none(record.num_segments))
        except Exception as exc:  # noqa: BLE001 - whatever went wrong, the answer is "unknown"
            log.warning("sms action %s: reconcile lookup failed (%s)", message.action_id, type(exc).__name__)
            return None
        log.info("sms action %s: not found by reconcile", message.action_id)
        return None


def _comparable(text: str) -> str:
    # Twilio's smart encoding may have swapped the odd character: compare the GSM-7 spelling.
    return " ".join(to_gsm7(text).split())


def _int_or_none(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _retry_after(headers) -> float | None:
    value = headers.get("Retry-After") if headers else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
