"""Portfolio import: a creditor's file becomes debtors, contact points, dossiers and claims.

Streams the file in chunks of rows; each chunk is one transaction, written set-based (one query
per table and chunk, not per row; COPY on PostgreSQL). A dossier is unique per creditor and
external reference, a claim per dossier and invoice reference, a contact point per debtor, kind
and value: importing the same file twice changes nothing, and a changed row updates what changed.

The pipeline: this process reads the file and digests each row; rows a previous import already
holds (same digest on the dossier's claims) are set aside unparsed; a parser process validates
the others and returns plain tuples; this process writes them. CPU per line measured at
100,000-300,000 dossiers on PostgreSQL: parsing 40-85 us, reading and writing 55-65 us here,
plus 50-60 us in the PostgreSQL backend (indexes and foreign-key checks).
"""

from __future__ import annotations

import csv
import hashlib
import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from itertools import islice
from pathlib import Path

from operator import attrgetter
from typing import NamedTuple

from sqlalchemy import Enum as SAEnum
from sqlalchemy import String, select, text, type_coerce, update

from models import Claim, ContactPoint, Creditor, Debtor, Dossier, DossierEvent, ImportRun
from models.enums import EventKind
from models.phones import PhoneNormaliser
from services.bulk import bulk_insert_rows, one_of
from services.portfolio_columns import load_mapping
from services.portfolio_file import ImportFileError, RawRow, open_portfolio, pick_values
from services.portfolio_rows import PortfolioRow, RowError, dossier_ref_of, parse_row
from services.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

DEBTOR_FIELDS = (
    "kind", "civility", "first_name", "last_name", "company_name", "siren", "siret",
    "birth_date", "deceased", "timezone", "holiday_region",
)
CLAIM_FIELDS = (
    "nature", "principal", "costs", "indemnity", "issued_on", "due_date", "interest_mode",
    "contractual_rate", "interest_from", "judgment_on", "judgment_enforceable_on",
    "prescription_start", "prescription_years", "last_interruption_on", "prescription_expires_on",
)


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0  # dossiers created
    updated: int = 0  # dossiers whose debtor, contacts or claims changed
    unchanged: int = 0
    rejected: int = 0
    warnings: int = 0
    claims_created: int = 0
    rejected_path: str | None = None
    import_id: int | None = None
    warning_samples: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "rows": self.rows, "created": self.created, "updated": self.updated,
            "unchanged": self.unchanged, "rejected": self.rejected, "warnings": self.warnings,
            "claims_created": self.claims_created, "rejected_path": self.rejected_path,
            "import_id": self.import_id,
        }


class RejectedRows:
    """The rejected-rows CSV: the original row, its line number and the reason. Written lazily
    so that a clean import leaves no empty file behind."""

    def __init__(self, path: Path, header: list[str]):
        self.path, self.header = path, header
        self._fh = None
        self._writer = None

    def add(self, line: int, reason: str, original: list) -> None:
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "w", encoding="utf-8-sig", newline="")
            self._writer = csv.writer(self._fh, delimiter=";")
            self._writer.writerow(["ligne", "motif", *self.header])
        self._writer.writerow([line, reason, *["" if v is None else v for v in original]])

    def close(self) -> str | None:
        if self._fh:
            self._fh.close()
            return str(self.path)
        return None


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _chunks(rows: Iterable, size: int, key: Callable | None = None) -> Iterator[list]:
    """Chunks of `size` rows; with `key`, a chunk goes on past `size` while the key stays the same,
    so that a dossier's consecutive rows land in one chunk and it is counted (created, updated or
    unchanged) once."""
    it = iter(rows)
    pending = None
    while True:
        chunk = [pending] if pending is not None else []
        chunk.extend(islice(it, size - len(chunk)))
        pending = None
        if key is not None and chunk:
            last = key(chunk[-1])
            for row in it:
                if key(row) != last:
                    pending = row
                    break
                chunk.append(row)
        if not chunk:
            return
        yield chunk


class WriteRow(NamedTuple):
    """What the writer needs of a validated row, in plain values (enums as their string values;
    str, int, bool, date and Decimal otherwise). A parser process sends these as plain tuples:
    unpickling one costs about 5 µs in the writing process, against 55 µs for a PortfolioRow
    dataclass with its enums, and the writer is the busier of the two processes."""

    line: int
    dossier_ref: str
    debtor_ref: str
    invoice_ref: str
    placed_on: date
    debtor: tuple  # values in DEBTOR_FIELDS order
    claim: tuple  # values in CLAIM_FIELDS order
    contacts: tuple  # (kind, value, valid, invalid_reason, line_type, region, rank) per contact point
    digest: str  # of the file's row (row_digests), stored on the claim


# The first debtor field (kind) and claim field (nature) are enums named differently on PortfolioRow.
_DEBTOR_ATTRS = attrgetter(*DEBTOR_FIELDS[1:])
_CLAIM_ATTRS = attrgetter(*CLAIM_FIELDS[1:])
_DECEASED = DEBTOR_FIELDS.index("deceased")
_INTEREST_MODE = CLAIM_FIELDS.index("interest_mode")
_ANCHOR = tuple(CLAIM_FIELDS.index(f) for f in ("prescription_start", "last_interruption_on", "prescription_expires_on"))
_LAST_INTERRUPTION = CLAIM_FIELDS.index("last_interruption_on")


def write_form(row: PortfolioRow, digest: str) -> tuple:
    """The WriteRow of a validated row, as a plain tuple."""
    claim = (row.nature.value, *_CLAIM_ATTRS(row))
    return (
        row.line, row.dossier_ref, row.debtor_ref, row.invoice_ref, row.placed_on,
        (row.debtor_kind.value, *_DEBTOR_ATTRS(row)),
        (*claim[:_INTEREST_MODE], claim[_INTEREST_MODE].value, *claim[_INTEREST_MODE + 1:]),
        tuple((c.kind, c.value, c.valid, c.invalid_reason, c.line_type and c.line_type.value, c.region, c.rank)
              for c in row.contacts),
        digest,
    )


def parse_chunk(records: list[tuple[int, list, str]], columns: dict[str, int], as_of: date,
                phones: PhoneNormaliser | None = None):
    """Parse one chunk of (line, cells, digest): (accepted rows as WriteRow tuples, rejected
    (line, reason, cells), warnings (line, list))."""
    global _worker_phones
    if phones is None:  # in a parser process: one phone cache for the process's lifetime
        if _worker_phones is None:
            _worker_phones = PhoneNormaliser()
        phones = _worker_phones
    parsed, rejected, warnings = [], [], []
    for line, cells, digest in records:
        try:
            row = parse_row(RawRow(line, pick_values(columns, cells), cells), phones=phones, as_of=as_of)
        except RowError as exc:
            rejected.append((line, str(exc), cells))
            continue
        if row.warnings:
            warnings.append((line, row.warnings))
        parsed.append(write_form(row, digest))
    return parsed, rejected, warnings


_worker_phones: PhoneNormaliser | None = None
# Below this size a parser process costs more to start than it saves.
PARALLEL_MIN_BYTES = 4 << 20


# Part of every row digest: bump it when parsing or validation changes what a row becomes, so
# that the next import re-validates rows imported under the old rules.
ROW_RULES_VERSION = "1"


def row_digests(columns: dict[str, int]) -> Callable[[list], str]:
    """A function from a row's cells to its digest (128-bit BLAKE2b, hex). The column mapping is
    part of it: the same cells under another mapping are another row."""
    base = hashlib.blake2b(repr((ROW_RULES_VERSION, sorted(columns.items()))).encode(), digest_size=16)

    def digest(cells: list) -> str:
        h = base.copy()
        try:
            text = "\x1f".join(cells)  # CSV: all text
        except TypeError:  # XLSX: numbers, dates and empty cells too
            text = "\x1f".join(c if isinstance(c, str) else repr(c) for c in cells)
        h.update(text.encode())
        return h.hexdigest()

    return digest


class UnchangedRows:
    """Sets aside, before parsing, the rows a previous import already holds: a dossier's rows in
    a chunk are skipped when each one's digest is stored on one of the dossier's claims. Unchanged
    rows are then neither validated nor written (nor their warnings repeated).

    A dossier seen in one of the last few chunks is never skipped: those chunks may still be in
    the pipeline, unwritten, and the stored digests read now would be stale."""

    def __init__(self, uow_factory: Callable[[], UnitOfWork], creditor_id: int, columns: dict[str, int],
                 window: int):
        self.uow_factory, self.creditor_id = uow_factory, creditor_id
        self.ref_column = columns["dossier_ref"]
        self.recent: deque[set] = deque(maxlen=window)
        with uow_factory() as uow:  # a new creditor has nothing stored: no look-ups at all
            self.active = uow.session.scalar(
                select(Dossier.id).where(Dossier.creditor_id == creditor_id).limit(1)) is not None

    def split(self, records: list[tuple[int, list, str]]) -> tuple[list, int]:
        """(the records to parse, the number of dossiers skipped as unchanged)."""
        refs = [dossier_ref_of(cells[self.ref_column]) if self.ref_column < len(cells) else None
                for _, cells, _ in records]
        earlier = set().union(*self.recent)
        self.recent.append(set(refs))
        stored = self._stored({r for r in refs if r}) if self.active else set()
        if not stored:
            return records, 0
        dirty = {ref for ref, (_, _, digest) in zip(refs, records)
                 if ref is None or ref in earlier or (ref, digest) not in stored}
        keep = [rec for ref, rec in zip(refs, records) if ref in dirty]
        return keep, len(set(refs) - dirty)

    def _stored(self, refs: set[str]) -> set[tuple[str, str]]:
        with self.uow_factory() as uow:
            s = uow.session
            return set(s.execute(
                select(Dossier.external_ref, Claim.import_digest).join(Claim, Claim.dossier_id == Dossier.id).where(
                    Dossier.creditor_id == self.creditor_id, one_of(s, Dossier.external_ref, refs),
                    Claim.import_digest.is_not(None))
            ).all())


def _parsed_chunks(pfile, chunk_rows: int, as_of: date, phones: PhoneNormaliser, workers: int | None,
                   unchanged: Callable[[int], UnchangedRows]):
    """Yield (row count, dossiers skipped as unchanged, parse result) per chunk, in file order.
    Large files are parsed in a separate process while this one writes the previous chunk to
    the database. A second parser process (workers=2) did not help on a 2-core machine shared
    with PostgreSQL: 40.0 s against 40.5 s for 100,000 dossiers, at load 5.7."""
    columns = pfile.columns
    digest = row_digests(columns)
    ref_column = columns["dossier_ref"]

    def dossier_of(record) -> str | None:
        cells = record[1]
        return dossier_ref_of(cells[ref_column]) if ref_column < len(cells) else None

    chunks = _chunks(((line, cells, digest(cells)) for line, cells in pfile.records()), chunk_rows, dossier_of)
    if workers is None:
        workers = 1 if pfile.size >= PARALLEL_MIN_BYTES else 0
    skipper = unchanged(workers + 2)
    if workers <= 0:
        for chunk in chunks:
            todo, skipped = skipper.split(chunk)
            yield len(chunk), skipped, parse_chunk(todo, columns, as_of, phones)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        pending: deque = deque()
        for chunk in chunks:
            todo, skipped = skipper.split(chunk)
            pending.append((len(chunk), skipped, pool.submit(parse_chunk, todo, columns, as_of)))
            if len(pending) > workers + 1:
                n, skipped, fut = pending.popleft()
                yield n, skipped, fut.result()
        while pending:
            n, skipped, fut = pending.popleft()
            yield n, skipped, fut.result()


def get_or_create_creditor(session, name: str) -> Creditor:
    creditor = session.scalar(select(Creditor).where(Creditor.name == name))
    if creditor is None:
        creditor = Creditor(name=name, legal_name=name, created_at=_now())
        session.add(creditor)
        session.flush()
    return creditor


def import_portfolio(
    uow_factory: Callable[[], UnitOfWork],
    path: Path,
    *,
    creditor: str,
    as_of: date,
    mapping_path: Path | None = None,
    rejects_path: Path | None = None,
    chunk_rows: int = 5000,
    progress: Callable[[int, int], None] | None = None,
    workers: int | None = None,
) -> ImportReport:
    """Import a portfolio file for `creditor` (created if new). Raises ImportFileError when the
    file as a whole is unusable (then nothing lands); bad rows are reported, good rows land."""
    path = Path(path)
    mapping = load_mapping(mapping_path) if mapping_path else None
    pfile = open_portfolio(path, mapping)
    rejects = RejectedRows(
        Path(rejects_path) if rejects_path else Path.cwd() / f"{path.stem}.rejets.csv", pfile.header
    )
    report = ImportReport()
    phones = PhoneNormaliser()
    started = _now()

    with uow_factory() as uow:
        cred = get_or_create_creditor(uow.session, creditor)
        run = ImportRun(creditor_id=cred.id, filename=path.name[:255], sha256=_file_digest(path),
                        started_at=started)
        uow.session.add(run)
        uow.session.flush()
        creditor_id, report.import_id = cred.id, run.id
        uow.commit()
    log.info("import %s started for creditor %s", report.import_id, creditor_id)

    def unchanged(window: int) -> UnchangedRows:
        return UnchangedRows(uow_factory, creditor_id, pfile.columns, window)

    done_rows, analyzed_at = 0, 0  # analyzed_at: claims created when statistics were last refreshed
    chunks = _parsed_chunks(pfile, chunk_rows, as_of, phones, workers, unchanged)
    for chunk, skipped, (parsed, rejected, warnings) in chunks:
        report.unchanged += skipped
        for line, reason, original in rejected:
            rejects.add(line, reason, original)
        report.rejected += len(rejected)
        report.warnings += sum(len(w) for _, w in warnings)
        for line, ws in warnings:
            if len(report.warning_samples) < 20:
                report.warning_samples.extend(f"ligne {line}: {w}" for w in ws)
        report.rows += chunk
        with uow_factory() as uow:
            _write_chunk(uow.session, creditor_id, parsed, report)
            uow.commit()
        done_rows += chunk
        if report.claims_created > 2 * analyzed_at:
            _refresh_statistics(uow_factory)
            analyzed_at = report.claims_created
        if progress:
            progress(done_rows, report.rows)

    report.rejected_path = rejects.close()
    with uow_factory() as uow:
        run = uow.session.get(ImportRun, report.import_id)
        run.finished_at = _now()
        run.rows, run.created, run.updated = report.rows, report.created, report.updated
        run.unchanged, run.rejected, run.rejected_path = report.unchanged, report.rejected, report.rejected_path
        uow.commit()
    log.info(
        "import %s done: rows=%d created=%d updated=%d unchanged=%d rejected=%d",
        report.import_id, report.rows, report.created, report.updated, report.unchanged, report.rejected,
    )
    return report


# Each chunk looks its references up with `external_ref = ANY(:refs)`. PostgreSQL plans that
# from table statistics, and a bulk load outruns autovacuum (when it runs at all): on a table
# it believes nearly empty, the planner filters every row of the creditor against the whole
# array instead of probing the unique index, and each chunk costs more than the last. So the
# import refreshes the statistics of the tables it grows each time the claims it created have
# doubled (about 10 times for a million rows, a fraction of a second each; never when nothing grows).
GROWN_TABLES = ("debtor", "contact_point", "dossier", "claim")  # the ones it looks up


def _refresh_statistics(uow_factory: Callable[[], UnitOfWork]) -> None:
    with uow_factory() as uow:
        if uow.session.get_bind().dialect.name != "postgresql":
            return
        # A role that does not own the tables gets a warning from ANALYZE, not an error.
        uow.session.execute(text(f"ANALYZE {', '.join(GROWN_TABLES)}"))
        uow.commit()


def _write_chunk(session, creditor_id: int, rows: list[tuple], report: ImportReport) -> None:
    if not rows:
        return
    rows = [WriteRow._make(r) for r in rows]
    now = _now()
    # Several rows of one dossier (several claims) may share a chunk: the first row's debtor
    # data wins within the chunk, as it would have across chunks.
    # Entities created by this chunk have nothing to compare with: only the others are read back.
    debtor_ids, changed_debtors, new_debtors = _upsert_debtors(session, creditor_id, rows, now)
    changed_contacts = _upsert_contacts(session, rows, debtor_ids, new_debtors, now)
    dossier_ids, new_dossiers = _upsert_dossiers(session, creditor_id, rows, debtor_ids, now)
    changed_claims, new_claims = _upsert_claims(session, rows, dossier_ids, new_dossiers, now)
    report.claims_created += new_claims

    touched: set[str] = set()
    events = []
    for row in rows:
        ref = row.dossier_ref
        if ref in touched:
            continue
        touched.add(ref)
        dossier_id = dossier_ids[ref]
        if dossier_id in new_dossiers:
            report.created += 1
            events.append((dossier_id, EventKind.IMPORTED, now, "import", {"import_line": row.line}))
        elif (row.debtor_ref in changed_debtors or row.debtor_ref in changed_contacts
              or ref in changed_claims):
            report.updated += 1
            events.append((dossier_id, EventKind.UPDATED, now, "import", {"import_line": row.line}))
        else:
            report.unchanged += 1
    bulk_insert_rows(session.connection(), DossierEvent.__table__,
                     ("dossier_id", "kind", "occurred_at", "source", "data"), events)
    # The placed amount follows the claims (new dossiers got theirs at insert).
    stale = [dossier_ids[r] for r in changed_claims if dossier_ids[r] not in new_dossiers]
    if stale:
        _refresh_amount_placed(session, stale, now)


def _as_read(model, names) -> list:
    """The columns `names` of `model` to compare with a WriteRow: enums read as their plain
    string values (SQLAlchemy's enum result processing costs more than the query)."""
    cols = [getattr(model, n) for n in names]
    return [type_coerce(c, String) if isinstance(c.type, SAEnum) else c for c in cols]


def _upsert_debtors(session, creditor_id, rows: list[WriteRow], now):
    wanted: dict[str, tuple] = {}
    for row in rows:
        wanted.setdefault(row.debtor_ref, row.debtor)
    existing = {
        r[1]: r
        for r in session.execute(
            select(Debtor.id, Debtor.external_ref, *_as_read(Debtor, DEBTOR_FIELDS)).where(
                Debtor.creditor_id == creditor_id, one_of(session, Debtor.external_ref, wanted)
            )
        )
    }
    ids: dict[str, int] = {}
    changed: set[str] = set()
    updates = []
    for ref, values in wanted.items():
        old = existing.get(ref)
        if old is None:
            continue
        ids[ref] = old[0]
        old_values = tuple(old[2:])
        # A death recorded by an agent is never undone by a later import.
        if old_values[_DECEASED] and not values[_DECEASED]:
            values = (*values[:_DECEASED], True, *values[_DECEASED + 1:])
        if old_values != values:
            changed.add(ref)
            updates.append({"id": old[0], **dict(zip(DEBTOR_FIELDS, values)), "updated_at": now})
    if updates:
        session.execute(update(Debtor), updates)
    new = [(creditor_id, ref, *values, now, now) for ref, values in wanted.items() if ref not in existing]
    if new:
        # COPY / executemany, then read the ids back: portable and batched on both databases
        # (ORM bulk INSERT .. RETURNING degrades to row-by-row on SQLite).
        bulk_insert_rows(session.connection(), Debtor.__table__,
                         ("creditor_id", "external_ref", *DEBTOR_FIELDS, "created_at", "updated_at"), new)
        fresh = _ids_by_ref(session, Debtor, creditor_id, [n[1] for n in new])
        ids.update(fresh)
        return ids, changed, set(fresh.values())
    return ids, changed, set()


CONTACT_COLUMNS = (
    "debtor_id", "kind", "value", "valid", "invalid_reason", "line_type", "region", "rank",
    "invalid_since", "source", "created_at", "updated_at",
)


def _upsert_contacts(session, rows: list[WriteRow], debtor_ids, new_debtors: set[int], now) -> set[str]:
    """Adds the contact points not yet known; never deletes one (an agent may have added it)."""
    wanted: dict[tuple[int, str, str], tuple[str, tuple]] = {}
    for row in rows:
        debtor_id = debtor_ids[row.debtor_ref]
        for c in row.contacts:
            wanted.setdefault((debtor_id, c[0], c[1]), (row.debtor_ref, c))
    old_debtors = {k[0] for k in wanted} - new_debtors
    known = set()
    if old_debtors:
        known = set(
            session.execute(
                select(ContactPoint.debtor_id, *_as_read(ContactPoint, ("kind", "value"))).where(
                    one_of(session, ContactPoint.debtor_id, old_debtors)
                )
            )
        )
    changed: set[str] = set()
    new = []
    for key, (debtor_ref, c) in wanted.items():
        if key in known:
            continue
        changed.add(debtor_ref)
        # c: (kind, value, valid, invalid_reason, line_type, region, rank)
        new.append((key[0], *c, None if c[2] else now, "import", now, now))
    bulk_insert_rows(session.connection(), ContactPoint.__table__, CONTACT_COLUMNS, new)
    return changed


def _upsert_dossiers(session, creditor_id, rows: list[WriteRow], debtor_ids, now):
    wanted: dict[str, WriteRow] = {}
    placed: dict[str, Decimal] = {}
    for row in rows:
        ref = row.dossier_ref
        wanted.setdefault(ref, row)
        principal, costs, indemnity = row.claim[1:4]
        placed[ref] = placed.get(ref, 0) + principal + costs + indemnity
    ids = dict(
        session.execute(
            select(Dossier.external_ref, Dossier.id).where(
                Dossier.creditor_id == creditor_id, one_of(session, Dossier.external_ref, wanted)
            )
        ).all()
    )
    new = [
        (creditor_id, debtor_ids[row.debtor_ref], ref, row.placed_on, placed[ref], now, now)
        for ref, row in wanted.items() if ref not in ids
    ]
    created: set[int] = set()
    if new:
        bulk_insert_rows(session.connection(), Dossier.__table__,
                         ("creditor_id", "debtor_id", "external_ref", "placed_on", "amount_placed",
                          "created_at", "updated_at"), new)
        fresh = _ids_by_ref(session, Dossier, creditor_id, [n[2] for n in new])
        ids.update(fresh)
        created.update(fresh.values())
    return ids, created


def _ids_by_ref(session, model, creditor_id: int, refs: list[str]) -> dict[str, int]:
    rows = session.execute(
        select(model.external_ref, model.id).where(model.creditor_id == creditor_id, one_of(session, model.external_ref, refs))
    )
    return dict(rows.all())


def _upsert_claims(session, rows: list[WriteRow], dossier_ids, new_dossiers: set[int], now) -> tuple[set[str], int]:
    wanted: dict[tuple[int, str], WriteRow] = {}
    for row in rows:
        wanted[(dossier_ids[row.dossier_ref], row.invoice_ref)] = row
    old_dossiers = {k[0] for k in wanted} - new_dossiers
    existing = {}
    if old_dossiers:
        existing = {
            (r[1], r[2]): r
            for r in session.execute(
                select(Claim.id, Claim.dossier_id, Claim.invoice_ref, Claim.import_digest,
                       *_as_read(Claim, CLAIM_FIELDS))
                .where(one_of(session, Claim.dossier_id, old_dossiers))
            )
        }
    changed: set[str] = set()
    updates, new, digests = [], [], []
    for key, row in wanted.items():
        values = row.claim
        old = existing.get(key)
        if old is None:
            new.append((*key, *values, row.digest, now, now))
            changed.add(row.dossier_ref)
            continue
        old_values = tuple(old[4:])
        # Interruptions recorded since (payments, promises) are kept: an import never moves
        # the prescription anchor backwards.
        old_interruption = old_values[_LAST_INTERRUPTION]
        if old_interruption and (values[_LAST_INTERRUPTION] or date.min) < old_interruption:
            values = list(values)
            for i in _ANCHOR:
                values[i] = old_values[i]
            values = tuple(values)
        if old_values != values:
            updates.append({"id": old[0], **dict(zip(CLAIM_FIELDS, values)), "import_digest": row.digest,
                            "updated_at": now})
            changed.add(row.dossier_ref)
        elif old[3] != row.digest:  # same claim from a differently written row: not a change
            digests.append({"id": old[0], "import_digest": row.digest})
    if updates:
        session.execute(update(Claim), updates)
    if digests:
        session.execute(update(Claim), digests)
    bulk_insert_rows(session.connection(), Claim.__table__,
                     ("dossier_id", "invoice_ref", *CLAIM_FIELDS, "import_digest", "created_at", "updated_at"), new)
    return changed, len(new)


def _refresh_amount_placed(session, dossier_ids: list[int], now) -> None:
    from sqlalchemy import func

    totals = session.execute(
        select(Claim.dossier_id, func.sum(Claim.principal + Claim.costs + Claim.indemnity))
        .where(Claim.dossier_id.in_(dossier_ids)).group_by(Claim.dossier_id)
    ).all()
    current = dict(session.execute(select(Dossier.id, Dossier.amount_placed).where(Dossier.id.in_(dossier_ids))).all())
    from models.money import money

    updates = []
    for did, total in totals:
        total = money(str(total))
        if current.get(did) != total:
            updates.append({"id": did, "amount_placed": total, "updated_at": now})
    if updates:
        session.execute(update(Dossier), updates)


__all__ = ["ImportFileError", "ImportReport", "import_portfolio", "get_or_create_creditor"]
