from __future__ import annotations

import email
import json
import os
from datetime import date
from decimal import Decimal
from email import policy

import pytest

from channels.base import ChannelAdapter, Failed, OutgoingMessage, Sent
from channels.errors import AmbiguousSendError, PermanentChannelError, RetryableChannelError
from channels.sandbox import SandboxChannel
from models.enums import Channel

DAY = date(2025, 12, 31)


def sms(action_id: int, to: str = "+33612345678", text: str = "Bonjour, réglez 10 €.") -> OutgoingMessage:
    return OutgoingMessage(action_id, f"d1:s:step:{action_id}", Channel.SMS, to, text, reference="RL1")


def mail(action_id: int) -> OutgoingMessage:
    return OutgoingMessage(
        action_id,
        f"d1:s:mail:{action_id}",
        Channel.EMAIL,
        "marie@example.org",
        "Bonjour,\nvotre solde.",
        subject="Votre dossier",
        body_html="<p>Bonjour,</p>",
        categories=("relance", "premiere"),
    )


def test_the_sandbox_is_a_channel_adapter(tmp_path):
    assert isinstance(SandboxChannel(Channel.SMS, tmp_path), ChannelAdapter)


def test_an_sms_is_written_under_the_channel_and_the_day(tmp_path):
    channel = SandboxChannel(Channel.SMS, tmp_path, today=lambda: DAY)
    [outcome] = channel.send_batch([sms(7)])
    assert outcome == Sent(7, "sandbox-7", 1)
    path = tmp_path / "sms" / "2025-12-31" / "7.txt"
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n\nBonjour, réglez 10 €.\n")
    assert "Action-Id: 7" in text and "Segments: 1" in text


def test_sending_the_same_action_again_writes_nothing_and_answers_the_same_id(tmp_path):
    days = iter([DAY, date(2026, 1, 2)])
    channel = SandboxChannel(Channel.SMS, tmp_path, today=lambda: next(days))
    first = channel.send_batch([sms(7)])
    again = channel.send_batch([sms(7, text="another text")])
    assert first == again == [Sent(7, "sandbox-7", 1)]
    assert [p.relative_to(tmp_path).as_posix() for p in channel.files()] == ["sms/2025-12-31/7.txt"]
    assert "another text" not in channel.files()[0].read_text(encoding="utf-8")


def test_a_batch_keeps_its_order_and_sends_a_repeated_action_once(tmp_path):
    channel = SandboxChannel(Channel.SMS, tmp_path, max_concurrency=4)
    outcomes = channel.send_batch([sms(3), sms(1), sms(3), sms(2)])
    assert [o.action_id for o in outcomes] == [3, 1, 3, 2]
    assert sorted(channel.attempts) == [1, 2, 3]
    assert len(channel.files()) == 3


def test_files_appear_whole_and_no_temporary_file_is_left(tmp_path):
    channel = SandboxChannel(Channel.SMS, tmp_path, max_concurrency=8)
    channel.send_batch([sms(i) for i in range(50)])
    everything = [p for p in (tmp_path / "sms").rglob("*") if p.is_file()]
    assert len(everything) == 50
    assert all(p.suffix == ".txt" and not p.name.startswith(".") for p in everything)


def test_an_email_is_written_as_mime_with_text_and_html(tmp_path):
    channel = SandboxChannel(Channel.EMAIL, tmp_path, today=lambda: DAY)
    assert channel.send_batch([mail(9)]) == [Sent(9, "sandbox-9", None)]
    raw = (tmp_path / "email" / "2025-12-31" / "9.eml").read_bytes()
    message = email.message_from_bytes(raw, policy=policy.default)
    assert message["Subject"] == "Votre dossier"
    assert message["X-Relance-Action-Id"] == "9"
    assert message.get_body(("plain",)).get_content().startswith("Bonjour,\nvotre solde.")
    assert message.get_body(("html",)).get_content().strip() == "<p>Bonjour,</p>"


def test_a_call_task_is_written_as_json(tmp_path):
    channel = SandboxChannel(Channel.CALL, tmp_path, today=lambda: DAY)
    task = OutgoingMessage(4, "d1:s:call:1", Channel.CALL, "+33612345678", "# Script", metadata={"agent": 2})
    channel.send_batch([task])
    record = json.loads((tmp_path / "call" / "2025-12-31" / "4.json").read_text(encoding="utf-8"))
    assert record["body_text"] == "# Script" and record["metadata"] == {"agent": 2}


def test_a_message_on_the_wrong_channel_is_a_programming_error(tmp_path):
    with pytest.raises(ValueError):
        SandboxChannel(Channel.SMS, tmp_path).send_batch([mail(1)])


def test_injected_permanent_failures_hit_listed_actions_and_recipients(tmp_path):
    channel = SandboxChannel(Channel.SMS, tmp_path, fail_permanent={2, "+33600000000"})
    outcomes = channel.send_batch([sms(1), sms(2), sms(3, to="+33600000000")])
    assert isinstance(outcomes[0], Sent)
    for failed in outcomes[1:]:
        assert isinstance(failed, Failed) and failed.permanent
        assert isinstance(failed.error, PermanentChannelError)
        assert failed.error.code == "invalid_number" and failed.error.contact_invalid
    assert len(channel.files()) == 1


def test_opted_out_injection_does_not_mark_the_contact_invalid(tmp_path):
    channel = SandboxChannel(Channel.SMS, tmp_path, fail_permanent={1}, permanent_code="opted_out")
    [failed] = channel.send_batch([sms(1)])
    assert failed.error.opted_out and not failed.error.contact_invalid


def test_injected_retryable_failures_hit_the_first_attempts_only(tmp_path):
    channel = SandboxChannel(Channel.SMS, tmp_path, fail_retryable=2)
    first = channel.send_batch([sms(1), sms(2), sms(3)])
    assert [type(o) for o in first] == [Failed, Failed, Sent]
    assert all(isinstance(o.error, RetryableChannelError) for o in first[:2])
    assert all(isinstance(o, Sent) for o in channel.send_batch([sms(1), sms(2)]))


def test_an_ambiguous_failure_was_accepted_and_reconcile_says_so(tmp_path):
    channel = SandboxChannel(Channel.SMS, tmp_path, fail_ambiguous={5})
    [outcome] = channel.send_batch([sms(5)])
    assert isinstance(outcome, Failed) and isinstance(outcome.error, AmbiguousSendError)
    assert not outcome.retryable and outcome.ambiguous
    assert channel.reconcile(sms(5)) == Sent(5, "sandbox-5", 1)
    assert channel.send_batch([sms(5)]) == [Sent(5, "sandbox-5", 1)]  # never written twice
    assert len(channel.files()) == 1


def test_reconcile_knows_when_an_action_was_never_accepted(tmp_path):
    outcome = SandboxChannel(Channel.SMS, tmp_path).reconcile(sms(8))
    assert isinstance(outcome, Failed) and outcome.retryable
    assert outcome.error.code == "not_accepted"


def test_a_message_repr_carries_no_recipient_nor_text():
    text = repr(sms(1, to="+33699887766", text="Solde 1 234,56 €"))
    assert "+33699887766" not in text and "1 234,56" not in text and "action_id=1" in text


def test_an_email_without_subject_is_refused():
    with pytest.raises(ValueError):
        OutgoingMessage(1, "k", Channel.EMAIL, "a@example.org", "text")


def french_mail(action_id: int, html: str | None = "<p>Votre solde : <b>1 234,56 €</b> à régler.</p>") -> OutgoingMessage:
    return OutgoingMessage(
        action_id,
        f"d1:s:mail:{action_id}",
        Channel.EMAIL,
        "marie@example.org",
        "Bonjour Mme Lefèvre,\nvotre solde de 1 234,56 € reste dû.\n" + "Ligne longue = " * 12 + "\n",
        subject="Relance amiable – dossier « A-1 » : votre solde de 1 234,56 € reste dû, merci de régler",
        body_html=html,
        categories=("relance", "premiere"),
    )


def test_a_french_email_parses_back_to_the_same_subject_text_and_html(tmp_path):
    channel = SandboxChannel(Channel.EMAIL, tmp_path, today=lambda: DAY)
    sent = french_mail(11)
    channel.send_batch([sent])
    raw = (tmp_path / "email" / "2025-12-31" / "11.eml").read_bytes()
    assert raw.isascii() and max(len(line) for line in raw.splitlines()) <= 78
    message = email.message_from_bytes(raw, policy=policy.default)
    assert message.get_content_type() == "multipart/alternative" and not message.defects
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    assert message["Subject"] == sent.subject
    assert message["X-Relance-Idempotency-Key"] == "d1:s:mail:11"
    assert message["X-Relance-Categories"] == "relance, premiere"
    assert message["Message-ID"] == "<sandbox-11@sandbox.relance.invalid>"
    assert message.get_body(("plain",)).get_content() == sent.body_text
    assert message.get_body(("html",)).get_content() == sent.body_html + "\n"


def test_an_email_without_html_is_a_single_text_part(tmp_path):
    channel = SandboxChannel(Channel.EMAIL, tmp_path, today=lambda: DAY)
    channel.send_batch([french_mail(12, html=None)])
    message = email.message_from_bytes((tmp_path / "email" / "2025-12-31" / "12.eml").read_bytes(),
                                       policy=policy.default)
    assert message.get_content_type() == "text/plain" and not message.is_multipart()
    assert message.get_content().startswith("Bonjour Mme Lefèvre,\n")


def test_a_line_break_in_a_header_value_cannot_start_a_header_of_its_own(tmp_path):
    channel = SandboxChannel(Channel.EMAIL, tmp_path, today=lambda: DAY)
    forged = OutgoingMessage(13, "k:13", Channel.EMAIL, "marie@example.org", "texte",
                             subject="Objet\nBcc: pirate@example.org")
    channel.send_batch([forged])
    message = email.message_from_bytes((tmp_path / "email" / "2025-12-31" / "13.eml").read_bytes(),
                                       policy=policy.default)
    assert message["Bcc"] is None and message["Subject"] == "Objet Bcc: pirate@example.org"


def test_an_action_written_on_an_earlier_day_is_found_in_that_days_listing(tmp_path):
    days = iter([DAY, date(2026, 1, 2), date(2026, 1, 2)])
    channel = SandboxChannel(Channel.SMS, tmp_path, today=lambda: next(days))
    channel.send_batch([sms(7)])
    old = tmp_path / "sms" / "2025-12-31"
    os.utime(old, ns=(0, 0))  # a settled folder: its listing is kept
    assert channel.send_batch([sms(7), sms(8)]) == [Sent(7, "sandbox-7", 1), Sent(8, "sandbox-8", 1)]
    assert channel.find(7) == old / "7.txt"
    assert [p.relative_to(tmp_path).as_posix() for p in channel.files()] == ["sms/2025-12-31/7.txt",
                                                                              "sms/2026-01-02/8.txt"]


def test_a_file_added_to_an_earlier_day_after_its_listing_was_kept_is_still_found(tmp_path):
    channel = SandboxChannel(Channel.SMS, tmp_path, today=lambda: date(2026, 1, 2))
    old = tmp_path / "sms" / "2025-12-31"
    old.mkdir(parents=True)
    os.utime(old, ns=(0, 0))
    assert channel.find(9) is None  # the empty listing is kept
    SandboxChannel(Channel.SMS, tmp_path, today=lambda: DAY).send_batch([sms(9)])  # another writer
    assert channel.find(9) == old / "9.txt"
    assert channel.send_batch([sms(9, text="again")]) == [Sent(9, "sandbox-9", 1)]
    assert not (tmp_path / "sms" / "2026-01-02" / "9.txt").exists()


def test_a_letter_record_is_one_line_of_json_with_its_context(tmp_path):
    channel = SandboxChannel(Channel.LETTER, tmp_path, today=lambda: DAY)
    context = {"totals": {"balance": Decimal("1234.56")}, "as_of": DAY, "debtor": {"display_name": "Mme Lefèvre"}}
    letter = OutgoingMessage(5, "d1:s:lettre:1", Channel.LETTER, "MME LEFEVRE\n1 RUE DU PORT\n69002 LYON", "",
                             metadata={"template": "mise_en_demeure", "context": context})
    assert channel.send_batch([letter]) == [Sent(5, "sandbox-5", None)]
    raw = (tmp_path / "letter" / "2025-12-31" / "5.json").read_text(encoding="utf-8")
    assert raw.count("\n") == 1 and raw.endswith("\n")
    record = json.loads(raw)
    assert record["metadata"]["context"] == {"totals": {"balance": "1234.56"}, "as_of": "2025-12-31",
                                             "debtor": {"display_name": "Mme Lefèvre"}}
    assert record["to"].splitlines()[-1] == "69002 LYON"
