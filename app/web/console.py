"""The console: agents' call queue and dossier pages, managers' import, campaigns, templates
and dashboard. Routes parse the form, check the session, the role and the CSRF token, call one
service function and render a template of templates/web/: no business logic here.

Every POST carries the session-bound CSRF token (app/web/security.py); the provider webhooks
live in app/web/webhooks.py, outside this router, and need none.
"""

from __future__ import annotations

import logging
import re
import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markdown_it import MarkdownIt
from markupsafe import Markup

from app.settings import REPO_ROOT
from app.web.security import COOKIE, Session, SessionSigner
from channels.templating import date_fr, date_short, money, phone_fr
from models.dates import DateParseError, parse_date
from models.enums import CampaignStatus
from services import accounts, call_queue, console_views
from services.agreements import MONTHLY, AgreementError, _due_dates, split_evenly

log = logging.getLogger(__name__)

PARIS = ZoneInfo("Europe/Paris")
PAGES = REPO_ROOT / "templates" / "web"
_markdown = MarkdownIt("commonmark", {"html": False}).enable("table")


def _script_html(text: str | None) -> Markup:
    """A Markdown call script as HTML (raw HTML in the source is escaped), its headings moved
    below the page's own (h1 -> h3)."""
    html = _markdown.render(text or "")
    return Markup(re.sub(r"<(/?)h([1-4])>", lambda m: f"<{m[1]}h{int(m[2]) + 2}>", html))


class Denied(Exception):
    def __init__(self, status: int, redirect: str | None = None):
        self.status, self.redirect = status, redirect


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(PAGES), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(money=money, date_fr=date_fr, date_short=date_short, phone_fr=phone_fr,
                       datetime_fr=lambda v: v.astimezone(PARIS).strftime("%d/%m/%Y %H:%M") if v else "",
                       markdown=_script_html)
    return env


class Console:
    """The router's state: the container, the session signer, the clock and the page templates."""

    def __init__(self, container, clock):
        settings = container.settings
        self.container = container
        self.clock = clock or (lambda: datetime.now(UTC))
        self.signer = SessionSigner(settings.session_secret, hours=settings.session_hours,
                                    secure=settings.cookie_secure)
        self.env = _environment()
        self._catalogue = None
        self._renderer = None

    @property
    def catalogue(self):
        if self._catalogue is None:
            from scenarios.catalogue import load_catalogue

            self._catalogue = load_catalogue()
        return self._catalogue

    @property
    def renderer(self):
        if self._renderer is None:
            from channels.templating import TemplateRenderer

            self._renderer = TemplateRenderer(office=self.container.settings.office.model_dump())
        return self._renderer

    # --- sessions -------------------------------------------------------------------------------

    def session(self, request: Request) -> Session:
        if not hasattr(request.state, "console_session"):
            found = self.signer.loads(request.cookies.get(COOKIE))
            request.state.console_session = found or self.signer.new()
            request.state.new_session = found is None
        return request.state.console_session

    def principal(self, request: Request, *, manager: bool = False) -> accounts.Principal:
        session = self.session(request)
        if session.uid is None:
            raise Denied(303, "/connexion")
        with self.container.uow() as uow:
            principal = accounts.principal_of(uow.session, session.uid)
        if principal is None:
            raise Denied(303, "/connexion")
        if manager and not principal.is_manager:
            raise Denied(403)
        return principal

    async def form(self, request: Request) -> dict:
        """The posted form, once its CSRF token is checked (403 otherwise)."""
        form = await request.form()
        if not self.signer.csrf_ok(self.signer.loads(request.cookies.get(COOKIE)), form.get("csrf")):
            raise Denied(403)
        return form

    def render(self, request: Request, name: str, *, status: int = 200, principal=None, **context) -> HTMLResponse:
        session = self.session(request)
        html = self.env.get_template(name).render(
            user=principal, csrf=self.signer.csrf_token(session), now=self.clock(), **context)
        response = HTMLResponse(html, status_code=status)
        if getattr(request.state, "new_session", False):
            self.signer.set_cookie(response, session)
        return response

    def redirect(self, url: str, session: Session | None = None) -> RedirectResponse:
        response = RedirectResponse(url, status_code=303)
        if session is not None:
            self.signer.set_cookie(response, session)
        return response

    @property
    def office(self):
        return self.container.settings.office


def _ip(request: Request) -> str:
    return request.client.host if request.client else "inconnue"


def _decimal(raw: str | None) -> Decimal | None:
    if not raw:
        return None
    try:
        return Decimal(raw.replace("\u202f", "").replace(" ", "").replace(",", "."))
    except InvalidOperation:
        raise call_queue.CallQueueError(f"montant illisible : « {raw} »") from None


def _day(raw: str | None, label: str):
    if not raw:
        return None
    try:
        return parse_date(raw)
    except DateParseError:
        raise call_queue.CallQueueError(f"{label} illisible : « {raw} »") from None


def _local_datetime(raw: str | None) -> datetime | None:
    """A datetime-local field, in Paris time, as an aware UTC datetime."""
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw).replace(tzinfo=PARIS).astimezone(UTC)
    except ValueError:
        raise call_queue.CallQueueError(f"date et heure illisibles : « {raw} »") from None


def _frequency(raw: str | None):
    return MONTHLY if (raw or MONTHLY) == MONTHLY else int(raw)


def console_router(container, clock=None) -> APIRouter:
    c = Console(container, clock)
    router = APIRouter()
    router.console = c  # the app installs the Denied handler with it

    # --- login ---------------------------------------------------------------------------------

    @router.get("/connexion", response_class=HTMLResponse)
    async def login_page(request: Request):
        return c.render(request, "connexion.html")

    @router.post("/connexion")
    async def login(request: Request):
        form = await c.form(request)
        settings = container.settings
        try:
            with container.uow() as uow:
                principal = accounts.authenticate(
                    uow.session, name=form.get("name", ""), password=form.get("password", ""), ip=_ip(request),
                    now=c.clock(), max_failures=settings.login_max_failures,
                    window=timedelta(minutes=settings.login_window_minutes))
                uow.commit()
        except accounts.LoginThrottled:
            return c.render(request, "connexion.html", status=429,
                            error="Trop de tentatives. Réessayez dans quelques minutes.")
        if principal is None:
            return c.render(request, "connexion.html", status=401, error="Identifiant ou mot de passe incorrect.")
        return c.redirect("/gestion" if principal.is_manager else "/", c.signer.new(principal.id))

    @router.post("/deconnexion")
    async def logout(request: Request):
        await c.form(request)
        session = c.session(request)
        if session.uid is not None:
            with container.uow() as uow:
                user = accounts.principal_of(uow.session, session.uid)
            accounts.record_audit(container.uow, actor=user.name if user else str(session.uid), action="logout",
                                  now=c.clock(), target=f"user:{session.uid}")
        return c.redirect("/connexion", c.signer.new())

    # --- agent ---------------------------------------------------------------------------------

    @router.get("/", response_class=HTMLResponse)
    async def home(request: Request):
        user = c.principal(request)
        with container.uow() as uow:
            tasks = console_views.my_tasks(uow.session, user)
            counts = console_views.queue_counts(uow.session, c.clock())
        return c.render(request, "accueil.html", principal=user, tasks=tasks, counts=counts,
                        empty=request.query_params.get("vide") == "1")

    @router.post("/appels/suivant")
    async def next_call(request: Request):
        user = c.principal(request)
        await c.form(request)
        with container.uow() as uow:
            task = call_queue.claim_next(uow, user, c.clock())
        if task is None:
            return c.redirect("/?vide=1")
        return c.redirect(f"/dossiers/{task.dossier_id}?tache={task.id}")

    @router.get("/recherche", response_class=HTMLResponse)
    async def search(request: Request):
        user = c.principal(request)
        query = request.query_params.get("q", "")
        with container.uow() as uow:
            hits = console_views.search_dossiers(uow.session, query, user)
        return c.render(request, "recherche.html", principal=user, query=query, hits=hits)

    def dossier_page(request, user, dossier_id: int, *, status=200, error=None, plan_preview=None, form=None):
        now = c.clock()
        today = now.astimezone(PARIS).date()
        with container.uow() as uow:
            try:
                view = console_views.dossier_view(uow.session, dossier_id, user, now=now, as_of=today,
                                                  rates=container.rates)
            except console_views.DossierForbidden:
                raise Denied(403) from None
            except LookupError:
                raise Denied(404) from None
            task_id = request.query_params.get("tache") or (form or {}).get("task_id")
            task = next((t for t in view.open_tasks if str(t["id"]) == str(task_id)), None)
            script_name = _script_for(uow.session, task["id"] if task else None, view)
            context = console_views.script_context(uow.session, dossier_id, as_of=today, office=c.office,
                                                   rates=container.rates)
            script = c.renderer.render_text(script_name, context)
        position = []
        if view.enrolment is not None:
            from services.explain import explain_dossier

            position = explain_dossier(container, str(dossier_id), now=now, catalogue=c.catalogue)[1:]
        return c.render(request, "dossier.html", status=status, principal=user, d=view, task=task, script=script,
                        position=position, error=error, plan_preview=plan_preview, form=form or {},
                        plan_max_months=container.settings.plan_max_months, today=today)

    @router.get("/dossiers/{dossier_id}", response_class=HTMLResponse)
    async def dossier(request: Request, dossier_id: int):
        return dossier_page(request, c.principal(request), dossier_id)

    @router.post("/dossiers/{dossier_id}/issue")
    async def outcome(request: Request, dossier_id: int):
        user = c.principal(request)
        form = await c.form(request)
        # The access check comes first: nothing is written on a dossier the agent may not see.
        dossier_page_check(user, dossier_id)
        task_id = int(form["task_id"]) if form.get("task_id") else None
        try:
            kind = call_queue.Outcome(form.get("outcome", ""))
            data = call_queue.OutcomeInput(
                kind=kind, amount=_decimal(form.get("amount")), due_on=_day(form.get("due_on"), "date promise"),
                count=int(form["count"]) if form.get("count") else None,
                first_due_on=_day(form.get("first_due_on"), "première échéance"),
                frequency=_frequency(form.get("frequency")), reason=form.get("reason"),
                callback_at=_local_datetime(form.get("callback_at")))
            if kind == call_queue.Outcome.PLAN and form.get("preview"):
                return dossier_page(request, user, dossier_id, form=dict(form),
                                    plan_preview=_plan_preview(user, dossier_id, data))
            call_queue.record_outcome(container.uow, agent=user, dossier_id=dossier_id, outcome=data,
                                      now=c.clock(), task_id=task_id, catalogue=c.catalogue, rates=container.rates,
                                      plan_max_months=container.settings.plan_max_months)
        except (ValueError, call_queue.CallQueueError, AgreementError) as exc:
            message = str(exc) if isinstance(exc, (call_queue.CallQueueError, AgreementError)) else \
                "résultat d'appel inconnu ou nombre illisible"
            return dossier_page(request, user, dossier_id, status=422, error=message, form=dict(form))
        return c.redirect(f"/dossiers/{dossier_id}?enregistre={kind}")

    def dossier_page_check(user, dossier_id: int) -> None:
        with container.uow() as uow:
            from models.dossiers import Dossier

            dossier = uow.session.get(Dossier, dossier_id)
            if dossier is None:
                raise Denied(404)
            if not accounts.allowed(user, dossier.creditor_id):
                raise Denied(403)

    def _plan_preview(user, dossier_id: int, data) -> dict:
        """The installments the plan would have, computed as agree_plan computes them."""
        now = c.clock()
        today = now.astimezone(PARIS).date()
        with container.uow() as uow:
            view = console_views.dossier_view(uow.session, dossier_id, user, now=now, as_of=today,
                                              rates=container.rates)
        if not data.count or data.count < 2 or data.first_due_on is None:
            raise AgreementError("un échéancier compte au moins deux échéances et une première date")
        balance = view.totals.balance
        dates = _due_dates(data.first_due_on, data.count, data.frequency)
        amounts = split_evenly(balance, data.count)
        return {"rows": list(zip(range(1, data.count + 1), dates, amounts)), "total": sum(amounts, Decimal(0)),
                "balance": balance}

    # --- manager -------------------------------------------------------------------------------

    @router.get("/gestion", response_class=HTMLResponse)
    async def dashboard(request: Request):
        user = c.principal(request, manager=True)
        from services.campaigns import list_campaigns

        with container.uow() as uow:
            counts = console_views.dossier_counts(uow.session)
            queue = console_views.queue_counts(uow.session, c.clock())
            imports = console_views.recent_imports(uow.session, 5)
        return c.render(request, "gestion.html", principal=user, counts=counts, queue=queue, imports=imports,
                        campaigns=list_campaigns(container.uow))

    @router.get("/gestion/rentabilite", response_class=HTMLResponse)
    async def rentability(request: Request):
        """The reporting issue's dashboard (KPIs, recovery curve, channels, funnel, champion /
        challenger), the same self-contained page as `relance report --format html`."""
        c.principal(request, manager=True)
        from services.campaigns import list_campaigns
        from services.report_html import build_dashboard, render_dashboard

        campaign = request.query_params.get("campagne") or None
        if campaign is not None and campaign not in {cp.name for cp in list_campaigns(container.uow)}:
            raise Denied(404)
        return HTMLResponse(render_dashboard(build_dashboard(container.uow, campaign=campaign, as_of=c.clock())))

    @router.get("/gestion/import", response_class=HTMLResponse)
    async def import_page(request: Request):
        user = c.principal(request, manager=True)
        with container.uow() as uow:
            creditors = console_views.creditor_names(uow.session)
            imports = console_views.recent_imports(uow.session)
        return c.render(request, "import.html", principal=user, creditors=creditors, imports=imports)

    def uploads() -> Path:
        folder = Path(container.settings.uploads_dir)
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    @router.post("/gestion/import/apercu", response_class=HTMLResponse)
    async def import_preview(request: Request):
        user = c.principal(request, manager=True)
        form = await c.form(request)
        from services.portfolio_columns import FIELDS
        from services.portfolio_file import ImportFileError, open_portfolio

        upload, creditor = form.get("file"), (form.get("creditor") or "").strip()
        error = None
        if not creditor:
            error = "Indiquez le créancier."
        elif upload is None or not getattr(upload, "filename", ""):
            error = "Choisissez un fichier."
        suffix = Path(upload.filename).suffix.lower() if not error else ""
        if not error and suffix not in (".csv", ".txt", ".xlsx", ".xlsm"):
            error = "Format non pris en charge (CSV ou XLSX)."
        if error:
            return c.render(request, "import.html", status=422, principal=user, error=error, creditors=[], imports=[])
        token = secrets.token_hex(12)
        path = uploads() / f"{token}{suffix}"
        with open(path, "wb") as out:
            while chunk := await upload.read(1 << 20):
                out.write(chunk)
        try:
            pfile = open_portfolio(path)
        except (ImportFileError, ValueError) as exc:
            path.unlink(missing_ok=True)
            return c.render(request, "import.html", status=422, principal=user, error=str(exc), creditors=[],
                            imports=[])
        mapping = [(field, pfile.header[i]) for field, i in sorted(pfile.columns.items(), key=lambda x: x[1])]
        unmapped = [h for i, h in enumerate(pfile.header) if i not in pfile.columns.values()]
        sample = []
        for row in pfile.rows():
            sample.append(row.original)
            if len(sample) == 5:
                break
        accounts.record_audit(container.uow, actor=user.name, action="import.upload", now=c.clock(),
                              data={"token": token})
        return c.render(request, "import_apercu.html", principal=user, token=token + suffix, creditor=creditor,
                        filename=upload.filename, mapping=mapping, unmapped=unmapped, header=pfile.header,
                        sample=sample, known_fields=len(FIELDS))

    @router.post("/gestion/import/lancer", response_class=HTMLResponse)
    async def import_run(request: Request):
        user = c.principal(request, manager=True)
        form = await c.form(request)
        from services.portfolio_file import ImportFileError
        from services.portfolio_import import import_portfolio

        token = form.get("token", "")
        path = uploads() / token
        if not token or "/" in token or token.startswith(".") or not path.is_file():
            raise Denied(404)
        now = c.clock()
        try:
            report = import_portfolio(container.uow, path, creditor=form.get("creditor", "").strip(),
                                      as_of=now.astimezone(PARIS).date(),
                                      rejects_path=uploads() / f"{Path(token).stem}.rejets.csv",
                                      chunk_rows=container.settings.import_chunk_rows, workers=1)
        except (ImportFileError, ValueError) as exc:
            return c.render(request, "import.html", status=422, principal=user, error=str(exc), creditors=[],
                            imports=[])
        accounts.record_audit(container.uow, actor=user.name, action="import.run", now=now,
                              target=f"import:{report.import_id}", data=report.as_dict() | {"rejected_path": None})
        return c.render(request, "import_resultat.html", principal=user, report=report,
                        creditor=form.get("creditor"))

    @router.get("/gestion/imports/{import_id}/rejets")
    async def import_rejects(request: Request, import_id: int):
        c.principal(request, manager=True)
        from models.imports import ImportRun

        with container.uow() as uow:
            run = uow.session.get(ImportRun, import_id)
            path = Path(run.rejected_path) if run is not None and run.rejected_path else None
        if path is None or not path.is_file():
            raise Denied(404)
        return FileResponse(path, media_type="text/csv; charset=utf-8", filename=f"rejets-import-{import_id}.csv")

    @router.get("/gestion/campagnes", response_class=HTMLResponse)
    async def campaigns(request: Request):
        user = c.principal(request, manager=True)
        return _campaigns_page(request, user)

    def _campaigns_page(request, user, *, status=200, error=None, report=None, form=None):
        from services.campaigns import list_campaigns

        with container.uow() as uow:
            creditors = console_views.creditor_names(uow.session)
        return c.render(request, "campagnes.html", status=status, principal=user, campaigns=list_campaigns(container.uow),
                        scenarios=sorted(c.catalogue), creditors=creditors, error=error, report=report,
                        form=form or {})

    @router.post("/gestion/campagnes", response_class=HTMLResponse)
    async def campaign_launch(request: Request):
        user = c.principal(request, manager=True)
        form = await c.form(request)
        from services.campaigns import CampaignError, launch_campaign

        now = c.clock()
        try:
            percent = int(form.get("challenger_percent") or 0)
            report = launch_campaign(
                container.uow, c.catalogue, name=(form.get("name") or "").strip(), scenario=form.get("scenario", ""),
                now=now, creditor=form.get("creditor") or None, where=(form.get("where") or "").strip() or None,
                challenger=form.get("challenger") or None, challenger_percent=percent)
        except (CampaignError, ValueError) as exc:
            message = str(exc) if isinstance(exc, CampaignError) else "pourcentage illisible"
            return _campaigns_page(request, user, status=422, error=message, form=dict(form))
        accounts.record_audit(container.uow, actor=user.name, action="campaign.launch", now=now,
                              target=f"campaign:{report.campaign_id}", data={"enrolled": report.enrolled})
        return _campaigns_page(request, user, report=report)

    @router.post("/gestion/campagnes/{name}/etat", response_class=HTMLResponse)
    async def campaign_status(request: Request, name: str):
        user = c.principal(request, manager=True)
        form = await c.form(request)
        from services.campaigns import CampaignError, set_campaign_status

        now = c.clock()
        try:
            status = CampaignStatus(form.get("status", ""))
            set_campaign_status(container.uow, name, status, now=now)
        except (CampaignError, ValueError) as exc:
            message = str(exc) if isinstance(exc, CampaignError) else "état inconnu"
            return _campaigns_page(request, user, status=422, error=message)
        accounts.record_audit(container.uow, actor=user.name, action=f"campaign.{status}", now=now,
                              target=f"campaign:{name}"[:64])
        return c.redirect("/gestion/campagnes")

    @router.get("/gestion/modeles", response_class=HTMLResponse)
    async def templates_preview(request: Request):
        user = c.principal(request, manager=True)
        from channels.templating import TemplateError, sample_context

        names = _template_names()
        chosen = request.query_params.get("nom") or (names[0] if names else None)
        rendered, error = None, None
        if chosen not in names:
            raise Denied(404)
        context = sample_context(c.clock().astimezone(PARIS).date())
        context["office"] = c.office.model_dump()
        try:
            kind = chosen.split("/", 1)[0]
            if kind == "sms":
                sms = c.renderer.render_sms(chosen, context)
                rendered = {"kind": "sms", "text": sms.text, "segments": sms.segments, "max": sms.max_segments,
                            "encoding": sms.encoding}
            elif kind == "email":
                email = c.renderer.render_email(chosen, context)
                rendered = {"kind": "email", "subject": email.subject, "text": email.text}
            else:
                rendered = {"kind": "call", "text": c.renderer.render_text(chosen, context)}
        except TemplateError as exc:
            error = str(exc)
        return c.render(request, "modeles.html", principal=user, names=names, chosen=chosen, rendered=rendered,
                        error=error)

    return router


def _template_names() -> list[str]:
    root = REPO_ROOT / "templates"
    names = [f"sms/{p.stem}" for p in sorted((root / "sms").glob("*.txt"))]
    names += [f"email/{p.name[:-5]}" for p in sorted((root / "email").glob("*.html")) if not p.name.startswith("_")]
    names += [f"call/{p.stem}" for p in sorted((root / "call").glob("*.md")) if not p.name.startswith("_")]
    return names


def _script_for(session, task_id: int | None, view) -> str:
    """The script of the task being worked, else the one of the dossier's kind of debtor."""
    from models.outbox import CallTask

    if task_id is not None:
        task = session.get(CallTask, task_id)
        if task is not None and task.script:
            return task.script
    return "call/entreprise_relance" if view.debtor_kind == "company" else "call/particulier_relance"


def install(app, container, clock=None) -> None:
    """Mount the console on the app, with the handler that turns Denied into a page or a redirect."""
    router = console_router(container, clock)
    console: Console = router.console
    app.include_router(router)

    @app.exception_handler(Denied)
    async def denied(request: Request, exc: Denied) -> Response:
        if exc.redirect:
            return RedirectResponse(exc.redirect, status_code=exc.status)
        titles = {403: "Accès refusé", 404: "Page introuvable"}
        return console.render(request, "erreur.html", status=exc.status, title=titles.get(exc.status, "Erreur"))
