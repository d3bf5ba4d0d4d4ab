"""`relance doctor`'s checks of the settings and of the Prefect API, without a database."""

from __future__ import annotations

import httpx
from pydantic import SecretStr

from app.channel_settings import ChannelSettings
from app.settings import Settings
from services.doctor import Level, check_channels, check_outbox, check_prefect, check_webhooks

SID = "AC" + "0123456789abcdef" * 2
TOKEN = "f" * 32
SG_KEY = "SG.abcdefghijklmnopqrstuv.ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq"


def _levels(checks):
    return {c.name: c.level for c in checks}


def test_unconfigured_channels_are_warnings_that_name_the_sandbox():
    checks = check_channels(ChannelSettings(_env_file=None))
    assert {c.level for c in checks} == {Level.WARN}
    assert any("bac à sable" in c.message for c in checks)


def test_well_formed_credentials_pass():
    cs = ChannelSettings(_env_file=None, twilio_account_sid=SID, twilio_auth_token=SecretStr(TOKEN),
                         twilio_from="+33612345678", sendgrid_api_key=SecretStr(SG_KEY),
                         sendgrid_from_email="relances@cabinet.fr", sendgrid_webhook_public_key="MFkw...",
                         postal_api_url="https://api.laposte.example/v1", postal_api_client_id="id",
                         postal_api_client_secret=SecretStr("s"))
    assert set(_levels(check_channels(cs)).values()) == {Level.OK}


def test_malformed_credentials_fail_and_say_which_setting_without_its_value():
    cs = ChannelSettings(_env_file=None, twilio_account_sid="SK" + "0" * 32, twilio_auth_token=SecretStr("secret-token"),
                         sendgrid_api_key=SecretStr("not-a-key"), sendgrid_from_email="relances@cabinet.fr",
                         postal_api_url="http://api.example", postal_api_client_id="id")
    checks = {c.name: c for c in check_channels(cs)}
    assert checks["SMS (Twilio)"].level is Level.FAIL
    assert "RELANCE_TWILIO_ACCOUNT_SID" in checks["SMS (Twilio)"].message
    assert "RELANCE_TWILIO_AUTH_TOKEN" in checks["SMS (Twilio)"].message
    assert "expéditeur" in checks["SMS (Twilio)"].message
    assert "secret-token" not in checks["SMS (Twilio)"].message
    assert checks["E-mail (SendGrid)"].level is Level.FAIL and "SG." in checks["E-mail (SendGrid)"].message
    assert "not-a-key" not in checks["E-mail (SendGrid)"].message
    assert checks["Courrier (API postale)"].level is Level.FAIL
    assert "https" in checks["Courrier (API postale)"].message


def test_a_local_http_webhook_address_fails_when_real_providers_call_back_and_warns_in_a_demo():
    demo = check_webhooks(ChannelSettings(_env_file=None))
    assert demo[0].level is Level.WARN and "https" in demo[0].message
    live = check_webhooks(ChannelSettings(_env_file=None, twilio_account_sid=SID))
    assert live[0].level is Level.FAIL
    good = check_webhooks(ChannelSettings(_env_file=None, public_base_url="https://relance.cabinet.fr",
                                          unsubscribe_secret=SecretStr("x" * 32), twilio_account_sid=SID))
    assert good[0].level is Level.OK


def test_the_outbox_must_be_writable(tmp_path):
    assert check_outbox(Settings(_env_file=None, outbox_dir=tmp_path / "outbox"))[0].level is Level.OK
    blocked = tmp_path / "file"
    blocked.write_text("x")
    assert check_outbox(Settings(_env_file=None, outbox_dir=blocked / "outbox"))[0].level is Level.FAIL


def _prefect(deployments: list[str], *, healthy: bool = True, limits: list[str] = ()) -> httpx.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/v2/concurrency_limits/filter"):
            return httpx.Response(200, json=[{"name": n, "active": True} for n in limits])
        if request.url.path.endswith("/health"):
            return httpx.Response(200 if healthy else 503, json=True)
        if request.url.path.endswith("/deployments/filter"):
            return httpx.Response(200, json=[{"name": n, "id": str(i)} for i, n in enumerate(deployments)])
        return httpx.Response(404)

    return httpx.Client(transport=httpx.MockTransport(handler))


def test_without_a_prefect_server_the_ephemeral_mode_is_noted():
    [check] = check_prefect(None)
    assert check.level is Level.WARN and "éphémère" in check.message


def test_a_prefect_server_must_answer_and_hold_every_deployment():
    url = "http://prefect.internal:4200/api"
    ok = check_prefect(url, http=_prefect(["relance-day", "relance-hourly"]),
                       expected=["relance-day", "relance-hourly"])
    assert [c.level for c in ok] == [Level.OK, Level.OK]
    missing = check_prefect(url, http=_prefect(["relance-day"]), expected=["relance-day", "relance-day-shard"])
    assert missing[1].level is Level.FAIL and "relance-day-shard" in missing[1].message
    down = check_prefect(url, http=_prefect([], healthy=False), expected=["relance-day"])
    assert len(down) == 1 and down[0].level is Level.FAIL and "injoignable" in down[0].message


def test_the_expected_deployments_are_those_of_prefect_yaml():
    from services.doctor import expected_deployments

    assert "relance-day" in expected_deployments() and "relance-hourly" in expected_deployments()


def test_shared_rate_limits_must_exist_when_they_are_switched_on():
    url = "http://prefect.internal:4200/api"
    missing = check_prefect(url, http=_prefect(["relance-day"], limits=["relance-sms"]), expected=["relance-day"],
                            rate_limits=True)
    assert missing[-1].level is Level.FAIL and "relance-email" in missing[-1].message
    present = check_prefect(url, http=_prefect(["relance-day"], limits=["relance-sms", "relance-email",
                                                                        "relance-letter"]),
                            expected=["relance-day"], rate_limits=True)
    assert present[-1].level is Level.OK
