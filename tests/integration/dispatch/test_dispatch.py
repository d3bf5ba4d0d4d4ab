"""The dispatcher on SQLite and PostgreSQL with sandbox channels: each planned action goes out
exactly once; failures are retried, failed or reconciled as ARCHITECTURE.md, "Never twice, never
lost", says; delivery callbacks only move forward."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select, update

from channels.errors import FailureCode
from models.dossiers import Dossier, DossierEvent
from models.enums import ActionStatus, CallTaskStatus, Channel, ContactKind, EventKind
from models.outbox import Action, CallTask
from models.parties import ContactPoint
from services.dispatch import dispatch, reconcile_sending, record_delivery
from tests.integration.dispatch.support import NOW, action, outbox_files, plan, statuses


def events(container, kind: EventKind) -> list[DossierEvent]:
    with container.uow() as uow:
        found = uow.session.scalars(select(DossierEvent).where(DossierEvent.kind == kind)
                                    .order_by(DossierEvent.id)).all()
        uow.session.expunge_all()
        return found


def test_dispatch_sends_each_planned_action_exactly_once(container, cases, sandbox, outbox):
    sms_ids = plan(container, cases["A-1"], Channel.SMS, count=3) + plan(container, cases["A-3"], Channel.SMS)
    email_ids = plan(container, cases["A-1"], Channel.EMAIL)
    later = plan(container, cases["A-3"], Channel.SMS, step="plus_tard", not_before=NOW + timedelta(hours=1))
    channels = {Channel.SMS: sandbox(Channel.SMS), Channel.EMAIL: sandbox(Channel.EMAIL)}

    first = dispatch(container, channels, now=NOW, batch_size=2)
    second = dispatch(container, channels, now=NOW, batch_size=2)

    assert (first.sent, first.failed, first.retried, first.ambiguous) == (5, 0, 0, 0)
    assert second.sent == 0 and channels[Channel.SMS].attempts == sms_ids
    assert len(outbox_files(outbox, Channel.SMS)) == 4 and len(outbox_files(outbox, Channel.EMAIL, "eml")) == 1
    sms = action(container, sms_ids[0])
    assert sms.status == ActionStatus.SENT and sms.provider_id == f"sandbox-{sms.id}"
    assert sms.attempts == 1 and sms.sent_at == NOW and sms.segments in (1, 2)
    assert sms.cost == Decimal("0.045") * sms.segments
    assert action(container, email_ids[0]).cost == Decimal("0.001")  # kept to a tenth of a cent
    assert action(container, later[0]).status == ActionStatus.PLANNED
    sent_events = events(container, EventKind.ACTION_SENT)
    assert sorted(e.data["action_id"] for e in sent_events) == sorted(sms_ids + email_ids)
    assert sent_events[0].data == {"action_id": sms_ids[0], "channel": "sms", "step": "relance"}


def test_a_run_takes_no_more_actions_than_its_batches_allow(container, cases, sandbox):
    ids = plan(container, cases["A-1"], Channel.SMS, count=12)
    channels = {Channel.SMS: sandbox(Channel.SMS)}
    assert dispatch(container, channels, now=NOW, batch_size=5, max_batches=1).sent == 5
    assert statuses(container) == {ActionStatus.SENT: 5, ActionStatus.PLANNED: 7}
    assert dispatch(container, channels, now=NOW, batch_size=5, max_batches=2).sent == 7
    assert channels[Channel.SMS].attempts == ids


def test_the_sms_says_what_is_owed_with_the_payment_reference(container, cases, sandbox, outbox):
    [action_id] = plan(container, cases["A-1"], Channel.SMS)
    dispatch(container, {Channel.SMS: sandbox(Channel.SMS)}, now=NOW)
    text = outbox_files(outbox, Channel.SMS)[0].read_text(encoding="utf-8")
    assert "1 234,56" in text and "A-1" in text
    assert "Reference: RF" in text and f"Action-Id: {action_id}" in text


def test_a_retryable_failure_is_retried_later_and_sent_once(container, cases, sandbox, outbox):
    [action_id] = plan(container, cases["A-1"], Channel.SMS)
    channels = {Channel.SMS: sandbox(Channel.SMS, fail_retryable=1)}

    report = dispatch(container, channels, now=NOW)
    assert (report.sent, report.retried) == (0, 1)
    retried = action(container, action_id)
    assert retried.status == ActionStatus.PLANNED and retried.not_before == NOW + timedelta(minutes=1)
    assert retried.error_code == FailureCode.SERVER_ERROR

    assert dispatch(container, channels, now=NOW + timedelta(seconds=30)).sent == 0  # not yet due
    assert dispatch(container, channels, now=NOW + timedelta(minutes=1)).sent == 1
    assert dispatch(container, channels, now=NOW + timedelta(minutes=2)).sent == 0
    sent = action(container, action_id)
    assert sent.status == ActionStatus.SENT and sent.attempts == 2 and sent.error_code is None
    assert len(outbox_files(outbox, Channel.SMS)) == 1


def test_retryable_failures_back_off_then_give_up_after_the_last_attempt(container, cases, sandbox):
    [action_id] = plan(container, cases["A-1"], Channel.SMS)
    channels = {Channel.SMS: sandbox(Channel.SMS, fail_retryable=10)}
    now, waits = NOW, []
    for _ in range(4):
        dispatch(container, channels, now=now)
        row = action(container, action_id)
        if row.status != ActionStatus.PLANNED:
            break
        waits.append(row.not_before - now)
        now = row.not_before
    assert waits == [timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30)]
    failed = action(container, action_id)
    assert failed.status == ActionStatus.FAILED and failed.attempts == 4
    assert failed.error_code == FailureCode.SERVER_ERROR
    assert [e.data["action_id"] for e in events(container, EventKind.ACTION_FAILED)] == [action_id]


def test_a_permanent_invalid_number_marks_the_contact_invalid_and_asks_for_the_fallback(
        container, cases, sandbox):
    key = f"{cases['A-1'].dossier_id}:test:sms_premier_contact:2.3"
    [bad] = plan(container, cases["A-1"], Channel.SMS, step="sms_premier_contact", key=key)
    [good] = plan(container, cases["A-3"], Channel.SMS, step="sms_premier_contact")
    report = dispatch(container, {Channel.SMS: sandbox(Channel.SMS, fail_permanent={bad})}, now=NOW)

    assert (report.sent, report.failed, report.fallback) == (1, 1, 1)
    failed = action(container, bad)
    assert failed.status == ActionStatus.FAILED and failed.error_code == FailureCode.INVALID_NUMBER
    with container.uow() as uow:
        phone = uow.session.get(ContactPoint, cases["A-1"].contacts[ContactKind.PHONE])
        assert not phone.valid and phone.invalid_reason == FailureCode.INVALID_NUMBER
        assert phone.invalid_since == NOW
    [event] = events(container, EventKind.CONTACT_INVALID)
    assert event.dossier_id == cases["A-1"].dossier_id and event.processed_at is None
    assert event.data == {"action_id": bad, "step": "sms_premier_contact", "channel": "sms", "scenario": "test",
                          "occurrence": 3, "contact_point_id": cases["A-1"].contacts[ContactKind.PHONE]}
    assert action(container, good).status == ActionStatus.SENT


def test_an_opted_out_number_records_the_opt_out_and_asks_for_the_fallback(container, cases, sandbox):
    [action_id] = plan(container, cases["A-1"], Channel.SMS)
    channels = {Channel.SMS: sandbox(Channel.SMS, fail_permanent={action_id}, permanent_code=FailureCode.OPTED_OUT)}
    report = dispatch(container, channels, now=NOW)
    assert (report.failed, report.fallback) == (1, 1)
    with container.uow() as uow:
        phone = uow.session.get(ContactPoint, cases["A-1"].contacts[ContactKind.PHONE])
        assert phone.valid and phone.opt_out_sms_at == NOW
    [event] = events(container, EventKind.OPT_OUT)
    assert event.data["action_id"] == action_id and event.processed_at is None


def test_an_action_whose_contact_point_is_already_invalid_fails_without_being_sent(container, cases, sandbox):
    [action_id] = plan(container, cases["A-1"], Channel.SMS)
    with container.uow() as uow:
        uow.session.execute(update(ContactPoint).where(ContactPoint.id == cases["A-1"].contacts[ContactKind.PHONE])
                            .values(valid=False, invalid_reason="invalid_number"))
        uow.commit()
    channels = {Channel.SMS: sandbox(Channel.SMS)}
    report = dispatch(container, channels, now=NOW)
    assert (report.sent, report.failed, report.fallback) == (0, 1, 1)
    assert channels[Channel.SMS].attempts == []
    assert action(container, action_id).error_code == "contact_invalid"
    assert [e.data["action_id"] for e in events(container, EventKind.CONTACT_INVALID)] == [action_id]


def test_a_rendering_error_fails_that_action_only(container, cases, sandbox):
    [broken] = plan(container, cases["A-1"], Channel.SMS, template="sms/n_existe_pas")
    [fine] = plan(container, cases["A-3"], Channel.SMS)
    report = dispatch(container, {Channel.SMS: sandbox(Channel.SMS)}, now=NOW)
    assert (report.sent, report.failed) == (1, 1)
    assert action(container, broken).status == ActionStatus.FAILED
    assert action(container, broken).error_code == "render"
    assert action(container, fine).status == ActionStatus.SENT


def test_an_ambiguous_failure_stays_sending_and_reconcile_marks_it_sent_without_a_second_file(
        container, cases, sandbox, outbox):
    [action_id] = plan(container, cases["A-1"], Channel.SMS)
    channels = {Channel.SMS: sandbox(Channel.SMS, fail_ambiguous={action_id})}

    assert dispatch(container, channels, now=NOW).ambiguous == 1
    assert action(container, action_id).status == ActionStatus.SENDING
    assert dispatch(container, channels, now=NOW + timedelta(hours=1)).sent == 0  # never re-sent blindly
    assert reconcile_sending(container, channels, now=NOW + timedelta(minutes=5)).sent == 0  # too recent

    report = reconcile_sending(container, channels, now=NOW + timedelta(minutes=15))
    assert (report.sent, report.review, report.retried) == (1, 0, 0)
    sent = action(container, action_id)
    assert sent.status == ActionStatus.SENT and sent.provider_id == f"sandbox-{action_id}"
    assert sent.sent_at == NOW and sent.segments is not None
    assert channels[Channel.SMS].attempts == [action_id]
    assert len(outbox_files(outbox, Channel.SMS)) == 1
    assert len(events(container, EventKind.ACTION_SENT)) == 1


def test_a_claimed_action_that_never_reached_the_provider_is_sent_again_after_reconciliation(
        container, cases, sandbox, outbox):
    [action_id] = plan(container, cases["A-1"], Channel.SMS)
    with container.uow() as uow:  # a dispatcher claimed it, then died before calling the provider
        uow.session.execute(update(Action).where(Action.id == action_id)
                            .values(status=ActionStatus.SENDING, attempts=1, sending_at=NOW))
        uow.commit()
    channels = {Channel.SMS: sandbox(Channel.SMS)}
    later = NOW + timedelta(minutes=20)
    assert reconcile_sending(container, channels, now=later).retried == 1
    assert action(container, action_id).status == ActionStatus.PLANNED
    assert dispatch(container, channels, now=later).sent == 1
    assert action(container, action_id).attempts == 2
    assert len(outbox_files(outbox, Channel.SMS)) == 1


class _Forgetful:
    """A provider that cannot say whether it took a message (SendGrid has no lookup)."""

    channel = Channel.EMAIL

    def send_batch(self, messages):
        raise AssertionError("nothing may be sent")

    def reconcile(self, message):
        return None


def test_an_unknown_reconcile_answer_sends_the_action_to_review(container, cases):
    [action_id] = plan(container, cases["A-1"], Channel.EMAIL)
    with container.uow() as uow:
        uow.session.execute(update(Action).where(Action.id == action_id)
                            .values(status=ActionStatus.SENDING, attempts=1, sending_at=NOW))
        uow.commit()
    channels = {Channel.EMAIL: _Forgetful()}
    report = reconcile_sending(container, channels, now=NOW + timedelta(minutes=15))
    assert (report.review, report.sent, report.retried) == (1, 0, 0)
    assert action(container, action_id).status == ActionStatus.REVIEW
    assert dispatch(container, channels, now=NOW + timedelta(days=1)).sent == 0
    assert reconcile_sending(container, channels, now=NOW + timedelta(days=1)).review == 0


def test_a_call_action_creates_one_call_task_for_the_agents(container, cases):
    [action_id] = plan(container, cases["A-3"], Channel.CALL, not_before=NOW + timedelta(hours=1))
    assert dispatch(container, {}, now=NOW).sent == 0  # not due yet
    report = dispatch(container, {}, now=NOW + timedelta(hours=2), channel=Channel.CALL)
    assert report.sent == 1
    assert dispatch(container, {}, now=NOW + timedelta(hours=3)).sent == 0
    with container.uow() as uow:
        [task] = uow.session.scalars(select(CallTask)).all()
        uow.session.expunge_all()
    assert task.action_id == action_id and task.dossier_id == cases["A-3"].dossier_id
    assert task.status == CallTaskStatus.OPEN and task.script == "call/particulier_relance"
    assert task.due_at == NOW + timedelta(hours=1)
    assert task.phone_id == cases["A-3"].contacts[ContactKind.PHONE]
    # 310 EUR owed (3 points), due 15/03/2026 (8 months overdue): priority 11.
    assert task.priority == 3 + 8
    # The window closes at 20:00 on Réunion (UTC+4), the debtor's time.
    assert task.window_end.hour == 16 and task.window_end.date() == NOW.date()
    done = action(container, action_id)
    assert done.status == ActionStatus.SENT and done.cost == Decimal("0.00")


def test_record_delivery_moves_forward_only_and_a_repeated_callback_changes_nothing(container, cases, sandbox):
    [action_id] = plan(container, cases["A-1"], Channel.EMAIL)
    dispatch(container, {Channel.EMAIL: sandbox(Channel.EMAIL)}, now=NOW)
    provider_id = f"sandbox-{action_id}"
    later = NOW + timedelta(minutes=3)
    with container.uow() as uow:
        assert record_delivery(uow.session, provider_id, "delivered", at=later) == 1
        uow.commit()
    with container.uow() as uow:
        assert record_delivery(uow.session, provider_id, ActionStatus.DELIVERED, at=later + timedelta(hours=1)) == 0
        assert record_delivery(uow.session, provider_id, ActionStatus.FAILED, at=later) == 0  # late bounce
        assert record_delivery(uow.session, "inconnu", ActionStatus.DELIVERED, at=later) == 0
        uow.commit()
    delivered = action(container, action_id)
    assert delivered.status == ActionStatus.DELIVERED and delivered.delivered_at == later
    assert [e.data["action_id"] for e in events(container, EventKind.ACTION_DELIVERED)] == [action_id]


def test_a_bounce_after_acceptance_fails_the_action_and_marks_the_address(container, cases, sandbox):
    [action_id] = plan(container, cases["A-1"], Channel.EMAIL)
    dispatch(container, {Channel.EMAIL: sandbox(Channel.EMAIL)}, now=NOW)
    with container.uow() as uow:
        moved = record_delivery(uow.session, f"sandbox-{action_id}", ActionStatus.FAILED, at=NOW,
                                error_code=FailureCode.BOUNCED, contact_invalid=True)
        uow.commit()
    assert moved == 1
    bounced = action(container, action_id)
    assert bounced.status == ActionStatus.FAILED and bounced.error_code == FailureCode.BOUNCED
    with container.uow() as uow:
        assert not uow.session.get(ContactPoint, cases["A-1"].contacts[ContactKind.EMAIL]).valid
    assert [e.source for e in events(container, EventKind.CONTACT_INVALID)] == ["webhook"]


def test_later_relances_repeat_the_reference_and_date_of_the_first_letter(container, cases, settings):
    from channels.letter_channel import LetterChannel

    [letter_id] = plan(container, cases["A-1"], Channel.LETTER, step="premiere_relance")
    spool = LetterChannel(settings.outbox_dir / "print", today=lambda: NOW.date())
    report = dispatch(container, {Channel.LETTER: spool}, now=NOW)
    assert report.sent == 1, report
    letter = action(container, letter_id)
    reference = f"L-{NOW.year}-{letter_id:06d}"
    assert letter.provider_id == reference and letter.pages >= 1
    assert letter.cost == Decimal("1.20") + Decimal("0.15") * (letter.pages - 1) + Decimal("1.39")
    with container.uow() as uow:
        dossier = uow.session.get(Dossier, cases["A-1"].dossier_id)
        assert (dossier.first_letter_ref, dossier.first_letter_on) == (reference, NOW.date())

    [sms_id] = plan(container, cases["A-1"], Channel.SMS, step="apres_lettre")
    from channels.sandbox import SandboxChannel

    sms = SandboxChannel(Channel.SMS, settings.outbox_dir, today=lambda: NOW.date())
    dispatch(container, {Channel.SMS: sms}, now=NOW + timedelta(days=3))
    text = sms.find(sms_id).read_text(encoding="utf-8")
    assert f"courrier {reference} du 27/11/2026" in text


def test_two_dispatchers_running_at_once_never_take_the_same_action(container, cases, sandbox, outbox):
    ids = plan(container, cases["A-1"], Channel.SMS, count=60) + plan(container, cases["A-2"], Channel.SMS, count=60)
    workers = [sandbox(Channel.SMS), sandbox(Channel.SMS)]
    reports, errors = [None, None], []

    def run(i):
        try:
            reports[i] = dispatch(container, {Channel.SMS: workers[i]}, now=NOW, batch_size=7)
        except Exception as exc:  # noqa: BLE001 - surfaced below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    attempts = workers[0].attempts + workers[1].attempts
    assert sorted(attempts) == sorted(ids)  # every action handed to a provider once, by one worker
    assert reports[0].sent + reports[1].sent == len(ids)
    assert statuses(container) == {ActionStatus.SENT: len(ids)}
    assert len(outbox_files(outbox, Channel.SMS)) == len(ids)


def test_of_two_letters_to_one_dossier_in_one_batch_the_first_is_its_first_letter(container, cases, sandbox):
    first, second = plan(container, cases["A-1"], Channel.LETTER, step="premiere_relance", count=2)
    [other] = plan(container, cases["A-2"], Channel.LETTER, step="premiere_relance")
    report = dispatch(container, {Channel.LETTER: sandbox(Channel.LETTER)}, now=NOW)
    assert report.sent == 3, report
    with container.uow() as uow:
        refs = {d.id: (d.first_letter_ref, d.first_letter_on) for d in uow.session.scalars(select(Dossier))}
    assert refs[cases["A-1"].dossier_id] == (f"L-{NOW.year}-{first:06d}", NOW.date())
    assert refs[cases["A-2"].dossier_id] == (f"L-{NOW.year}-{other:06d}", NOW.date())
    assert refs[cases["A-3"].dossier_id] == (None, None)
    sent = [action(container, i) for i in (first, second, other)]
    assert all(a.status == ActionStatus.SENT and a.provider_id == f"sandbox-{a.id}" for a in sent)
    assert all(a.cost == Decimal("2.59") and a.sent_at is not None and a.error_code is None for a in sent)


def test_a_batch_records_each_sms_with_its_own_provider_id_segments_and_cost(container, cases, sandbox):
    ids = plan(container, cases["A-1"], Channel.SMS, count=3) + plan(container, cases["A-3"], Channel.SMS, count=2)
    report = dispatch(container, {Channel.SMS: sandbox(Channel.SMS)}, now=NOW, batch_size=4)
    assert report.sent == 5, report
    for action_id in ids:
        sent = action(container, action_id)
        assert (sent.status, sent.provider_id, sent.sent_at) == (ActionStatus.SENT, f"sandbox-{action_id}", NOW)
        assert sent.segments >= 1 and sent.cost == Decimal("0.045") * sent.segments
    assert sorted(e.data["action_id"] for e in events(container, EventKind.ACTION_SENT)) == sorted(ids)


def test_the_action_due_first_is_claimed_first_whatever_its_id(container, cases, sandbox):
    [later] = plan(container, cases["A-1"], Channel.SMS, step="later", not_before=NOW)
    [earlier] = plan(container, cases["A-2"], Channel.SMS, step="earlier", not_before=NOW - timedelta(hours=2))
    [same_time] = plan(container, cases["A-3"], Channel.SMS, step="same", not_before=NOW)
    sms = sandbox(Channel.SMS)
    for _ in range(3):
        dispatch(container, {Channel.SMS: sms}, now=NOW, batch_size=1, max_batches=1)
    assert later < earlier < same_time and sms.attempts == [earlier, later, same_time]
