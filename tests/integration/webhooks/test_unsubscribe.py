"""The unsubscribe link of emails: a confirmation page (GET) and the one-click opt-out (POST)."""

from __future__ import annotations

from sqlalchemy import select

from models.dossiers import DossierEvent
from models.enums import Channel, ContactKind, EventKind
from models.parties import ContactPoint
from services.rendering import unsubscribe_token
from tests.integration.dispatch.support import detached
from tests.integration.webhooks.conftest import (
    UNSUBSCRIBE_SECRET,
    sent_action,
    snapshot,
)


def link(action_id: int, token: str | None = None) -> str:
    return f"/desinscription?a={action_id}&t={token or unsubscribe_token(action_id, UNSUBSCRIBE_SECRET)}"


def opt_outs(container) -> list[DossierEvent]:
    with container.uow() as uow:
        rows = uow.session.scalars(select(DossierEvent).where(DossierEvent.kind == EventKind.OPT_OUT)).all()
        uow.session.expunge_all()
        return rows


def test_the_link_shows_a_french_confirmation_page_and_changes_nothing(container, cases, client):
    action_id = sent_action(container, cases["A-1"], Channel.EMAIL, "msg-1")
    before = snapshot(container)
    response = client.get(link(action_id))
    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]
    assert "Confirmer la désinscription" in response.text and 'method="post"' in response.text
    assert snapshot(container) == before


def test_a_one_click_post_opts_the_address_out_once(container, cases, client):
    case = cases["A-1"]
    action_id = sent_action(container, case, Channel.EMAIL, "msg-1", step="relance_email")
    response = client.post(link(action_id), data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200 and "vous ne recevrez plus" in response.text
    point = detached(container, ContactPoint, case.contacts[ContactKind.EMAIL])
    assert point.opt_out_email_at is not None
    [opt_out] = opt_outs(container)
    assert opt_out.dossier_id == case.dossier_id
    assert opt_out.data["action_id"] == action_id and opt_out.data["step"] == "relance_email"
    assert opt_out.data["channel"] == "email"
    before = snapshot(container)
    again = client.post(link(action_id), data={"List-Unsubscribe": "One-Click"})
    assert again.status_code == 200 and "déjà désinscrite" in again.text
    assert snapshot(container) == before


def test_a_forged_or_incomplete_link_is_refused_and_changes_nothing(container, cases, client):
    action_id = sent_action(container, cases["A-1"], Channel.EMAIL, "msg-1")
    other = sent_action(container, cases["A-2"], Channel.EMAIL, "msg-2")
    before = snapshot(container)
    assert client.post(link(action_id, token="0" * 24)).status_code == 403
    assert client.post(f"/desinscription?a={action_id}&t={unsubscribe_token(other, UNSUBSCRIBE_SECRET)}").status_code == 403
    assert client.get(link(action_id, token="0" * 24)).status_code == 403
    assert client.post(f"/desinscription?a={action_id}").status_code == 400
    assert client.post("/desinscription?a=abc&t=xyz").status_code == 400
    assert client.post(link(99_999)).status_code == 404
    assert snapshot(container) == before


def test_an_sms_action_has_no_email_to_unsubscribe(container, cases, client):
    action_id = sent_action(container, cases["A-1"], Channel.SMS, "SM1")
    before = snapshot(container)
    assert client.post(link(action_id)).status_code == 404
    assert snapshot(container) == before
