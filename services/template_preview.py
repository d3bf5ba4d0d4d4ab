"""Render any template for a real dossier, as the dispatcher would, without planning or sending.

    preview_template(container, name, dossier_key, *, as_of, pdf_path=None) -> Preview

`name` is `sms/<stem>`, `email/<stem>`, `letter/<stem>` or `call/<stem>` (the folder says the
channel). The context comes from `services.rendering.contexts_for` with a row that was never
planned (action id 0), so the figures are the dossier's own to `as_of`: claims, interest to the
day, open promise, plan. Nothing is written: a letter preview does not become the dossier's first
letter, and its reference is marked as a preview.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from types import SimpleNamespace

from sqlalchemy import select

from models.enums import Channel, ContactKind, LineType
from models.parties import ContactPoint
from services.explain import find_dossier
from services.rendering import contexts_for

__all__ = ["Preview", "preview_template", "template_channel"]

PREVIEW_ACTION_ID = 0
_CHANNELS = {"sms": Channel.SMS, "email": Channel.EMAIL, "letter": Channel.LETTER, "call": Channel.CALL}
_CONTACT_KIND = {Channel.SMS: ContactKind.PHONE, Channel.EMAIL: ContactKind.EMAIL,
                 Channel.LETTER: ContactKind.ADDRESS, Channel.CALL: ContactKind.PHONE}


@dataclass(frozen=True)
class Preview:
    template: str
    channel: Channel
    dossier_id: int
    to: str | None  # the contact the dispatcher would pick first (None: the dossier has none)
    subject: str | None = None
    text: str | None = None
    html: str | None = None
    sms_encoding: str | None = None
    sms_segments: int | None = None
    sms_max_segments: int | None = None
    pdf_path: Path | None = None
    page_count: int | None = None
    notes: list[str] = field(default_factory=list)


def template_channel(name: str) -> tuple[Channel, str]:
    folder, _, stem = name.strip().strip("/").partition("/")
    if folder not in _CHANNELS or not stem:
        raise ValueError(
            f"modèle « {name} » : attendu sms/NOM, email/NOM, letter/NOM ou call/NOM"
        )
    return _CHANNELS[folder], stem.removesuffix(".txt").removesuffix(".html").removesuffix(".md")


def preview_template(container, name: str, dossier_key: str, *, as_of: date,
                     pdf_path: Path | None = None, renderer=None, letter_renderer=None) -> Preview:
    """Raises LookupError (unknown dossier), ValueError (bad name) or the renderer's
    TemplateError / LetterContextError, each with a message for the user."""
    channel, stem = template_channel(name)
    with container.uow() as uow:
        s = uow.session
        found = find_dossier(s, dossier_key)
        dossier = SimpleNamespace(id=found.id, debtor_id=found.debtor_id)  # outlives the session
        query = (
            select(ContactPoint.id, ContactPoint.value)
            .where(ContactPoint.debtor_id == dossier.debtor_id,
                   ContactPoint.kind == _CONTACT_KIND[channel], ContactPoint.valid.is_(True))
            .order_by(ContactPoint.rank, ContactPoint.id).limit(1)
        )
        if channel is Channel.SMS:  # as the planner: a text goes to a mobile not opted out
            query = query.where(ContactPoint.line_type == LineType.MOBILE,
                                ContactPoint.opt_out_sms_at.is_(None))
        contact = s.execute(query).first()
        row = SimpleNamespace(
            id=PREVIEW_ACTION_ID, idempotency_key=f"apercu:{dossier.id}", dossier_id=dossier.id,
            debtor_id=dossier.debtor_id,
            channel=channel, template=f"{channel.value}/{stem}",
            contact_point_id=contact.id if contact else None, scenario="apercu", step=stem,
            planned_at=datetime.combine(as_of, time(9)),
        )
        settings = container.settings
        contexts = contexts_for(
            s, [row], as_of=as_of, office=settings.office, rates=container.rates,
            unsubscribe_page=settings.channels.dispatch_policy().unsubscribe_page,
        )
    context = contexts.get(PREVIEW_ACTION_ID)
    if context is None:
        raise LookupError(f"dossier {dossier.id} : pas d'adresse postale valide pour un courrier")
    to = contact.value if contact else None
    notes = [] if contact else [f"aucun contact valide pour le canal {channel.value}"]

    if channel is Channel.LETTER:
        from channels.letters_pdf import LetterRenderer

        context["letter"] = dict(context["letter"], reference=f"APERCU-{dossier.id}")
        letter = (letter_renderer or LetterRenderer()).render_letter(row.template, context)
        target = pdf_path or Path(f"apercu-{stem}-{dossier.id}.pdf")
        target.write_bytes(letter.pdf)
        if context["letter"]["first"]:
            notes.append("premier courrier du dossier : mentions R124-4 et L111-8 incluses")
        return Preview(row.template, channel, dossier.id, to, pdf_path=target,
                       page_count=letter.page_count, notes=notes)

    from channels.templating import TemplateRenderer

    renderer = renderer or TemplateRenderer(office=settings.office.model_dump(), check=False)
    if channel is Channel.SMS:
        sms = renderer.render_sms(row.template, context)
        return Preview(row.template, channel, dossier.id, to, text=sms.text,
                       sms_encoding=sms.encoding, sms_segments=sms.segments,
                       sms_max_segments=sms.max_segments, notes=notes)
    if channel is Channel.EMAIL:
        email = renderer.render_email(row.template, context)
        return Preview(row.template, channel, dossier.id, to, subject=email.subject,
                       text=email.text, html=email.html, notes=notes)
    return Preview(row.template, channel, dossier.id, to,
                   text=renderer.render_text(row.template, context), notes=notes)
