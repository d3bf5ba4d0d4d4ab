"""A channel that "sends" by writing files: the demo's outbox and the test fake of every adapter.

    outbox/<channel>/<YYYY-MM-DD>/<action_id>.txt    SMS (a few header lines, a blank line, the text)
    outbox/<channel>/<YYYY-MM-DD>/<action_id>.eml    email (MIME, text and HTML alternatives)
    outbox/<channel>/<YYYY-MM-DD>/<action_id>.json   call tasks and letters

The file is the provider's record, so the sandbox behaves like a provider with an idempotency key:
a file is published with a hard link from a temporary file, which is atomic and never replaces an
existing file; sending an action id again, on any day, writes nothing and answers the same
provider id ("sandbox-<action_id>"). `reconcile` answers from the files, and it can be sure:
no file means never accepted.

Looking for an earlier file costs no search per message: a batch asks once. Today's folder is
asked by exact path (one stat per action; the hard link still refuses a racing twin), and each
earlier day's folder is listed once and its listing kept while the folder does not change (its
mtime; a listing taken while the folder was still being written is not kept).

Faults for tests: `fail_permanent` (action ids or recipients), `fail_retryable` (the first N send
attempts fail), `fail_ambiguous` (action ids whose file is written but whose answer is "lost").
"""

from __future__ import annotations

import binascii
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import date
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
# A day folder's listing is kept only when the folder was last changed longer ago than this: file
# system timestamps are coarse, so a file added in the same tick would not change the mtime.
_SETTLED_SECONDS = 2.0
_WORD_BYTES = 42  # UTF-8 bytes per encoded word: 56 base64 characters, 68 with =?utf-8?b?...?=


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
        self._listings: dict[str, tuple[int, frozenset[str]]] = {}  # day folder -> (mtime_ns, names)
        self.attempts: list[int] = []  # action ids, one per send attempt, for tests

    # -- the interface -----------------------------------------------------------------------

    def send_batch(self, messages: Sequence[OutgoingMessage]) -> list[SendOutcome]:
        for message in messages:
            if message.channel is not self.channel:
                raise ValueError(f"action {message.action_id}: {message.channel} message on {self.channel}")
        day = self._today().isoformat()  # once per batch: every file of a batch goes to one day
        written = self._written((m.action_id for m in messages), day)
        return send_concurrently(messages, lambda m: self._send_one(m, day, written.get(m.action_id)),
                                 max_concurrency=self.max_concurrency)

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
        return self._written([action_id], self._today().isoformat()).get(action_id)

    def files(self) -> list[Path]:
        return sorted(self.root.glob(f"*/*.{self.extension}")) if self.root.is_dir() else []

    def _written(self, action_ids: Iterable[int], today: str) -> dict[int, Path]:
        """The files already written for these actions, whatever their day: today's folder asked
        by exact path, earlier days by their listing (see the module docstring)."""
        names = {f"{action_id}.{self.extension}": action_id for action_id in action_ids}
        try:
            days = sorted((e.name, e.path) for e in os.scandir(self.root) if e.is_dir())
        except FileNotFoundError:
            return {}
        found: dict[int, Path] = {}
        for day, folder in days:
            if day == today:
                hits = [name for name in names if os.path.lexists(os.path.join(folder, name))]
            else:
                listing = self._listing(folder)
                hits = [name for name in names if name in listing]
            for name in hits:
                found.setdefault(names[name], Path(folder, name))
        return found

    def _listing(self, folder: str) -> frozenset[str]:
        try:
            mtime = os.stat(folder).st_mtime_ns
            kept = self._listings.get(folder)
            if kept is not None and kept[0] == mtime:
                return kept[1]
            names = frozenset(os.listdir(folder))
        except FileNotFoundError:  # the day's folder was removed meanwhile: nothing of it remains
            return frozenset()
        if time.time_ns() - mtime > _SETTLED_SECONDS * 1e9:
            with self._lock:
                self._listings[folder] = (mtime, names)
        return names

    def _send_one(self, message: OutgoingMessage, day: str, existing: Path | None) -> SendOutcome:
        with self._lock:
            self.attempts.append(message.action_id)
        if existing is not None:
            return Sent(message.action_id, provider_id_for(message.action_id), self._segments_in(existing))
        fault = self._injected_fault(message)
        if fault is not None:
            return Failed(message.action_id, fault)
        segments = self._segments(message)
        self._publish(message, self._content(message, segments), day)
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

    def _publish(self, message: OutgoingMessage, content: bytes, day: str) -> None:
        folder = self.root / day
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
        # One line, by the C encoder (an indented dump runs the pure-Python one: 0.3 ms a letter).
        return json.dumps(record, ensure_ascii=False, default=str).encode("utf-8") + b"\n"

    def _eml(self, message: OutgoingMessage) -> bytes:
        """The MIME message, written directly: text/plain, or multipart/alternative with the HTML
        (`email.message.EmailMessage` under `email.policy.default` took about 1.6 ms a message).
        Bodies are UTF-8 in quoted-printable, non-ASCII headers RFC 2047 encoded words."""
        head = [
            f"Message-ID: <{provider_id_for(message.action_id)}@sandbox.relance.invalid>",
            "From: sandbox@relance.invalid",
            _header("To", message.to),
            _header("Subject", message.subject or ""),
            f"X-Relance-Action-Id: {message.action_id}",
            _header("X-Relance-Idempotency-Key", message.idempotency_key),
        ]
        if message.categories:
            head.append(_header("X-Relance-Categories", ", ".join(message.categories)))
        head.append("MIME-Version: 1.0")
        text = _text_part("plain", message.body_text)
        if not message.body_html:
            return ("\n".join(head) + "\n" + text).encode("ascii")
        # "=_" never occurs in quoted-printable text, so the boundary cannot appear in a part.
        boundary = f"=_relance_{message.action_id}_alternative"
        html = _text_part("html", message.body_html)
        return ("\n".join(head) + f'\nContent-Type: multipart/alternative; boundary="{boundary}"\n\n'
                f"--{boundary}\n{text}\n--{boundary}\n{html}\n--{boundary}--\n").encode("ascii")

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


def _header(name: str, value: str) -> str:
    """`Name: value`; non-ASCII text as RFC 2047 base64 encoded words, one per folded line
    (`email.header.Header` took 1.4 ms for a French subject)."""
    value = " ".join(value.splitlines())  # a line break in a value would start a header of its own
    if value.isascii():
        return f"{name}: {value}"
    words, chunk, size = [], [], 0
    for char in value:
        width = len(char.encode("utf-8"))
        if size + width > _WORD_BYTES:
            words.append("".join(chunk))
            chunk, size = [], 0
        chunk.append(char)
        size += width
    words.append("".join(chunk))
    encoded = (f"=?utf-8?b?{binascii.b2a_base64(w.encode('utf-8'), newline=False).decode('ascii')}?=" for w in words)
    return f"{name}: " + "\n ".join(encoded)


def _text_part(subtype: str, body: str) -> str:
    """Content headers, blank line and the UTF-8 body in quoted-printable, ending in a newline."""
    if not body.endswith("\n"):
        body += "\n"
    encoded = binascii.b2a_qp(body.encode("utf-8"), istext=True).decode("ascii")
    return (f'Content-Type: text/{subtype}; charset="utf-8"\n'
            f"Content-Transfer-Encoding: quoted-printable\n\n{encoded}")
