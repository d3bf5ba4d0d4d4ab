"""Operations commands: the data lifecycle (archive, purge, data-subject export, manual closing,
search) and the install check (`relance doctor`). Each calls one service function and prints."""

from __future__ import annotations

import json
from datetime import datetime, time, timezone
from pathlib import Path
from typing import Annotated, Optional
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table

console = Console()
err = Console(stderr=True)
PARIS = ZoneInfo("Europe/Paris")

dossier_app = typer.Typer(help="Dossiers : recherche (archivés compris), clôture manuelle.", no_args_is_help=True)


def _container():
    from app.bootstrap import bootstrap

    return bootstrap()


def _fail(message: str, code: int = 2) -> None:
    err.print(f"[bold red]Erreur :[/] {message}")
    raise typer.Exit(code)


def _day(value: str | None, label: str):
    from models.dates import DateParseError, parse_date

    if value is None:
        return datetime.now(PARIS).date()
    try:
        return parse_date(value)
    except DateParseError as exc:
        raise typer.BadParameter(f"{label} : {exc}") from exc


def _noon_utc(day) -> datetime:
    """The moment recorded for a run dated `day` (noon in Paris: a date without an hour)."""
    return datetime.combine(day, time(12), tzinfo=PARIS).astimezone(timezone.utc)


def _ready(c) -> None:
    from services.schema import current_revision, head_revision

    if current_revision(c.engine) != head_revision():
        _fail("la base n'est pas à jour : lancez « relance db upgrade »")


def register(app: typer.Typer) -> None:
    app.add_typer(dossier_app, name="dossier")
    app.command("archive")(archive_cmd)
    app.command("purge")(purge_cmd)
    app.command("export-subject")(export_subject_cmd)
    app.command("doctor")(doctor_cmd)


def archive_cmd(
    as_of: Annotated[Optional[str], typer.Option("--as-of", help="Date du jour (défaut : aujourd'hui).")] = None,
    after_days: Annotated[Optional[int], typer.Option("--after-days", help="Délai après la clôture.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Compter sans rien changer.")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
):
    """Archive les dossiers clôturés (lecture seule, hors de toute file et de toute relance)."""
    from services.lifecycle import LifecycleError, archive_closed

    c = _container()
    _ready(c)
    day = _day(as_of, "--as-of")
    delay = c.settings.archive_after_days if after_days is None else after_days
    try:
        report = archive_closed(c.uow, now=_noon_utc(day), after_days=delay, dry_run=dry_run)
    except LifecycleError as exc:
        _fail(str(exc))
    if as_json:
        print(json.dumps(report.as_dict(), ensure_ascii=False))
        return
    verb = "seraient archivés" if dry_run else "archivés"
    console.print(f"{len(report.archived)} dossiers {verb} (clôturés depuis au moins {delay} jours) ; "
                  f"inscriptions arrêtées : {report.stopped.get('enrolments', 0)}, actions annulées : "
                  f"{report.stopped.get('actions', 0)}, appels annulés : {report.stopped.get('call_tasks', 0)}")
    if report.archived:
        console.print("Dossiers : " + ", ".join(map(str, report.archived[:200]))
                      + (" …" if len(report.archived) > 200 else ""))


def purge_cmd(
    as_of: Annotated[str, typer.Option("--as-of", help="Date à laquelle les durées de conservation sont évaluées.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Dire ce qui serait anonymisé, sans rien changer.")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
):
    """Anonymise les données personnelles dont la durée de conservation est échue ; la comptabilité reste intacte."""
    from services.lifecycle import LifecycleError, UploadsRetention, outbox_roots, purge

    c = _container()
    _ready(c)
    day = _day(as_of, "--as-of")
    try:
        report = purge(c.uow, as_of=day, now=datetime.now(timezone.utc),
                       accounting_years=c.settings.retention_accounting_years,
                       outbox_roots=outbox_roots(c.settings), dry_run=dry_run,
                       uploads=UploadsRetention(c.settings.uploads_dir, c.settings.uploads_retention_days))
    except LifecycleError as exc:
        _fail(str(exc))
    data = report.as_dict()
    if as_json:
        print(json.dumps(data, ensure_ascii=False))
        return
    title = f"Purge au {day:%d/%m/%Y}" + (" (essai à blanc : rien n'a été modifié)" if dry_run else "")
    table = Table(title=title, show_header=False)
    for label, key in (("Débiteurs anonymisés", "debtors_anonymised"), ("Leurs dossiers", "dossiers"),
                       ("Coordonnées effacées", "contact_points"), ("Événements épurés", "events_scrubbed"),
                       ("Libellés de paiement effacés", "payment_labels"), ("Actions concernées", "actions"),
                       ("Fichiers supprimés", "files_deleted"), ("Bordereaux d'impression réécrits", "manifests_rewritten"),
                       ("Dossiers dont les références sont effacées (durée comptable échue)", "references_cleared"),
                       ("Fichiers d'import et de rejets supprimés", "uploads_deleted")):
        table.add_row(label, str(data[key]))
    console.print(table)
    if report.debtors:
        console.print("Débiteurs : " + ", ".join(map(str, report.debtors[:200]))
                      + (" …" if len(report.debtors) > 200 else ""))
    if report.references_cleared:
        console.print("Références effacées, dossiers : " + ", ".join(map(str, report.references_cleared[:200])))
    console.print("La comptabilité (écritures, montants) est conservée.")


def export_subject_cmd(
    debtor: Annotated[str, typer.Argument(help="Identifiant ou référence du débiteur.")],
    creditor: Annotated[Optional[str], typer.Option(help="Créancier, si la référence est ambiguë.")] = None,
    out: Annotated[Path, typer.Option("--out", help="Dossier de sortie.")] = Path("exports"),
    as_json: Annotated[bool, typer.Option("--json")] = False,
):
    """Écrit tout ce qui est détenu sur un débiteur (demande d'accès, RGPD art. 15)."""
    from services.lifecycle import LifecycleError, outbox_roots
    from services.subject_export import export_subject

    c = _container()
    _ready(c)
    try:
        result = export_subject(c.uow, debtor, creditor=creditor, out_dir=out,
                                outbox_roots=outbox_roots(c.settings), now=datetime.now(timezone.utc))
    except LifecycleError as exc:
        _fail(str(exc))
    if as_json:
        print(json.dumps({"debtor_id": result.debtor_id, "json": str(result.json_path), "counts": result.counts,
                          "files": len(result.files)}, ensure_ascii=False))
        return
    console.print(f"Débiteur {result.debtor_id} : {result.json_path} et {len(result.files)} fichiers "
                  f"envoyés copiés sous {result.folder / 'fichiers'}")
    console.print(", ".join(f"{k} : {v}" for k, v in result.counts.items() if v))


@dossier_app.command("close")
def dossier_close(
    dossier: Annotated[str, typer.Argument(help="Identifiant ou référence du dossier.")],
    reason: Annotated[str, typer.Option("--reason", help="abandoned (abandon) ou returned (rendu au créancier).")],
    actor: Annotated[Optional[str], typer.Option(help="Qui clôture.")] = None,
):
    """Clôture un dossier à la main ; les relances s'arrêtent aussitôt, l'archivage suit."""
    from services.lifecycle import LifecycleError, close_dossier_by_hand

    c = _container()
    _ready(c)
    try:
        dossier_id = close_dossier_by_hand(c.uow, dossier, reason, now=datetime.now(timezone.utc), actor=actor)
    except LifecycleError as exc:
        _fail(str(exc))
    console.print(f"Dossier {dossier_id} clôturé ({reason}) ; archivé après {c.settings.archive_after_days} jours.")


@dossier_app.command("search")
def dossier_search(
    text: Annotated[str, typer.Argument(help="Référence du dossier ou du débiteur, ou nom.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
):
    """Cherche des dossiers, archivés compris."""
    from services.lifecycle import LifecycleError, search_dossiers

    c = _container()
    try:
        found = search_dossiers(c.uow, text)
    except LifecycleError as exc:
        _fail(str(exc))
    if as_json:
        print(json.dumps([{"id": f.id, "reference": f.reference, "creditor": f.creditor, "status": f.status,
                           "archived": f.archived_at is not None} for f in found], ensure_ascii=False))
        return
    table = Table("Dossier", "Référence", "Créancier", "Statut", "Archivé le")
    for f in found:
        table.add_row(str(f.id), f.reference, f.creditor, f.status + (f" ({f.close_reason})" if f.close_reason else ""),
                      f"{f.archived_at:%d/%m/%Y}" if f.archived_at else "")
    console.print(table)


def doctor_cmd():
    """Vérifie une installation : base, Prefect, déploiements, identifiants, webhooks, outbox."""
    from services.doctor import Level, run_checks

    checks = run_checks(_container)
    marks = {Level.OK: "[green]ok[/]", Level.WARN: "[yellow]attention[/]", Level.FAIL: "[bold red]échec[/]"}
    for check in checks:
        console.print(f"{marks[check.level]:>22}  {check.name} : {check.message}", soft_wrap=True)
    failed = sum(1 for c in checks if c.level is Level.FAIL)
    if failed:
        console.print(f"{failed} vérification(s) en échec.")
        raise typer.Exit(1)
    console.print("Installation prête.")
