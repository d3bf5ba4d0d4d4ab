"""The SendGrid adapter, with the real SDK, against a local stub; every request checked against
SendGrid's own OpenAPI contract."""

from __future__ import annotations

import json
import logging

import pytest

from channels.base import ChannelAdapter, Failed, OutgoingMessage, Sent
from channels.errors import AmbiguousSendError, PermanentChannelError, RetryableChannelError
from channels.sendgrid_email import SendGridEmailChannel
from models.enums import Channel
from tests.stubs.contracts import ContractViolation
from tests.stubs.provider_stub import CapturedRequest, Reply, SendGridStub, unused_port

API_KEY = "SG.test-key.not-a-secret"
UNSUBSCRIBE = "https://relance.example/desinscription"
MAIL_SEND = SendGridStub.MAIL_SEND
NOW = 1_767_168_000.0  # 2025-12-31 08:00 UTC


def mail(
    action_id: int,
    to: str | None = None,
    *,
    categories: tuple[str, ...] = ("relance", "particulier_standard"),
    **extra,
) -> OutgoingMessage:
    return OutgoingMessage(
        action_id,
        f"dossier:{action_id}:particulier:j20:1",
        Channel.EMAIL,
        to or f"debiteur{action_id}@example.org",
        "Madame,\nvotre solde est de 1 290,01 €.",
        subject=f"Dossier D-{action_id} - Lumière Énergie",
        body_html="<p>Madame,</p><p>votre solde est de 1 290,01 €.</p>",
        categories=categories,
        **extra,
    )


@pytest.fixture
def make_channel(sendgrid_stub, sleeps):
    def make(**options) -> SendGridEmailChannel:
        settings = dict(
            from_email="relances@relance.example",
            from_name="Cabinet Relance",
            reply_to="contact@relance.example",
            unsubscribe_url_base=UNSUBSCRIBE,
            host=sendgrid_stub.url,
            timeout=2.0,
            rate_per_second=1000,
            sleep=sleeps,
            clock=lambda: NOW,
        )
        settings.update(options)
        return SendGridEmailChannel(API_KEY, **settings)

    return make


def test_the_sendgrid_adapter_is_a_channel_adapter(make_channel):
    assert isinstance(make_channel(), ChannelAdapter)


def test_a_mail_carries_html_text_ids_categories_and_a_one_click_unsubscribe(
    make_channel, sendgrid_stub, sendgrid_api
):
    [outcome] = make_channel().send_batch([mail(42)])

    [(message_id, body)] = sendgrid_stub.accepted
    assert outcome == Sent(42, message_id)
    assert body["from"] == {"email": "relances@relance.example", "name": "Cabinet Relance"}
    assert body["reply_to"] == {"email": "contact@relance.example"}
    assert body["subject"] == "Dossier D-42 - Lumière Énergie"
    [personalization] = body["personalizations"]
    assert personalization["to"] == [{"email": "debiteur42@example.org"}]
    assert personalization["custom_args"] == {
        "action_id": "42",
        "idempotency_key": "dossier:42:particulier:j20:1",
    }
    assert "custom_args" not in body  # the contract types the message-level one as a string
    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]
    assert body["categories"] == ["relance", "particulier_standard"]
    assert body["headers"] == {
        "List-Unsubscribe": f"<{UNSUBSCRIBE}?action_id=42>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    assert sendgrid_stub.requests[0].header("Authorization") == f"Bearer {API_KEY}"
    sendgrid_api.assert_all_valid(sendgrid_stub.requests)


def test_the_stub_answers_202_as_the_contract_says(make_channel, sendgrid_stub, sendgrid_api):
    make_channel().send_batch([mail(1)])
    [(captured, reply)] = sendgrid_stub.answers
    assert reply.status == 202
    sendgrid_api.validate_answer(captured, reply)


def test_the_contract_check_refuses_message_level_custom_args_objects(make_channel, sendgrid_stub, sendgrid_api):
    make_channel().send_batch([mail(1)])
    sent = sendgrid_stub.requests[0]
    body = sent.json()
    body["custom_args"] = {"action_id": "1"}  # what the SDK's Mail.custom_arg would produce
    forged = CapturedRequest(sent.method, sent.path, sent.query, sent.headers, json.dumps(body).encode(), sent.base_url)
    with pytest.raises(ContractViolation, match="custom_args"):
        sendgrid_api.validate(forged)


def test_the_unsubscribe_url_rendered_into_the_body_is_the_one_in_the_header(
    make_channel, sendgrid_stub, sendgrid_api
):
    url = "https://relance.example/desinscription?t=3f9a"
    make_channel().send_batch([mail(1, metadata={"unsubscribe_url": url})])
    assert sendgrid_stub.accepted[0][1]["headers"]["List-Unsubscribe"] == f"<{url}>"
    sendgrid_api.assert_all_valid(sendgrid_stub.requests)


def test_categories_are_deduplicated_and_capped_at_ten(make_channel, sendgrid_stub, sendgrid_api):
    names = tuple(f"c{i}" for i in range(12)) + ("c0",)
    make_channel().send_batch([mail(1, categories=names)])
    assert sendgrid_stub.accepted[0][1]["categories"] == [f"c{i}" for i in range(10)]
    sendgrid_api.assert_all_valid(sendgrid_stub.requests)


def test_a_429_waits_until_the_rate_limit_resets_and_sends_once(
    make_channel, sendgrid_stub, sendgrid_api, sleeps
):
    sendgrid_stub.script("POST", MAIL_SEND, SendGridStub.rate_limited(int(NOW) + 3))
    [outcome] = make_channel().send_batch([mail(1)])
    assert isinstance(outcome, Sent)
    assert len(sendgrid_stub.accepted) == 1 and len(sendgrid_stub.requests) == 2
    assert sleeps.longer_than(2.9) == [pytest.approx(3.0, abs=0.01)]
    sendgrid_api.assert_all_valid(sendgrid_stub.requests)


def test_a_429_with_a_distant_reset_is_retryable_without_waiting(make_channel, sendgrid_stub, sleeps):
    sendgrid_stub.script("POST", MAIL_SEND, SendGridStub.rate_limited(int(NOW) + 3600))
    [outcome] = make_channel(rate_limit_max_wait=10).send_batch([mail(1)])
    assert isinstance(outcome.error, RetryableChannelError)
    assert outcome.error.retry_after == pytest.approx(3600)
    assert sleeps.longer_than(1) == [] and len(sendgrid_stub.requests) == 1


def test_a_429_that_lasts_gives_up_after_the_bounded_retries(make_channel, sendgrid_stub, sendgrid_api):
    sendgrid_stub.script("POST", MAIL_SEND, *[SendGridStub.rate_limited(int(NOW) + 1) for _ in range(5)])
    [outcome] = make_channel(rate_limit_retries=2).send_batch([mail(1)])
    assert isinstance(outcome.error, RetryableChannelError) and outcome.error.code == "rate_limited"
    assert len(sendgrid_stub.requests) == 3 and sendgrid_stub.accepted == []
    sendgrid_api.assert_all_valid(sendgrid_stub.requests)


@pytest.mark.parametrize(
    ("reply", "kind", "failure", "contact_invalid"),
    [
        (SendGridStub.error(400, "Does not contain a valid address.", "personalizations.0.to.0.email"),
         PermanentChannelError, "invalid_email", True),
        (SendGridStub.error(400, "The from address does not match a verified Sender Identity.", "from"),
         PermanentChannelError, "rejected", False),
        (SendGridStub.error(401, "The provided authorization grant is invalid."),
         PermanentChannelError, "unauthorized", False),
        (SendGridStub.error(403, "access forbidden"), PermanentChannelError, "forbidden", False),
        (SendGridStub.error(413, "too large"), PermanentChannelError, "rejected", False),
        (SendGridStub.error(500, "internal"), RetryableChannelError, "server_error", None),
        (SendGridStub.error(502, "bad gateway"), RetryableChannelError, "server_error", None),
        (SendGridStub.error(503, "unavailable"), RetryableChannelError, "server_error", None),
        (SendGridStub.error(504, "gateway timeout"), AmbiguousSendError, "no_response", None),
    ],
)
def test_each_sendgrid_error_answer_is_reported_without_a_retry(
    make_channel, sendgrid_stub, sendgrid_api, reply, kind, failure, contact_invalid
):
    sendgrid_stub.script("POST", MAIL_SEND, reply)
    [outcome] = make_channel().send_batch([mail(1)])
    assert isinstance(outcome, Failed) and type(outcome.error) is kind
    assert outcome.error.code == failure and outcome.error.provider_status == reply.status
    if contact_invalid is not None:
        assert outcome.error.contact_invalid is contact_invalid
    assert len(sendgrid_stub.requests) == 1
    sendgrid_api.assert_all_valid(sendgrid_stub.requests)


def test_one_refused_address_does_not_stop_the_batch(make_channel, sendgrid_stub, sendgrid_api):
    sendgrid_stub.refusals["debiteur3@example.org"] = SendGridStub.error(
        400, "Does not contain a valid address.", "personalizations.0.to.0.email"
    )
    outcomes = make_channel(max_concurrency=3).send_batch([mail(i) for i in range(1, 6)])
    assert [type(o).__name__ for o in outcomes] == ["Sent", "Sent", "Failed", "Sent", "Sent"]
    assert outcomes[2].error.contact_invalid
    sendgrid_api.assert_all_valid(sendgrid_stub.requests)


def test_a_read_timeout_is_ambiguous(make_channel, sendgrid_stub, sendgrid_api):
    sendgrid_stub.script("POST", MAIL_SEND, Reply(delay=1.5, accept=True))
    [outcome] = make_channel(timeout=0.3).send_batch([mail(1)])
    assert isinstance(outcome.error, AmbiguousSendError) and outcome.error.code == "timeout"
    assert len(sendgrid_stub.accepted) == 1  # it was in fact accepted
    sendgrid_api.assert_all_valid(sendgrid_stub.requests)


def test_a_connection_dropped_after_sending_is_ambiguous_and_never_guessed(
    make_channel, sendgrid_stub, sendgrid_api
):
    sendgrid_stub.script("POST", MAIL_SEND, Reply(drop=True, accept=True))
    channel = make_channel()
    [outcome] = channel.send_batch([mail(1)])
    assert isinstance(outcome.error, AmbiguousSendError) and not outcome.retryable
    assert channel.reconcile(mail(1)) is None  # no lookup API: the dispatcher shows it for review
    sendgrid_api.assert_all_valid(sendgrid_stub.requests)


def test_a_refused_connection_is_retryable(make_channel):
    channel = make_channel(host=f"http://127.0.0.1:{unused_port()}")
    [outcome] = channel.send_batch([mail(1)])
    assert isinstance(outcome.error, RetryableChannelError) and outcome.error.code == "connect_failed"


def test_logs_carry_ids_but_no_address_nor_text(make_channel, sendgrid_stub, caplog):
    caplog.set_level(logging.DEBUG)
    sendgrid_stub.refusals["debiteur1@example.org"] = SendGridStub.error(400, "bad", "personalizations.0.to")
    make_channel().send_batch([mail(1), mail(2)])
    assert "action 1" in caplog.text
    assert "@example.org" not in caplog.text and "1 290,01" not in caplog.text
