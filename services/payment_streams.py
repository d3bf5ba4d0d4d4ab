"""Running a big payment import as K concurrent streams, partitioned by dossier.

    partition(payments, *, streams, chunk) -> (parts per stream, unreferenced payments)
    run_streams(parts, work, *, database_url, done) -> None

Used by `services.payment_matching.import_payments` on PostgreSQL for files of PARALLEL_FROM
payments or more. Why it is safe:

- a payment goes to stream `dossier id % K` by the dossier its reference names, so every payment
  of a dossier is applied by one stream, in file order: the imputation order per dossier is the
  sequential one. Each file chunk is cut into K parts, so a stream sees the chunk boundaries of
  the sequential path too;
- the streams lock and write disjoint rows (dossiers, claims, promises, plans, installments);
  everything else they write is insert-only (payments, journal entries, ledger lines, events,
  payment sources, quittance actions), with ids from sequences, which never wait on a transaction;
- each part is one transaction: a failure leaves the committed parts, known by their external
  ids, and a re-import completes the file without duplicates.

The streams are processes (spawn): a payment costs about as much Python as PostgreSQL work, and
threads would only overlap the Python of one stream with the database work of the other, under
one GIL. Measured at 100,000 payments (benchmarks/payments_bench.py, load 3-5): two processes
25 s, two threads 34 s, one stream 37 s.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from multiprocessing import get_context
from typing import Any

from models.references import parse_payment_reference

__all__ = ["PARALLEL_FROM", "STREAMS", "WorkerUnitOfWork", "partition", "run_streams"]

log = logging.getLogger(__name__)

STREAMS = 2  # the machines have 2 cores: one stream each
PARALLEL_FROM = 20_000  # below this, starting the worker processes costs more than it saves

_session_factory = None  # in a worker process: its own engine's sessions


def partition(payments: Sequence, *, streams: int, chunk: int, skip: Collection[str] = ()
              ) -> tuple[list[list[list]], list]:
    """Each stream's parts (chunk by chunk, in file order) of the payments whose reference names
    a dossier, and the payments without one (matched later, by IBAN or name, across dossiers);
    the payments whose external id is in `skip` left out, the chunks still cut as in the file."""
    parts: list[list[list]] = [[] for _ in range(streams)]
    unreferenced = []
    for start in range(0, len(payments), chunk):
        cut: list[list] = [[] for _ in range(streams)]
        for p in payments[start:start + chunk]:
            if p.external_id in skip:
                continue
            dossier_id = parse_payment_reference(p.reference_text())
            if dossier_id is None:
                unreferenced.append(p)
            else:
                cut[dossier_id % streams].append(p)
        for stream, part in zip(parts, cut):
            if part:
                stream.append(part)
    return parts, unreferenced


class WorkerUnitOfWork:
    """A unit-of-work factory that can be sent to a worker process: it opens units of work on the
    worker's own engine (see `_open_database`)."""

    def __call__(self):
        from services.unit_of_work import UnitOfWork

        return UnitOfWork(_session_factory)


def _open_database(database_url: str) -> None:
    """Worker process start: one engine, one pooled connection kept for all its parts."""
    global _session_factory
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    _session_factory = sessionmaker(bind=create_engine(database_url, pool_pre_ping=True), expire_on_commit=False)


def run_streams(parts: list[list[Any]], work: Callable[[Any], Any], *, database_url: str,
                done: Callable[[Any], None]) -> None:
    """Run `work(part)` for every part, the parts of one stream one after the other, the streams
    at the same time, each in its own process; `done(result)` here as each part ends. After a
    failure no part starts; the parts under way end, then the failure is raised."""
    context = get_context("spawn")  # not fork: the parent holds a connection pool and threads
    with ProcessPoolExecutor(max_workers=len(parts), mp_context=context, initializer=_open_database,
                             initargs=(database_url,)) as pool:
        following = [0] * len(parts)
        running: dict[Future, int] = {}

        def start(stream: int) -> None:
            if following[stream] < len(parts[stream]):
                running[pool.submit(work, parts[stream][following[stream]])] = stream
                following[stream] += 1

        for stream in range(len(parts)):
            start(stream)
        failure: BaseException | None = None
        while running:
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                stream = running.pop(future)
                if future.exception() is not None:
                    log.error("payment stream %s: part %s failed", stream, following[stream] - 1)
                    failure = failure or future.exception()
                    continue
                done(future.result())
                if failure is None:
                    start(stream)
        if failure is not None:
            raise failure
