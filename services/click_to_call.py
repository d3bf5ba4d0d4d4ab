"""Click-to-call: an agent's phone rings, then the debtor's, through the voice provider.

    start_call(uow_factory, voice, task_id, *, agent, agent_number, urls, now) -> call id
    call_parties(uow_factory, task_id, *, office_name) -> CallParties   (what the TwiML needs)
    record_call_end(uow_factory, task_id, *, call_sid, status, duration_seconds, now) -> bool

The same checks as a call step, made again at dial time since the file may have moved since the
task was queued: the task is open (or leased by this agent), the number is valid and not opted
out of calls, the dossier is neither closed nor suspended. The call's end (status, duration) is
recorded once per call id as a PHONE_CALL event on the dossier: the agent's talk time, which the
reporting prices. What was said is the agent's outcome (a separate event, from the console).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from sqlalchemy import select

from channels.templating import make_environment
from models.dossiers import Dossier, DossierEvent
from models.enums import CallTaskStatus, ContactKind, DossierStatus, EventKind
from models.outbox import CallTask
from models.parties import ContactPoint, Creditor

__all__ = ["CallParties", "CallRefused", "VoiceUrls", "call_parties", "record_call_end", "start_call"]

log = logging.getLogger(__name__)

AGENT_TEXT = "call/voix/annonce_agent.txt"
NOTICE_TEXT = "call/voix/annonce_enregistrement.txt"
FINAL_STATUSES = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})


class CallRefused(Exception):
    """The call cannot be placed now; the message says why, for the agent."""


@dataclass(frozen=True)
class VoiceUrls:
    """Public URLs Twilio calls back (the task id is added as `task`)."""

    bridge: str
    notice: str
    status: str

    def for_task(self, task_id: int) -> dict[str, str]:
        query = urlencode({"task": task_id})
        return {name: f"{url}{'&' if '?' in url else '?'}{query}"
                for name, url in (("bridge", self.bridge), ("notice", self.notice), ("status", self.status))}


@dataclass(frozen=True)
class CallParties:
    task_id: int
    dossier_id: int
    debtor_number: str
    agent_text: str
    notice_text: str


def _checked(session, task_id: int, *, agent: str | None, now: datetime):
    task = session.get(CallTask, task_id)
    if task is None:
        raise CallRefused(f"tâche d'appel {task_id} introuvable")
    if task.status in (CallTaskStatus.DONE, CallTaskStatus.CANCELLED):
        raise CallRefused(f"tâche d'appel {task_id} terminée")
    if (agent is not None and task.status == CallTaskStatus.CLAIMED and task.leased_by != agent
            and task.lease_until is not None and task.lease_until > now):
        raise CallRefused(f"tâche d'appel {task_id} prise par un autre agent")
    dossier = session.get(Dossier, task.dossier_id)
    if dossier.status == DossierStatus.CLOSED or dossier.suspension is not None:
        raise CallRefused(f"dossier {dossier.id} clos ou suspendu : aucun appel")
    phone = session.get(ContactPoint, task.phone_id) if task.phone_id else None
    if phone is None or phone.kind != ContactKind.PHONE or not phone.valid:
        raise CallRefused(f"dossier {dossier.id} : pas de numéro valide")
    if phone.opt_out_call_at is not None:
        raise CallRefused(f"dossier {dossier.id} : le débiteur refuse les appels")
    return task, dossier, phone


def start_call(uow_factory, voice, task_id: int, *, agent: str, agent_number: str,
               urls: VoiceUrls, now: datetime) -> str:
    """Ring the agent, whose answer bridges the debtor. Raises CallRefused, or the adapter's
    ChannelError when the provider refuses."""
    with uow_factory() as uow:
        _checked(uow.session, task_id, agent=agent, now=now)
    links = urls.for_task(task_id)
    call_id = voice.call_agent(agent_number, twiml_url=links["bridge"], status_callback=links["status"])
    log.info("call task %s: click-to-call %s started", task_id, call_id)
    return call_id


def call_parties(uow_factory, task_id: int, *, office_name: str, now: datetime) -> CallParties:
    with uow_factory() as uow:
        s = uow.session
        task, dossier, phone = _checked(s, task_id, agent=None, now=now)
        creditor = s.get(Creditor, dossier.creditor_id)
        env = make_environment()
        values = {"dossier_reference": dossier.external_ref, "office_name": office_name,
                  "creditor_name": creditor.name}
        return CallParties(
            task_id=task.id, dossier_id=dossier.id, debtor_number=phone.value,
            agent_text=" ".join(env.get_template(AGENT_TEXT).render(values).split()),
            notice_text=" ".join(env.get_template(NOTICE_TEXT).render(values).split()),
        )


def record_call_end(uow_factory, task_id: int, *, call_sid: str, status: str,
                    duration_seconds: int | None, now: datetime) -> bool:
    """Record a finished call once (Twilio may repeat its callback). False when it was known,
    not final, or for an unknown task."""
    if status not in FINAL_STATUSES or not call_sid:
        return False
    with uow_factory() as uow:
        s = uow.session
        task = s.get(CallTask, task_id)
        if task is None:
            return False
        known = s.scalars(select(DossierEvent.data).where(
            DossierEvent.dossier_id == task.dossier_id, DossierEvent.kind == EventKind.PHONE_CALL))
        if any(data.get("call_sid") == call_sid for data in known):
            return False
        s.add(DossierEvent(
            dossier_id=task.dossier_id, kind=EventKind.PHONE_CALL, occurred_at=now, source="webhook",
            data={"call_sid": call_sid, "call_task_id": task.id, "status": status,
                  "duration_seconds": int(duration_seconds or 0)},
            processed_at=now,  # a telephony fact: nothing for the scenario to react to
        ))
        uow.commit()
    log.info("call task %s: call %s ended (%s)", task_id, call_sid, status)
    return True
