"""Provider callbacks and the unsubscribe page: check who is calling, parse, call services/webhooks.

    POST <twilio_status_path>        (default /webhooks/twilio/status)  Twilio delivery reports
    POST /webhooks/twilio/inbound                                         SMS replies, STOP keywords
    POST /webhooks/sendgrid/events                                        SendGrid Event Webhook
    GET|POST <unsubscribe_path>?a=&t= (default /desinscription)           email unsubscribe (RFC 8058)
    GET /healthz                                                          liveness with a database ping

An unsigned, badly signed or malformed request gets a 4xx and changes nothing. No business logic
here: the routes verify, parse and hand plain values to the service functions.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from functools import lru_cache
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from app.settings import REPO_ROOT
from channels.webhook_security import verify_sendgrid_signature, verify_twilio_signature
from services import webhooks as service
from services.rendering import verify_unsubscribe_token

log = logging.getLogger(__name__)

TWILIO_INBOUND_PATH = "/webhooks/twilio/inbound"
SENDGRID_EVENTS_PATH = "/webhooks/sendgrid/events"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def _container(request: Request):
    return request.app.state.container


def _now(request: Request) -> datetime:
    clock = getattr(request.app.state, "clock", None)
    return clock() if clock is not None else datetime.now(UTC)


def _secret(value) -> str | None:
    return value.get_secret_value() if value is not None else None


def _problem(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


@lru_cache(maxsize=1)
def _pages() -> Environment:
    return Environment(loader=FileSystemLoader(str(REPO_ROOT / "templates" / "web")),
                       autoescape=select_autoescape(["html"]))


# -- Twilio ----------------------------------------------------------------------------------------


async def _twilio_form(request: Request) -> dict[str, str] | None:
    """The POSTed form when Twilio's signature over the public URL verifies, else None."""
    channels = _container(request).settings.channels
    token = _secret(channels.twilio_auth_token)
    body = await request.body()
    try:
        params = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        return None
    url = channels.url(request.url.path)
    if request.url.query:
        url += "?" + request.url.query
    signature = request.headers.get("X-Twilio-Signature")
    if not token or not verify_twilio_signature(token, url, params, signature):
        log.warning("twilio callback on %s refused: signature", request.url.path)
        return None
    return params


async def twilio_status(request: Request) -> Response:
    params = await _twilio_form(request)
    if params is None:
        return _problem(403, "invalid signature")
    try:
        service.record_sms_status(_container(request).uow(), params.get("MessageSid"), params.get("MessageStatus"),
                                  error_code=params.get("ErrorCode"), now=_now(request))
    except service.WebhookRejected as exc:
        return _problem(400, str(exc))
    return Response(status_code=204)


async def twilio_inbound(request: Request) -> Response:
    params = await _twilio_form(request)
    if params is None:
        return _problem(403, "invalid signature")
    try:
        service.record_inbound_sms(_container(request).uow(), sender=params.get("From"), body=params.get("Body"),
                                   message_sid=params.get("MessageSid"), now=_now(request))
    except service.WebhookRejected as exc:
        return _problem(400, str(exc))
    return Response(EMPTY_TWIML, media_type="application/xml")


# -- SendGrid --------------------------------------------------------------------------------------


async def sendgrid_events(request: Request) -> Response:
    key = _container(request).settings.channels.sendgrid_webhook_public_key
    body = await request.body()
    now = _now(request)
    if not key or not verify_sendgrid_signature(
        key, body,
        request.headers.get("X-Twilio-Email-Event-Webhook-Signature"),
        request.headers.get("X-Twilio-Email-Event-Webhook-Timestamp"),
        now=now,
    ):
        log.warning("sendgrid callback refused: signature")
        return _problem(403, "invalid signature")
    try:
        payload = json.loads(body)
        report = service.record_email_events(_container(request).uow(), service.parse_email_events(payload), now=now)
    except (ValueError, service.WebhookRejected) as exc:  # json.JSONDecodeError is a ValueError
        detail = str(exc) if isinstance(exc, service.WebhookRejected) else "the body is not JSON"
        return _problem(400, detail)
    return JSONResponse({"delivered": report.delivered, "failed": report.failed, "opted_out": report.opted_out,
                         "duplicates": report.duplicates, "unmatched": report.unmatched,
                         "ignored": report.ignored})


# -- Unsubscribe page ------------------------------------------------------------------------------


def _page(request: Request, state: str, status: int = 200) -> HTMLResponse:
    office = _container(request).settings.office
    html = _pages().get_template("desinscription.html").render(state=state, office=office.name,
                                                                contact=office.email)
    return HTMLResponse(html, status_code=status)


def _unsubscribe_action(request: Request) -> tuple[int | None, int]:
    """(action id, 0) for a link that verifies, else (None, the HTTP status to answer)."""
    raw_id, token = request.query_params.get("a"), request.query_params.get("t")
    if not raw_id or not raw_id.isdigit() or not token:
        return None, 400
    secret = _secret(_container(request).settings.channels.unsubscribe_secret)
    # Without a secret no link can be checked: refuse rather than let anyone opt anyone out.
    if not secret or not verify_unsubscribe_token(int(raw_id), token, secret):
        return None, 403
    return int(raw_id), 0


async def unsubscribe_page(request: Request) -> HTMLResponse:
    action_id, status = _unsubscribe_action(request)
    if action_id is None:
        return _page(request, "invalid", status)
    if service.unsubscribe_target(_container(request).uow(), action_id) is None:
        return _page(request, "invalid", 404)
    return _page(request, "confirm")


async def unsubscribe_post(request: Request) -> HTMLResponse:
    action_id, status = _unsubscribe_action(request)
    if action_id is None:
        return _page(request, "invalid", status)
    container = _container(request)
    if service.unsubscribe_target(container.uow(), action_id) is None:
        return _page(request, "invalid", 404)
    changed = service.unsubscribe_email(container.uow(), action_id, now=_now(request))
    return _page(request, "done" if changed else "already")


# -- Health ----------------------------------------------------------------------------------------


async def healthz(request: Request) -> JSONResponse:
    try:
        service.ping(_container(request).uow())
    except Exception as exc:  # noqa: BLE001 - any database error means "not healthy"
        log.error("health check failed: %s", type(exc).__name__)
        return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok"})


def webhook_router(channels) -> APIRouter:
    """The routes, on the paths the channel settings publish to providers and in emails."""
    router = APIRouter()
    router.add_api_route(channels.twilio_status_path, twilio_status, methods=["POST"], include_in_schema=False)
    router.add_api_route(TWILIO_INBOUND_PATH, twilio_inbound, methods=["POST"], include_in_schema=False)
    router.add_api_route(SENDGRID_EVENTS_PATH, sendgrid_events, methods=["POST"], include_in_schema=False)
    router.add_api_route(channels.unsubscribe_path, unsubscribe_page, methods=["GET"], include_in_schema=False)
    router.add_api_route(channels.unsubscribe_path, unsubscribe_post, methods=["POST"], include_in_schema=False)
    router.add_api_route("/healthz", healthz, methods=["GET"])
    return router
