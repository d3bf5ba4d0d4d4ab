"""`relance template ...`: list the templates and preview any of them for a real dossier."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

template_app = typer.Typer(help="Modèles : liste et aperçu pour un dossier.", no_args_is_help=True)


@template_app.command("list")
def template_list():
    """Les modèles livrés, par canal."""
    from app.cli import console
    from channels.templating import DEFAULT_TEMPLATES_DIR

    for folder, suffix in (("sms", ".txt"), ("email", ".html"), ("letter", ".html"), ("call", ".md")):
        names = sorted(p.name.removesuffix(suffix) for p in (DEFAULT_TEMPLATES_DIR / folder).glob(f"*{suffix}")
                       if not p.name.startswith(("_", "base")))
        console.print(f"[bold]{folder}[/] : " + ", ".join(f"{folder}/{n}" for n in names))


@template_app.command("preview")
def template_preview(
    name: Annotated[str, typer.Argument(help="Modèle : sms/NOM, email/NOM, letter/NOM ou call/NOM.")],
    dossier: Annotated[str, typer.Option("--dossier", help="Identifiant ou référence du dossier.")],
    as_of: Annotated[Optional[str], typer.Option("--as-of", help="Date des montants (défaut : aujourd'hui).")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="PDF du courrier / HTML du courriel.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
):
    """Affiche le modèle tel qu'il partirait pour ce dossier, sans rien planifier ni envoyer."""
    from datetime import date

    from app.cli import _container, _ensure_schema, _fail, _parse_day, console
    from channels.letters_pdf import LetterContextError
    from channels.templating import TemplateError
    from services.template_preview import preview_template

    c = _container()
    _ensure_schema(c)
    day = _parse_day(as_of, "--as-of") or date.today()
    try:
        preview = preview_template(c, name, dossier, as_of=day,
                                   pdf_path=output if name.startswith("letter/") else None)
    except (LookupError, ValueError, TemplateError, LetterContextError) as exc:
        _fail(str(exc))
    if output is not None and preview.html is not None:
        output.write_text(preview.html, encoding="utf-8")
    if as_json:
        console.print_json(json.dumps({
            "template": preview.template, "channel": preview.channel.value, "dossier_id": preview.dossier_id,
            "to": preview.to, "subject": preview.subject, "text": preview.text,
            "sms": None if preview.sms_segments is None else {
                "encoding": preview.sms_encoding, "segments": preview.sms_segments,
                "max_segments": preview.sms_max_segments},
            "pdf": str(preview.pdf_path) if preview.pdf_path else None, "pages": preview.page_count,
            "notes": preview.notes,
        }, ensure_ascii=False))
        return
    console.rule(f"{preview.template} — dossier {preview.dossier_id}")
    if preview.to:
        console.print(f"[dim]À :[/] {preview.to}")
    if preview.subject:
        console.print(f"[dim]Objet :[/] {preview.subject}")
    if preview.sms_segments is not None:
        console.print(f"[dim]SMS : {preview.sms_segments} segment(s) {preview.sms_encoding}, "
                      f"maximum déclaré {preview.sms_max_segments}[/]")
    if preview.text:
        console.print(preview.text, markup=False, highlight=False)
    if preview.pdf_path:
        console.print(f"Courrier ({preview.page_count} pages) : {preview.pdf_path.resolve()}")
    if output is not None and preview.html is not None:
        console.print(f"HTML du courriel : {output.resolve()}")
    for note in preview.notes:
        console.print(f"[yellow]{note}[/]")
