"""Fixtures of the webhook tests: the app on the test's container, with provider secrets and
request signers built from the providers' own schemes (Twilio's SDK helper, an ECDSA P-256 key)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from twilio.request_validator import RequestValidator

from app.channel_settings import ChannelSettings
from app.web.app import create_app
from models.base import Base
from models.enums import ActionStatus, Channel
from models.outbox import Action
from tests.integration.dispatch.support import NOW, import_cases, plan

PUBLIC = "https://relance.example"
TWILIO_TOKEN = "0123456789abcdef0123456789abcdef"
UNSUBSCRIBE_SECRET = "secret-de-desinscription"
# Receipt time of every callback: SendGrid timestamps are checked against it.
RECEIVED = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
WATCHED = ("action", "contact_point", "dossier_event", "dossier")


@pytest.fixture(scope="session")
def sendgrid_key():
    private = ec.generate_private_key(ec.SECP256R1())
    der = private.public_key().public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, base64.b64encode(der).decode()


@pytest.fixture
def client(container, sendgrid_key):
    container.settings.channels = ChannelSettings(
        public_base_url=PUBLIC, twilio_auth_token=TWILIO_TOKEN, unsubscribe_secret=UNSUBSCRIBE_SECRET,
        sendgrid_webhook_public_key=sendgrid_key[1],
    )
    with TestClient(create_app(container, clock=lambda: RECEIVED)) as c:
        yield c


@pytest.fixture
def cases(container, tmp_path):
    return import_cases(container, tmp_path)


class Twilio:
    def __init__(self, client: TestClient, token: str = TWILIO_TOKEN):
        self.client, self.token = client, token

    def post(self, path: str, params: dict[str, str], *, sign_url: str | None = None, signature: str | None = None,
             signed: bool = True):
        headers = {}
        if signed:
            url = sign_url or PUBLIC + path
            headers["X-Twilio-Signature"] = signature or RequestValidator(self.token).compute_signature(url, params)
        return self.client.post(path, data=params, headers=headers)


@pytest.fixture
def twilio(client):
    return Twilio(client)


class SendGrid:
    def __init__(self, client: TestClient, private):
        self.client, self.private = client, private

    def post(self, events, *, raw: bytes | None = None, signed: bool = True, timestamp: datetime = RECEIVED,
             signer=None):
        body = raw if raw is not None else json.dumps(events).encode()
        headers = {"Content-Type": "application/json"}
        if signed:
            stamp = str(int(timestamp.timestamp()))
            key = signer or self.private
            signature = key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
            headers["X-Twilio-Email-Event-Webhook-Signature"] = base64.b64encode(signature).decode()
            headers["X-Twilio-Email-Event-Webhook-Timestamp"] = stamp
        return self.client.post("/webhooks/sendgrid/events", content=body, headers=headers)


@pytest.fixture
def sendgrid(client, sendgrid_key):
    return SendGrid(client, sendgrid_key[0])


def sent_action(container, case, channel: Channel, provider_id: str, *, step: str = "relance") -> int:
    """An action of the outbox already handed to the provider."""
    [action_id] = plan(container, case, channel, step=step)
    with container.uow() as uow:
        uow.session.execute(update(Action).where(Action.id == action_id).values(
            status=ActionStatus.SENT, provider_id=provider_id, attempts=1, sending_at=NOW, sent_at=NOW,
            updated_at=NOW))
        uow.commit()
    return action_id


def snapshot(container) -> dict[str, list[tuple]]:
    """Every row of the tables a callback may change, to show that a refused one changed nothing."""
    tables = {t.name: t for t in Base.metadata.sorted_tables}
    with container.engine.connect() as conn:
        return {name: [tuple(r) for r in conn.execute(select(tables[name]).order_by(*tables[name].primary_key))]
                for name in WATCHED}
