"""Local stand-ins for the providers' HTTP APIs, for adapter tests with the real SDKs.

A `ProviderStub` is a threading HTTP server on 127.0.0.1 (a free port) that records every request
and answers it from, in order: the scripted replies queued for its route (`script()`), else the
route's own handler. A scripted `Reply` can answer an error, wait past the client's timeout
(`delay`), or close the connection without answering (`drop`); with `accept=True` the route's
handler runs first (the provider takes the message) and the fault hits the answer only.

`TwilioStub` keeps the messages it creates and serves the Messages list endpoint, so a
reconciliation can find them; `SendGridStub` answers 202 with an X-Message-Id.
"""

from __future__ import annotations

import json
import re
import secrets
import socket
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import format_datetime
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["CapturedRequest", "ProviderStub", "Reply", "SendGridStub", "TwilioStub", "unused_port"]


@dataclass(frozen=True)
class CapturedRequest:
    method: str
    path: str
    query: str  # raw query string
    headers: dict[str, str]
    body: bytes
    base_url: str  # http://127.0.0.1:<port>

    @property
    def url(self) -> str:
        return f"{self.base_url}{self.path}" + (f"?{self.query}" if self.query else "")

    @property
    def query_params(self) -> dict[str, list[str]]:
        return parse_qs(self.query, keep_blank_values=True)

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode("utf-8"), keep_blank_values=True)

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    json: Any = None
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering
    drop: bool = False  # close the connection without any answer
    accept: bool = False  # scripted only: let the route's handler take the request first

    def payload(self) -> bytes:
        return json.dumps(self.json).encode() if self.json is not None else self.body


Handler = Callable[[CapturedRequest], Reply]


class _Server(ThreadingHTTPServer):
    # The default listen backlog (5) resets connections when a dozen client threads open new
    # ones at once, as SendGrid's client does for every request.
    request_queue_size = 128


class ProviderStub:
    def __init__(self) -> None:
        self.requests: list[CapturedRequest] = []
        self.answers: list[tuple[CapturedRequest, Reply]] = []  # what was answered (drops excluded)
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._scripts: dict[tuple[str, str], deque[Reply]] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._in_flight = 0
        self.max_in_flight = 0  # most requests handled at the same time
        stub = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body leave in two writes: with Nagle on, the body waits for the client's
            # delayed ACK (about 40 ms) on every kept-alive request.
            disable_nagle_algorithm = True

            def _handle(self) -> None:
                stub._serve(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, format, *args):  # noqa: A002 - keep test output clean
                pass

        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> ProviderStub:
        self._thread.start()
        return self

    def close(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> ProviderStub:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # -- configuration -----------------------------------------------------------------------

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        self._routes.append((method.upper(), re.compile(pattern + r"\Z"), handler))

    def script(self, method: str, pattern: str, *replies: Reply) -> None:
        """Queue replies for the next requests on a route; the route's handler serves the rest."""
        with self._lock:
            self._scripts.setdefault((method.upper(), pattern), deque()).extend(replies)

    def requests_to(self, method: str, pattern: str) -> list[CapturedRequest]:
        regex = re.compile(pattern + r"\Z")
        return [r for r in self.requests if r.method == method.upper() and regex.match(r.path)]

    # -- serving -----------------------------------------------------------------------------

    def _serve(self, http: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(http.path)
        length = int(http.headers.get("Content-Length") or 0)
        body = http.rfile.read(length) if length else b""
        captured = CapturedRequest(
            http.command, parts.path, parts.query, dict(http.headers.items()), body, self.url
        )
        with self._lock:
            self.requests.append(captured)
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            reply = self._reply_for(captured)
            if reply.delay:
                self._stopping.wait(reply.delay)
        finally:
            with self._lock:
                self._in_flight -= 1
        if reply.drop:
            http.close_connection = True
            try:
                http.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        payload = reply.payload()
        with self._lock:
            self.answers.append((captured, reply))
        try:
            http.send_response(reply.status)
            headers = {"Content-Type": "application/json"} if reply.json is not None else {}
            headers.update(reply.headers)
            for name, value in headers.items():
                http.send_header(name, value)
            http.send_header("Content-Length", str(len(payload)))
            http.end_headers()
            http.wfile.write(payload)
        except OSError:  # the client gave up (timeout) before we answered
            http.close_connection = True

    def _reply_for(self, captured: CapturedRequest) -> Reply:
        for method, regex, handler in self._routes:
            if method != captured.method or not regex.match(captured.path):
                continue
            with self._lock:
                queue = self._scripts.get((method, regex.pattern.removesuffix(r"\Z")))
                scripted = queue.popleft() if queue else None
            if scripted is None:
                return handler(captured)
            if scripted.accept:
                actual = handler(captured)
                actual.delay, actual.drop = scripted.delay, scripted.drop
                return actual
            return scripted
        return Reply(404, json={"message": "no such route in the stub", "status": 404})


def unused_port() -> int:
    """A port where nothing listens (connection refused), for connect-failure tests."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ------------------------------------------------------------------------------------------------
# Twilio
# ------------------------------------------------------------------------------------------------


def _rfc2822(moment: datetime) -> str:
    return format_datetime(moment.astimezone(timezone.utc)).replace("-0000", "+0000")


class TwilioStub(ProviderStub):
    MESSAGES = r"/2010-04-01/Accounts/(?P<account>AC[0-9a-fA-F]{32})/Messages\.json"
    CALLS = r"/2010-04-01/Accounts/(?P<account>AC[0-9a-fA-F]{32})/Calls\.json"

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[dict[str, Any]] = []  # created, oldest first
        self.calls: list[dict[str, Any]] = []
        self.refusals: dict[str, Reply] = {}  # To -> the answer every send to it gets
        self.route("POST", self.MESSAGES, self._create)
        self.route("GET", self.MESSAGES, self._list)
        self.route("POST", self.CALLS, self._create_call)

    def _create_call(self, request: CapturedRequest) -> Reply:
        account = re.match(self.CALLS, request.path).group("account")
        form = {key: values[-1] for key, values in request.form().items()}
        if not form.get("To") or not form.get("From"):
            return self.error(400, 21201, "No 'To' or 'From' number is specified")
        if form["To"] in self.refusals:
            return self.refusals[form["To"]]
        now = _rfc2822(datetime.now(timezone.utc))
        sid = "CA" + secrets.token_hex(16)
        call = {
            "account_sid": account, "api_version": "2010-04-01", "sid": sid, "status": "queued",
            "to": form["To"], "from": form["From"], "direction": "outbound-api",
            "date_created": now, "date_updated": now, "start_time": None, "end_time": None,
            "duration": None, "price": None, "price_unit": "USD", "answered_by": None,
            "uri": f"/2010-04-01/Accounts/{account}/Calls/{sid}.json",
        }
        with self._lock:
            self.calls.append(call)
        return Reply(201, json=call)

    @staticmethod
    def error(status: int, code: int, message: str = "error") -> Reply:
        return Reply(
            status,
            json={
                "code": code,
                "message": message,
                "more_info": f"https://www.twilio.com/docs/errors/{code}",
                "status": status,
            },
        )

    def add_message(self, account: str, form: dict[str, str], *, created: datetime | None = None) -> dict:
        """Store a message as Twilio would (also used to seed older messages)."""
        now = created or datetime.now(timezone.utc)
        sid = "SM" + secrets.token_hex(16)
        body = form.get("Body", "")
        single, multi = (160, 153) if body.isascii() else (70, 67)
        segments = 1 if len(body) <= single else -(-len(body) // multi)
        service = form.get("MessagingServiceSid")
        uri = f"/2010-04-01/Accounts/{account}/Messages/{sid}.json"
        message = {
            "account_sid": account,
            "api_version": "2010-04-01",
            "body": body,
            "date_created": _rfc2822(now),
            "date_sent": None,
            "date_updated": _rfc2822(now),
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": form.get("From"),
            "messaging_service_sid": service,
            "num_media": "0",
            "num_segments": str(segments),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "accepted" if service else "queued",
            "subresource_uris": {
                "media": uri.replace(".json", "/Media.json"),
                "feedback": uri.replace(".json", "/Feedback.json"),
            },
            "to": form.get("To"),
            "uri": uri,
        }
        with self._lock:
            self.messages.append(message)
        return message

    def _create(self, request: CapturedRequest) -> Reply:
        account = re.match(self.MESSAGES, request.path).group("account")
        form = {key: values[-1] for key, values in request.form().items()}
        if not form.get("To"):
            return self.error(400, 21604, "A 'To' phone number is required.")
        if form["To"] in self.refusals:
            return self.refusals[form["To"]]
        return Reply(201, json=self.add_message(account, form))

    def _list(self, request: CapturedRequest) -> Reply:
        params = {key: values[-1] for key, values in request.query_params.items()}
        page_size = int(params.get("PageSize", 50))
        with self._lock:
            found = [m for m in reversed(self.messages) if m["to"] == params.get("To", m["to"])]
        uri = request.path + (f"?{request.query}" if request.query else "")
        return Reply(
            200,
            json={
                "end": max(0, min(len(found), page_size) - 1),
                "first_page_uri": uri,
                "messages": found[:page_size],
                "next_page_uri": None,
                "page": 0,
                "page_size": page_size,
                "previous_page_uri": None,
                "start": 0,
                "uri": uri,
            },
        )


# ------------------------------------------------------------------------------------------------
# SendGrid
# ------------------------------------------------------------------------------------------------


class SendGridStub(ProviderStub):
    MAIL_SEND = r"/v3/mail/send"

    def __init__(self) -> None:
        super().__init__()
        self.accepted: list[tuple[str, dict]] = []  # (X-Message-Id, request body)
        self.refusals: dict[str, Reply] = {}  # recipient address -> the answer it gets
        self.route("POST", self.MAIL_SEND, self._send)

    @staticmethod
    def error(status: int, message: str = "error", field: str | None = None, headers=None) -> Reply:
        return Reply(
            status,
            json={"errors": [{"message": message, "field": field, "help": None}]},
            headers=dict(headers or {}),
        )

    @classmethod
    def rate_limited(cls, reset_epoch: int) -> Reply:
        return cls.error(
            429,
            "too many requests",
            headers={"X-RateLimit-Limit": "600", "X-RateLimit-Remaining": "0",
                     "X-RateLimit-Reset": str(reset_epoch)},
        )

    def _send(self, request: CapturedRequest) -> Reply:
        body = request.json()
        for personalization in body.get("personalizations", []):
            for recipient in personalization.get("to", []):
                if recipient.get("email") in self.refusals:
                    return self.refusals[recipient["email"]]
        message_id = secrets.token_urlsafe(16)[:22]
        with self._lock:
            self.accepted.append((message_id, body))
        return Reply(202, headers={"X-Message-Id": message_id})
