"""Click-to-call: the Twilio Voice adapter against the stub (checked with Twilio's contract), the
signed TwiML callbacks, and the call's end recorded once."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from channels.errors import PermanentChannelError
from channels.twilio_voice import TwilioVoice
from models.dossiers import Dossier, DossierEvent
from models.enums import CallTaskStatus, ContactKind, EventKind, Suspension
from models.outbox import CallTask
from models.parties import ContactPoint
from services.click_to_call import CallRefused, start_call
from app.web.voice import voice_urls
from tests.integration.dispatch.support import NOW
from tests.integration.webhooks.conftest import PUBLIC, snapshot
from tests.stubs.contracts import twilio_contract
from tests.stubs.provider_stub import TwilioStub

ACCOUNT = "AC" + "0123456789abcdef" * 2
AGENT = "+33700000001"
OFFICE_NUMBER = "+33478000000"


@pytest.fixture
def task(container, cases):
    case = cases["A-1"]
    with container.uow() as uow:
        t = CallTask(idempotency_key="call:test:1", dossier_id=case.dossier_id, debtor_id=case.debtor_id,
                     phone_id=case.contacts[ContactKind.PHONE], script="call/particulier_relance",
                     priority=5, due_at=NOW, created_at=NOW, updated_at=NOW)
        uow.session.add(t)
        uow.session.flush()
        task_id = t.id
        uow.commit()
    return task_id


@pytest.fixture(scope="session")
def twilio_api():
    return twilio_contract()


@pytest.fixture
def voice_client(client, container):
    container.settings.channels.twilio_voice_from = OFFICE_NUMBER
    container.settings.channels.record_calls = True
    return client


def test_a_click_to_call_rings_the_agent_with_the_bridge_url_as_twilio_expects(container, task, twilio_api):
    with TwilioStub() as stub:
        voice = TwilioVoice(ACCOUNT, "t" * 32, from_number=OFFICE_NUMBER, base_url=stub.url, timeout=2.0)
        urls = voice_urls(container.settings.channels)
        call_id = start_call(container.uow, voice, task, agent="agent1", agent_number=AGENT, urls=urls, now=NOW)
        [request] = stub.requests_to("POST", TwilioStub.CALLS)
    twilio_api.validate(request)
    form = {k: v[-1] for k, v in request.form().items()}
    assert call_id.startswith("CA") and form["To"] == AGENT and form["From"] == OFFICE_NUMBER
    assert form["Url"].endswith(f"/webhooks/twilio/voice/bridge?task={task}")
    assert form["StatusCallback"].endswith(f"/webhooks/twilio/voice/status?task={task}")
    assert request.form()["StatusCallbackEvent"] == ["completed"]


def test_a_refused_agent_number_is_a_permanent_error(container, task):
    with TwilioStub() as stub:
        stub.refusals[AGENT] = TwilioStub.error(400, 21211, "invalid To")
        voice = TwilioVoice(ACCOUNT, "t" * 32, from_number=OFFICE_NUMBER, base_url=stub.url, timeout=2.0)
        with pytest.raises(PermanentChannelError):
            start_call(container.uow, voice, task, agent="agent1", agent_number=AGENT,
                       urls=voice_urls(container.settings.channels), now=NOW)


class NoVoice:
    def call_agent(self, *args, **kwargs):  # pragma: no cover - must never be reached
        raise AssertionError("a refused call must not reach the provider")


def test_no_call_is_placed_to_an_opted_out_suspended_or_finished_file(container, task, cases):
    urls = voice_urls(container.settings.channels)
    dial = lambda: start_call(container.uow, NoVoice(), task, agent="agent1", agent_number=AGENT,  # noqa: E731
                              urls=urls, now=NOW)
    with container.uow() as uow:
        uow.session.execute(update(ContactPoint).where(ContactPoint.id == cases["A-1"].contacts[ContactKind.PHONE])
                            .values(opt_out_call_at=NOW))
        uow.commit()
    with pytest.raises(CallRefused, match="refuse les appels"):
        dial()
    with container.uow() as uow:
        uow.session.execute(update(ContactPoint).values(opt_out_call_at=None))
        uow.session.execute(update(Dossier).values(suspension=Suspension.DISPUTE))
        uow.commit()
    with pytest.raises(CallRefused, match="suspendu"):
        dial()
    with container.uow() as uow:
        uow.session.execute(update(Dossier).values(suspension=None))
        uow.session.execute(update(CallTask).values(status=CallTaskStatus.CLAIMED, leased_by="agent2",
                                                    lease_until=NOW + timedelta(minutes=5)))
        uow.commit()
    with pytest.raises(CallRefused, match="autre agent"):
        dial()


def test_the_bridge_callback_dials_the_debtor_and_the_notice_callback_warns_of_the_recording(
        voice_client, twilio, task):
    bridge = twilio.post(f"/webhooks/twilio/voice/bridge?task={task}", {"CallSid": "CA1", "CallStatus": "in-progress"})
    assert bridge.status_code == 200 and bridge.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(bridge.text)
    assert "A-1" in root.find("Say").text
    number = root.find("Dial/Number")
    assert number.text == "+33612345678"
    assert number.get("url") == f"{PUBLIC}/webhooks/twilio/voice/notice?task={task}"
    assert root.find("Dial").get("record") == "record-from-answer-dual"

    notice = twilio.post(f"/webhooks/twilio/voice/notice?task={task}", {"CallSid": "CA2", "CallStatus": "in-progress"})
    text = ET.fromstring(notice.text).find("Say").text
    assert "enregistré" in text and "Banque Exemple" in text and "Cabinet Relance Recouvrement" in text


def test_an_unsigned_voice_callback_is_refused_and_changes_nothing(voice_client, twilio, container, task):
    before = snapshot(container)
    for name in ("bridge", "notice", "status"):
        response = twilio.post(f"/webhooks/twilio/voice/{name}?task={task}",
                               {"CallSid": "CA1", "CallStatus": "completed", "CallDuration": "30"}, signed=False)
        assert response.status_code == 403
    assert snapshot(container) == before


def test_the_end_of_a_call_is_recorded_once_with_its_duration(voice_client, twilio, container, task):
    params = {"CallSid": "CA" + "9" * 32, "CallStatus": "completed", "CallDuration": "184"}
    for _ in range(2):  # Twilio repeats callbacks
        assert twilio.post(f"/webhooks/twilio/voice/status?task={task}", params).status_code == 204
    assert twilio.post(f"/webhooks/twilio/voice/status?task={task}",
                       dict(params, CallDuration="abc")).status_code == 400
    with container.uow() as uow:
        events = uow.session.scalars(select(DossierEvent).where(DossierEvent.kind == EventKind.PHONE_CALL)).all()
        assert [(e.data["duration_seconds"], e.data["status"], e.data["call_task_id"]) for e in events] == [
            (184, "completed", task)]
