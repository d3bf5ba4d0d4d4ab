"""Click-to-call through Twilio Programmable Voice: Twilio calls the agent's phone first, then
bridges the debtor, who hears the recording notice before anyone speaks.

    TwilioVoice(account_sid, auth_token, *, from_number, base_url=None, timeout=10.0)
        .call_agent(agent_number, *, twiml_url, status_callback) -> call SID
    bridge_twiml(debtor_number, *, caller_id, agent_text, notice_url, record, recording_callback=None)
    notice_twiml(text) -> str

The flow, three HTTP exchanges:

    1. Relance -> Twilio   POST /Accounts/{sid}/Calls.json  To=agent, From=office, Url=<bridge URL>
    2. agent answers; Twilio -> Relance  POST <bridge URL>  -> bridge_twiml: <Say> to the agent, then
       <Dial record=...><Number url=<notice URL>>debtor</Number></Dial>
    3. debtor answers; Twilio -> Relance  POST <notice URL>  -> notice_twiml: the recording notice,
       played to the debtor alone (a <Number url> runs on the called party before the bridge), so
       the debtor is told before the conversation starts and before the agent can speak.

Recording is `record-from-answer-dual` only when the office records calls; without recording the
notice still introduces the office and the creditor. Twilio's errors are mapped as for SMS
(`channels.twilio_sms.map_twilio_error`). Twilio's SDK is imported by its two adapters, this one
and channels/twilio_sms.py (messaging); no other module.
"""

from __future__ import annotations

import logging

import requests
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse

from channels.errors import ChannelError
from channels.twilio_sms import _HttpClient, map_transport_error, map_twilio_error

__all__ = ["TwilioVoice", "bridge_twiml", "notice_twiml"]

log = logging.getLogger(__name__)

LANGUAGE = "fr-FR"
DIAL_TIMEOUT_SECONDS = 25  # rings before Twilio gives up on the debtor (about 5 rings)


def bridge_twiml(debtor_number: str, *, caller_id: str, agent_text: str, notice_url: str,
                 record: bool, recording_callback: str | None = None,
                 dial_action: str | None = None) -> str:
    """What the agent's leg runs once the agent picks up."""
    response = VoiceResponse()
    response.say(agent_text, language=LANGUAGE)
    options = {"caller_id": caller_id, "timeout": DIAL_TIMEOUT_SECONDS, "answer_on_bridge": True}
    if record:
        options["record"] = "record-from-answer-dual"
        if recording_callback:
            options["recording_status_callback"] = recording_callback
    if dial_action:
        options["action"] = dial_action
    dial = response.dial(**options)
    dial.number(debtor_number, url=notice_url)
    return str(response)


def notice_twiml(text: str) -> str:
    """What the debtor hears on answering, before the bridge."""
    response = VoiceResponse()
    response.say(text, language=LANGUAGE)
    return str(response)


class TwilioVoice:
    def __init__(self, account_sid: str, auth_token: str, *, from_number: str,
                 base_url: str | None = None, timeout: float = 10.0) -> None:
        self.from_number = from_number
        self._client = Client(account_sid, auth_token,
                              http_client=_HttpClient(timeout=timeout, pool_size=2), environment={})
        self._client.edge = None  # as for SMS: TWILIO_EDGE / TWILIO_REGION must not move the host
        self._client.region = None
        if base_url:
            self._client.api.base_url = base_url.rstrip("/")

    def call_agent(self, agent_number: str, *, twiml_url: str, status_callback: str) -> str:
        """Start the call; returns Twilio's call SID. Raises ChannelError (see module doc)."""
        try:
            call = self._client.api.v2010.account.calls.create(
                to=agent_number, from_=self.from_number, url=twiml_url, method="POST",
                status_callback=status_callback, status_callback_method="POST",
                status_callback_event=["completed"],
            )
        except (TwilioRestException, TwilioServiceException) as exc:
            raise map_twilio_error(exc) from exc
        except requests.RequestException as exc:
            raise map_transport_error(exc) from exc
        except ChannelError:
            raise
        log.info("click-to-call started: %s", call.sid)
        return call.sid


