"""Twilio callbacks: delivery reports and inbound SMS, signed with Twilio's own helper."""

from __future__ import annotations

from sqlalchemy import select
from twilio.request_validator import RequestValidator

from models.dossiers import DossierEvent
from models.enums import ActionStatus, Channel, ContactKind, EventKind
from models.parties import ContactPoint
from tests.integration.dispatch.support import action, detached
from tests.integration.webhooks.conftest import (
    PUBLIC,
    TWILIO_TOKEN,
    sent_action,
    snapshot,
)

STATUS = "/webhooks/twilio/status"
INBOUND = "/webhooks/twilio/inbound"
SID = "SM" + "1" * 32


def events(container, kind: EventKind) -> list[DossierEvent]:
    with container.uow() as uow:
        rows = uow.session.scalars(select(DossierEvent).where(DossierEvent.kind == kind).order_by(DossierEvent.id)).all()
        uow.session.expunge_all()
        return rows


def phone_of(container, case) -> str:
    return detached(container, ContactPoint, case.contacts[ContactKind.PHONE]).value


def test_a_signed_delivered_callback_moves_the_sms_from_sent_to_delivered(container, cases, twilio):
    action_id = sent_action(container, cases["A-1"], Channel.SMS, SID)
    response = twilio.post(STATUS, {"MessageSid": SID, "MessageStatus": "delivered", "To": "+33612345678"})
    assert response.status_code == 204
    moved = action(container, action_id)
    assert moved.status == ActionStatus.DELIVERED
    assert moved.delivered_at is not None
    assert [e.data["action_id"] for e in events(container, EventKind.ACTION_DELIVERED)] == [action_id]


def test_a_callback_signed_with_a_query_string_is_checked_against_the_public_url(container, cases, twilio):
    action_id = sent_action(container, cases["A-1"], Channel.SMS, SID)
    path = f"{STATUS}?action_id={action_id}"
    response = twilio.post(path, {"MessageSid": SID, "MessageStatus": "delivered"})
    assert response.status_code == 204
    assert action(container, action_id).status == ActionStatus.DELIVERED


def test_a_repeated_or_late_callback_changes_nothing(container, cases, twilio):
    action_id = sent_action(container, cases["A-1"], Channel.SMS, SID)
    assert twilio.post(STATUS, {"MessageSid": SID, "MessageStatus": "delivered"}).status_code == 204
    before = snapshot(container)
    for status in ("delivered", "sent", "queued", "failed", "undelivered"):
        assert twilio.post(STATUS, {"MessageSid": SID, "MessageStatus": status, "ErrorCode": "30006"}).status_code == 204
    assert snapshot(container) == before
    assert action(container, action_id).status == ActionStatus.DELIVERED


def test_an_early_status_leaves_a_sent_action_as_it_is(container, cases, twilio):
    sent_action(container, cases["A-1"], Channel.SMS, SID)
    before = snapshot(container)
    assert twilio.post(STATUS, {"MessageSid": SID, "MessageStatus": "sending"}).status_code == 204
    assert snapshot(container) == before


def test_an_invalid_number_fails_the_sms_and_marks_the_number_invalid(container, cases, twilio):
    case = cases["A-1"]
    action_id = sent_action(container, case, Channel.SMS, SID)
    response = twilio.post(STATUS, {"MessageSid": SID, "MessageStatus": "undelivered", "ErrorCode": "21614"})
    assert response.status_code == 204
    assert action(container, action_id).status == ActionStatus.FAILED
    point = detached(container, ContactPoint, case.contacts[ContactKind.PHONE])
    assert point.valid is False and point.invalid_since is not None
    [invalid] = events(container, EventKind.CONTACT_INVALID)
    assert invalid.data["action_id"] == action_id and invalid.data["channel"] == "sms"


def test_an_ordinary_failure_does_not_mark_the_number(container, cases, twilio):
    case = cases["A-1"]
    action_id = sent_action(container, case, Channel.SMS, SID)
    assert twilio.post(STATUS, {"MessageSid": SID, "MessageStatus": "failed", "ErrorCode": "30001"}).status_code == 204
    assert action(container, action_id).status == ActionStatus.FAILED
    assert detached(container, ContactPoint, case.contacts[ContactKind.PHONE]).valid is True
    assert events(container, EventKind.CONTACT_INVALID) == []


def test_a_badly_signed_or_unsigned_callback_is_refused_and_changes_nothing(container, cases, twilio):
    action_id = sent_action(container, cases["A-1"], Channel.SMS, SID)
    params = {"MessageSid": SID, "MessageStatus": "delivered"}
    before = snapshot(container)
    assert twilio.post(STATUS, params, signed=False).status_code == 403
    assert twilio.post(STATUS, params, signature="bm90IGEgc2lnbmF0dXJl").status_code == 403
    assert twilio.post(STATUS, params, sign_url="http://testserver" + STATUS).status_code == 403
    other_token = RequestValidator("f" * 32).compute_signature(PUBLIC + STATUS, params)
    assert twilio.post(STATUS, params, signature=other_token).status_code == 403
    signed_other_fields = RequestValidator(TWILIO_TOKEN).compute_signature(
        PUBLIC + STATUS, {**params, "MessageStatus": "sent"})
    assert twilio.post(STATUS, params, signature=signed_other_fields).status_code == 403
    assert snapshot(container) == before
    assert action(container, action_id).status == ActionStatus.SENT


def test_a_malformed_callback_gets_a_400_and_changes_nothing(container, cases, twilio):
    sent_action(container, cases["A-1"], Channel.SMS, SID)
    before = snapshot(container)
    assert twilio.post(STATUS, {"MessageSid": SID}).status_code == 400
    assert twilio.post(STATUS, {"MessageStatus": "delivered"}).status_code == 400
    assert twilio.post(STATUS, {"MessageSid": SID, "MessageStatus": "teleported"}).status_code == 400
    assert snapshot(container) == before


def test_stop_opts_the_number_out_and_records_an_opt_out(container, cases, twilio):
    case = cases["A-1"]
    number = phone_of(container, case)
    assert number.startswith("+33")
    response = twilio.post(INBOUND, {"From": number, "Body": "  arrêt ", "MessageSid": SID})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    assert response.text.endswith("<Response/>")
    point = detached(container, ContactPoint, case.contacts[ContactKind.PHONE])
    assert point.opt_out_sms_at is not None
    [opt_out] = events(container, EventKind.OPT_OUT)
    assert opt_out.dossier_id == case.dossier_id
    assert opt_out.data["channel"] == "sms" and opt_out.data["contact_point_id"] == point.id
    # The same message again: nothing twice.
    before = snapshot(container)
    assert twilio.post(INBOUND, {"From": number, "Body": "STOP", "MessageSid": SID}).status_code == 200
    assert snapshot(container) == before


def test_every_stop_keyword_is_understood_whatever_its_case_and_accents(container, cases, twilio):
    from services.webhooks import is_stop_message

    for word in ("STOP", "stop", " Stop ", "STOPALL", "Arret", "ARRÊT", "unsubscribe", "Cancel", "end", "QUIT",
                 "stop sms", "Stop  SMS"):
        assert is_stop_message(word), word
    for text in ("Je vais payer", "stop à vos relances injustifiées", "", None):
        assert not is_stop_message(text), text


def test_another_reply_is_recorded_once_even_when_twilio_retries(container, cases, twilio):
    case = cases["A-2"]
    number = phone_of(container, case)
    params = {"From": number, "Body": "Je paierai vendredi", "MessageSid": SID}
    assert twilio.post(INBOUND, params).status_code == 200
    assert twilio.post(INBOUND, params).status_code == 200
    [message] = events(container, EventKind.INBOUND_MESSAGE)
    assert message.dossier_id == case.dossier_id
    assert message.data["message_sid"] == SID and message.data["channel"] == "sms"
    assert message.data["body"] == "Je paierai vendredi"
    assert events(container, EventKind.OPT_OUT) == []
    assert detached(container, ContactPoint, case.contacts[ContactKind.PHONE]).opt_out_sms_at is None


def test_an_unsigned_inbound_sms_is_refused_and_changes_nothing(container, cases, twilio):
    number = phone_of(container, cases["A-1"])
    before = snapshot(container)
    assert twilio.post(INBOUND, {"From": number, "Body": "STOP", "MessageSid": SID}, signed=False).status_code == 403
    assert twilio.post(INBOUND, {"From": number, "Body": "STOP"}).status_code == 400
    assert snapshot(container) == before


def test_the_health_check_pings_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
