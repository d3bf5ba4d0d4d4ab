"""A channel that "sends" by writing files: the demo's outbox and the test fake of every adapter.

    outbox/<channel>/<YYYY-MM-DD>/<action_id>.txt    SMS (a few header lines, a blank line, the text)
    outbox/<channel>/<YYYY-MM-DD>/<action_id>.eml    email (MIME, text and HTML alternatives)
    outbox/<channel>/<YYYY-MM-DD>/<action_id>.json   call tasks and letters

The file is the provider's record, so the sandbox behaves like a provider with an idempotency key:
a file is published with a hard link from a temporary file, which is atomic and never replaces an
existing file; sending an action id again, on any day, writes nothing and answers the same
provider id ("sandbox-<action_id>"). `reconcile` answers from the files, and it can be sure:
no file means never accepted.

Faults for tests: `fail_permanent` (action ids or recipients), `fail_retryable` (the first N send
attempts fail), `fail_ambiguous` (action ids whose file is written but whose answer is "lost").
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Collection, Sequence
from datetime import date
from email.message import EmailMessage
from email.policy import default as email_policy
from pathlib import Path

from channels.base import Failed, OutgoingMessage, SendOutcome, Sent, send_concurrently
from channels.errors import AmbiguousSendError, FailureCode, PermanentChannelError
from channels.errors import RetryableChannelError
from channels.sms_encoding import measure
from models.enums import Channel

__all__ = ["SandboxChannel"]

log = logging.getLogger(__name__)

EXTENSIONS = {Channel.SMS: "txt", Channel.EMAIL: "eml", Channel.CALL: "json", Channel.LETTER: "json"}
_CONTACT_INVALID = {FailureCode.INVALID_NUMBER, FailureCode.NOT_MOBILE, FailureCode.INVALID_EMAIL,
                    FailureCode.BOUNCED}


def provider_id_for(action_id: int) -> str:
    return f"sandbox-{action_id}"


class SandboxChannel:
    def __init__(
        self,
        channel: Channel | str,
        outbox_dir: str | os.PathLike[str],
        *,
        fail_permanent: Collection[int | str] = (),
        permanent_code: str = FailureCode.INVALID_NUMBER,
        fail_retryable: int = 0,
        fail_ambiguous: Collection[int] = (),
        today: Callable[[], date] = date.today,
        max_concurrency: int = 1,
    ) -> None:
        self.channel = Channel(channel)
        self.root = Path(outbox_dir) / self.channel.value
        self.extension = EXTENSIONS[self.channel]
        self.fail_permanent = frozenset(fail_permanent)
        self.permanent_code = permanent_code
        self.fail_ambiguous = frozenset(fail_ambiguous)
        self._retryable_left = fail_retryable
        self._today = today
        self.max_concurrency = max_concurrency
        self._lock = threading.Lock()
        self.attempts: list[int] = []  # action ids, one per send attempt, for tests

    # -- the interface -----------------------------------------------------------------------

    def send_batch(self, messages: Sequence[OutgoingMessage]) -> list[SendOutcome]:
        for message in messages:
            if message.channel is not self.channel:
                raise ValueError(f"action {message.action_id}: {message.channel} message on {self.channel}")
        return send_concurrently(messages, self._send_one, max_concurrency=self.max_concurrency)

    def reconcile(self, message: OutgoingMessage) -> SendOutcome | None:
        path = self.find(message.action_id)
        if path is None:
            return Failed(
                message.action_id,
                RetryableChannelError("not in the sandbox outbox", code=FailureCode.NOT_ACCEPTED),
            )
        return Sent(message.action_id, provider_id_for(message.action_id), self._segments_in(path))

    # -- files -------------------------------------------------------------------------------

    def find(self, action_id: int) -> Path | None:
        """The file of an action, whatever day it was written."""
        if not self.root.is_dir():
            return None
        for path in self.root.glob(f"*/{action_id}.{self.extension}"):
            return path
        return None

    def files(self) -> list[Path]:
        return sorted(self.root.glob(f"*/*.{self.extension}")) if self.root.is_dir() else []

    def _send_one(self, message: OutgoingMessage) -> SendOutcome:
        with self._lock:
            self.attempts.append(message.action_id)
        existing = self.find(message.action_id)
        if existing is not None:
            return Sent(message.action_id, provider_id_for(message.action_id), self._segments_in(existing))
        fault = self._injected_fault(message)
        if fault is not None:
            return Failed(message.action_id, fault)
        segments = self._segments(message)
        self._publish(message, self._content(message, segments))
        log.info("sandbox %s: action %s written", self.channel.value, message.action_id)
        if message.action_id in self.fail_ambiguous:
            return Failed(message.action_id, AmbiguousSendError("injected: answer lost after acceptance"))
        return Sent(message.action_id, provider_id_for(message.action_id), segments)

    def _injected_fault(self, message: OutgoingMessage):
        if message.action_id in self.fail_permanent or message.to in self.fail_permanent:
            return PermanentChannelError(
                f"injected permanent failure ({self.permanent_code})",
                code=self.permanent_code,
                contact_invalid=self.permanent_code in _CONTACT_INVALID,
            )
        with self._lock:
            if self._retryable_left > 0:
                self._retryable_left -= 1
                return RetryableChannelError("injected retryable failure", code=FailureCode.SERVER_ERROR)
        return None

    def _segments(self, message: OutgoingMessage) -> int | None:
        if self.channel is not Channel.SMS:
            return None
        return message.segments or measure(message.body_text).segments

    def _publish(self, message: OutgoingMessage, content: bytes) -> None:
        folder = self.root / self._today().isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        final = folder / f"{message.action_id}.{self.extension}"
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{message.action_id}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
            try:
                os.link(tmp, final)  # atomic, and refuses to replace: a racing twin loses quietly
            except FileExistsError:
                pass
        finally:
            os.unlink(tmp)

    # -- formats -----------------------------------------------------------------------------

    def _content(self, message: OutgoingMessage, segments: int | None) -> bytes:
        if self.channel is Channel.SMS:
            head = [
                f"To: {message.to}",
                f"Action-Id: {message.action_id}",
                f"Idempotency-Key: {message.idempotency_key}",
                f"Segments: {segments}",
            ]
            if message.reference:
                head.append(f"Reference: {message.reference}")
            return ("\n".join(head) + "\n\n" + message.body_text + "\n").encode("utf-8")
        if self.channel is Channel.EMAIL:
            return self._eml(message)
        record = {
            "action_id": message.action_id,
            "idempotency_key": message.idempotency_key,
            "channel": message.channel.value,
            "to": message.to,
            "subject": message.subject,
            "body_text": message.body_text,
            "body_html": message.body_html,
            "reference": message.reference,
            "categories": list(message.categories),
            "metadata": message.metadata,
        }
        return json.dumps(record, ensure_ascii=False, indent=2, default=str).encode("utf-8")

    def _eml(self, message: OutgoingMessage) -> bytes:
        mail = EmailMessage(policy=email_policy)
        mail["Message-ID"] = f"<{provider_id_for(message.action_id)}@sandbox.relance.invalid>"
        mail["From"] = "sandbox@relance.invalid"
        mail["To"] = message.to
        mail["Subject"] = message.subject or ""
        mail["X-Relance-Action-Id"] = str(message.action_id)
        mail["X-Relance-Idempotency-Key"] = message.idempotency_key
        if message.categories:
            mail["X-Relance-Categories"] = ", ".join(message.categories)
        mail.set_content(message.body_text)
        if message.body_html:
            mail.add_alternative(message.body_html, subtype="html")
        return mail.as_bytes()

    def _segments_in(self, path: Path) -> int | None:
        if self.channel is not Channel.SMS:
            return None
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                if not line.strip():
                    break
                if line.startswith("Segments: "):
                    value = line.split(":", 1)[1].strip()
                    return int(value) if value.isdigit() else None
        return None
