"""A dispatcher killed mid-batch (SIGKILL, no clean-up) loses nothing and sends nothing twice:
reconciliation settles what it left `sending` and a second run sends the rest, once each."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

from sqlalchemy import select

from channels.sandbox import SandboxChannel
from models.dossiers import DossierEvent
from models.enums import ActionStatus, Channel, EventKind
from models.outbox import Action
from services.dispatch import dispatch, reconcile_sending
from tests.integration.dispatch.support import NOW, outbox_files, plan, statuses

ACTIONS = 300
BATCH = 50
KILL_AFTER_FILES = 120  # in the middle of the third batch


def ids_of(files) -> list[int]:
    return [int(path.stem) for path in files]


def test_a_dispatcher_killed_mid_batch_loses_nothing_and_sends_nothing_twice(
        container, cases, database_url, outbox, repo_root):
    per_dossier = ACTIONS // 3
    ids = [i for ref in ("A-1", "A-2", "A-3") for i in plan(container, cases[ref], Channel.SMS, count=per_dossier)]
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.dispatch.crash_worker", database_url, str(outbox),
         NOW.isoformat(), "--delay-ms", "5", "--batch-size", str(BATCH)],
        cwd=repo_root, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while len(outbox_files(outbox, Channel.SMS)) < KILL_AFTER_FILES:
            assert worker.poll() is None, worker.stderr.read().decode(errors="replace")[-2000:]
            assert time.monotonic() < deadline, "the worker never got far enough"
            time.sleep(0.002)
        os.kill(worker.pid, signal.SIGKILL)
    finally:
        worker.kill()
        worker.wait(timeout=30)
    assert worker.returncode == -signal.SIGKILL

    written_before = set(ids_of(outbox_files(outbox, Channel.SMS)))
    left = statuses(container)
    with container.uow() as uow:
        sending = set(uow.session.scalars(select(Action.id).where(Action.status == ActionStatus.SENDING)))
    # The kill left every state behind: recorded, half-sent batch, never claimed.
    assert left.get(ActionStatus.SENT, 0) >= BATCH and left.get(ActionStatus.PLANNED, 0) > 0, left
    assert sending & written_before and sending - written_before, (len(sending), len(written_before))

    sms = SandboxChannel(Channel.SMS, outbox, today=lambda: NOW.date())
    later = NOW + timedelta(minutes=15)
    reconciled = reconcile_sending(container, {Channel.SMS: sms}, now=later)
    assert reconciled.sent == len(sending & written_before)
    assert reconciled.retried == len(sending - written_before)
    assert reconciled.review == 0 and sms.attempts == []  # answered from the provider's records

    report = dispatch(container, {Channel.SMS: sms}, now=later, batch_size=BATCH)
    assert dispatch(container, {Channel.SMS: sms}, now=later).sent == 0

    # Never twice: nothing already written was handed to the provider again.
    assert not set(sms.attempts) & written_before
    assert sorted(sms.attempts) == sorted(set(ids) - written_before)
    assert report.sent == len(sms.attempts)
    # Never lost: every action sent, one file each, one "sent" event each.
    assert statuses(container) == {ActionStatus.SENT: ACTIONS}
    files = outbox_files(outbox, Channel.SMS)
    assert sorted(ids_of(files)) == sorted(ids)
    for path in files:
        assert f"Action-Id: {path.stem}\n" in path.read_text(encoding="utf-8")
    with container.uow() as uow:
        sent_events = uow.session.scalars(
            select(DossierEvent.data).where(DossierEvent.kind == EventKind.ACTION_SENT)).all()
    assert sorted(data["action_id"] for data in sent_events) == sorted(ids)
