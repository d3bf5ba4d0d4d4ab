"""Console sessions and CSRF tokens, signed with HMAC-SHA256 (standard library only).

The session cookie holds {"sid": random id, "uid": user id or absent, "exp": unix time},
base64url-encoded and signed; HttpOnly, SameSite=Lax, Secure unless the settings say the
console runs on plain local http. Every visitor gets a session (anonymous until login) so that
the login form too carries a CSRF token. The CSRF token is bound to the session id
(HMAC(secret, "csrf:" + sid)) and must come back in each form's `csrf` field: a form posted from
another site has neither the cookie's sid nor the token. A new sid is issued at login and at
logout (no session fixation).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
from dataclasses import dataclass

log = logging.getLogger(__name__)

COOKIE = "relance_session"


@dataclass(frozen=True)
class Session:
    sid: str
    uid: int | None
    exp: int


class SessionSigner:
    def __init__(self, secret: str | None, *, hours: int = 10, secure: bool = True):
        if not secret:
            log.warning("RELANCE_SESSION_SECRET is not set: sessions end when the server restarts")
            secret = secrets.token_urlsafe(32)
        self._key = hashlib.sha256(("relance-console:" + secret).encode()).digest()
        self.max_age = hours * 3600
        self.secure = secure

    def _mac(self, data: bytes) -> str:
        return base64.urlsafe_b64encode(hmac.new(self._key, data, hashlib.sha256).digest()).decode().rstrip("=")

    def new(self, uid: int | None = None) -> Session:
        return Session(secrets.token_urlsafe(18), uid, int(time.time()) + self.max_age)

    def dumps(self, session: Session) -> str:
        payload = json.dumps({"sid": session.sid, "uid": session.uid, "exp": session.exp},
                             separators=(",", ":")).encode()
        body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
        return f"{body}.{self._mac(body.encode())}"

    def loads(self, value: str | None) -> Session | None:
        if not value or "." not in value:
            return None
        body, mac = value.rsplit(".", 1)
        if not hmac.compare_digest(mac, self._mac(body.encode())):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            session = Session(str(data["sid"]), data.get("uid"), int(data["exp"]))
        except (ValueError, KeyError, TypeError):
            return None
        return session if session.exp > time.time() else None

    def csrf_token(self, session: Session) -> str:
        return self._mac(b"csrf:" + session.sid.encode())

    def csrf_ok(self, session: Session | None, token: str | None) -> bool:
        return session is not None and bool(token) and hmac.compare_digest(self.csrf_token(session), token)

    def set_cookie(self, response, session: Session) -> None:
        response.set_cookie(COOKIE, self.dumps(session), max_age=self.max_age, httponly=True, samesite="lax",
                            secure=self.secure, path="/")
