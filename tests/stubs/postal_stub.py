"""A local stand-in for a Maileva-style postal sending API, for channels/postal_api.py tests.

`PostalStub()` starts a threading HTTP server on 127.0.0.1 (a free port) and keeps, in memory,
the tokens it issued and the sendings created through it:

    POST /oauth/token                  Basic client_id:client_secret -> {access_token, expires_in}
    GET  /sendings?name=...            {"sendings": [...]}, exact name match
    POST /sendings                     201 {"id", "name", "status": "DRAFT", ...}
    POST /sendings/{id}/documents      multipart, part `document` must be a PDF -> 201
    POST /sendings/{id}/recipients     JSON with address_line_6 -> 201
    POST /sendings/{id}/submit         DRAFT with a document and a recipient -> PENDING

Every other route needs a live Bearer token, else 401. Faults are scripted per route key
(`"POST /sendings/{id}/submit"`, with `{id}` literally): `stub.script(key, Reply(...))` answers the
next call with an error status, or drops the connection (`drop=True`); with `accept=True` the
route runs first (the provider takes the call) and only the answer is lost or replaced.
"""

from __future__ import annotations

import base64
import json
import re
import socket
import threading
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["PostalStub", "Reply", "Seen"]


@dataclass(frozen=True)
class Reply:
    status: int = 500
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering
    accept: bool = False  # run the route first: the provider took the call


@dataclass(frozen=True)
class Seen:
    key: str  # route key, e.g. "POST /sendings/{id}/submit"
    path: str
    status: int | None  # None when the connection was dropped
    headers: dict[str, str]
    body: bytes


_ROUTES = [
    ("POST", re.compile(r"^/oauth/token$"), "POST /oauth/token"),
    ("GET", re.compile(r"^/sendings$"), "GET /sendings"),
    ("POST", re.compile(r"^/sendings$"), "POST /sendings"),
    ("POST", re.compile(r"^/sendings/([^/]+)/documents$"), "POST /sendings/{id}/documents"),
    ("POST", re.compile(r"^/sendings/([^/]+)/recipients$"), "POST /sendings/{id}/recipients"),
    ("POST", re.compile(r"^/sendings/([^/]+)/submit$"), "POST /sendings/{id}/submit"),
]


class PostalStub:
    def __init__(self, *, client_id: str = "relance", client_secret: str = "s3cret", token_ttl: int = 3600):
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_ttl = token_ttl
        self.tokens: set[str] = set()
        self.tokens_issued = 0
        self.sendings: dict[str, dict[str, Any]] = {}
        self.seen: list[Seen] = []
        self._scripts: dict[str, deque[Reply]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="postal-stub", daemon=True
        )

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> PostalStub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> PostalStub:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # -- test controls -----------------------------------------------------------------------

    def script(self, key: str, *replies: Reply) -> None:
        with self._lock:
            self._scripts[key].extend(replies)

    def revoke_tokens(self) -> None:
        """Every issued token stops working (as when the provider rotates its keys)."""
        with self._lock:
            self.tokens.clear()

    def calls(self, key: str) -> list[Seen]:
        return [seen for seen in self.seen if seen.key == key]

    def submitted(self) -> list[dict[str, Any]]:
        return [s for s in self.sendings.values() if s["status"] != "DRAFT"]

    # -- routes ------------------------------------------------------------------------------

    def _token(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        form = parse_qs(body.decode())
        if headers.get("authorization") != f"Basic {expected}" or form.get("grant_type") != ["client_credentials"]:
            return 401, {"error": "invalid_client"}
        token = f"tok-{uuid.uuid4().hex[:12]}"
        with self._lock:
            self.tokens.add(token)
            self.tokens_issued += 1
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": self.token_ttl}

    def _route(self, key: str, match: re.Match, query: dict[str, list[str]], headers: dict[str, str],
               body: bytes) -> tuple[int, dict[str, Any]]:
        if key == "POST /oauth/token":
            return self._token(headers, body)
        bearer = headers.get("authorization", "")
        if not bearer.startswith("Bearer ") or bearer[7:] not in self.tokens:
            return 401, {"code": "invalid_token"}
        if key == "GET /sendings":
            names = query.get("name", [])
            return 200, {"sendings": [self._public(s) for s in self.sendings.values() if s["name"] in names]}
        if key == "POST /sendings":
            data = json.loads(body)
            if not data.get("name"):
                return 400, {"code": "name_required"}
            sending = {
                "id": uuid.uuid4().hex, "name": data["name"], "custom_id": data.get("custom_id"),
                "status": "DRAFT", "options": {k: v for k, v in data.items() if k not in ("name", "custom_id")},
                "documents": [], "recipients": [],
            }
            with self._lock:
                self.sendings[sending["id"]] = sending
            return 201, self._public(sending)
        sending = self.sendings.get(match.group(1))
        if sending is None:
            return 404, {"code": "sending_not_found"}
        if sending["status"] != "DRAFT":
            return 409, {"code": "sending_already_submitted"}
        if key == "POST /sendings/{id}/documents":
            parts = _multipart(headers.get("content-type", ""), body)
            document = parts.get("document")
            if not document or not document.startswith(b"%PDF"):
                return 400, {"code": "document_not_pdf"}
            sending["documents"].append({"id": uuid.uuid4().hex, "pdf": document,
                                         "metadata": json.loads(parts.get("metadata", b"{}"))})
            return 201, {"id": sending["documents"][-1]["id"]}
        if key == "POST /sendings/{id}/recipients":
            data = json.loads(body)
            if not data.get("address_line_6") or any(
                len(data.get(f"address_line_{i}") or "") > 38 for i in range(1, 7)
            ):
                return 422, {"code": "invalid_address"}
            sending["recipients"].append(data)
            return 201, {"id": uuid.uuid4().hex}
        if key == "POST /sendings/{id}/submit":
            if not sending["documents"] or not sending["recipients"]:
                return 400, {"code": "sending_incomplete"}
            sending["status"] = "PENDING"
            return 200, self._public(sending)
        return 404, {"code": "no_route"}

    @staticmethod
    def _public(sending: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": sending["id"], "name": sending["name"], "custom_id": sending["custom_id"],
            "status": sending["status"], "documents_count": len(sending["documents"]),
            "recipients_count": len(sending["recipients"]),
        }

    def _handler_class(self):
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def setup(self) -> None:
                super().setup()
                # Headers and body leave in two writes: without this, Nagle + delayed ACK add 40 ms.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def _handle(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                for method, pattern, key in _ROUTES:
                    match = pattern.match(parts.path)
                    if method == self.command and match:
                        break
                else:
                    self._answer(404, {"code": "no_route"}, {})
                    return
                with stub._lock:
                    scripted = stub._scripts[key].popleft() if stub._scripts[key] else None
                status, payload, extra = None, {}, {}
                if scripted is None or scripted.accept:
                    status, payload = stub._route(key, match, parse_qs(parts.query), headers, body)
                if scripted is not None and not scripted.drop:
                    status, payload, extra = scripted.status, scripted.body, scripted.headers
                if scripted is not None and scripted.drop:
                    status = None
                stub.seen.append(Seen(key, parts.path, status, headers, body))
                if status is None:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)  # no answer at all: the client sees a dropped connection
                    return
                self._answer(status, payload, extra)

            def _answer(self, status: int, payload: dict[str, Any], extra: dict[str, str]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _handle

        return Handler


def _multipart(content_type: str, body: bytes) -> dict[str, bytes]:
    """The parts of a multipart/form-data body, by field name."""
    if not content_type.startswith("multipart/form-data"):
        return {}
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    parts = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            parts[name] = part.get_payload(decode=True)
    return parts
