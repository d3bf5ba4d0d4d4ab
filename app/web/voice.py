"""Twilio Voice callbacks of click-to-call (see channels/twilio_voice.py for the flow).

    POST /webhooks/twilio/voice/bridge?task=ID   the agent answered: TwiML that dials the debtor
    POST /webhooks/twilio/voice/notice?task=ID   the debtor answered: TwiML of the recording notice
    POST /webhooks/twilio/voice/status?task=ID   the call ended: status and duration recorded once

Each request must carry a valid X-Twilio-Signature (403 otherwise). A task that can no longer be
called (closed, suspended, opted out since) gets TwiML that says so to the agent and hangs up.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response

from app.web.webhooks import _container, _now, _problem, _twilio_form
from channels.twilio_voice import bridge_twiml, notice_twiml
from services.click_to_call import CallParties, CallRefused, VoiceUrls, call_parties, record_call_end

log = logging.getLogger(__name__)

VOICE_PATH = "/webhooks/twilio/voice"
TWIML = "application/xml"
UNAVAILABLE = "Cet appel n'est plus possible. Au revoir."


def voice_urls(channels) -> VoiceUrls:
    return VoiceUrls(bridge=channels.url(f"{VOICE_PATH}/bridge"), notice=channels.url(f"{VOICE_PATH}/notice"),
                     status=channels.url(f"{VOICE_PATH}/status"))


def _task_id(request: Request) -> int | None:
    value = request.query_params.get("task", "")
    return int(value) if value.isdigit() else None


async def _callable_parties(request: Request) -> tuple[CallParties | None, Response | None]:
    """The call's parties for a signed request on a task that may still be called, else the
    answer to give instead (4xx, or TwiML that says the call is no longer possible)."""
    if await _twilio_form(request) is None:
        return None, _problem(403, "invalid signature")
    task_id = _task_id(request)
    if task_id is None:
        return None, _problem(400, "task missing")
    c = _container(request)
    try:
        return call_parties(c.uow, task_id, office_name=c.settings.office.name, now=_now(request)), None
    except CallRefused as exc:
        log.info("voice callback for task %s refused: %s", task_id, type(exc).__name__)
        return None, Response(notice_twiml(UNAVAILABLE), media_type=TWIML)


async def voice_bridge(request: Request) -> Response:
    parties, answer = await _callable_parties(request)
    if parties is None:
        return answer
    channels = _container(request).settings.channels
    links = voice_urls(channels).for_task(parties.task_id)
    return Response(bridge_twiml(parties.debtor_number, caller_id=channels.twilio_voice_from,
                                 agent_text=parties.agent_text, notice_url=links["notice"],
                                 record=channels.record_calls), media_type=TWIML)


async def voice_notice(request: Request) -> Response:
    parties, answer = await _callable_parties(request)
    if parties is None:
        return answer
    return Response(notice_twiml(parties.notice_text), media_type=TWIML)


async def voice_status(request: Request) -> Response:
    params = await _twilio_form(request)
    if params is None:
        return _problem(403, "invalid signature")
    task_id = _task_id(request)
    duration = params.get("CallDuration", "")
    if task_id is None or not params.get("CallSid") or (duration and not duration.isdigit()):
        return _problem(400, "malformed call status")
    record_call_end(_container(request).uow, task_id, call_sid=params["CallSid"],
                    status=params.get("CallStatus", ""), duration_seconds=int(duration or 0),
                    now=_now(request))
    return Response(status_code=204)


def voice_router() -> APIRouter:
    router = APIRouter()
    for name, handler in (("bridge", voice_bridge), ("notice", voice_notice), ("status", voice_status)):
        router.add_api_route(f"{VOICE_PATH}/{name}", handler, methods=["POST"], include_in_schema=False)
    return router
