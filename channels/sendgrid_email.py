"""Email through the SendGrid v3 Mail Send API. The only module that imports the SendGrid SDK
(channels/webhook_security.py imports its event-webhook verifier, for webhooks only).

    SendGridEmailChannel(api_key, *, from_email, from_name, unsubscribe_url_base, reply_to=None,
                         host=None, rate_per_second=50.0, burst=None, max_concurrency=8, timeout=10.0, ...)
        .send_batch(messages) -> list[SendOutcome]
        .reconcile(message) -> None

Each mail carries the HTML and text versions, the categories, the action id and idempotency key
as `custom_args` of its personalization (every event webhook echoes them back; the contract types
message-level `custom_args` as a string, so they go on the personalization where it is an object),
and `List-Unsubscribe` + `List-Unsubscribe-Post: List-Unsubscribe=One-Click` headers (RFC 8058).
The unsubscribe URL is `message.metadata["unsubscribe_url"]` when the dispatcher put the one it
rendered into the body there, else `<unsubscribe_url_base>?action_id=<id>`.
The provider id is the `X-Message-Id` response header (the prefix of every event's sg_message_id).

Errors (see channels/errors.py):

    429                                wait until X-RateLimit-Reset (epoch seconds) when that is
                                       at most `rate_limit_max_wait` away, try again at most
                                       `rate_limit_retries` times; then Retryable with retry_after
    500, 502, 503                      Retryable
    504                                Ambiguous (the gateway gave up; SendGrid may have queued it)
    400 naming the recipient field     Permanent invalid_email, contact_invalid
    400 otherwise, 413, other 4xx      Permanent rejected
    401                                Permanent unauthorized (account setting)
    403                                Permanent forbidden (sender not verified, scope missing)
    cannot connect, connect timeout    Retryable (urllib raises URLError before anything was sent)
    read timeout, connection dropped   Ambiguous (raised while waiting for the answer)
    anything unexpected                Ambiguous

5xx and timeouts are not retried here: the dispatcher owns retries with backoff.

Reconciliation: the Mail Send API has no idempotency key, and finding a message again needs the
Email Activity API, a paid add-on with its own scope. `reconcile` therefore answers None
(unknown): the dispatcher shows such an action for review instead of sending it twice.
"""

from __future__ import annotations

import http.client
import json
import logging
import socket
import time
import urllib.error
from collections.abc import Callable, Sequence

from python_http_client.exceptions import HTTPError as SendGridHTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import Category, Content, CustomArg, From, Header, Mail
from sendgrid.helpers.mail import Personalization, ReplyTo, To

from channels.base import OutgoingMessage, SendOutcome, Sent, send_concurrently
from channels.errors import AmbiguousSendError, ChannelError, FailureCode, PermanentChannelError
from channels.errors import RetryableChannelError
from channels.ratelimit import RateLimiter
from models.enums import Channel

__all__ = ["SendGridEmailChannel", "map_sendgrid_error", "map_transport_error"]

log = logging.getLogger(__name__)

MAX_CATEGORIES = 10  # SendGrid refuses more

# The SDK's HTTP layer logs every payload (addresses, texts) and the request headers (the API key)
# at DEBUG. Logs carry ids only, whatever level the application runs at.
logging.getLogger("python_http_client.client").setLevel(logging.WARNING)


def _recipient_field(body: bytes | str | None) -> bool:
    """Does a 400 answer blame the recipient's address (personalizations.N.to...)?"""
    try:
        errors = json.loads(body or b"{}").get("errors") or []
    except (ValueError, AttributeError):
        return False
    return any(
        str((e or {}).get("field") or "").startswith("personalizations")
        and ".to" in str((e or {}).get("field"))
        for e in errors
        if isinstance(e, dict)
    )


def map_sendgrid_error(exc: SendGridHTTPError) -> ChannelError:
    """Translate an error answer of the API. The body (which may quote the address) is not copied."""
    status = int(getattr(exc, "status_code", 0) or 0)
    where = f"sendgrid HTTP {status}"
    info = {"provider_status": status}
    if status == 429:
        return RetryableChannelError(where, code=FailureCode.RATE_LIMITED, **info)
    if status == 504:
        return AmbiguousSendError(where, **info)
    if status >= 500:
        return RetryableChannelError(where, code=FailureCode.SERVER_ERROR, **info)
    if status == 400 and _recipient_field(getattr(exc, "body", None)):
        return PermanentChannelError(where, code=FailureCode.INVALID_EMAIL, contact_invalid=True, **info)
    if status == 401:
        return PermanentChannelError(where, code=FailureCode.UNAUTHORIZED, **info)
    if status == 403:
        return PermanentChannelError(where, code=FailureCode.FORBIDDEN, **info)
    return PermanentChannelError(where, code=FailureCode.REJECTED, **info)


def map_transport_error(exc: BaseException) -> ChannelError:
    """urllib wraps in URLError what fails while connecting or sending; what fails while waiting
    for the answer (timeout, dropped connection) comes through raw, after the request left."""
    name = type(exc).__name__
    if isinstance(exc, urllib.error.URLError):
        if isinstance(exc.reason, (socket.timeout, TimeoutError)):
            return RetryableChannelError(f"sendgrid {name}: connect timeout", code=FailureCode.TIMEOUT)
        return RetryableChannelError(f"sendgrid {name}: could not connect", code=FailureCode.CONNECT_FAILED)
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return AmbiguousSendError(f"sendgrid {name}: no answer in time", code=FailureCode.TIMEOUT)
    return AmbiguousSendError(f"sendgrid {name} after the request was sent")


class SendGridEmailChannel:
    channel = Channel.EMAIL

    def __init__(
        self,
        api_key: str,
        *,
        from_email: str,
        from_name: str,
        unsubscribe_url_base: str,
        reply_to: str | None = None,
        host: str | None = None,
        rate_per_second: float = 50.0,
        burst: int | None = None,
        max_concurrency: int = 8,
        timeout: float = 10.0,
        rate_limit_max_wait: float = 10.0,
        rate_limit_retries: int = 2,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.from_email = from_email
        self.from_name = from_name
        self.reply_to = reply_to
        self.unsubscribe_url_base = unsubscribe_url_base
        self.max_concurrency = max_concurrency
        self.rate_limit_max_wait = rate_limit_max_wait
        self.rate_limit_retries = rate_limit_retries
        self._sleep = sleep
        self._clock = clock
        self.limiter = RateLimiter(rate_per_second, burst or max(1, int(rate_per_second)), sleep=sleep)
        self._client = SendGridAPIClient(api_key, host=host.rstrip("/")) if host else SendGridAPIClient(api_key)
        # Child clients (client.mail.send...) copy the timeout of this one.
        self._client.client.timeout = timeout

    # -- building ----------------------------------------------------------------------------

    def unsubscribe_url(self, message: OutgoingMessage) -> str:
        url = message.metadata.get("unsubscribe_url")
        if url:
            return str(url)
        joiner = "&" if "?" in self.unsubscribe_url_base else "?"
        return f"{self.unsubscribe_url_base}{joiner}action_id={message.action_id}"

    def build(self, message: OutgoingMessage) -> dict:
        """The v3 request body for one message."""
        mail = Mail()
        mail.from_email = From(self.from_email, self.from_name)
        mail.subject = message.subject
        personalization = Personalization()
        personalization.add_to(To(message.to))
        personalization.add_custom_arg(CustomArg("action_id", str(message.action_id)))
        personalization.add_custom_arg(CustomArg("idempotency_key", message.idempotency_key))
        mail.add_personalization(personalization)
        if self.reply_to:
            mail.reply_to = ReplyTo(self.reply_to)
        mail.add_content(Content("text/plain", message.body_text))
        if message.body_html:
            mail.add_content(Content("text/html", message.body_html))
        # The helpers insert headers and categories at the front: add them in reverse to keep order.
        mail.add_header(Header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
        mail.add_header(Header("List-Unsubscribe", f"<{self.unsubscribe_url(message)}>"))
        for name in reversed(list(dict.fromkeys(message.categories))[:MAX_CATEGORIES]):
            mail.add_category(Category(name))
        return mail.get()

    # -- sending -----------------------------------------------------------------------------

    def send_batch(self, messages: Sequence[OutgoingMessage]) -> list[SendOutcome]:
        return send_concurrently(messages, self._send_one, max_concurrency=self.max_concurrency)

    def _send_one(self, message: OutgoingMessage) -> SendOutcome:
        body = self.build(message)
        attempt = 0
        while True:
            self.limiter.acquire()
            try:
                response = self._client.send(body)
            except SendGridHTTPError as exc:
                error = map_sendgrid_error(exc)
                wait = self._rate_limit_wait(error, exc, attempt)
                if wait is None:
                    log.warning("email action %s failed: %s %s", message.action_id, type(error).__name__, error.code)
                    raise error from exc
                attempt += 1
                log.info("email action %s: rate limited, waiting %.1fs", message.action_id, wait)
                self.limiter.pause(wait)
                continue
            except (OSError, http.client.HTTPException) as exc:  # URLError is an OSError
                error = map_transport_error(exc)
                log.warning("email action %s failed: %s %s", message.action_id, type(error).__name__, error.code)
                raise error from exc
            provider_id = _header(response.headers, "X-Message-Id")
            if not provider_id:
                log.warning("email action %s: accepted without X-Message-Id", message.action_id)
            return Sent(message.action_id, provider_id)

    def _rate_limit_wait(self, error: ChannelError, exc: SendGridHTTPError, attempt: int) -> float | None:
        if error.code != FailureCode.RATE_LIMITED:
            return None
        reset = _header(getattr(exc, "headers", None), "X-RateLimit-Reset")
        try:
            wait = max(0.0, float(reset) - self._clock()) if reset else 1.0
        except ValueError:
            wait = 1.0
        if attempt >= self.rate_limit_retries or wait > self.rate_limit_max_wait:
            error.retry_after = wait
            return None
        return wait

    def reconcile(self, message: OutgoingMessage) -> SendOutcome | None:
        """Always None (unknown): see the module docstring."""
        return None


def _header(headers, name: str) -> str | None:
    if headers is None:
        return None
    value = headers.get(name)
    if value is None and hasattr(headers, "items"):
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value
