"""The `relance` command. Each command parses its options, calls one service function and
prints the result: no business logic here."""

from __future__ import annotations

import json
from contextlib import contextmanager
import logging
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table


app = typer.Typer(help="Relance : orchestrateur de campagnes de recouvrement amiable.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
db_app = typer.Typer(help="Base de données.", no_args_is_help=True)
portfolio_app = typer.Typer(help="Portefeuilles : génération synthétique, synthèse.", no_args_is_help=True)
campaign_app = typer.Typer(help="Campagnes : lancement, liste, pause, reprise, arrêt.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(portfolio_app, name="portfolio")
app.add_typer(campaign_app, name="campaign")


def _register_command_groups() -> None:
    """Command groups kept in modules of their own (app/cli_*.py); called once this module's
    helpers exist, since those modules use them."""
    from app import cli_ops
    from app.cli_remit import register as register_remit
    from app.cli_report import report_app
    from app.cli_templates import template_app
    from app.cli_payments import payments_app
    from app.cli_users import user_app

    app.add_typer(user_app, name="user")
    app.add_typer(payments_app, name="payments")
    app.add_typer(report_app, name="report")
    app.add_typer(template_app, name="template")
    register_remit(app)
    cli_ops.register(app)  # archive, purge, export-subject, dossier, doctor

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


class _Bar:
    def __init__(self, progress, task) -> None:
        self._progress, self._task = progress, task

    def update(self, done: int, total: int | None = None) -> None:
        self._progress.update(self._task, completed=done)

    def advance(self, n: int) -> None:
        self._progress.advance(self._task, n)


@contextmanager
def _progress(label: str, *, total: int | None = None, enabled: bool = True, transient: bool = True):
    """A progress bar on stderr for long work (None when `enabled` is false): `.update(done)` or
    `.advance(n)`."""
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    progress = Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=err, transient=transient)
    task = progress.add_task(label, total=total)
    with progress:
        yield _Bar(progress, task)


def _fail(message: str, code: int = 2) -> None:
    err.print(f"[bold red]Erreur :[/] {message}")
    raise typer.Exit(code)


@app.callback()
def main_options(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Journal détaillé.")] = False):
    import os

    # Prefect reads its settings when first imported (the flows are imported lazily below).
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO" if verbose else "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # no network here or in offices
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
    try:
        with _progress("Import", enabled=not as_json and sys.stderr.isatty()) as bar:
            report = import_portfolio(c.uow, file, creditor=creditor, as_of=day, mapping_path=mapping,
                                      rejects_path=rejects, chunk_rows=c.settings.import_chunk_rows,
                                      progress=bar.update if bar else None)
    except (ImportFileError, MappingError) as exc:
        _fail(str(exc))
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


def _parse_moment(value: str | None, label: str) -> datetime:
    """`2026-11-27T09:00` (Paris time unless an offset is given) or a date (09:00 Paris)."""
    from zoneinfo import ZoneInfo

    paris = ZoneInfo("Europe/Paris")
    if value is None:
        return datetime.now(paris)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        day = _parse_day(value, label)
        moment = datetime.combine(day, datetime.min.time().replace(hour=9))
    return moment if moment.tzinfo else moment.replace(tzinfo=paris)


@portfolio_app.command("summary")
def portfolio_summary(creditor: Annotated[Optional[str], typer.Option()] = None,
                      as_json: Annotated[bool, typer.Option("--json")] = False):
    """Ce que contient la base : dossiers, débiteurs, montants, points de contact."""
    from models.money import format_money
    from services.portfolio_summary import summarise

    c = _container()
    _ensure_schema(c)
    s = summarise(c.uow(), creditor=creditor)
    if as_json:
        data = dict(vars(s))
        data["amount_placed"] = str(s.amount_placed)
        print(json.dumps(data, ensure_ascii=False))
        return
    table = Table(title="Portefeuille", show_header=False)
    for label, value in [("Créanciers", s.creditors), ("Dossiers", s.dossiers), ("Créances", s.claims),
                         ("Particuliers", s.persons), ("Entreprises", s.companies),
                         ("Outre-mer", s.overseas), ("Montant confié", format_money(s.amount_placed)),
                         ("Mobiles valides", s.valid_mobiles), ("Emails valides", s.valid_emails),
                         ("Adresses valides", s.valid_addresses), ("Contacts invalides", s.invalid_contacts)]:
        table.add_row(label, str(value))
    for status, n in sorted(s.by_status.items()):
        table.add_row(f"Statut {status}", str(n))
    console.print(table)


@app.command("run")
def run_cmd(
    as_of: Annotated[Optional[str], typer.Option("--as-of", help="Moment simulé (ISO, heure de Paris par défaut).")] = None,
    scenario: Annotated[Optional[str], typer.Option(help="Ne traiter que ce scénario.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Planifier sans rien écrire ni envoyer.")] = False,
    shards: Annotated[int, typer.Option(min=1, max=256, help="Parts de la journée (dossier_id modulo N) : "
                                        "exécutions de relance-day-shard sur les workers quand un serveur "
                                        "Prefect les porte, sinon en local.")] = 1,
    as_json: Annotated[bool, typer.Option("--json")] = False,
):
    """Exécute une journée de relance (flux Prefect, en local) et affiche les comptes."""
    from flows.relance_day import relance_day, summary_rows

    moment = _parse_moment(as_of, "--as-of")
    _ensure_schema(_container())
    summary = relance_day(as_of=moment, scenario=scenario, dry_run=dry_run, shards=shards)
    rows = {r["count"]: r["value"] for r in summary_rows(summary)}
    if as_json:
        print(json.dumps({**rows, "as_of": summary["as_of"], "dry_run": dry_run}, ensure_ascii=False))
        return
    table = Table(title=f"Journée de relance {moment:%d/%m/%Y %H:%M}" + (" (essai à blanc)" if dry_run else ""),
                  show_header=False)
    labels = {"enrolments due": "Inscriptions échues", "planned": "Planifiées", "deferred": "Différées",
              "blocked": "Bloquées", "ended": "Terminées", "sent": "Envoyées", "failed": "Échecs"}
    for key, label in labels.items():
        table.add_row(label, str(rows.get(key, 0)))
    console.print(table)


@campaign_app.command("launch")
def campaign_launch(
    name: Annotated[str, typer.Option(help="Nom de la campagne.")],
    scenario: Annotated[str, typer.Option(help="Scénario (champion).")],
    creditor: Annotated[Optional[str], typer.Option(help="Limiter à un créancier.")] = None,
    where: Annotated[Optional[str], typer.Option(help="Sélection, ex. « balance > 100 and kind = person ».")] = None,
    challenger: Annotated[Optional[str], typer.Option(help="SCENARIO:POURCENT, ex. amiable-entreprise:20.")] = None,
    as_of: Annotated[Optional[str], typer.Option("--as-of")] = None,
    no_run: Annotated[bool, typer.Option("--no-run", help="Inscrire sans exécuter les premières étapes.")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
):
    """Inscrit les dossiers choisis et exécute aussitôt leurs premières étapes."""
    from flows.runtime import catalogue
    from services.campaigns import CampaignError, launch_campaign

    c = _container()
    _ensure_schema(c)
    moment = _parse_moment(as_of, "--as-of")
    ch_name, percent = None, 0
    if challenger:
        ch_name, _, pct = challenger.partition(":")
        try:
            percent = int(pct or 50)
        except ValueError:
            _fail("--challenger attend SCENARIO:POURCENT")
    try:
        report = launch_campaign(c.uow, catalogue(), name=name, scenario=scenario, now=moment, creditor=creditor,
                                 where=where, challenger=ch_name, challenger_percent=percent)
    except CampaignError as exc:
        _fail(str(exc))
    first = None
    if not no_run:
        from flows.relance_day import relance_day, summary_rows

        first = {r["count"]: r["value"] for r in summary_rows(relance_day(as_of=moment))}
    if as_json:
        print(json.dumps({"campaign_id": report.campaign_id, "enrolled": report.enrolled,
                          "champion": report.champion, "challenger": report.challenger,
                          "skipped_in_other_campaign": report.skipped_in_other_campaign, "first_run": first}))
        return
    console.print(f"Campagne « {name} » : {report.enrolled} dossiers inscrits "
                  f"(champion {report.champion}, challenger {report.challenger}; "
                  f"{report.skipped_in_other_campaign} déjà dans une autre campagne).")
    if first:
        console.print(f"Premières étapes : {first['planned']} planifiées, {first['sent']} envoyées, "
                      f"{first['deferred']} différées, {first['blocked']} bloquées.")


@campaign_app.command("list")
def campaign_list(as_json: Annotated[bool, typer.Option("--json")] = False):
    """Les campagnes et leurs inscriptions."""
    from services.campaigns import list_campaigns

    c = _container()
    _ensure_schema(c)
    rows = list_campaigns(c.uow)
    if as_json:
        print(json.dumps([{**vars(r), "created_at": r.created_at.isoformat()} for r in rows], ensure_ascii=False))
        return
    table = Table(title="Campagnes")
    for col in ("Nom", "Scénario", "Challenger", "Statut", "Inscrits", "Actifs"):
        table.add_column(col)
    for r in rows:
        table.add_row(r.name, r.scenario, f"{r.challenger} ({r.challenger_percent} %)" if r.challenger else "-",
                      r.status, str(r.enrolled), str(r.active))
    console.print(table)


def _set_status(name: str, status: str) -> None:
    from models.enums import CampaignStatus
    from services.campaigns import CampaignError, set_campaign_status

    c = _container()
    try:
        set_campaign_status(c.uow, name, CampaignStatus(status), now=datetime.now().astimezone())
    except CampaignError as exc:
        _fail(str(exc))
    console.print(f"Campagne « {name} » : {status}.")


@campaign_app.command("pause")
def campaign_pause(name: str):
    """Suspend une campagne : ses dossiers gardent leur place."""
    _set_status(name, "paused")


@campaign_app.command("resume")
def campaign_resume(name: str):
    """Reprend une campagne suspendue."""
    _set_status(name, "active")


@campaign_app.command("stop")
def campaign_stop(name: str):
    """Arrête une campagne : ses inscriptions prennent fin (les dossiers restent ouverts)."""
    _set_status(name, "stopped")


@app.command("explain")
def explain_cmd(
    dossier: Annotated[str, typer.Argument(help="Identifiant ou référence du dossier.")],
    as_of: Annotated[Optional[str], typer.Option("--as-of")] = None,
):
    """Explique la prochaine étape d'un dossier : due, différée ou bloquée, et pourquoi."""
    from services.explain import explain_dossier

    c = _container()
    _ensure_schema(c)
    try:
        lines = explain_dossier(c, dossier, now=_parse_moment(as_of, "--as-of"))
    except LookupError as exc:
        _fail(str(exc))
    for line in lines:
        console.print(line)


@app.command("simulate")
def simulate_cmd(
    days: Annotated[int, typer.Option(min=1, max=730)] = 30,
    seed: int = 7,
    start: Annotated[Optional[str], typer.Option(help="Premier jour simulé (défaut : aujourd'hui).")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
):
    """Avance une horloge simulée jour par jour : relances, réactions des débiteurs, appels."""
    result = _simulate(days, seed, _parse_day(start, "--start") or date.today(), quiet=as_json)
    if as_json:
        print(json.dumps({k: v for k, v in result.items() if k != "per_day"}, ensure_ascii=False))


def _simulate(days: int, seed: int, start: date, *, quiet: bool = False) -> dict:
    from flows import runtime
    from flows.simulation import simulate

    _ensure_schema(_container())
    with _progress("Jours simulés", total=days, enabled=not quiet, transient=False) as bar:
        runtime.on_day = bar.update if bar else None
        try:
            result = simulate(start=start, days=days, seed=seed)
        finally:
            runtime.on_day = None
    if not quiet:
        console.print(f"{result['days']} jours simulés : {result['payments']} paiements, "
                      f"{result['promises']} promesses, {result['plans']} échéanciers, "
                      f"{result['disputes']} contestations, {result['calls_answered']} appels aboutis.")
    return result


@app.command("demo")
def demo_cmd(
    dossiers: Annotated[int, typer.Option(min=10)] = 2000,
    days: Annotated[int, typer.Option(min=1)] = 60,
    seed: int = 7,
):
    """La démonstration : portefeuille synthétique, campagne avec challenger, 60 jours simulés."""
    import shutil
    import time as _time

    from services.simulation import campaign_summary
    from services.synthetic_portfolio import write_portfolio
    from models.money import format_money

    started = _time.perf_counter()
    c = _container()
    _ensure_schema(c)
    workdir = Path("demo").resolve()  # the portfolio and the rejected rows of this run
    workdir.mkdir(parents=True, exist_ok=True)
    if Path(c.settings.outbox_dir).exists():
        shutil.rmtree(c.settings.outbox_dir)
    start = date.today()
    portfolio = write_portfolio(workdir / "portefeuille-demo.csv", dossiers, seed=seed, bad_rows=3,
                                as_of=start)
    console.rule("1. Import du portefeuille")
    import_cmd(portfolio, creditor="Banque Démo", mapping=None, rejects=workdir / "rejets.csv",
               as_of=start.isoformat(), as_json=False)
    from decimal import Decimal

    from services.mandates import set_mandate_terms

    # The demo mandate: 15 % of collected sums and 5 EUR per file (the rentability table's fees).
    set_mandate_terms(c.uow, "Banque Démo", commission_rate=Decimal("0.15"), fixed_fee_per_file=Decimal("5.00"))
    console.rule("2. Lancement de la campagne (challenger 30 %)")
    campaign_launch(name=f"demo-{start:%Y%m%d}", scenario="amiable-particulier", creditor="Banque Démo",
                    where="kind = person", challenger="amiable-particulier-appel:30",
                    as_of=f"{start.isoformat()}T09:00", no_run=True, as_json=False)
    campaign_launch(name=f"demo-entreprises-{start:%Y%m%d}", scenario="amiable-entreprise", creditor="Banque Démo",
                    where="kind = company", challenger=None, as_of=f"{start.isoformat()}T09:00", no_run=True,
                    as_json=False)
    console.rule(f"3. {days} jours simulés")
    _simulate(days, seed, start)
    console.rule("4. Résultat de la campagne")
    summary = campaign_summary(c)
    table = Table(title="Campagnes par variante")
    for col in ("Campagne / variante", "Dossiers", "Confié", "Encaissé", "Taux de recouvrement", "Envois"):
        table.add_column(col, justify="right")
    for variant, v in summary.items():
        table.add_row(variant, str(v["dossiers"]), format_money(v["placed"]), format_money(v["collected"]),
                      f"{v['recovery_rate']} %", ", ".join(f"{k} {n}" for k, n in sorted(v["sent"].items())))
    console.print(table)
    from services.letter_samples import render_print_batch

    files = render_print_batch(c, Path(c.settings.outbox_dir) / "letter" / "lot-impression")
    if files:
        console.print(f"Lot d'impression (échantillon, {files.letters} courriers, {files.pages} pages) : "
                      f"{files.pdf_path}")
    console.print(f"Tout ce que le bac à sable a envoyé est sous {Path(c.settings.outbox_dir).resolve()}/ "
                  f"({_time.perf_counter() - started:.0f} s).")
    console.rule("5. Rentabilité")
    from app.cli_report import print_demo_report

    print_demo_report(c, f"demo-{start:%Y%m%d}")


@app.command("serve")
def serve_cmd(
    host: Annotated[str, typer.Option(help="Adresse d'écoute.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port d'écoute.")] = 8000,
):
    """Console des agents et des managers, webhooks des fournisseurs, page de désinscription (derrière le proxy TLS)."""
    from app.serve import serve

    serve(host, port)


_register_command_groups()


def main() -> None:  # console script entry point
    app()


if __name__ == "__main__":
    main()
