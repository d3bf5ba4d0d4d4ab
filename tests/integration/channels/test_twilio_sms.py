"""The Twilio adapter, with the real SDK, against a local stub; every request checked against
Twilio's own OpenAPI contract."""

from __future__ import annotations

import base64
import logging
import time
from datetime import datetime, timedelta, timezone

import pytest

from channels.base import ChannelAdapter, Failed, OutgoingMessage, Sent
from channels.errors import AmbiguousSendError, PermanentChannelError, RetryableChannelError
from channels.twilio_sms import TwilioSmsChannel
from models.enums import Channel
from tests.stubs.provider_stub import Reply, TwilioStub, unused_port

ACCOUNT = "AC" + "0123456789abcdef" * 2
TOKEN = "f" * 32
SERVICE = "MG" + "a" * 32
CALLBACK = "https://relance.example/webhooks/twilio/status"
MESSAGES = TwilioStub.MESSAGES


def sms(action_id: int, to: str | None = None, text: str | None = None) -> OutgoingMessage:
    return OutgoingMessage(
        action_id,
        f"dossier:{action_id}:particulier:j10:1",
        Channel.SMS,
        to or f"+336{action_id:08d}",
        text or f"Cabinet Relance : votre dossier {action_id} reste a regler. Payez sur https://relance.example/payer",
        segments=1,
    )


@pytest.fixture
def make_channel(twilio_stub, sleeps):
    def make(**options) -> TwilioSmsChannel:
        settings = dict(
            messaging_service_sid=SERVICE,
            status_callback_base=CALLBACK,
            base_url=twilio_stub.url,
            timeout=2.0,
            rate_per_second=1000,
            sleep=sleeps,
        )
        settings.update(options)
        return TwilioSmsChannel(ACCOUNT, TOKEN, **settings)

    return make


def test_the_twilio_adapter_is_a_channel_adapter(make_channel):
    assert isinstance(make_channel(), ChannelAdapter)


def test_a_batch_goes_through_the_messaging_service_with_a_status_callback_per_action(
    make_channel, twilio_stub, twilio_api
):
    messages = [sms(i) for i in (11, 12, 13)]
    outcomes = make_channel().send_batch(messages)

    assert [o.action_id for o in outcomes] == [11, 12, 13]
    assert all(isinstance(o, Sent) and o.provider_id.startswith("SM") and o.segments == 1 for o in outcomes)
    assert {o.provider_id for o in outcomes} == {m["sid"] for m in twilio_stub.messages}
    forms = sorted((r.form() for r in twilio_stub.requests_to("POST", MESSAGES)), key=lambda f: f["To"])
    assert [f["To"] for f in forms] == [[m.to] for m in messages]
    for form, message in zip(forms, messages):
        assert form["Body"] == [message.body_text]
        assert form["MessagingServiceSid"] == [SERVICE]
        assert form["StatusCallback"] == [f"{CALLBACK}?action_id={message.action_id}"]
        assert "From" not in form
    auth = twilio_stub.requests[0].header("Authorization")
    assert base64.b64decode(auth.removeprefix("Basic ")).decode() == f"{ACCOUNT}:{TOKEN}"
    twilio_api.assert_all_valid(twilio_stub.requests)


def test_the_stub_answers_with_resources_shaped_like_the_contract(make_channel, twilio_stub, twilio_api):
    channel = make_channel()
    channel.send_batch([sms(1)])
    channel.reconcile(sms(1))
    assert [a[1].status for a in twilio_stub.answers] == [201, 200]
    for captured, reply in twilio_stub.answers:
        twilio_api.validate_answer(captured, reply)


def test_a_from_number_is_used_when_there_is_no_messaging_service(make_channel, twilio_stub, twilio_api):
    channel = make_channel(messaging_service_sid=None, from_number="+33757000000", status_callback_base=None)
    [outcome] = channel.send_batch([sms(1)])
    assert isinstance(outcome, Sent)
    form = twilio_stub.requests[0].form()
    assert form["From"] == ["+33757000000"]
    assert "MessagingServiceSid" not in form and "StatusCallback" not in form
    twilio_api.assert_all_valid(twilio_stub.requests)


def test_exactly_one_sender_must_be_configured():
    with pytest.raises(ValueError):
        TwilioSmsChannel(ACCOUNT, TOKEN)
    with pytest.raises(ValueError):
        TwilioSmsChannel(ACCOUNT, TOKEN, messaging_service_sid=SERVICE, from_number="+33757000000")


def test_segments_are_taken_from_twilio_num_segments(make_channel, twilio_stub, twilio_api):
    [outcome] = make_channel().send_batch([sms(1, text="x" * 200)])
    assert outcome.segments == 2
    twilio_api.assert_all_valid(twilio_stub.requests)


def test_a_429_is_waited_out_and_the_message_is_sent_once(make_channel, twilio_stub, twilio_api, sleeps):
    limited = TwilioStub.error(429, 20429, "Too Many Requests")
    limited.headers["Retry-After"] = "2"
    twilio_stub.script("POST", MESSAGES, limited)

    [outcome] = make_channel().send_batch([sms(1)])

    assert isinstance(outcome, Sent)
    assert len(twilio_stub.messages) == 1
    assert len(twilio_stub.requests) == 2
    assert sleeps.longer_than(1.9) == [pytest.approx(2.0, abs=0.01)]
    twilio_api.assert_all_valid(twilio_stub.requests)


def test_a_429_that_lasts_becomes_retryable_with_retry_after(make_channel, twilio_stub, twilio_api):
    twilio_stub.script("POST", MESSAGES, *[TwilioStub.error(429, 20429) for _ in range(3)])
    [outcome] = make_channel(rate_limit_retries=2, rate_limit_wait=1.5).send_batch([sms(1)])
    assert isinstance(outcome, Failed) and isinstance(outcome.error, RetryableChannelError)
    assert outcome.error.code == "rate_limited" and outcome.error.retry_after == 1.5
    assert len(twilio_stub.requests) == 3 and twilio_stub.messages == []
    twilio_api.assert_all_valid(twilio_stub.requests)


@pytest.mark.parametrize(
    ("status", "code", "kind", "failure", "contact_invalid"),
    [
        (400, 21211, PermanentChannelError, "invalid_number", True),
        (400, 21614, PermanentChannelError, "not_mobile", True),
        (400, 21610, PermanentChannelError, "opted_out", False),
        (400, 21408, PermanentChannelError, "region_not_enabled", False),
        (401, 20003, PermanentChannelError, "unauthorized", False),
        (404, 20404, PermanentChannelError, "rejected", False),
        (400, 21602, PermanentChannelError, "rejected", False),
        (500, 20500, RetryableChannelError, "server_error", None),
        (503, 20503, RetryableChannelError, "server_error", None),
        (504, 20504, AmbiguousSendError, "no_response", None),
    ],
)
def test_each_twilio_error_answer_is_reported_without_a_retry(
    make_channel, twilio_stub, twilio_api, status, code, kind, failure, contact_invalid
):
    twilio_stub.script("POST", MESSAGES, TwilioStub.error(status, code, "The 'To' number +33600000001 is bad"))
    [outcome] = make_channel().send_batch([sms(1)])
    assert isinstance(outcome, Failed) and type(outcome.error) is kind
    assert outcome.error.code == failure
    assert (outcome.error.provider_status, outcome.error.provider_code) == (status, str(code))
    if contact_invalid is not None:
        assert outcome.error.contact_invalid is contact_invalid
    assert len(twilio_stub.requests) == 1  # the dispatcher, not the adapter, retries
    twilio_api.assert_all_valid(twilio_stub.requests)


def test_one_bad_number_does_not_stop_the_batch(make_channel, twilio_stub, twilio_api):
    twilio_stub.refusals["+33600000013"] = TwilioStub.error(400, 21211, "invalid")
    outcomes = make_channel(max_concurrency=3).send_batch([sms(i) for i in range(10, 16)])
    assert [type(o).__name__ for o in outcomes] == ["Sent"] * 3 + ["Failed"] + ["Sent"] * 2
    assert outcomes[3].error.contact_invalid
    twilio_api.assert_all_valid(twilio_stub.requests)


def test_a_read_timeout_after_acceptance_is_ambiguous_and_reconcile_finds_the_message(
    make_channel, twilio_stub, twilio_api
):
    twilio_stub.script("POST", MESSAGES, Reply(delay=1.5, accept=True))
    channel = make_channel(timeout=0.3)
    message = sms(1)

    [outcome] = channel.send_batch([message])

    assert isinstance(outcome, Failed) and isinstance(outcome.error, AmbiguousSendError)
    assert outcome.error.code == "timeout" and not outcome.retryable
    [accepted] = twilio_stub.messages
    assert channel.reconcile(message) == Sent(1, accepted["sid"], int(accepted["num_segments"]))
    twilio_api.assert_all_valid(twilio_stub.requests)


def test_a_connection_dropped_after_acceptance_is_ambiguous_and_reconcile_finds_the_message(
    make_channel, twilio_stub, twilio_api
):
    twilio_stub.script("POST", MESSAGES, Reply(drop=True, accept=True))
    channel = make_channel()
    message = sms(1)

    [outcome] = channel.send_batch([message])

    assert isinstance(outcome, Failed) and isinstance(outcome.error, AmbiguousSendError)
    [accepted] = twilio_stub.messages
    assert channel.reconcile(message) == Sent(1, accepted["sid"], int(accepted["num_segments"]))
    lookup = twilio_stub.requests_to("GET", MESSAGES)[0]
    assert lookup.query_params["To"] == [message.to]
    twilio_api.assert_all_valid(twilio_stub.requests)


def test_a_connection_dropped_before_acceptance_leaves_reconcile_unsure(make_channel, twilio_stub, twilio_api):
    twilio_stub.script("POST", MESSAGES, Reply(drop=True))
    channel = make_channel()
    [outcome] = channel.send_batch([sms(1)])
    assert isinstance(outcome.error, AmbiguousSendError)
    assert twilio_stub.messages == []
    assert channel.reconcile(sms(1)) is None  # not found is not proof: review, never re-send
    twilio_api.assert_all_valid(twilio_stub.requests)


def test_reconcile_ignores_older_messages_other_texts_and_inbound_ones(make_channel, twilio_stub, twilio_api):
    message = sms(1)
    old = datetime.now(timezone.utc) - timedelta(days=3)
    twilio_stub.add_message(ACCOUNT, {"To": message.to, "Body": message.body_text}, created=old)
    twilio_stub.add_message(ACCOUNT, {"To": message.to, "Body": "another relance"})
    inbound = twilio_stub.add_message(ACCOUNT, {"To": message.to, "Body": message.body_text})
    inbound["direction"] = "inbound"
    channel = make_channel()
    assert channel.reconcile(message) is None
    assert channel.reconcile(message, since=old - timedelta(hours=1)) is not None
    twilio_api.assert_all_valid(twilio_stub.requests)


def test_reconcile_is_unsure_when_twilio_cannot_be_reached(make_channel):
    channel = make_channel(base_url=f"http://127.0.0.1:{unused_port()}")
    assert channel.reconcile(sms(1)) is None


def test_a_refused_connection_is_retryable(make_channel):
    channel = make_channel(base_url=f"http://127.0.0.1:{unused_port()}")
    [outcome] = channel.send_batch([sms(1)])
    assert isinstance(outcome.error, RetryableChannelError)
    assert outcome.error.code == "connect_failed"


def test_a_batch_runs_concurrently_within_max_concurrency(make_channel, twilio_stub, twilio_api):
    twilio_stub.script("POST", MESSAGES, *[Reply(delay=0.15, accept=True) for _ in range(9)])
    started = time.monotonic()
    outcomes = make_channel(max_concurrency=3).send_batch([sms(i) for i in range(9)])
    elapsed = time.monotonic() - started
    assert all(isinstance(o, Sent) for o in outcomes)
    assert twilio_stub.max_in_flight == 3
    assert elapsed < 9 * 0.15  # faster than one at a time
    twilio_api.assert_all_valid(twilio_stub.requests)


def test_a_batch_stays_within_the_rate_limit(make_channel, twilio_stub, twilio_api):
    channel = make_channel(rate_per_second=20, burst=1, max_concurrency=4, sleep=time.sleep)
    started = time.monotonic()
    channel.send_batch([sms(i) for i in range(8)])
    assert time.monotonic() - started >= 7 / 20 * 0.95
    twilio_api.assert_all_valid(twilio_stub.requests)


def test_an_action_listed_twice_in_a_batch_is_sent_once(make_channel, twilio_stub):
    outcomes = make_channel(max_concurrency=4).send_batch([sms(1), sms(2), sms(1)])
    assert outcomes[0] == outcomes[2]
    assert len(twilio_stub.messages) == 2


def test_twilio_region_and_edge_from_the_environment_cannot_redirect_requests(
    make_channel, twilio_stub, monkeypatch
):
    monkeypatch.setenv("TWILIO_EDGE", "sydney")
    monkeypatch.setenv("TWILIO_REGION", "au1")
    [outcome] = make_channel().send_batch([sms(1)])
    assert isinstance(outcome, Sent) and len(twilio_stub.requests) == 1


def test_logs_carry_ids_but_no_phone_number_nor_text(make_channel, twilio_stub, caplog):
    caplog.set_level(logging.DEBUG)
    twilio_stub.script("POST", MESSAGES, TwilioStub.error(400, 21211, "The 'To' number +33600000001 is bad"))
    channel = make_channel()
    message = sms(1, to="+33600000001")
    channel.send_batch([message, sms(2, to="+33600000002")])
    channel.reconcile(message)
    assert "action 1" in caplog.text
    assert "33600000001" not in caplog.text and "33600000002" not in caplog.text  # nor URL-encoded
    assert "reste a regler" not in caplog.text
