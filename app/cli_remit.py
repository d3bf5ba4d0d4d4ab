"""`relance remit`, `relance books check` and `relance creditor mandate`: remittances to
creditors, the books' invariants, and the mandate terms remittances follow. Each command parses
its options, calls one service function and prints the result."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from app.cli import _container, _ensure_schema, _fail, _parse_day, console, err

books_app = typer.Typer(help="Comptabilité : balance et contrôles des invariants.", no_args_is_help=True)
creditor_app = typer.Typer(help="Créanciers : conditions du mandat et coordonnées bancaires.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("remit")(remit_cmd)
    app.add_typer(books_app, name="books")
    app.add_typer(creditor_app, name="creditor")


def _fr(amount: Decimal) -> str:
    from models.money import format_money

    return format_money(amount)


def remit_cmd(
    as_of: Annotated[str, typer.Option("--as-of", help="Date du reversement (AAAA-MM-JJ ou JJ/MM/AAAA).")],
    creditor: Annotated[Optional[str], typer.Option("--creditor", help="Un seul créancier (nom).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Calcule et contrôle tout, n'enregistre ni n'écrit rien.")] = False,
    out: Annotated[Optional[Path], typer.Option("--out", help="Dossier des relevés et du fichier SEPA.")] = None,
    due_only: Annotated[bool, typer.Option("--due-only", help="Seulement les paiements dont le délai du mandat est échu.")] = False,
    execution_date: Annotated[Optional[str], typer.Option("--execution-date", help="Date d'exécution demandée à la banque (défaut : --as-of).")] = None,
    no_pdf: Annotated[bool, typer.Option("--no-pdf", help="Relevés en CSV seulement.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Résultat en JSON.")] = False,
):
    """Reverse aux créanciers les sommes encaissées, commission et frais fixes déduits : relevés PDF et CSV,
    un fichier de virements SEPA (pain.001)."""
    from services.remittance import OfficeAccounts, RemittanceError, remit

    c = _container()
    _ensure_schema(c)
    day = _parse_day(as_of, "--as-of")
    try:
        run = remit(c.uow, as_of=day, now=datetime.now(UTC), office=OfficeAccounts.from_settings(c.settings.office),
                    out_dir=out or c.settings.remittance_dir, creditor=creditor, dry_run=dry_run, due_only=due_only,
                    clearing_days=c.settings.remittance_clearing_days,
                    execution_date=_parse_day(execution_date, "--execution-date"), write_pdf=not no_pdf)
    except RemittanceError as exc:
        _fail(str(exc))
    if as_json:
        print(json.dumps(run.as_dict(), ensure_ascii=False))
        return
    title = f"Reversements au {day:%d/%m/%Y}" + (" (simulation : rien n'est enregistré)" if dry_run else "")
    if not run.remittances and not run.carried:
        console.print(f"{title} : aucun paiement à reverser.")
    else:
        table = Table(title=title)
        for col in ("Créancier", "Relevé", "Lignes", "Hors délai", "Brut", "Commission", "Frais fixes", "Net", "État"):
            table.add_column(col, justify="right" if col not in ("Créancier", "État") else "left")
        states = {"issued": "virement", "offset": "compensé (rien à virer)", "carried": "reporté (solde négatif)"}
        for r in (*run.remittances, *run.carried):
            table.add_row(r.creditor_name, str(r.remittance_id or "-"), str(len(r.lines)), str(r.late_items),
                          _fr(r.gross), _fr(r.commission), _fr(r.fixed_fees), _fr(r.net), states[r.status])
        console.print(table)
    if run.fees_transfer > 0:
        console.print(f"Honoraires virés au compte de l'office : {_fr(run.fees_transfer)}")
    elif run.fees_transfer < 0:
        console.print(f"[yellow]À virer à la main du compte de l'office vers le compte affecté :[/] "
                      f"{_fr(-run.fees_transfer)} (honoraires rendus sur des reprises)")
    if run.not_cleared:
        console.print(f"{run.not_cleared} paiement(s) attendent un prochain reversement (non encore encaissés"
                      f"{' ou non échus' if due_only else ''}).")
    if run.transfer_file:
        console.print(f"Fichier de virements SEPA : {run.transfer_file}")
    for r in run.remittances:
        if r.statement_csv:
            console.print(f"Relevé {r.remittance_id} ({r.creditor_name}) : {r.statement_pdf or ''} {r.statement_csv}")


@books_app.command("check")
def books_check(as_json: Annotated[bool, typer.Option("--json")] = False):
    """Balance des comptes et contrôle des invariants (écritures équilibrées, compte affecté = dettes envers
    les créanciers + attente). Code de sortie 1 si un invariant est rompu."""
    from services.books import check_invariants, trial_balance

    c = _container()
    _ensure_schema(c)
    with c.uow() as uow:
        balance = trial_balance(uow)
        problems = check_invariants(uow)
    if as_json:
        print(json.dumps({"balance": {str(k): str(v) for k, v in balance.items()},
                          "violations": [{"rule": p.rule, "detail": p.detail} for p in problems]}))
    else:
        table = Table(title="Balance (débit +, crédit -)")
        table.add_column("Compte")
        table.add_column("Solde", justify="right")
        for account, amount in balance.items():
            table.add_row(str(account), _fr(amount))
        console.print(table)
        if problems:
            for p in problems:
                err.print(f"[bold red]Invariant rompu[/] ({p.rule}) : {p.detail}")
        else:
            console.print("Tous les invariants sont respectés.")
    if problems:
        raise typer.Exit(1)


def _rate(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        value = Decimal(text.replace(",", ".").replace("%", "").strip())
    except InvalidOperation:
        raise typer.BadParameter(f"--commission : pourcentage illisible : {text!r}") from None
    if not value.is_finite() or not 0 <= value <= 100:
        raise typer.BadParameter("--commission : un pourcentage entre 0 et 100")
    return value / 100


@creditor_app.command("mandate")
def creditor_mandate(
    name: Annotated[str, typer.Argument(help="Nom du créancier.")],
    iban: Annotated[Optional[str], typer.Option(help="IBAN du compte où reverser.")] = None,
    bic: Annotated[Optional[str], typer.Option(help="BIC de sa banque.")] = None,
    commission: Annotated[Optional[str], typer.Option(help="Commission en % des sommes encaissées, ex. 12 ou 12,5.")] = None,
    fixed_fee: Annotated[Optional[str], typer.Option("--fixed-fee", help="Frais fixes par dossier, ex. 15,00.")] = None,
    delay: Annotated[Optional[int], typer.Option(help="Délai de reversement en jours (R124-6 : 30 sauf mandat contraire).")] = None,
    legal_name: Annotated[Optional[str], typer.Option("--legal-name", help="Raison sociale (titulaire du compte).")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
):
    """Fixe les conditions du mandat d'un créancier (commission, frais fixes, délai) et son compte bancaire."""
    from models.money import MoneyError, parse_money
    from services.creditors import CreditorError, update_mandate

    fee = None
    if fixed_fee is not None:
        try:
            fee = parse_money(fixed_fee)
        except MoneyError as exc:
            raise typer.BadParameter(f"--fixed-fee : {exc}") from None
    c = _container()
    _ensure_schema(c)
    try:
        terms = update_mandate(c.uow, name, iban=iban, bic=bic, commission_rate=_rate(commission),
                               fixed_fee_per_file=fee, remittance_delay_days=delay, legal_name=legal_name)
    except CreditorError as exc:
        _fail(str(exc))
    if as_json:
        print(json.dumps(terms.as_dict(), ensure_ascii=False))
        return
    from babel.numbers import format_percent

    rate = format_percent(terms.commission_rate, "#,##0.##\u00a0%", locale="fr_FR")
    console.print(f"Mandat de {terms.name} : commission {rate}, frais fixes "
                  f"{_fr(terms.fixed_fee_per_file)} par dossier, reversement sous {terms.remittance_delay_days} jours, "
                  f"IBAN {terms.iban or '(aucun)'}{' BIC ' + terms.bic if terms.bic else ''}")
