"""The one place that picks the channel adapters.

    build_channels(settings, *, outbox_dir=None) -> {Channel: ChannelAdapter}

SMS, email and letters each get their provider when it is configured (app/channel_settings.py),
else a sandbox writing under `outbox_dir` (default `settings.outbox_dir`):

    SMS      Twilio                  else SandboxChannel(sms)      <outbox>/sms/<day>/<action>.txt
    email    SendGrid                else SandboxChannel(email)    <outbox>/email/<day>/<action>.eml
    letter   postal API              else LetterChannel print spool <spool>/pending/<action>.pdf|json
             (RELANCE_LETTERS=sandbox: SandboxChannel(letter)       <outbox>/letter/<day>/<action>.json)

Calls have no adapter: the dispatcher turns a call action into a call task for the agents.
Vendor SDKs are imported only when their adapter is picked, so a sandbox install never loads them.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from app.channel_settings import ChannelConfigError, ChannelSettings
from channels.base import ChannelAdapter
from channels.sandbox import SandboxChannel
from models.enums import Channel

__all__ = ["ChannelConfigError", "build_channels", "build_voice", "channel_settings_of"]

log = logging.getLogger(__name__)


def channel_settings_of(settings: Any) -> ChannelSettings:
    """`settings.channels` once app/settings.py holds it, else read from the environment."""
    found = getattr(settings, "channels", None)
    return found if isinstance(found, ChannelSettings) else ChannelSettings()


def _office_name(settings: Any) -> str | None:
    office = getattr(settings, "office", None)
    return getattr(office, "name", None)


def build_channels(settings: Any, *, outbox_dir: str | Path | None = None) -> dict[Channel, ChannelAdapter]:
    cs = channel_settings_of(settings)
    outbox = Path(outbox_dir if outbox_dir is not None else settings.outbox_dir)
    adapters: dict[Channel, ChannelAdapter] = {
        Channel.SMS: _sms(cs, outbox),
        Channel.EMAIL: _email(cs, outbox, _office_name(settings)),
        Channel.LETTER: _letter(cs, outbox),
    }
    log.info("channels: %s", ", ".join(f"{ch.value}={type(a).__name__}" for ch, a in adapters.items()))
    return adapters


def build_voice(settings: Any):
    """Twilio Voice for click-to-call, or None when no voice number is configured."""
    cs = channel_settings_of(settings)
    if not cs.voice_configured():
        return None
    from channels.twilio_voice import TwilioVoice

    return TwilioVoice(cs.twilio_account_sid, cs.twilio_auth_token.get_secret_value(),
                       from_number=cs.twilio_voice_from, base_url=cs.twilio_base_url,
                       timeout=cs.twilio_timeout)


def _sms(cs: ChannelSettings, outbox: Path) -> ChannelAdapter:
    if not cs.twilio_configured():
        return SandboxChannel(Channel.SMS, outbox, max_concurrency=cs.sandbox_max_concurrency)
    from channels.twilio_sms import TwilioSmsChannel

    return TwilioSmsChannel(
        cs.twilio_account_sid,
        cs.twilio_auth_token.get_secret_value(),
        messaging_service_sid=cs.twilio_messaging_service_sid or None,
        from_number=cs.twilio_from or None,
        status_callback_base=cs.url(cs.twilio_status_path),
        base_url=cs.twilio_base_url,
        validity_period=cs.twilio_validity_period,
        rate_per_second=cs.twilio_rate_per_second,
        max_concurrency=cs.twilio_max_concurrency,
        timeout=cs.twilio_timeout,
    )


def _email(cs: ChannelSettings, outbox: Path, office_name: str | None) -> ChannelAdapter:
    if not cs.sendgrid_configured():
        return SandboxChannel(Channel.EMAIL, outbox, max_concurrency=cs.sandbox_max_concurrency)
    from channels.sendgrid_email import SendGridEmailChannel

    return SendGridEmailChannel(
        cs.sendgrid_api_key.get_secret_value(),
        from_email=cs.sendgrid_from_email,
        from_name=cs.sendgrid_from_name or office_name or cs.sendgrid_from_email,
        unsubscribe_url_base=cs.url(cs.unsubscribe_path),
        reply_to=cs.sendgrid_reply_to,
        host=cs.sendgrid_host,
        rate_per_second=cs.sendgrid_rate_per_second,
        max_concurrency=cs.sendgrid_max_concurrency,
        timeout=cs.sendgrid_timeout,
    )


def _letter(cs: ChannelSettings, outbox: Path) -> ChannelAdapter:
    postal = cs.postal_configured()
    if cs.letters == "postal" and not postal:
        raise ChannelConfigError(
            "RELANCE_LETTERS=postal needs RELANCE_POSTAL_API_URL, _CLIENT_ID and _CLIENT_SECRET")
    if cs.letters == "sandbox":
        return SandboxChannel(Channel.LETTER, outbox, max_concurrency=cs.sandbox_max_concurrency)
    if postal and cs.letters in ("auto", "postal"):
        from channels.postal_api import PostalApiChannel

        return PostalApiChannel(
            cs.postal_api_url,
            cs.postal_api_client_id,
            cs.postal_api_client_secret.get_secret_value(),
            postage=cs.postal_api_postage,
            color=cs.postal_api_color,
            duplex=cs.postal_api_duplex,
            timeout=cs.postal_api_timeout,
            max_concurrency=cs.postal_api_max_concurrency,
            rate_per_second=cs.postal_api_rate_per_second,
        )
    from channels.letter_channel import LetterChannel

    return LetterChannel(cs.letter_spool_dir or outbox / "print")
