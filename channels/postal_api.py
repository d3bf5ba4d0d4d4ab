"""Letters posted by a postal-sending provider's REST API (Maileva-style), over httpx.

    PostalApiChannel(base_url, client_id, client_secret, *, renderer=None, postage="ECONOMIC",
                     color=False, duplex=True, timeout=10.0, max_concurrency=2, ...)
        .send_batch(messages) -> list[SendOutcome]   provider_id = the provider's sending id
        .reconcile(message) -> SendOutcome | None
        .close()

One letter = one sending, in five calls:

    POST /oauth/token                    client credentials (HTTP Basic); the token is cached until
                                         `expires_in` minus `token_leeway`, and fetched again at
                                         once when the API answers 401
    GET  /sendings?name=<key>            our idempotency key is the sending's `name`: a submitted
                                         sending found here is answered Sent, a draft is resumed
    POST /sendings                       {"name": key, "custom_id": letter reference, options}
    POST /sendings/{id}/documents        multipart: `document` (the PDF) + `metadata` (JSON)
    POST /sendings/{id}/recipients       address_line_1..6 (line 6 = postcode and city), country
    POST /sendings/{id}/submit           the only call that makes the provider print and post

Errors (see channels/errors.py). Nothing is posted before `submit`, so a failure before it is
never ambiguous: the next attempt finds the draft by name and carries on.

    429                                   wait (Retry-After, else `rate_limit_wait`) and try again,
                                          at most `rate_limit_retries` times; then Retryable
    500, 502, 503, 504 before submit      Retryable
    500, 502, 503, 504 at submit          Ambiguous (the provider may have taken it)
    connect error, pool timeout           Retryable (the request never left)
    read/write timeout, dropped
    connection, before submit             Retryable
    the same at submit                    Ambiguous
    401 (after one token refresh)         Permanent unauthorized;  403: Permanent forbidden
    400 / 422 on the recipient            Permanent rejected, contact_invalid (the address)
    409 at submit                         Sent if the lookup shows it submitted (a twin attempt won)
    any other 4xx                         Permanent rejected

`reconcile` looks the sending up by name: submitted -> Sent, draft or absent -> Failed retryable
`not_accepted` (sure: a draft is never posted), rejected or cancelled -> Failed permanent,
lookup failure -> None (unknown).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from channels.base import Failed, OutgoingMessage, SendOutcome, Sent, send_concurrently
from channels.errors import AmbiguousSendError, ChannelError, FailureCode, PermanentChannelError
from channels.errors import RetryableChannelError
from channels.letter_channel import LetterPdfSource, letter_job, require_letters
from channels.letters_pdf import LetterRenderer
from channels.ratelimit import RateLimiter
from models.enums import Channel

__all__ = ["PostalApiChannel", "map_postal_status", "map_transport_error"]

log = logging.getLogger(__name__)

SUBMIT = "submit"
RECIPIENT = "recipient"
DRAFT = "DRAFT"
REFUSED_STATUSES = frozenset({"REJECTED", "CANCELED", "CANCELLED"})

# Transport errors where the request cannot have reached the provider.
_NEVER_LEFT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol,
               httpx.ProxyError)


def map_transport_error(exc: httpx.TransportError, *, step: str) -> ChannelError:
    """An httpx transport error at `step` -> the channel error it means."""
    if isinstance(exc, _NEVER_LEFT):
        code = FailureCode.TIMEOUT if isinstance(exc, httpx.TimeoutException) else FailureCode.CONNECT_FAILED
        return RetryableChannelError(f"{step}: {type(exc).__name__}", code=code)
    if step == SUBMIT:
        return AmbiguousSendError(f"submit: {type(exc).__name__}, no answer", code=FailureCode.NO_RESPONSE)
    code = FailureCode.TIMEOUT if isinstance(exc, httpx.TimeoutException) else FailureCode.CONNECT_FAILED
    return RetryableChannelError(f"{step}: {type(exc).__name__} before submit", code=code)


def map_postal_status(
    status: int, *, step: str, retry_after: float | None = None, provider_code: str | None = None
) -> ChannelError:
    """A non-2xx answer at `step` -> the channel error it means."""
    common = {"provider_status": status, "provider_code": provider_code}
    if status == 429:
        return RetryableChannelError(
            f"{step}: rate limited", code=FailureCode.RATE_LIMITED, retry_after=retry_after, **common
        )
    if status >= 500:
        if step == SUBMIT:
            return AmbiguousSendError(f"submit: HTTP {status}", code=FailureCode.NO_RESPONSE, **common)
        return RetryableChannelError(
            f"{step}: HTTP {status}", code=FailureCode.SERVER_ERROR, retry_after=retry_after, **common
        )
    if status == 401:
        return PermanentChannelError(f"{step}: unauthorized", code=FailureCode.UNAUTHORIZED, **common)
    if status == 403:
        return PermanentChannelError(f"{step}: forbidden", code=FailureCode.FORBIDDEN, **common)
    if step == RECIPIENT and status in (400, 422):
        return PermanentChannelError(
            "recipient address refused", code=FailureCode.REJECTED, contact_invalid=True, **common
        )
    return PermanentChannelError(f"{step}: HTTP {status}", code=FailureCode.REJECTED, **common)


def recipient_fields(address_lines: Sequence[str]) -> dict[str, str]:
    """NF Z10-011 lines -> address_line_1..6: the last line (postcode and city) always in line 6,
    the others in their order from line 1."""
    lines = [line for line in address_lines if line.strip()]
    if not 2 <= len(lines) <= 6:
        raise PermanentChannelError(
            f"address has {len(lines)} lines, expected 2 to 6", code=FailureCode.REJECTED, contact_invalid=True
        )
    fields = {f"address_line_{i}": "" for i in range(1, 7)}
    for i, line in enumerate(lines[:-1], start=1):
        fields[f"address_line_{i}"] = line
    fields["address_line_6"] = lines[-1]
    return fields


@dataclass(frozen=True)
class _Token:
    value: str
    expires_at: float


class PostalApiChannel:
    channel = Channel.LETTER

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        renderer: LetterRenderer | None = None,
        postage: str = "ECONOMIC",
        color: bool = False,
        duplex: bool = True,
        country_code: str = "FR",
        timeout: float = 10.0,
        max_concurrency: int = 2,
        rate_per_second: float = 5.0,
        rate_limit_wait: float = 1.0,
        rate_limit_max_wait: float = 10.0,
        rate_limit_retries: int = 2,
        token_leeway: float = 30.0,
        http_client: httpx.Client | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._credentials = (client_id, client_secret)
        self.source = LetterPdfSource(renderer)
        self.options = {"postage_type": postage, "color_printing": color, "duplex_printing": duplex}
        self.country_code = country_code
        self.max_concurrency = max_concurrency
        self.rate_limit_wait = rate_limit_wait
        self.rate_limit_max_wait = rate_limit_max_wait
        self.rate_limit_retries = rate_limit_retries
        self.token_leeway = token_leeway
        self._clock = clock
        self._sleep = sleep
        self.limiter = RateLimiter(rate_per_second, max(1, int(rate_per_second)), sleep=sleep)
        self._http = http_client or httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            limits=httpx.Limits(max_connections=max(2, max_concurrency)),
        )
        self._token: _Token | None = None
        self._token_lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    @property
    def renderer(self) -> LetterRenderer:
        return self.source.renderer

    # -- the interface -----------------------------------------------------------------------

    def send_batch(self, messages: Sequence[OutgoingMessage]) -> list[SendOutcome]:
        require_letters(messages)
        return send_concurrently(messages, self._send_one, max_concurrency=self.max_concurrency)

    def reconcile(self, message: OutgoingMessage) -> SendOutcome | None:
        try:
            found = self._lookup(message.idempotency_key)
        except ChannelError as exc:
            log.warning("letter action %s: reconcile lookup failed (%s)", message.action_id, exc.code)
            return None
        if found is None or found.get("status") == DRAFT:
            log.info("letter action %s: not submitted at the postal provider", message.action_id)
            return Failed(
                message.action_id,
                RetryableChannelError("sending not submitted", code=FailureCode.NOT_ACCEPTED),
            )
        if str(found.get("status")).upper() in REFUSED_STATUSES:
            return Failed(
                message.action_id,
                PermanentChannelError("sending refused by the provider", code=FailureCode.REJECTED),
            )
        log.info("letter action %s: reconciled as sent (%s)", message.action_id, found["id"])
        return Sent(message.action_id, str(found["id"]))

    # -- one letter --------------------------------------------------------------------------

    def _send_one(self, message: OutgoingMessage) -> SendOutcome:
        try:
            job = letter_job(message)
            recipient = recipient_fields(job["address_lines"])
        except (KeyError, TypeError) as exc:
            raise PermanentChannelError("malformed letter message", code=FailureCode.REJECTED) from exc
        key = message.idempotency_key

        existing = self._lookup(key)
        if existing is not None and existing.get("status") != DRAFT:
            log.info("letter action %s: already submitted (%s)", message.action_id, existing["id"])
            return Sent(message.action_id, str(existing["id"]))

        pdf, _pages = self.source.pdf(message, job)
        if existing is None:
            created = self._call("create", "POST", "/sendings", json={
                "name": key, "custom_id": job["letter_reference"], **self.options,
            })
            sending_id = str(created["id"])
            documents = recipients = 0
        else:
            sending_id = str(existing["id"])
            documents = int(existing.get("documents_count") or 0)
            recipients = int(existing.get("recipients_count") or 0)
            log.info("letter action %s: resuming draft %s", message.action_id, sending_id)

        if not documents:
            self._call(
                "document", "POST", f"/sendings/{sending_id}/documents",
                files={"document": (f"{job['letter_reference']}.pdf", pdf, "application/pdf")},
                data={"metadata": json.dumps({"priority": 1, "name": job["letter_reference"]})},
            )
        if not recipients:
            self._call(RECIPIENT, "POST", f"/sendings/{sending_id}/recipients", json={
                "custom_id": str(message.action_id), **recipient, "country_code": self.country_code,
            })
        try:
            self._call(SUBMIT, "POST", f"/sendings/{sending_id}/submit")
        except PermanentChannelError as exc:
            # 409: a twin attempt submitted it first. Posted once, which is what we wanted.
            if exc.provider_status != 409 or (self._lookup(key) or {}).get("status", DRAFT) == DRAFT:
                raise
        log.info("letter action %s: submitted as %s", message.action_id, sending_id)
        return Sent(message.action_id, sending_id)

    def _lookup(self, key: str) -> dict[str, Any] | None:
        body = self._call("lookup", "GET", "/sendings", params={"name": key})
        for sending in body.get("sendings", []):
            if sending.get("name") == key:
                return sending
        return None

    # -- HTTP ----------------------------------------------------------------------------------

    def _call(self, step: str, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        rate_limited = 0
        refreshed = False
        while True:
            token = self._bearer()
            self.limiter.acquire()
            try:
                response = self._http.request(
                    method, path, headers={"Authorization": f"Bearer {token.value}"}, **kwargs
                )
            except httpx.TransportError as exc:
                raise map_transport_error(exc, step=step) from exc
            if response.status_code == 401 and not refreshed:
                self._drop_token(token)
                refreshed = True
                continue
            if response.status_code == 429:
                wait = _retry_after(response)
                wait = self.rate_limit_wait if wait is None else wait
                if rate_limited < self.rate_limit_retries and wait <= self.rate_limit_max_wait:
                    rate_limited += 1
                    log.info("postal %s: rate limited, waiting %.1fs", step, wait)
                    self._sleep(wait)
                    continue
            if response.is_success:
                return response.json() if response.content else {}
            error = map_postal_status(
                response.status_code, step=step, retry_after=_retry_after(response),
                provider_code=_provider_code(response),
            )
            log.warning("postal %s failed: HTTP %s -> %s", step, response.status_code, error.code)
            raise error

    def _bearer(self) -> _Token:
        with self._token_lock:
            token = self._token
            if token is not None and self._clock() < token.expires_at - self.token_leeway:
                return token
            self._token = self._fetch_token()
            return self._token

    def _drop_token(self, token: _Token) -> None:
        with self._token_lock:
            if self._token is token:
                self._token = None

    def _fetch_token(self) -> _Token:
        try:
            response = self._http.post(
                "/oauth/token", data={"grant_type": "client_credentials"}, auth=self._credentials
            )
        except httpx.TransportError as exc:
            raise map_transport_error(exc, step="token") from exc  # asking for a token is always safe
        if response.status_code in (400, 401):
            raise PermanentChannelError(
                "token refused", code=FailureCode.UNAUTHORIZED, provider_status=response.status_code
            )
        if not response.is_success:
            raise map_postal_status(response.status_code, step="token", retry_after=_retry_after(response))
        body = response.json()
        log.info("postal: new access token, valid %ss", body.get("expires_in"))
        return _Token(body["access_token"], self._clock() + float(body.get("expires_in", 0)))


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _provider_code(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    code = body.get("code") if isinstance(body, dict) else None
    return str(code) if code is not None else None
