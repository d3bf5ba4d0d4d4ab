"""Letters printed in house: "sending" a letter adds it to the open print batch.

    LetterChannel(spool_dir, *, renderer=None, today=date.today)
        .send_batch(messages) -> list[SendOutcome]   render + spool each letter; provider_id = letter ref
        .reconcile(message) -> SendOutcome | None    answered from the spool, always sure
        .close_batch(*, batch_id=None, duplex=False) -> BatchFiles | None
                                                     the print room's PDF + CSV manifest

What the dispatcher hands over, in `OutgoingMessage.metadata`:

    {"template": "letter/premiere_relance", "context": {...}}        rendered here (LetterRenderer)
    {"template": "letter/...", "pdf_path": "...", "letter_reference": "...", "dossier_id": ...,
     "address_lines": [...]}                                          already rendered elsewhere

The context is the letter render context (see templates/letter/base.html); if it went through JSON,
amounts must be strings ("1234.56"), never floats, and dates ISO strings: the filters take both.

Spool layout (one folder per installation):

    <spool>/pending/<action_id>.pdf  + <action_id>.json     letters sent since the last batch
    <spool>/batches/<batch_id>/letters/<action_id>.pdf|json  letters of a closed batch
    <spool>/batches/<batch_id>/<batch_id>.pdf + .csv         what the print room prints

Never twice, never lost: a letter is "sent" once its PDF and then its JSON record are on disk
(the JSON is published with a hard link, which never replaces: a second send of the same action
finds it and answers the same letter reference). `close_batch` first moves the pending letters
into the batch folder (one atomic rename each), then writes the batch PDF, then the manifest;
a batch folder without its manifest is an interrupted close and is completed by the next call.
"""

from __future__ import annotations

import io
import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from pypdf import PdfReader

from channels.base import Failed, OutgoingMessage, SendOutcome, Sent, send_concurrently
from channels.errors import ChannelError, FailureCode, PermanentChannelError, RetryableChannelError
from channels.letters_pdf import BatchFiles, LetterBatch, LetterRenderer
from channels.files import write_atomically
from channels.letters_pdf import postcode_city, template_name
from models.enums import Channel

__all__ = ["LetterChannel", "LetterPdfSource", "letter_job", "require_letters"]

log = logging.getLogger(__name__)


def letter_job(message: OutgoingMessage) -> dict[str, Any]:
    """The letter's identity from a message: template, reference, dossier, address lines."""
    meta = message.metadata
    if "template" not in meta:
        raise PermanentChannelError("letter message without a template", code=FailureCode.REJECTED)
    context = meta.get("context")
    if context is None and "pdf_path" not in meta:
        raise PermanentChannelError("letter message without context or pdf_path", code=FailureCode.REJECTED)
    if context is not None:
        reference = context["letter"]["reference"]
        dossier_id = context["dossier"]["id"]
        lines = list(context["recipient"]["address_lines"])
    else:
        reference = meta["letter_reference"]
        dossier_id = meta["dossier_id"]
        lines = list(meta.get("address_lines") or message.to.splitlines())
    return {
        "action_id": message.action_id,
        "idempotency_key": message.idempotency_key,
        "template": template_name(meta["template"]),
        "letter_reference": str(reference),
        "dossier_id": str(dossier_id),
        "address_lines": lines,
    }


def require_letters(messages: Sequence[OutgoingMessage]) -> None:
    """A letter channel handed another channel's message is a wiring bug: fail loudly."""
    for message in messages:
        if message.channel is not Channel.LETTER:
            raise ValueError(f"action {message.action_id}: {message.channel} message on letter")


class LetterPdfSource:
    """A message's letter as PDF bytes and page count, for every letter channel (print spool,
    postal API): rendered here from its context, or read from the PDF already rendered.

    One WeasyPrint setup (fonts, parsed CSS), built on first use and used by one thread at a
    time: rendering is CPU-bound, threads would only contend for the GIL."""

    def __init__(self, renderer: LetterRenderer | None = None) -> None:
        self._renderer = renderer
        self._lock = threading.Lock()

    @property
    def renderer(self) -> LetterRenderer:
        if self._renderer is None:
            self._renderer = LetterRenderer()
        return self._renderer

    def pdf(self, message: OutgoingMessage, job: dict[str, Any]) -> tuple[bytes, int]:
        meta = message.metadata
        try:
            if meta.get("context") is not None:
                with self._lock:
                    letter = self.renderer.render_letter(job["template"], meta["context"])
                return letter.pdf, letter.page_count
            pdf = Path(meta["pdf_path"]).read_bytes()
            return pdf, len(PdfReader(io.BytesIO(pdf)).pages)  # a broken file fails here
        except ChannelError:
            raise
        except Exception as exc:  # noqa: BLE001 - what breaks rendering breaks it every time
            log.warning("letter action %s cannot be rendered (%s)", message.action_id, type(exc).__name__)
            raise PermanentChannelError(
                f"letter cannot be rendered ({type(exc).__name__})", code=FailureCode.REJECTED
            ) from exc


class LetterChannel:
    channel = Channel.LETTER

    def __init__(
        self,
        spool_dir: str | os.PathLike[str],
        *,
        renderer: LetterRenderer | None = None,
        today: Callable[[], date] = date.today,
    ) -> None:
        self.root = Path(spool_dir)
        self.pending = self.root / "pending"
        self.batches = self.root / "batches"
        self.source = LetterPdfSource(renderer)
        self._today = today

    @property
    def renderer(self) -> LetterRenderer:
        return self.source.renderer

    # -- the interface -----------------------------------------------------------------------

    def send_batch(self, messages: Sequence[OutgoingMessage]) -> list[SendOutcome]:
        require_letters(messages)
        # Rendering is CPU-bound (the GIL would serialise threads): one renderer, one at a time.
        return send_concurrently(messages, self._send_one, max_concurrency=1)

    def reconcile(self, message: OutgoingMessage) -> SendOutcome | None:
        record = self._find_record(message.action_id)
        if record is None:
            return Failed(
                message.action_id,
                RetryableChannelError("not in the print spool", code=FailureCode.NOT_ACCEPTED),
            )
        return Sent(message.action_id, record["letter_reference"])

    # -- sending -----------------------------------------------------------------------------

    def _send_one(self, message: OutgoingMessage) -> SendOutcome:
        existing = self._find_record(message.action_id)
        if existing is not None:
            return Sent(message.action_id, existing["letter_reference"])
        try:
            job = letter_job(message)
        except (KeyError, TypeError) as exc:
            raise PermanentChannelError("malformed letter message", code=FailureCode.REJECTED) from exc
        pdf, page_count = self.source.pdf(message, job)
        try:
            self._publish(message.action_id, pdf, dict(job, page_count=page_count))
        except OSError as exc:
            log.error("letter action %s: spool write failed (%s)", message.action_id, type(exc).__name__)
            raise RetryableChannelError("print spool not writable", code=FailureCode.SERVER_ERROR) from exc
        log.info("letter action %s spooled", message.action_id)
        return Sent(message.action_id, job["letter_reference"])

    def _publish(self, action_id: int, pdf: bytes, record: dict[str, Any]) -> None:
        self.pending.mkdir(parents=True, exist_ok=True)
        write_atomically(self.pending / f"{action_id}.pdf", pdf)
        final = self.pending / f"{action_id}.json"
        fd, tmp = tempfile.mkstemp(dir=self.pending, prefix=f".{action_id}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(record, handle, ensure_ascii=False)
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(tmp, final)  # the commit point: atomic, and never replaces a twin's record
            except FileExistsError:
                pass
        finally:
            os.unlink(tmp)

    def _find_record(self, action_id: int) -> dict[str, Any] | None:
        candidates = [self.pending / f"{action_id}.json"]
        if self.batches.is_dir():
            candidates += self.batches.glob(f"*/letters/{action_id}.json")
        for path in candidates:
            try:
                return json.loads(path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                continue
        return None

    # -- the print batch ---------------------------------------------------------------------

    def pending_count(self) -> int:
        return len(list(self.pending.glob("*.json"))) if self.pending.is_dir() else 0

    def close_batch(self, *, batch_id: str | None = None, duplex: bool = False) -> BatchFiles | None:
        """Move every pending letter into a new batch and write its PDF and manifest.

        Completes an interrupted close first. Letters are ordered by postcode, then letter
        reference (a presorted mailing). Returns None when there was nothing to print."""
        for folder in sorted(self.batches.glob("*")) if self.batches.is_dir() else []:
            if folder.is_dir() and not (folder / f"{folder.name}.csv").exists():
                log.warning("letter batch %s was interrupted: completing it", folder.name)
                self._write_batch(folder, duplex)
        records = sorted(self.pending.glob("*.json")) if self.pending.is_dir() else []
        if not records:
            return None
        folder = self._new_batch_folder(batch_id)
        letters = folder / "letters"
        letters.mkdir(parents=True)
        for record in records:
            action = record.stem
            os.rename(self.pending / f"{action}.pdf", letters / f"{action}.pdf")
            os.rename(record, letters / record.name)
        return self._write_batch(folder, duplex)

    def _new_batch_folder(self, batch_id: str | None) -> Path:
        stem = batch_id or f"letters-{self._today().isoformat()}"
        candidate, n = stem, 1
        while (self.batches / candidate).exists():
            n += 1
            candidate = f"{stem}-{n}"
        return self.batches / candidate

    def _write_batch(self, folder: Path, duplex: bool) -> BatchFiles:
        records = [
            json.loads(path.read_text(encoding="utf-8")) for path in (folder / "letters").glob("*.json")
        ]
        records.sort(key=lambda r: (postcode_city(r["address_lines"])[0], r["letter_reference"]))
        batch = LetterBatch(folder, folder.name, duplex=duplex)
        for record in records:
            batch.add(
                (folder / "letters" / f"{record['action_id']}.pdf").read_bytes(),
                action_id=str(record["action_id"]),
                letter_reference=record["letter_reference"],
                dossier_id=record["dossier_id"],
                template=record["template"],
                address_lines=record["address_lines"],
            )
        files = batch.write()
        log.info("letter batch %s closed: %s letters, %s pages", folder.name, files.letters, files.pages)
        return files

