"""`relance payments ...`: import bank statements and PSP files, the suspense list, manual
assignment, and the creditors' daily information (R124-5). Each command calls one service."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table



def _cli():
    # app.cli registers this sub-app at import: its helpers are reached lazily, not imported at the top.
    import app.cli as cli

    return cli

payments_app = typer.Typer(help="Paiements : import des relevés, attente d'affectation, information du créancier.",
                           no_args_is_help=True)


@payments_app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(help="Relevé CAMT.053 (XML) ou fichier CSV de la banque ou du PSP.")],
    format: Annotated[str, typer.Option("--format", help="auto, csv ou camt053.")] = "auto",
    mapping: Annotated[Optional[Path], typer.Option(help="Correspondance des colonnes CSV (TOML ou JSON).")] = None,
    account: Annotated[Optional[str], typer.Option(help="IBAN du compte du fichier CSV (identifie les lignes sans identifiant).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Résultat en JSON.")] = False,
):
    """Importe les paiements reçus : rapprochement, imputation, écritures, quittances."""
    from services.payment_files import PaymentFileError
    from services.payment_matching import import_payments
    from services.portfolio_columns import MappingError, read_mapping_file

    c = _cli()._container()
    _cli()._ensure_schema(c)
    try:
        columns = read_mapping_file(mapping) if mapping else None
        with _cli()._progress("Paiements", enabled=not as_json and sys.stderr.isatty()) as bar:
            report = import_payments(c.uow, file, now=datetime.now(UTC), format=format, mapping=columns,
                                     account=account, rates=c.rates, progress=bar.advance if bar else None)
    except (PaymentFileError, MappingError) as exc:
        _cli()._fail(str(exc))
    if as_json:
        print(json.dumps(report.as_dict(), ensure_ascii=False))
        return
    table = Table(title=f"Paiements « {file.name} » ({report.format})", show_header=False)
    for label, value in [("Crédits lus", report.read), ("Paiements créés", report.created),
                         ("Déjà importés", report.duplicates),
                         ("Rapprochés par référence", report.matched.get("reference", 0)),
                         ("Rapprochés par IBAN", report.matched.get("iban", 0)),
                         ("Rapprochés par nom et montant", report.matched.get("name_amount", 0)),
                         ("En attente d'affectation", report.unmatched), ("Dossiers soldés", report.paid_in_full),
                         ("Quittances préparées", report.quittances)]:
        table.add_row(label, str(value))
    _cli().console.print(table)


@payments_app.command("suspense")
def suspense_cmd(as_json: Annotated[bool, typer.Option("--json", help="Résultat en JSON.")] = False):
    """Les paiements en attente d'affectation à un dossier."""
    from services.payment_matching import suspense

    c = _cli()._container()
    _cli()._ensure_schema(c)
    with c.uow() as uow:
        items = suspense(uow.session)
    if as_json:
        print(json.dumps([i.as_dict() for i in items], ensure_ascii=False))
        return
    table = Table(title=f"Paiements en attente d'affectation ({len(items)})")
    for col in ("Paiement", "Reçu le", "Montant", "Payeur", "IBAN", "Libellé"):
        table.add_column(col)
    for i in items:
        table.add_row(str(i.payment_id), i.received_on.strftime("%d/%m/%Y"), f"{i.amount:.2f}".replace(".", ","),
                      i.debtor_name or "", i.debtor_iban or "", (i.label or i.reference or "")[:60])
    _cli().console.print(table)


@payments_app.command("assign")
def assign_cmd(
    payment: Annotated[int, typer.Argument(help="Numéro du paiement en attente.")],
    dossier: Annotated[int, typer.Argument(help="Numéro du dossier.")],
    by: Annotated[Optional[str], typer.Option("--by", help="Qui affecte (nom d'utilisateur).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Résultat en JSON.")] = False,
):
    """Affecte à la main un paiement en attente à un dossier (imputation, écritures, quittance)."""
    from services.payment_matching import assign_payment
    from services.payments import PaymentError

    c = _cli()._container()
    _cli()._ensure_schema(c)
    with c.uow() as uow:
        try:
            result = assign_payment(uow.session, payment, dossier, now=datetime.now(UTC), by=by, rates=c.rates)
        except PaymentError as exc:
            _cli()._fail(str(exc))
        uow.commit()
    out = {"payment_id": result.payment_id, "dossier_id": dossier, "paid_in_full": result.paid_in_full,
           "unapplied": str(result.unapplied)}
    if as_json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        _cli().console.print(f"Paiement {payment} affecté au dossier {dossier}"
                      + (" : dossier soldé." if result.paid_in_full else "."))


@payments_app.command("creditor-report")
def creditor_report_cmd(
    day: Annotated[str, typer.Option("--day", help="Jour (JJ/MM/AAAA ou AAAA-MM-JJ).")],
    out: Annotated[Path, typer.Option("--out", help="Dossier de sortie.")] = Path("rapports"),
    as_json: Annotated[bool, typer.Option("--json", help="Résultat en JSON.")] = False,
):
    """Information quotidienne de chaque créancier (R124-5) : paiements et propositions du jour."""
    from services.creditor_report import creditor_report, write_creditor_reports

    the_day = _cli()._parse_day(day, "--day")
    c = _cli()._container()
    _cli()._ensure_schema(c)
    with c.uow() as uow:
        reports = creditor_report(uow.session, the_day)
    paths = write_creditor_reports(reports, out)
    if as_json:
        print(json.dumps({"creditors": len(reports), "files": [str(p) for p in paths]}, ensure_ascii=False))
        return
    _cli().console.print(f"{len(reports)} créancier(s) informé(s) pour le {the_day.strftime('%d/%m/%Y')}.")
    for p in paths:
        _cli().console.print(f"  {p}")
