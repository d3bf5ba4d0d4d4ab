"""build_channels picks sandboxes with nothing configured, a provider once it is configured,
and refuses a half-configured provider instead of silently writing files."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.channel_settings import ChannelConfigError, ChannelSettings
from app.channels_wiring import build_channels
from app.settings import Settings
from channels.letter_channel import LetterChannel
from channels.sandbox import SandboxChannel
from models.enums import Channel
from services.dispatch import DispatchPolicy, UnitCosts

PROVIDER_ENV = [
    "RELANCE_TWILIO_ACCOUNT_SID", "RELANCE_TWILIO_AUTH_TOKEN", "RELANCE_TWILIO_MESSAGING_SERVICE_SID",
    "RELANCE_TWILIO_FROM", "RELANCE_SENDGRID_API_KEY", "RELANCE_SENDGRID_FROM_EMAIL", "RELANCE_POSTAL_API_URL",
    "RELANCE_POSTAL_API_CLIENT_ID", "RELANCE_POSTAL_API_CLIENT_SECRET", "RELANCE_LETTERS",
]


@pytest.fixture
def env(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in PROVIDER_ENV:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_with_nothing_configured_every_channel_writes_under_the_outbox(env, tmp_path):
    channels = build_channels(Settings(outbox_dir=tmp_path / "outbox"))
    assert set(channels) == {Channel.SMS, Channel.EMAIL, Channel.LETTER}
    assert isinstance(channels[Channel.SMS], SandboxChannel)
    assert channels[Channel.SMS].root == tmp_path / "outbox" / "sms"
    assert isinstance(channels[Channel.EMAIL], SandboxChannel)
    assert isinstance(channels[Channel.LETTER], LetterChannel)
    assert channels[Channel.LETTER].root == tmp_path / "outbox" / "print"
    env.setenv("RELANCE_LETTERS", "sandbox")
    letters = build_channels(Settings(), outbox_dir=tmp_path / "ailleurs")[Channel.LETTER]
    assert isinstance(letters, SandboxChannel) and letters.root == tmp_path / "ailleurs" / "letter"


def test_configured_providers_replace_the_sandboxes(env, tmp_path):
    from channels.postal_api import PostalApiChannel
    from channels.sendgrid_email import SendGridEmailChannel
    from channels.twilio_sms import TwilioSmsChannel

    env.setenv("RELANCE_TWILIO_ACCOUNT_SID", "AC" + "0" * 32)
    env.setenv("RELANCE_TWILIO_AUTH_TOKEN", "jeton")
    env.setenv("RELANCE_TWILIO_MESSAGING_SERVICE_SID", "MG" + "0" * 32)
    env.setenv("RELANCE_SENDGRID_API_KEY", "SG.cle")
    env.setenv("RELANCE_SENDGRID_FROM_EMAIL", "relances@cabinet.example")
    env.setenv("RELANCE_POSTAL_API_URL", "http://127.0.0.1:9")
    env.setenv("RELANCE_POSTAL_API_CLIENT_ID", "client")
    env.setenv("RELANCE_POSTAL_API_CLIENT_SECRET", "secret")
    env.setenv("RELANCE_PUBLIC_BASE_URL", "https://relance.cabinet.example")
    channels = build_channels(Settings(outbox_dir=tmp_path))
    sms, email, letter = channels[Channel.SMS], channels[Channel.EMAIL], channels[Channel.LETTER]
    assert isinstance(sms, TwilioSmsChannel)
    assert sms.status_callback_base == "https://relance.cabinet.example/webhooks/twilio/status"
    assert isinstance(email, SendGridEmailChannel)
    assert email.unsubscribe_url_base == "https://relance.cabinet.example/desinscription"
    assert email.from_name == Settings().office.name
    assert isinstance(letter, PostalApiChannel)
    letter.close()


@pytest.mark.parametrize("partial", [
    {"RELANCE_TWILIO_ACCOUNT_SID": "AC" + "0" * 32},
    {"RELANCE_TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "RELANCE_TWILIO_AUTH_TOKEN": "jeton"},
    {"RELANCE_SENDGRID_API_KEY": "SG.cle"},
    {"RELANCE_POSTAL_API_URL": "http://127.0.0.1:9"},
    {"RELANCE_LETTERS": "postal"},
])
def test_a_half_configured_provider_is_refused_rather_than_replaced_by_a_sandbox(env, tmp_path, partial):
    for name, value in partial.items():
        env.setenv(name, value)
    with pytest.raises(ChannelConfigError) as refused:
        build_channels(Settings(outbox_dir=tmp_path))
    assert "jeton" not in str(refused.value)


def test_the_dispatch_policy_comes_from_the_channel_settings(env):
    env.setenv("RELANCE_COST_SMS_SEGMENT", "0.05")
    env.setenv("RELANCE_RETRY_BACKOFF_MINUTES", "[2, 10]")
    policy = ChannelSettings().dispatch_policy()
    assert policy.costs.sms_segment == Decimal("0.05")
    assert policy.backoff_minutes == (2, 10) and policy.unsubscribe_page.endswith("/desinscription")
    env.delenv("RELANCE_COST_SMS_SEGMENT")
    assert ChannelSettings().unit_costs() == UnitCosts()  # one set of defaults
    assert DispatchPolicy().max_attempts == ChannelSettings().max_attempts
