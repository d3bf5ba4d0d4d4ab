"""`relance doctor`: is this install ready? Each check says what it found in plain French words.

    run_checks(container_factory, *, prefect_api_url=..., http=None, expected_deployments=None)
        -> list[Check]

Levels: ok, warn (works, but not as production should: a sandbox channel, the ephemeral Prefect
mode), fail (something that will break a run or lose messages). The Prefect API is probed over
HTTP (`/health`, `/deployments/filter`), so the check costs no Prefect engine start; `http` is an
httpx client the tests replace. Messages name settings, never their values.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from urllib.parse import urlparse

from app.settings import REPO_ROOT

TWILIO_SID = re.compile(r"AC[0-9a-f]{32}")
TWILIO_SERVICE_SID = re.compile(r"MG[0-9a-f]{32}")
TWILIO_TOKEN = re.compile(r"[0-9a-f]{32}")
SENDGRID_KEY = re.compile(r"SG\.[A-Za-z0-9_-]{16,32}\.[A-Za-z0-9_-]{32,64}")
E164 = re.compile(r"\+[1-9][0-9]{6,14}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}


class Level(str, Enum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Check:
    name: str
    level: Level
    message: str


def _ok(name, message):
    return Check(name, Level.OK, message)


def _warn(name, message):
    return Check(name, Level.WARN, message)


def _fail(name, message):
    return Check(name, Level.FAIL, message)


# ------------------------------------------------------------------------------------------------
# Database
# ------------------------------------------------------------------------------------------------


def check_database(container_factory: Callable) -> list[Check]:
    from sqlalchemy import text

    from services.schema import current_revision, head_revision

    name = "Base de données"
    try:
        container = container_factory()
        with container.engine.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:  # noqa: BLE001 - any driver error means "not reachable"
        return [_fail(name, f"injoignable ({type(exc).__name__}) : vérifiez RELANCE_DATABASE_URL")]
    backend = container.engine.dialect.name
    current, head = current_revision(container.engine), head_revision()
    if current is None:
        return [_fail(name, f"{backend} joignable mais vide : lancez « relance db upgrade »")]
    if current != head:
        return [_fail(name, f"{backend} à la révision {current}, le code attend {head} : "
                            "lancez « relance db upgrade »")]
    checks = [_ok(name, f"{backend} joignable, schéma à jour (révision {head})")]
    if backend == "sqlite":
        checks.append(_warn("Base de données", "SQLite convient à un poste seul ; plusieurs workers "
                                                "demandent PostgreSQL"))
    return checks


# ------------------------------------------------------------------------------------------------
# Prefect
# ------------------------------------------------------------------------------------------------


def expected_deployments(prefect_yaml: Path = REPO_ROOT / "prefect.yaml") -> list[str]:
    import yaml

    data = yaml.safe_load(prefect_yaml.read_text(encoding="utf-8"))
    return [d["name"] for d in data.get("deployments", [])]


RATE_LIMITS = ("relance-sms", "relance-email", "relance-letter")


def check_prefect(api_url: str | None, *, http=None, expected: Iterable[str] | None = None,
                  rate_limits: bool = False) -> list[Check]:
    name = "Prefect"
    if not api_url:
        return [_warn(name, "aucun serveur configuré (PREFECT_API_URL) : mode éphémère, les exécutions "
                            "manuelles marchent mais ni planification ni workers")]
    import httpx

    client = http or httpx.Client(timeout=5)
    base = api_url.rstrip("/")
    try:
        response = client.get(f"{base}/health")
        response.raise_for_status()
    except Exception as exc:  # noqa: BLE001
        return [_fail(name, f"API injoignable à {base} ({type(exc).__name__}) : le serveur Prefect tourne-t-il ?")]
    checks = [_ok(name, f"API joignable ({base})")]
    wanted = sorted(set(expected if expected is not None else expected_deployments()))
    try:
        response = client.post(f"{base}/deployments/filter", json={"limit": 200})
        response.raise_for_status()
        present = {d["name"] for d in response.json()}
    except Exception as exc:  # noqa: BLE001
        return checks + [_fail("Déploiements", f"liste illisible ({type(exc).__name__})")]
    missing = [d for d in wanted if d not in present]
    if missing:
        checks.append(_fail("Déploiements", f"absents : {', '.join(missing)} — lancez « prefect deploy --all » "
                                            "(ou « python -m flows.serve » sur une seule machine)"))
    else:
        checks.append(_ok("Déploiements", f"{len(wanted)} présents"))
    if rate_limits:
        try:
            response = client.post(f"{base}/v2/concurrency_limits/filter", json={"limit": 200})
            response.raise_for_status()
            limits = {d["name"] for d in response.json() if d.get("active", True)}
        except Exception as exc:  # noqa: BLE001
            return checks + [_fail("Limites de débit", f"liste illisible ({type(exc).__name__})")]
        absent = [name for name in RATE_LIMITS if name not in limits]
        checks.append(_fail("Limites de débit", f"RELANCE_GLOBAL_RATE_LIMITS est actif mais ces limites manquent : "
                                                f"{', '.join(absent)} — voir docs/production.md") if absent
                      else _ok("Limites de débit", "limites globales présentes, partagées par les workers"))
    return checks


# ------------------------------------------------------------------------------------------------
# Channels, webhooks, outbox
# ------------------------------------------------------------------------------------------------


def _secret(value) -> str | None:
    return value.get_secret_value() if value is not None else None


def check_channels(cs) -> list[Check]:
    checks: list[Check] = []
    # SMS
    if not (cs.twilio_account_sid or cs.twilio_auth_token is not None):
        checks.append(_warn("SMS (Twilio)", "non configuré : les SMS vont au bac à sable (fichiers)"))
    else:
        problems = []
        if not TWILIO_SID.fullmatch(cs.twilio_account_sid or ""):
            problems.append("RELANCE_TWILIO_ACCOUNT_SID doit être « AC » suivi de 32 chiffres hexadécimaux")
        if not TWILIO_TOKEN.fullmatch(_secret(cs.twilio_auth_token) or ""):
            problems.append("RELANCE_TWILIO_AUTH_TOKEN doit compter 32 chiffres hexadécimaux")
        if cs.twilio_messaging_service_sid and cs.twilio_from:
            problems.append("RELANCE_TWILIO_MESSAGING_SERVICE_SID et RELANCE_TWILIO_FROM sont exclusifs")
        elif cs.twilio_messaging_service_sid:
            if not TWILIO_SERVICE_SID.fullmatch(cs.twilio_messaging_service_sid):
                problems.append("RELANCE_TWILIO_MESSAGING_SERVICE_SID doit être « MG » suivi de 32 chiffres "
                                "hexadécimaux")
        elif not cs.twilio_from:
            problems.append("l'expéditeur manque (RELANCE_TWILIO_MESSAGING_SERVICE_SID ou RELANCE_TWILIO_FROM)")
        elif not E164.fullmatch(cs.twilio_from) and not re.fullmatch(r"[A-Za-z][A-Za-z0-9 ]{0,10}", cs.twilio_from):
            problems.append("RELANCE_TWILIO_FROM doit être un numéro E.164 (+33...) ou un nom d'expéditeur de "
                            "11 caractères au plus")
        checks.append(_fail("SMS (Twilio)", " ; ".join(problems)) if problems
                      else _ok("SMS (Twilio)", "identifiants présents et bien formés"))
    # Email
    key = _secret(cs.sendgrid_api_key)
    if key is None and not cs.sendgrid_from_email:
        checks.append(_warn("E-mail (SendGrid)", "non configuré : les e-mails vont au bac à sable (fichiers)"))
    else:
        problems = []
        if not SENDGRID_KEY.fullmatch(key or ""):
            problems.append("RELANCE_SENDGRID_API_KEY doit avoir la forme « SG.xxxx.yyyy »")
        if not EMAIL.fullmatch(cs.sendgrid_from_email or ""):
            problems.append("RELANCE_SENDGRID_FROM_EMAIL manque ou n'est pas une adresse")
        if not cs.sendgrid_webhook_public_key:
            problems.append("RELANCE_SENDGRID_WEBHOOK_PUBLIC_KEY manque : les événements signés seraient refusés")
        checks.append(_fail("E-mail (SendGrid)", " ; ".join(problems)) if problems
                      else _ok("E-mail (SendGrid)", "identifiants présents et bien formés"))
    # Letters
    postal = [cs.postal_api_url, cs.postal_api_client_id, _secret(cs.postal_api_client_secret)]
    if not any(postal):
        where = "bac à sable (JSON)" if cs.letters == "sandbox" else "file d'impression interne"
        checks.append(_warn("Courrier", f"pas d'API postale : les lettres vont à la {where}"))
    else:
        problems = []
        parsed = urlparse(cs.postal_api_url or "")
        if parsed.scheme != "https" or not parsed.netloc:
            problems.append("RELANCE_POSTAL_API_URL doit être une adresse https://")
        if not cs.postal_api_client_id:
            problems.append("RELANCE_POSTAL_API_CLIENT_ID manque")
        if not _secret(cs.postal_api_client_secret):
            problems.append("RELANCE_POSTAL_API_CLIENT_SECRET manque")
        checks.append(_fail("Courrier (API postale)", " ; ".join(problems)) if problems
                      else _ok("Courrier (API postale)", "identifiants présents et bien formés"))
    return checks


def check_webhooks(cs) -> list[Check]:
    name = "Webhooks"
    real = bool(cs.twilio_account_sid or cs.sendgrid_api_key is not None)
    parsed = urlparse(cs.public_base_url or "")
    problems = []
    if parsed.scheme != "https":
        problems.append(f"RELANCE_PUBLIC_BASE_URL ({cs.public_base_url}) n'est pas en https")
    if (parsed.hostname or "") in LOCAL_HOSTS:
        problems.append("RELANCE_PUBLIC_BASE_URL désigne cette machine : les fournisseurs ne l'atteindront pas")
    if cs.unsubscribe_secret is None:
        problems.append("RELANCE_UNSUBSCRIBE_SECRET manque : les liens de désinscription ne sont pas signés")
    if not problems:
        return [_ok(name, f"adresse publique {cs.public_base_url} en https, liens signés")]
    # With sandbox channels nobody calls back: a local address is fine for a demo.
    return [(_fail if real else _warn)(name, " ; ".join(problems))]


def check_outbox(settings) -> list[Check]:
    name = "Dossier outbox"
    folder = Path(settings.outbox_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".doctor-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return [_fail(name, f"{folder} n'est pas accessible en écriture ({exc.strerror})")]
    return [_ok(name, f"{folder.resolve()} accessible en écriture")]


def run_checks(container_factory: Callable, *, prefect_api_url: str | None | type = ..., http=None,
               expected: Iterable[str] | None = None) -> list[Check]:
    """Every check, in the order an operator fixes them."""
    from app.channel_settings import ChannelSettings
    from app.settings import load_settings

    checks = check_database(container_factory)
    settings = load_settings()
    if prefect_api_url is ...:
        prefect_api_url = _prefect_api_url()
    checks += check_prefect(prefect_api_url, http=http, expected=expected,
                            rate_limits=settings.global_rate_limits)
    cs = settings.channels if isinstance(settings.channels, ChannelSettings) else ChannelSettings()
    checks += check_channels(cs)
    checks += check_webhooks(cs)
    checks += check_outbox(settings)
    return checks


def _prefect_api_url() -> str | None:
    """PREFECT_API_URL from the environment or the active Prefect profile."""
    if os.environ.get("PREFECT_API_URL"):
        return os.environ["PREFECT_API_URL"]
    try:
        from prefect.settings import PREFECT_API_URL

        return PREFECT_API_URL.value()
    except Exception:  # noqa: BLE001 - no profile: ephemeral mode
        return None
