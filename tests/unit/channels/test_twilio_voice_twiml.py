"""Click-to-call TwiML: the agent hears who is dialled, the debtor hears the notice first."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from channels.twilio_voice import DIAL_TIMEOUT_SECONDS, bridge_twiml, notice_twiml

NOTICE_URL = "https://relance.example/webhooks/twilio/voice/notice?task=7"


def test_the_agent_leg_speaks_to_the_agent_then_dials_the_debtor_with_the_notice_on_answer():
    root = ET.fromstring(bridge_twiml("+33612345678", caller_id="+33478000000", agent_text="Mise en relation",
                                      notice_url=NOTICE_URL, record=True))
    assert [child.tag for child in root] == ["Say", "Dial"]
    say, dial = root
    assert say.text == "Mise en relation" and say.get("language") == "fr-FR"
    assert dial.get("callerId") == "+33478000000" and dial.get("timeout") == str(DIAL_TIMEOUT_SECONDS)
    assert dial.get("record") == "record-from-answer-dual" and dial.get("answerOnBridge") == "true"
    [number] = list(dial)
    assert number.tag == "Number" and number.text == "+33612345678" and number.get("url") == NOTICE_URL


def test_without_recording_the_dial_records_nothing_but_the_notice_still_runs():
    dial = ET.fromstring(bridge_twiml("+33612345678", caller_id="+33478000000", agent_text="x",
                                      notice_url=NOTICE_URL, record=False)).find("Dial")
    assert dial.get("record") is None and dial.find("Number").get("url") == NOTICE_URL


def test_the_notice_is_said_in_french_and_escaped():
    root = ET.fromstring(notice_twiml("Cet appel est susceptible d'être enregistré <&>"))
    [say] = list(root)
    assert say.tag == "Say" and say.get("language") == "fr-FR"
    assert say.text == "Cet appel est susceptible d'être enregistré <&>"
