"""SendGrid Event Webhook: signed with an ECDSA P-256 key whose public half is in the settings."""

from __future__ import annotations

from datetime import timedelta

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from models.dossiers import DossierEvent
from models.enums import ActionStatus, Channel, ContactKind, EventKind
from models.parties import ContactPoint
from tests.integration.dispatch.support import action, detached
from tests.integration.webhooks.conftest import RECEIVED, sent_action, snapshot

MESSAGE_ID = "14c5d75ce93.dfd.64b469"


def events(container, kind: EventKind) -> list[DossierEvent]:
    with container.uow() as uow:
        rows = uow.session.scalars(select(DossierEvent).where(DossierEvent.kind == kind).order_by(DossierEvent.id)).all()
        uow.session.expunge_all()
        return rows


def event(kind: str, action_id: int | None, sg_event_id: str, **extra):
    body = {"email": "helene@exemple.fr", "event": kind, "timestamp": int(RECEIVED.timestamp()),
            "sg_event_id": sg_event_id, "sg_message_id": f"{MESSAGE_ID}.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0"}
    if action_id is not None:
        body["action_id"] = str(action_id)
    return {**body, **extra}


def test_a_delivered_event_moves_the_email_to_delivered(container, cases, sendgrid):
    action_id = sent_action(container, cases["A-1"], Channel.EMAIL, MESSAGE_ID)
    response = sendgrid.post([event("processed", action_id, "ev-0"), event("delivered", action_id, "ev-1")])
    assert response.status_code == 200
    assert response.json()["delivered"] == 1
    assert action(container, action_id).status == ActionStatus.DELIVERED


def test_an_event_without_our_custom_arg_is_matched_by_its_message_id(container, cases, sendgrid):
    action_id = sent_action(container, cases["A-1"], Channel.EMAIL, MESSAGE_ID)
    assert sendgrid.post([event("delivered", None, "ev-1")]).status_code == 200
    assert action(container, action_id).status == ActionStatus.DELIVERED


def test_a_bounce_fails_the_email_marks_the_address_invalid_and_asks_for_the_fallback(container, cases, sendgrid):
    case = cases["A-1"]
    action_id = sent_action(container, case, Channel.EMAIL, MESSAGE_ID, step="relance_email")
    assert sendgrid.post([event("bounce", action_id, "ev-bounce", reason="550 5.1.1 unknown")]).status_code == 200
    failed = action(container, action_id)
    assert failed.status == ActionStatus.FAILED and failed.error_code == "bounce"
    point = detached(container, ContactPoint, case.contacts[ContactKind.EMAIL])
    assert point.valid is False and point.invalid_reason == "bounce" and point.invalid_since is not None
    [invalid] = events(container, EventKind.CONTACT_INVALID)
    assert invalid.dossier_id == case.dossier_id
    assert invalid.data["action_id"] == action_id
    assert invalid.data["channel"] == "email" and invalid.data["step"] == "relance_email"
    assert invalid.processed_at is None  # the scenario engine still has to replan


def test_a_duplicate_event_records_nothing_twice(container, cases, sendgrid):
    action_id = sent_action(container, cases["A-1"], Channel.EMAIL, MESSAGE_ID)
    batch = [event("dropped", action_id, "ev-drop")]
    assert sendgrid.post(batch).status_code == 200
    before = snapshot(container)
    response = sendgrid.post(batch)
    assert response.status_code == 200
    assert snapshot(container) == before
    assert len(events(container, EventKind.CONTACT_INVALID)) == 1
    assert detached(container, ContactPoint, cases["A-1"].contacts[ContactKind.EMAIL]).invalid_reason == "dropped"


def test_a_spam_report_or_unsubscribe_opts_the_address_out_once(container, cases, sendgrid):
    case = cases["A-1"]
    action_id = sent_action(container, case, Channel.EMAIL, MESSAGE_ID)
    assert sendgrid.post([event("spamreport", action_id, "ev-spam")]).status_code == 200
    point = detached(container, ContactPoint, case.contacts[ContactKind.EMAIL])
    assert point.opt_out_email_at is not None
    [opt_out] = events(container, EventKind.OPT_OUT)
    assert opt_out.dossier_id == case.dossier_id
    assert opt_out.data["action_id"] == action_id and opt_out.data["channel"] == "email"
    assert opt_out.data["sg_event_id"] == "ev-spam"
    before = snapshot(container)
    assert sendgrid.post([event("spamreport", action_id, "ev-spam"),
                          event("unsubscribe", action_id, "ev-unsub")]).status_code == 200
    assert snapshot(container) == before
    assert action(container, action_id).status == ActionStatus.SENT


def test_other_events_are_ignored(container, cases, sendgrid):
    action_id = sent_action(container, cases["A-1"], Channel.EMAIL, MESSAGE_ID)
    before = snapshot(container)
    batch = [event(kind, action_id, f"ev-{kind}") for kind in ("processed", "open", "click", "deferred")]
    response = sendgrid.post(batch)
    assert response.status_code == 200 and response.json()["ignored"] == 4
    assert snapshot(container) == before


def test_an_unsigned_badly_signed_or_stale_request_is_refused_and_changes_nothing(container, cases, sendgrid):
    action_id = sent_action(container, cases["A-1"], Channel.EMAIL, MESSAGE_ID)
    batch = [event("bounce", action_id, "ev-1")]
    before = snapshot(container)
    assert sendgrid.post(batch, signed=False).status_code == 403
    assert sendgrid.post(batch, signer=ec.generate_private_key(ec.SECP256R1())).status_code == 403
    assert sendgrid.post(batch, timestamp=RECEIVED - timedelta(hours=1)).status_code == 403
    assert snapshot(container) == before
    assert action(container, action_id).status == ActionStatus.SENT


def test_a_signed_body_that_is_not_an_array_of_events_gets_a_400_and_changes_nothing(container, cases, sendgrid):
    action_id = sent_action(container, cases["A-1"], Channel.EMAIL, MESSAGE_ID)
    before = snapshot(container)
    assert sendgrid.post(None, raw=b"not json").status_code == 400
    assert sendgrid.post({"event": "bounce", "action_id": str(action_id)}).status_code == 400
    assert sendgrid.post([event("bounce", action_id, "ev-1"), "bounce"]).status_code == 400
    assert snapshot(container) == before
