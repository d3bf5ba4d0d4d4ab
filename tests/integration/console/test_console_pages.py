"""The console over HTTP: sessions, CSRF, roles, creditor scope, login throttling, the audit log
and the pages agents and managers use."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.web.app import create_app
from models.accounts import AuditEntry
from models.dossiers import DossierEvent
from models.enums import EventKind
from services.portfolio_import import get_or_create_creditor
from tests.integration.console.support import NOW, PASSWORD, add_task, import_cases, make_user


@pytest.fixture
def cases(container, tmp_path):
    return import_cases(container, tmp_path)


@pytest.fixture
def app(container, tmp_path):
    container.settings.cookie_secure = False  # TestClient speaks plain http
    container.settings.session_secret = "secret-de-test"
    container.settings.uploads_dir = tmp_path / "uploads"
    return create_app(container, clock=lambda: NOW)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def login(client: TestClient, name: str, password: str = PASSWORD):
    page = client.get("/connexion")
    return client.post("/connexion", data={"name": name, "password": password, "csrf": csrf_of(page.text)},
                       follow_redirects=False)


@pytest.fixture
def client(app):
    with TestClient(app) as c:
        yield c


def test_pages_need_a_login(client):
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/connexion"


def test_the_session_cookie_is_httponly_and_samesite_lax(client, container):
    make_user(container, "agent1")
    response = login(client, "agent1")
    assert response.status_code == 303
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie


def test_the_cookie_is_secure_by_default(container):
    container.settings.session_secret = "s"
    with TestClient(create_app(container, clock=lambda: NOW), base_url="https://console.example") as c:
        assert "secure" in c.get("/connexion").headers["set-cookie"].lower()


def test_an_agent_gets_403_on_manager_pages(client, container):
    make_user(container, "agent1")
    login(client, "agent1")
    for path in ("/gestion", "/gestion/import", "/gestion/campagnes", "/gestion/modeles", "/gestion/rentabilite"):
        assert client.get(path).status_code == 403, path
    html = client.get("/").text
    response = client.post("/gestion/campagnes", data={"csrf": csrf_of(html), "name": "X", "scenario": "amiable-particulier"})
    assert response.status_code == 403


def test_an_agent_gets_403_on_another_creditors_dossier_and_cannot_write_on_it(client, container, cases):
    with container.uow() as uow:
        get_or_create_creditor(uow.session, "Autre Créancier")
        uow.commit()
    make_user(container, "agent1", creditors=["Autre Créancier"])
    login(client, "agent1")
    dossier_id = cases["A-1"].dossier_id
    assert client.get(f"/dossiers/{dossier_id}").status_code == 403
    html = client.get("/").text
    response = client.post(f"/dossiers/{dossier_id}/issue", data={"csrf": csrf_of(html), "outcome": "refusal"})
    assert response.status_code == 403
    with container.uow() as uow:
        assert not uow.session.scalar(select(func.count()).select_from(DossierEvent).where(
            DossierEvent.kind == EventKind.CALL_ATTEMPT))
    assert client.get("/recherche", params={"q": "A-1"}).text.count("/dossiers/") == 0


def test_a_form_without_its_csrf_token_is_refused(client, container, cases):
    make_user(container, "agent1")
    login(client, "agent1")
    add_task(container, cases["A-1"], key="k1")
    assert client.post("/appels/suivant", data={}).status_code == 403
    assert client.post("/appels/suivant", data={"csrf": "faux"}).status_code == 403
    assert client.post("/connexion", data={"name": "agent1", "password": PASSWORD}).status_code == 403


def test_the_login_rate_limit_holds_even_with_the_right_password(client, container):
    make_user(container, "agent1")
    for _ in range(5):
        assert login(client, "agent1", "mauvais-mot-de-passe").status_code == 401
    response = login(client, "agent1")
    assert response.status_code == 429
    assert "Trop de tentatives" in response.text


def test_the_login_rate_limit_counts_failures_per_address_across_names(client, container):
    make_user(container, "agent9")
    for n in range(5):
        login(client, f"inconnu{n}", "mauvais-mot-de-passe")
    assert login(client, "agent9").status_code == 429


def test_an_agent_takes_the_next_call_and_records_a_promise(client, container, cases):
    make_user(container, "agent1")
    task_id = add_task(container, cases["A-1"], key="k1")
    login(client, "agent1")
    home = client.get("/")
    assert "Appel suivant" in home.text
    response = client.post("/appels/suivant", data={"csrf": csrf_of(home.text)}, follow_redirects=False)
    assert response.headers["location"] == f"/dossiers/{cases['A-1'].dossier_id}?tache={task_id}"
    page = client.get(response.headers["location"])
    assert "Argumentaire" in page.text and "Lefèvre" in page.text
    done = client.post(f"/dossiers/{cases['A-1'].dossier_id}/issue", data={
        "csrf": csrf_of(page.text), "task_id": str(task_id), "outcome": "promise", "amount": "300,00",
        "due_on": "2026-12-15"})
    assert done.status_code == 200
    assert "Promesse de paiement" in done.text and "15 décembre 2026" in done.text
    with container.uow() as uow:
        actions = set(uow.session.scalars(select(AuditEntry.action)))
    assert {"login", "call.claim", "call.promise"} <= actions


def test_a_bad_outcome_shows_an_error_and_writes_nothing(client, container, cases):
    make_user(container, "agent1")
    login(client, "agent1")
    dossier_id = cases["A-1"].dossier_id
    page = client.get(f"/dossiers/{dossier_id}")
    response = client.post(f"/dossiers/{dossier_id}/issue", data={
        "csrf": csrf_of(page.text), "outcome": "promise", "amount": "999999", "due_on": "2026-12-15"})
    assert response.status_code == 422
    assert "dépasse le solde" in response.text


def test_the_plan_builder_shows_installments_summing_to_the_balance(client, container, cases):
    make_user(container, "agent1")
    login(client, "agent1")
    dossier_id = cases["A-1"].dossier_id
    page = client.get(f"/dossiers/{dossier_id}")
    response = client.post(f"/dossiers/{dossier_id}/issue", data={
        "csrf": csrf_of(page.text), "outcome": "plan", "count": "3", "first_due_on": "2026-12-05",
        "frequency": "monthly", "preview": "1"})
    assert response.status_code == 200
    assert "apercu-echeancier" in response.text and "5 février 2027" in response.text


def test_search_finds_a_dossier_by_phone_in_any_writing_and_by_email(client, container, cases):
    make_user(container, "agent1")
    login(client, "agent1")
    assert f"/dossiers/{cases['A-1'].dossier_id}" in client.get("/recherche", params={"q": "06.12.34.56.78"}).text
    assert f"/dossiers/{cases['A-2'].dossier_id}" in client.get("/recherche", params={"q": "compta@garage.fr"}).text
    assert f"/dossiers/{cases['A-3'].dossier_id}" in client.get("/recherche", params={"q": "payet"}).text


def test_a_manager_sees_the_dashboard_the_template_preview_and_can_pause_a_campaign(client, container, cases):
    make_user(container, "chef", role="manager")
    assert login(client, "chef").headers["location"] == "/gestion"
    assert "Tableau de bord" in client.get("/gestion").text
    assert "segment" in client.get("/gestion/modeles", params={"nom": "sms/relance_solde"}).text
    page = client.get("/gestion/campagnes")
    launched = client.post("/gestion/campagnes", data={"csrf": csrf_of(page.text), "name": "Novembre",
                                                       "scenario": "amiable-particulier", "where": "kind = person"})
    assert "2 dossier(s) inscrit(s)" in launched.text
    paused = client.post("/gestion/campagnes/Novembre/etat", data={"csrf": csrf_of(page.text), "status": "paused"})
    assert "en pause" in paused.text
    assert "/gestion/rentabilite?campagne=Novembre" in client.get("/gestion").text
    dashboard = client.get("/gestion/rentabilite", params={"campagne": "Novembre"})
    assert dashboard.status_code == 200 and "Novembre" in dashboard.text and "<svg" in dashboard.text
    assert client.get("/gestion/rentabilite", params={"campagne": "Inconnue"}).status_code == 404


def test_logout_ends_the_session(client, container):
    make_user(container, "agent1")
    login(client, "agent1")
    html = client.get("/").text
    client.post("/deconnexion", data={"csrf": csrf_of(html)})
    assert client.get("/", follow_redirects=False).status_code == 303
