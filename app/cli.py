"""The `relance` command. Each command parses its options, calls one service function and
prints the result: no business logic here."""

from __future__ import annotations

import json
import logging
import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="Relance : orchestrateur de campagnes de recouvrement amiable.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
db_app = typer.Typer(help="Base de données.", no_args_is_help=True)
portfolio_app = typer.Typer(help="Portefeuilles synthétiques (démo, bancs d'essai).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(portfolio_app, name="portfolio")

console = Console()
err = Console(stderr=True)


def _container():
    from app.bootstrap import bootstrap

    return bootstrap()


def _parse_day(value: str | None, label: str) -> date | None:
    if value is None:
        return None
    from models.dates import DateParseError, parse_date

    try:
        return parse_date(value)
    except DateParseError as exc:
        raise typer.BadParameter(f"{label}: {exc}") from exc


def _fail(message: str, code: int = 2) -> None:
    err.print(f"[bold red]Erreur :[/] {message}")
    raise typer.Exit(code)


@app.callback()
def main_options(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Journal détaillé.")] = False):
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")


@db_app.command("upgrade")
def db_upgrade(revision: str = "head"):
    """Applique les migrations de schéma (Alembic)."""
    from services.schema import current_revision, upgrade

    c = _container()
    upgrade(c.engine, revision)
    console.print(f"Schéma à jour : révision {current_revision(c.engine)}")


@app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(help="Fichier CSV ou XLSX du créancier.")],
    creditor: Annotated[str, typer.Option("--creditor", help="Nom du créancier (mandant).")],
    mapping: Annotated[Optional[Path], typer.Option(help="Correspondance des colonnes (TOML ou JSON).")] = None,
    rejects: Annotated[Optional[Path], typer.Option(help="Fichier des lignes rejetées.")] = None,
    as_of: Annotated[Optional[str], typer.Option("--as-of", help="Date de placement par défaut.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Résultat en JSON.")] = False,
):
    """Importe un portefeuille : les lignes valides entrent, les autres sont rejetées avec leur motif."""
    from services.portfolio_columns import MappingError
    from services.portfolio_import import ImportFileError, import_portfolio

    c = _container()
    _ensure_schema(c)
    day = _parse_day(as_of, "--as-of") or date.today()
    progress_cb, progress = None, None
    if not as_json and sys.stderr.isatty():
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        progress = Progress("[progress.description]{task.description}", BarColumn(),
                            MofNCompleteColumn(), TimeElapsedColumn(), console=err, transient=True)
        task = progress.add_task("Import", total=None)
        progress_cb = lambda done, total: progress.update(task, completed=done)  # noqa: E731
        progress.start()
    try:
        report = import_portfolio(c.uow, file, creditor=creditor, as_of=day, mapping_path=mapping,
                                  rejects_path=rejects, chunk_rows=c.settings.import_chunk_rows,
                                  progress=progress_cb)
    except (ImportFileError, MappingError) as exc:
        _fail(str(exc))
    finally:
        if progress:
            progress.stop()
    if as_json:
        print(json.dumps(report.as_dict(), ensure_ascii=False))
        return
    table = Table(title=f"Import « {file.name} » pour {creditor}", show_header=False)
    for label, value in [("Lignes lues", report.rows), ("Dossiers créés", report.created),
                         ("Dossiers mis à jour", report.updated), ("Inchangés", report.unchanged),
                         ("Créances créées", report.claims_created), ("Lignes rejetées", report.rejected),
                         ("Avertissements", report.warnings)]:
        table.add_row(label, str(value))
    console.print(table)
    for sample in report.warning_samples[:10]:
        console.print(f"  [yellow]avertissement[/] {sample}")
    if report.rejected_path:
        console.print(f"Lignes rejetées et motifs : {report.rejected_path}")


def _ensure_schema(c) -> None:
    from services.schema import current_revision, head_revision, upgrade

    if current_revision(c.engine) != head_revision():
        upgrade(c.engine)


@app.command("interest")
def interest_cmd(
    principal: Annotated[str, typer.Option(help="Principal, ex. 10000 ou « 10 000,00 ».")],
    from_: Annotated[str, typer.Option("--from", help="Premier jour d'intérêts.")],
    to: Annotated[str, typer.Option("--to", help="Jour de fin (exclu).")],
    regime: Annotated[str, typer.Option(help="private-creditor | other | b2b")] = "other",
    judgment_enforceable: Annotated[Optional[str], typer.Option("--judgment-enforceable",
                                                                help="Date où le jugement est devenu exécutoire (+5 points deux mois après).")] = None,
    rates_dir: Annotated[Optional[Path], typer.Option(help="Dossier de taux complémentaires.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
):
    """Calcule les intérêts au taux légal (CMF L313-2) ou les pénalités L441-10, période par période."""
    from app.settings import load_settings
    from models.interest import Regime, legal_interest
    from models.money import MoneyError, format_money, parse_money
    from models.rates import MissingRateError, load_rate_tables

    try:
        amount = parse_money(principal)
    except MoneyError as exc:
        _fail(f"--principal: {exc}")
    try:
        reg = Regime(regime)
    except ValueError:
        _fail("--regime doit valoir private-creditor, other ou b2b")
    start, end = _parse_day(from_, "--from"), _parse_day(to, "--to")
    rates = load_rate_tables(rates_dir or load_settings().rates_dir)
    try:
        result = legal_interest(amount, start, end, regime=reg, rates=rates,
                                judgment_enforceable_on=_parse_day(judgment_enforceable, "--judgment-enforceable"))
    except MissingRateError as exc:
        _fail(str(exc))
    if as_json:
        print(json.dumps({
            "principal": str(amount), "from": start.isoformat(), "to": end.isoformat(), "regime": reg.value,
            "total": str(result.total),
            "periods": [{"start": p.start.isoformat(), "end": p.end.isoformat(), "days": p.days,
                         "rate": str(p.rate), "year_days": p.year_days, "amount": str(p.amount_rounded)}
                        for p in result.periods],
        }))
        return
    table = Table(title=f"Intérêts sur {format_money(amount)} du {start:%d/%m/%Y} au {end:%d/%m/%Y} ({reg.value})")
    for col in ("Du", "Au (exclu)", "Jours", "Taux", "Base", "Montant"):
        table.add_column(col, justify="right")
    for p in result.periods:
        table.add_row(f"{p.start:%d/%m/%Y}", f"{p.end:%d/%m/%Y}", str(p.days), f"{p.rate} %",
                      str(p.year_days), format_money(p.amount_rounded))
    table.add_row("", "", "", "", "Total", format_money(result.total), style="bold")
    console.print(table)
    console.print("Total arrondi une seule fois au centime (arrondi commercial).")


@portfolio_app.command("generate")
def portfolio_generate(
    out: Annotated[Path, typer.Option(help="Fichier CSV à écrire.")],
    dossiers: Annotated[int, typer.Option(min=1)] = 2000,
    seed: int = 7,
    bad_rows: Annotated[int, typer.Option(help="Lignes volontairement invalides à ajouter.")] = 0,
):
    """Écrit un portefeuille synthétique réaliste (personnes et sociétés fictives)."""
    from services.synthetic_portfolio import write_portfolio

    write_portfolio(out, dossiers, seed=seed, bad_rows=bad_rows)
    console.print(f"{dossiers} dossiers écrits dans {out}")


def main() -> None:  # console script entry point
    app()


if __name__ == "__main__":
    main()
