"""Channel settings: provider credentials, rate limits, dispatch retries and unit costs.

Read from the environment (prefix RELANCE_) or `.env`, like app/settings.py. With nothing set,
every channel is a sandbox writing under `outbox_dir`: no account or credential is needed.

    RELANCE_TWILIO_ACCOUNT_SID + RELANCE_TWILIO_AUTH_TOKEN
      + RELANCE_TWILIO_MESSAGING_SERVICE_SID or RELANCE_TWILIO_FROM      -> SMS through Twilio
    RELANCE_SENDGRID_API_KEY + RELANCE_SENDGRID_FROM_EMAIL                -> email through SendGrid
    RELANCE_POSTAL_API_URL + _CLIENT_ID + _CLIENT_SECRET                  -> letters posted by API
    otherwise letters go to the in-house print spool (RELANCE_LETTERS=spool, the default "auto"),
    or to the sandbox (RELANCE_LETTERS=sandbox: JSON records only, no PDF).

A half-configured provider (an account SID without its token...) is an error, never a silent
fallback to the sandbox: a production run that believes it sends must not write files instead.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.dispatch import DispatchPolicy, UnitCosts


class ChannelConfigError(ValueError):
    """A provider is partly configured; the message names the missing settings, never values."""


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


class ChannelSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RELANCE_", env_file=".env", extra="ignore")

    # Public address of `relance serve` (behind the TLS proxy): provider status callbacks and
    # the unsubscribe links of emails are built on it.
    public_base_url: str = "http://127.0.0.1:8000"
    twilio_status_path: str = "/webhooks/twilio/status"
    unsubscribe_path: str = "/desinscription"
    # Signs unsubscribe links (HMAC); without it the links carry the action id only.
    unsubscribe_secret: SecretStr | None = None

    # -- SMS: Twilio ---------------------------------------------------------------------------
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_messaging_service_sid: str | None = None
    twilio_from: str | None = None
    twilio_base_url: str | None = None  # a stub server in tests; None = api.twilio.com
    twilio_validity_period: int | None = Field(default=None, ge=1, le=36_000)
    twilio_rate_per_second: float = Field(default=10.0, gt=0)
    twilio_max_concurrency: int = Field(default=4, ge=1, le=64)
    twilio_timeout: float = Field(default=10.0, gt=0)
    # -- calls: Twilio Voice (click-to-call from the console) -----------------------------------
    twilio_voice_from: str | None = None  # the office's number, shown to agent and debtor
    record_calls: bool = False  # the debtor always hears the notice first (templates/call/voix)

    # -- email: SendGrid -----------------------------------------------------------------------
    sendgrid_api_key: SecretStr | None = None
    sendgrid_from_email: str | None = None
    sendgrid_from_name: str | None = None  # default: the office's name
    sendgrid_reply_to: str | None = None
    sendgrid_host: str | None = None  # a stub server in tests
    # Event Webhook verification key (base64 DER or PEM, as SendGrid shows it); without it every
    # SendGrid event callback is refused.
    sendgrid_webhook_public_key: str | None = None
    sendgrid_rate_per_second: float = Field(default=50.0, gt=0)
    sendgrid_max_concurrency: int = Field(default=8, ge=1, le=64)
    sendgrid_timeout: float = Field(default=10.0, gt=0)

    # -- letters -------------------------------------------------------------------------------
    letters: Literal["auto", "spool", "sandbox", "postal"] = "auto"
    letter_spool_dir: Path | None = None  # default: <outbox_dir>/print
    postal_api_url: str | None = None
    postal_api_client_id: str | None = None
    postal_api_client_secret: SecretStr | None = None
    postal_api_postage: str = "ECONOMIC"
    postal_api_color: bool = False
    postal_api_duplex: bool = True
    postal_api_rate_per_second: float = Field(default=5.0, gt=0)
    postal_api_max_concurrency: int = Field(default=2, ge=1, le=16)
    postal_api_timeout: float = Field(default=10.0, gt=0)

    # -- sandbox -------------------------------------------------------------------------------
    sandbox_max_concurrency: int = Field(default=1, ge=1, le=64)

    # -- dispatch ------------------------------------------------------------------------------
    dispatch_batch_size: int = Field(default=500, ge=1, le=10_000)
    retry_backoff_minutes: list[int] = [1, 5, 30]
    max_attempts: int = Field(default=4, ge=1, le=20)
    reconcile_after_minutes: int = Field(default=10, ge=1)
    office_timezone: str = "Europe/Paris"  # the date printed on letters and used for balances
    call_window_end_hour: int = Field(default=20, ge=8, le=22)  # local hour a call task expires

    # -- unit costs (EUR, excluding agent time, which is costed elsewhere) ---------------------
    cost_sms_segment: Decimal = Decimal("0.045")
    cost_email: Decimal = Decimal("0.001")
    cost_letter_first_page: Decimal = Decimal("1.20")
    cost_letter_extra_page: Decimal = Decimal("0.15")
    cost_letter_postage: Decimal = Decimal("1.39")  # set your postal contract's rate
    cost_call: Decimal = Decimal("0")

    # -- which providers are configured --------------------------------------------------------

    def twilio_configured(self) -> bool:
        given = {
            "RELANCE_TWILIO_ACCOUNT_SID": bool(self.twilio_account_sid),
            "RELANCE_TWILIO_AUTH_TOKEN": self.twilio_auth_token is not None,
        }
        sender = bool(self.twilio_messaging_service_sid) or bool(self.twilio_from)
        if not any(given.values()):
            return False
        missing = [name for name, ok in given.items() if not ok]
        if not sender:
            missing.append("RELANCE_TWILIO_MESSAGING_SERVICE_SID or RELANCE_TWILIO_FROM")
        if self.twilio_messaging_service_sid and self.twilio_from:
            raise ChannelConfigError(
                "Twilio: set RELANCE_TWILIO_MESSAGING_SERVICE_SID or RELANCE_TWILIO_FROM, not both")
        if missing:
            raise ChannelConfigError(f"Twilio partly configured, missing: {', '.join(missing)}")
        return True

    def voice_configured(self) -> bool:
        if not self.twilio_voice_from:
            return False
        if not self.twilio_account_sid or self.twilio_auth_token is None:
            raise ChannelConfigError("Twilio Voice: RELANCE_TWILIO_VOICE_FROM needs "
                                     "RELANCE_TWILIO_ACCOUNT_SID and RELANCE_TWILIO_AUTH_TOKEN")
        return True

    def sendgrid_configured(self) -> bool:
        if self.sendgrid_api_key is None:
            if self.sendgrid_from_email:
                raise ChannelConfigError("SendGrid partly configured, missing: RELANCE_SENDGRID_API_KEY")
            return False
        if not self.sendgrid_from_email:
            raise ChannelConfigError("SendGrid partly configured, missing: RELANCE_SENDGRID_FROM_EMAIL")
        return True

    def postal_configured(self) -> bool:
        given = {
            "RELANCE_POSTAL_API_URL": bool(self.postal_api_url),
            "RELANCE_POSTAL_API_CLIENT_ID": bool(self.postal_api_client_id),
            "RELANCE_POSTAL_API_CLIENT_SECRET": self.postal_api_client_secret is not None,
        }
        if not any(given.values()):
            return False
        missing = [name for name, ok in given.items() if not ok]
        if missing:
            raise ChannelConfigError(f"postal API partly configured, missing: {', '.join(missing)}")
        return True

    # -- derived values ------------------------------------------------------------------------

    def url(self, path: str) -> str:
        return self.public_base_url.rstrip("/") + "/" + path.lstrip("/")

    def unit_costs(self) -> UnitCosts:
        return UnitCosts(
            sms_segment=self.cost_sms_segment,
            email=self.cost_email,
            letter_first_page=self.cost_letter_first_page,
            letter_extra_page=self.cost_letter_extra_page,
            letter_postage=self.cost_letter_postage,
            call=self.cost_call,
        )

    def dispatch_policy(self) -> DispatchPolicy:
        """What services.dispatch needs from these settings (it takes no settings object)."""
        return DispatchPolicy(
            costs=self.unit_costs(),
            backoff_minutes=tuple(self.retry_backoff_minutes),
            max_attempts=self.max_attempts,
            unsubscribe_page=self.url(self.unsubscribe_path),
            unsubscribe_secret=_secret(self.unsubscribe_secret),
            office_timezone=self.office_timezone,
            call_window_end_hour=self.call_window_end_hour,
        )
