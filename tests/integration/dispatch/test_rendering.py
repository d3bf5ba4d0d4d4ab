"""Render contexts built set-based for a batch of actions: the keys channels/templating.py
documents, agreements when the dossier has one, the first letter, the unsubscribe link."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import delete, update

from models.agreements import Installment, PaymentPlan, Promise
from models.enums import ActionStatus, Channel, ContactKind, PromiseStatus
from models.outbox import Action
from models.parties import ContactPoint
from models.references import payment_reference
from services.dispatch import DispatchPolicy, call_priority, dispatch
from services.rendering import build_contexts, unsubscribe_url, verify_unsubscribe_token
from tests.integration.dispatch.support import NOW, action, plan, statuses

AS_OF = NOW.date()
OFFICE = {"name": "Cabinet Test", "address_lines": ["1 RUE A", "69001 LYON"], "phone": "+33478000000",
          "email": "c@test.example", "website": "https://test.example", "iban": "FR76", "bic": "AGRIFRPP",
          "payment_url": "https://test.example/payer", "siren": "552100554"}


def contexts(container, ids, **kw):
    with container.uow() as uow:
        return build_contexts(uow.session, ids, as_of=AS_OF, office=OFFICE, **kw)


def test_a_context_holds_every_key_the_templates_document(container, cases):
    [sms] = plan(container, cases["A-1"], Channel.SMS, step="sms_premier_contact")
    [email] = plan(container, cases["A-1"], Channel.EMAIL)
    [letter] = plan(container, cases["A-1"], Channel.LETTER)
    found = contexts(container, [sms, email, letter], unsubscribe_page="https://test.example/desinscription",
                     unsubscribe_secret="s3cret")
    ctx = found[sms]
    assert set(ctx) == {"office", "creditor", "debtor", "dossier", "claims", "totals", "as_of", "step"}
    assert ctx["office"] == OFFICE and ctx["creditor"]["name"] == "Banque Exemple"
    assert ctx["debtor"] == {"display_name": "Mme Hélène Lefèvre", "civility": "Mme", "last_name": "Lefèvre",
                             "company_name": None, "is_company": False}
    assert ctx["dossier"] == {"id": cases["A-1"].dossier_id, "reference": "A-1",
                              "payment_reference": payment_reference(cases["A-1"].dossier_id),
                              "first_letter_ref": None, "first_letter_on": None}
    [claim] = ctx["claims"]
    assert claim["invoice_ref"] == "F1" and claim["principal"] == Decimal("1234.56")
    assert ctx["totals"]["balance"] == claim["total"] == sum(claim[k] for k in ("principal", "interest", "costs"))
    assert ctx["step"] == {"scenario": "test", "name": "sms_premier_contact"} and ctx["as_of"] == AS_OF

    url = found[email]["unsubscribe_url"]
    assert url.startswith(f"https://test.example/desinscription?a={email}&t=")
    assert verify_unsubscribe_token(email, url.rsplit("=", 1)[1], "s3cret")
    assert not verify_unsubscribe_token(sms, url.rsplit("=", 1)[1], "s3cret")

    lettre = found[letter]
    assert lettre["recipient"]["address_lines"][-1] == "75011 PARIS"
    assert lettre["letter"] == {"reference": f"L-{NOW.year}-{letter:06d}", "date": AS_OF, "first": True}


def test_an_open_promise_and_an_active_plan_appear_in_the_context(container, cases):
    a1, a3 = cases["A-1"], cases["A-3"]
    with container.uow() as uow:
        uow.session.add(Promise(dossier_id=a1.dossier_id, amount=Decimal("300.00"), paid=Decimal("100.00"),
                                due_on=AS_OF + timedelta(days=10), made_on=AS_OF, created_at=NOW))
        uow.session.add(Promise(dossier_id=a3.dossier_id, amount=Decimal("50.00"), due_on=AS_OF,
                                made_on=AS_OF, status=PromiseStatus.BROKEN, created_at=NOW))
        plan_row = PaymentPlan(dossier_id=a3.dossier_id, agreed_on=AS_OF - timedelta(days=40),
                               total=Decimal("310.00"), created_at=NOW)
        uow.session.add(plan_row)
        uow.session.flush()
        for number, (due, paid) in enumerate([(-30, "103.33"), (-1, "0"), (29, "0")], start=1):
            uow.session.add(Installment(plan_id=plan_row.id, number=number, due_on=AS_OF + timedelta(days=due),
                                        amount=Decimal("103.33"), paid=Decimal(paid)))
        uow.commit()
    [first] = plan(container, a1, Channel.SMS, template="sms/promesse_rappel")
    [second] = plan(container, a3, Channel.SMS, template="sms/echeance_rappel")
    found = contexts(container, [first, second])
    assert found[first]["promise"] == {"amount": Decimal("200.00"), "date": AS_OF + timedelta(days=10)}
    assert "installment" not in found[first] and "promise" not in found[second]
    assert found[second]["installment"] == {"number": 2, "count": 3, "amount": Decimal("103.33"),
                                            "due_date": AS_OF - timedelta(days=1)}
    assert found[second]["plan"] == {"count": 3, "missed": 1}


def test_a_business_debtor_gets_its_l441_10_penalties_to_the_day_and_their_rate(container, cases):
    [letter] = plan(container, cases["A-2"], Channel.LETTER, template="letter/relance_entreprise")
    ctx = contexts(container, [letter], rates=container.rates)[letter]
    assert ctx["debtor"]["is_company"] and ctx["debtor"]["display_name"] == "Garage Dupont SARL"
    b2b = ctx["b2b"]
    expected = container.rates.b2b_rate(AS_OF)
    assert b2b["rate_label"] == f"{expected:.2f} %".replace(".", ",")
    assert b2b["indemnity_total"] == Decimal("40.00")
    assert ctx["claims"][0]["interest"] > 0 and b2b["penalties"] == ctx["claims"][0]["interest"]
    assert contexts(container, [letter])[letter]["b2b"] == b2b  # the shipped tables by default


def test_a_letter_without_any_postal_address_fails_alone(container, cases, settings):
    from channels.letter_channel import LetterChannel

    [letter] = plan(container, cases["A-3"], Channel.LETTER)
    [sms] = plan(container, cases["A-3"], Channel.SMS)
    with container.uow() as uow:  # planned when the debtor had no known address
        uow.session.execute(update(Action).where(Action.id == letter).values(contact_point_id=None))
        uow.session.execute(delete(ContactPoint).where(ContactPoint.kind == ContactKind.ADDRESS,
                                                       ContactPoint.debtor_id == cases["A-3"].debtor_id))
        uow.commit()
    channels = {Channel.LETTER: LetterChannel(settings.outbox_dir / "print")}
    report = dispatch(container, channels, now=NOW, channel=Channel.LETTER)
    assert (report.sent, report.failed) == (0, 1)
    assert action(container, letter).error_code == "no_contact"
    assert statuses(container) == {ActionStatus.FAILED: 1, ActionStatus.PLANNED: 1}
    assert action(container, sms).status == ActionStatus.PLANNED


def test_an_account_refusal_stops_the_channel_and_keeps_every_action_for_later(container, cases, sandbox):
    ids = plan(container, cases["A-1"], Channel.SMS, count=4)
    channels = {Channel.SMS: sandbox(Channel.SMS, fail_permanent=set(ids), permanent_code="unauthorized")}
    report = dispatch(container, channels, now=NOW, batch_size=2)
    assert report.halted == {"sms": "unauthorized"} and (report.failed, report.retried) == (0, 2)
    assert statuses(container) == {ActionStatus.PLANNED: 4}
    assert len(channels[Channel.SMS].attempts) == 2  # the second batch was never claimed


def test_call_priority_grows_with_the_balance_the_age_and_broken_promises():
    today = date(2026, 11, 27)
    assert call_priority(Decimal("99"), None, 0, as_of=today) == 0
    assert call_priority(Decimal("1000"), today - timedelta(days=90), 0, as_of=today) == 10 + 3
    assert call_priority(Decimal("1000"), today - timedelta(days=90), 2, as_of=today) == 10 + 3 + 20
    assert call_priority(Decimal("10000000"), date(2000, 1, 1), 9, as_of=today) == 50 + 24 + 30


def test_the_unsubscribe_link_carries_no_token_without_a_secret():
    assert unsubscribe_url("https://x.example/desinscription", 42) == "https://x.example/desinscription?a=42"


def test_an_email_carries_its_signed_unsubscribe_link_in_the_body_and_for_the_provider(container, cases, sandbox):
    [email] = plan(container, cases["A-1"], Channel.EMAIL)
    policy = DispatchPolicy(unsubscribe_page="https://relance.example/desinscription", unsubscribe_secret="s3cret")
    channels = {Channel.EMAIL: sandbox(Channel.EMAIL)}
    assert dispatch(container, channels, now=NOW, policy=policy).sent == 1
    eml = channels[Channel.EMAIL].find(email).read_text(encoding="utf-8")
    expected = unsubscribe_url("https://relance.example/desinscription", email, "s3cret")
    assert "Subject:" in eml and expected in eml.replace("=\n", "").replace("=3D", "=")
