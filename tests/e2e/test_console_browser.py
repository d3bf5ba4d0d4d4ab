"""The console in a real browser: Debian's Chromium driven by Playwright against uvicorn on a
loopback port, on a SQLite database built by the migrations. Screenshots of the main pages
(1366x768) are taken on every run; with RELANCE_SCREENSHOTS=1 they replace those of
docs/screenshots/ (the README's), otherwise they stay in the test's temporary folder."""

from __future__ import annotations

import os
import socket
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
BAD_ROW = ("B-9;particulier;M.;Sanschiffre;Paul;;;F9;consommation;pas un montant;;31/12/2025;;0612345699;;"
           "paul@exemple.fr;1 rue Haute;75001;Paris")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def console(tmp_path):
    """The console on a fresh SQLite database with a small portfolio, an agent, a manager, a
    running campaign and one call task due; yields (base url, cases)."""
    import uvicorn

    from app.bootstrap import bootstrap
    from app.settings import Settings
    from app.web.app import create_app
    from scenarios.catalogue import load_catalogue
    from services.campaigns import launch_campaign
    from services.schema import upgrade
    from tests.integration.console.support import NOW, add_task, import_cases, make_user

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'relance.db'}", outbox_dir=tmp_path / "outbox",
                        uploads_dir=tmp_path / "uploads", session_secret="secret-e2e", cookie_secure=False)
    container = bootstrap(settings)
    upgrade(container.engine)
    cases = import_cases(container, tmp_path)
    launch_campaign(container.uow, load_catalogue(), name="Relance novembre", scenario="amiable-particulier",
                    now=NOW, where="kind = person")
    add_task(container, cases["A-1"], key="appel-1", due_at=NOW - timedelta(minutes=30))
    make_user(container, "agent1")
    make_user(container, "chef", role="manager")

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(container, clock=lambda: NOW), host="127.0.0.1", port=port,
                                           log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", cases, tmp_path
    server.should_exit = True
    thread.join(10)
    container.engine.dispose()


@pytest.fixture
def page():
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (make system-deps)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="fr-FR")
        yield context.new_page()
        context.close()
        browser.close()


def _login(page, base: str, name: str) -> None:
    from tests.integration.console.support import PASSWORD

    page.goto(f"{base}/connexion")
    page.get_by_label("Identifiant").fill(name)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()


@pytest.fixture
def shots(tmp_path) -> Path:
    return SHOTS if os.environ.get("RELANCE_SCREENSHOTS") == "1" else tmp_path / "screenshots"


def _shot(page, folder: Path, name: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"))


def test_an_agent_takes_the_next_call_records_a_promise_and_sees_the_scenario_wait(console, page, shots):
    from playwright.sync_api import expect

    base, cases, _ = console
    page.goto(f"{base}/connexion")
    _shot(page, shots, "connexion")
    _login(page, base, "agent1")
    expect(page.get_by_role("button", name="Appel suivant")).to_be_visible()
    _shot(page, shots, "agent-accueil")
    page.get_by_role("button", name="Appel suivant").click()
    expect(page.locator("main h1")).to_contain_text("Dossier A-1")
    expect(page.locator("#scenario-nom")).to_have_text("amiable-particulier")
    expect(page.get_by_role("heading", name="Argumentaire")).to_be_visible()
    _shot(page, shots, "dossier-appel")

    page.get_by_label("Promesse :").check()
    page.locator("input[name=amount]").fill("400,00")
    page.locator("input[name=due_on]").fill("2026-12-15")
    page.get_by_role("button", name="Enregistrer").click()

    history = page.locator("#historique")
    expect(history).to_contain_text("Promesse de paiement")
    expect(history).to_contain_text("15 décembre 2026")
    # The campaign's scenario waits for the promised date: the promise follow-up runs meanwhile.
    expect(page.locator("#scenario-nom")).to_have_text("suivi-promesse")
    expect(page.locator("#statut-dossier")).to_contain_text("promesse en cours")
    _shot(page, shots, "dossier-promesse")

    page.goto(f"{base}/")
    page.get_by_role("button", name="Appel suivant").click()
    expect(page.get_by_role("status")).to_contain_text("Aucun appel")


def test_a_manager_imports_a_portfolio_with_a_bad_row_then_launches_a_campaign(console, page, shots):
    from playwright.sync_api import expect

    from tests.integration.dispatch.support import HEADER

    base, _, tmp_path = console
    upload = tmp_path / "nouveau.csv"
    rows = [
        "B-1;particulier;Mme;Martin;Claire;;;F1;consommation;450,00;;15/09/2025;;0611223344;;claire@exemple.fr;2 rue Basse;69002;Lyon",
        "B-2;particulier;M.;Robert;Jean;;;F2;consommation;1 200,00;;01/10/2025;;0622334455;;jean@exemple.fr;8 quai Sud;13002;Marseille",
        BAD_ROW,
    ]
    upload.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")

    _login(page, base, "chef")
    expect(page.get_by_role("heading", name="Tableau de bord")).to_be_visible()
    _shot(page, shots, "gestion-tableau-de-bord")
    page.get_by_role("link", name="Import").click()
    page.get_by_label("Créancier (mandant)").fill("Énergie Sud")
    page.locator("input[type=file]").set_input_files(str(upload))
    page.get_by_role("button", name="Aperçu").click()
    expect(page.locator("#correspondance")).to_contain_text("montant_principal")
    _shot(page, shots, "import-apercu")
    page.get_by_role("button", name="Importer").click()
    expect(page.locator("#crees")).to_have_text("2")
    expect(page.locator("#rejetees")).to_have_text("1")
    _shot(page, shots, "import-resultat")
    with page.expect_download() as download:
        page.get_by_role("link", name="Télécharger les lignes rejetées").click()
    rejected = Path(download.value.path()).read_text(encoding="utf-8")
    assert "B-9" in rejected and "B-1" not in rejected

    page.get_by_role("link", name="Lancer une campagne").click()
    form = page.locator("#lancement")
    form.get_by_label("Nom").fill("Énergie Sud – décembre")
    form.get_by_label("Scénario").select_option("amiable-particulier")
    form.get_by_label("Créancier").select_option("Énergie Sud")
    form.get_by_role("button", name="Lancer").click()
    expect(page.get_by_role("status")).to_contain_text("2 dossier(s) inscrit(s)")
    expect(page.locator("#campagnes")).to_contain_text("Énergie Sud – décembre")
    _shot(page, shots, "campagnes")
    page.goto(f"{base}/gestion/modeles?nom=sms/relance_solde")
    expect(page.locator("#apercu")).to_contain_text("segment")
    _shot(page, shots, "modeles")
