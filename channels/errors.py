"""What can go wrong when a message is handed to a provider.

    ChannelError
     +-- RetryableChannelError     not accepted; sending again later is safe
     |                             (connect failures, timeouts before the request left, 429, 500/502/503);
     |                             `retry_after` seconds when the provider said how long to wait
     +-- PermanentChannelError     refused for good; `code` says why, `contact_invalid` says whether
     |                             the contact point itself is bad (invalid number, not a mobile)
     +-- AmbiguousSendError        the request left and no answer came back (read timeout, connection
                                   dropped after sending, 504): the provider MAY have accepted it

`AmbiguousSendError` is deliberately NOT a `RetryableChannelError`: retrying it could send the same
relance twice, which "never twice" forbids, so an `except RetryableChannelError` must not catch it by
accident. The dispatcher keeps such an action in `sending` and asks the adapter's `reconcile()`;
when the answer stays unknown the action is shown for review, never re-sent blindly.

Every error carries a short `code` (see `FailureCode`) and, when known, the provider's HTTP status
and error code. Messages hold codes and ids only: never the recipient, the body or the provider's
own message text, which often quotes the phone number or address.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "AmbiguousSendError",
    "ChannelError",
    "FailureCode",
    "PermanentChannelError",
    "RetryableChannelError",
]


class FailureCode(StrEnum):
    # Retryable
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    CONNECT_FAILED = "connect_failed"
    TIMEOUT = "timeout"
    NOT_ACCEPTED = "not_accepted"  # reconcile: the provider is sure it never took the message
    # Ambiguous
    NO_RESPONSE = "no_response"
    # Permanent, the contact point is at fault
    INVALID_NUMBER = "invalid_number"
    NOT_MOBILE = "not_mobile"
    INVALID_EMAIL = "invalid_email"
    BOUNCED = "bounced"
    # Permanent, the contact point is fine but may not be used on this channel
    OPTED_OUT = "opted_out"
    # Permanent, the account or the request is at fault: the same error will hit every message,
    # so the dispatcher should stop the batch rather than fall back dossier by dossier.
    REGION_NOT_ENABLED = "region_not_enabled"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    # Permanent, anything else the provider refused
    REJECTED = "rejected"


class ChannelError(Exception):
    """Base of every error an adapter reports for one message."""

    def __init__(
        self,
        message: str,
        *,
        code: str,
        provider_status: int | None = None,
        provider_code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.provider_status = provider_status
        self.provider_code = provider_code

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r}, code={self.code!r})"


class RetryableChannelError(ChannelError):
    """The provider did not take the message; the same message may be sent again later."""

    def __init__(
        self,
        message: str,
        *,
        code: str = FailureCode.SERVER_ERROR,
        retry_after: float | None = None,
        provider_status: int | None = None,
        provider_code: str | None = None,
    ) -> None:
        super().__init__(
            message, code=code, provider_status=provider_status, provider_code=provider_code
        )
        self.retry_after = retry_after


class PermanentChannelError(ChannelError):
    """The provider refused the message and will refuse it again."""

    def __init__(
        self,
        message: str,
        *,
        code: str = FailureCode.REJECTED,
        contact_invalid: bool = False,
        provider_status: int | None = None,
        provider_code: str | None = None,
    ) -> None:
        super().__init__(
            message, code=code, provider_status=provider_status, provider_code=provider_code
        )
        self.contact_invalid = contact_invalid

    @property
    def opted_out(self) -> bool:
        return self.code == FailureCode.OPTED_OUT


class AmbiguousSendError(ChannelError):
    """The request may have been accepted: reconcile before anything else (see the module doc)."""

    def __init__(
        self,
        message: str,
        *,
        code: str = FailureCode.NO_RESPONSE,
        provider_status: int | None = None,
        provider_code: str | None = None,
    ) -> None:
        super().__init__(
            message, code=code, provider_status=provider_status, provider_code=provider_code
        )
