"""A print batch of real PDF letters from actions already sent (the demo's sample, a reprint)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import select

from models.enums import ActionStatus, Channel
from models.outbox import Action


def render_print_batch(container, folder: Path, *, limit: int = 12, batch_id: str = "echantillon"):
    """Renders up to `limit` sent letters, at least one per template, into one PDF + manifest."""
    from channels.letters_pdf import LetterBatch, LetterRenderer
    from services.rendering import build_contexts

    with container.uow() as uow:
        s = uow.session
        rows = s.execute(
            select(Action.id, Action.template, Action.dossier_id, Action.sent_at)
            .where(Action.channel == Channel.LETTER, Action.status.in_([ActionStatus.SENT, ActionStatus.DELIVERED]))
            .order_by(Action.id)
        ).all()
        chosen, seen = [], set()
        for row in rows:  # one per template first, then the earliest others
            if row.template not in seen:
                seen.add(row.template)
                chosen.append(row)
        chosen += [r for r in rows if r not in chosen][: max(0, limit - len(chosen))]
        if not chosen:
            return None
        renderer, batch = LetterRenderer(), LetterBatch(folder, batch_id)
        for row in chosen:
            as_of = (row.sent_at or datetime.now(timezone.utc)).date()
            context = build_contexts(s, [row.id], as_of=as_of, office=container.settings.office,
                                     rates=container.rates)[row.id]
            letter = renderer.render_letter(row.template, context)
            batch.add(letter, action_id=row.id, letter_reference=context["letter"]["reference"],
                      dossier_id=row.dossier_id, address_lines=context["recipient"]["address_lines"],
                      template=row.template)
        return batch.write()
